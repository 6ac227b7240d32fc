"""`scheduler auth login` end to end: consent URL, loopback redirect, 0600 token file, then posting with it."""

from __future__ import annotations

import json
import os
import socket
import stat
import subprocess
import sys
import time

import requests

from scheduler.standins.x import StandinX


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_login_stores_tokens_privately_and_publishing_uses_them(tmp_path):
    with StandinX() as standin:
        home = tmp_path / "home"
        config = tmp_path / "scheduler.toml"
        config.write_text(
            f'[account]\nhandle = "{standin.default_account.username}"\n\n'
            '[calendar]\nslots = []\n\n[quota]\ndaily = 0\nmonthly = 0\n\n[publisher]\nkind = "x"\n'
        )
        env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
            "SCHEDULER_HOME": str(home),
            "SCHEDULER_CONFIG": str(config),
            "SCHEDULER_X_API_URL": standin.url,
        }
        port = free_port()
        login = subprocess.Popen(
            [sys.executable, "-m", "scheduler", "auth", "login", "--client-id", standin.oauth2_client_id,
             "--port", str(port)],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        # The user opens the printed URL; the stand-in's consent page redirects to the loopback catcher.
        deadline = time.monotonic() + 15
        url = None
        while url is None and time.monotonic() < deadline:
            line = login.stdout.readline()
            if line.startswith("http"):
                url = line.strip()
        assert url and url.startswith(f"{standin.url}/i/oauth2/authorize?")
        assert "code_challenge=" in url and "code_challenge_method=S256" in url
        requests.get(url, timeout=10)
        out, err = login.communicate(timeout=20)
        assert login.returncode == 0, err
        tokens_path = home / "x-tokens.json"
        assert "tokens stored in" in out and str(tokens_path) in out
        assert stat.S_IMODE(tokens_path.stat().st_mode) == 0o600
        tokens = json.loads(tokens_path.read_text())
        assert tokens["access_token"] not in out + err and tokens["refresh_token"] not in out + err

        status = subprocess.run([sys.executable, "-m", "scheduler", "auth", "status"], env=env,
                                capture_output=True, text=True, timeout=30)
        assert "OAuth 2.0 user tokens" in status.stdout and tokens["access_token"] not in status.stdout

        queued = subprocess.run([sys.executable, "-m", "scheduler", "queue", "add", "Posted with OAuth 2.0"],
                                env=env, capture_output=True, text=True, timeout=30)
        assert queued.returncode == 0, queued.stderr
        # It fills the next slot: give it one right away.
        config.write_text(config.read_text().replace("slots = []", 'slots = []\ncron = ["* * * * * *"]'))
        served = subprocess.run([sys.executable, "-m", "scheduler", "serve", "--until-empty"], env=env,
                                capture_output=True, text=True, timeout=60)
        assert served.returncode == 0, served.stderr
        assert [t["text"] for t in standin.timeline()] == ["Posted with OAuth 2.0"]
        assert tokens["access_token"] not in served.stderr


def test_a_token_file_readable_by_others_is_refused_with_the_fix(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    tokens = home / "x-tokens.json"
    tokens.write_text(json.dumps({"access_token": "a" * 20, "refresh_token": "r" * 20, "client_id": "c"}))
    tokens.chmod(0o644)
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
           "SCHEDULER_HOME": str(home), "SCHEDULER_CONFIG": str(tmp_path / "none.toml")}
    (tmp_path / "none.toml").write_text("")
    result = subprocess.run([sys.executable, "-m", "scheduler", "auth", "status"], env=env, capture_output=True,
                            text=True, timeout=30)
    assert result.returncode != 0
    assert "chmod 600" in result.stderr and str(tokens) in result.stderr
    assert "a" * 20 not in result.stderr
