"""`scheduler web ...` and `scheduler serve --web` as a user runs them: real subprocesses, real HTTP."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from tests.test_cli import CLI, POSTS, TIP_IDS, far_slot


@pytest.fixture
def cli(tmp_path) -> CLI:
    return CLI(tmp_path)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(port: int, path: str, token: str, *, method: str = "GET", body: dict | None = None):
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                     data=json.dumps(body).encode() if body is not None else None,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())


def wait_for(port: int, token: str, proc: subprocess.Popen, timeout: float = 60, path: str = "/api/v1/revision") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode}: {proc.stderr.read()}")
        try:
            call(port, path, token)
            return
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.2)
    raise AssertionError("the dashboard did not answer")


def test_passwd_and_tokens(cli):
    created = cli.run("web", "token", "create", "ci-bot")
    secret = created.stdout.strip()
    assert secret.startswith("tsk_") and "shown only now" in created.stderr
    listed = cli.json("web", "token", "list")
    assert [(t["name"], t["revoked_at"]) for t in listed] == [("ci-bot", None)]
    assert secret not in cli.run("web", "token", "list").stdout + json.dumps(listed)
    again = cli.run("web", "token", "create", "ci-bot", ok=False)
    assert "exists already" in again.stderr
    assert "revoked 'ci-bot'" in cli.run("web", "token", "revoke", "ci-bot").stdout
    assert cli.json("web", "token", "list")[0]["revoked_at"]
    assert "no live API token" in cli.run("web", "token", "revoke", "ci-bot", ok=False).stderr

    short = subprocess.run([sys.executable, "-m", "scheduler", "web", "passwd", "--password-stdin"], input="short\n",
                           env=cli.env, capture_output=True, text=True, cwd=cli.tmp)
    assert short.returncode != 0 and "at least 10" in short.stderr
    done = subprocess.run([sys.executable, "-m", "scheduler", "web", "passwd", "--password-stdin"],
                          input="a long enough password\n", env=cli.env, capture_output=True, text=True, cwd=cli.tmp)
    assert done.returncode == 0 and "password set for admin" in done.stdout


def test_web_refuses_a_public_bind_without_a_password(cli):
    for args in (["web", "--host", "0.0.0.0", "--port", str(free_port())], ["serve", "--web", f"0.0.0.0:{free_port()}"]):
        result = cli.run(*args, ok=False, timeout=60)
        assert "refusing to listen on 0.0.0.0" in result.stderr and "scheduler web passwd" in result.stderr, args


def test_web_on_a_port_in_use_says_so_and_exits_non_zero(cli):
    """The port is held by another listener: no "dashboard on http://..." line (nothing listens there for us), but
    the port, that it is in use and --port; exit non-zero. `serve --web` says the same."""
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        for args in (["web", "--port", str(port)], ["serve", "--web", f"127.0.0.1:{port}"]):
            result = cli.run(*args, ok=False, timeout=60)
            assert result.returncode != 0
            assert "dashboard on http" not in result.stderr + result.stdout, args
            assert f"127.0.0.1:{port}" in result.stderr and "in use" in result.stderr, (args, result.stderr)
            assert "--port" in result.stderr or "--web" in result.stderr, (args, result.stderr)


@pytest.mark.slow
def test_serve_web_publishes_and_serves_in_one_process(cli):
    cli.write_config(slots=(far_slot(),))  # only the pin below comes due while it runs
    cli.run("import", str(POSTS))
    token = cli.run("web", "token", "create", "test").stdout.strip()
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scheduler", "serve", "--web", str(port)], env=cli.env,
                            cwd=cli.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(port, token, proc)
        # The dashboard may answer before the service's first heartbeat is in the ledger: wait for it.
        deadline = time.monotonic() + 30
        while not (report := call(port, "/api/v1/status", token)[1])["service"]["running"]:
            assert time.monotonic() < deadline, report
            time.sleep(0.2)
        assert report["service"]["pid"] == proc.pid  # same process
        at = (datetime.now(UTC) + timedelta(seconds=3)).replace(microsecond=0).isoformat()
        status, post = call(port, f"/api/v1/queue/{TIP_IDS[0]}", token, method="PATCH", body={"pinned_at": at})
        assert status == 200
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            history = call(port, "/api/v1/history", token)[1]
            if history and history[0]["state"] == "sent":
                break
            time.sleep(0.5)
        assert history[0]["post_id"] == TIP_IDS[0] and history[0]["state"] == "sent"
        outbox = [json.loads(line) for line in (cli.home / "outbox.jsonl").read_text().splitlines()]
        assert outbox[0]["text"] == post["text"]
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert f"dashboard on http://127.0.0.1:{port}/" in err


def test_web_serves_every_account_and_takes_the_default_from_account(cli):
    from tests.helpers_web import accounts_config

    cli.config.write_text(accounts_config("clinic", "sky", service=True), encoding="utf-8")  # no default_account
    for name in ("clinic", "sky"):
        cli.run("--account", name, "import", str(POSTS))
    token = cli.run("web", "token", "create", "test").stdout.strip()
    for args, default in [((), None), (("--account", "sky"), "sky")]:
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "scheduler", *args, "web", "--port", str(port)], env=cli.env,
                                cwd=cli.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(port, token, proc, path="/api/v1/revision?account=clinic")
            for name, network in [("clinic", "x"), ("sky", "bluesky")]:
                rows = call(port, f"/api/v1/queue?account={name}", token)[1]
                assert len(rows) == 5 and {(r["account"], r["network"]) for r in rows} == {(name, network)}
            if default is None:
                with pytest.raises(urllib.error.HTTPError) as refused:
                    call(port, "/api/v1/queue", token)
                assert refused.value.code == 400
            else:
                assert {r["account"] for r in call(port, "/api/v1/queue", token)[1]} == {default}
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        assert proc.returncode == 0  # stopped as a service manager expects
