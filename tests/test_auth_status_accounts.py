"""`scheduler auth status` for every account on its network, through real subprocesses: what each needs, where
it was found, a Bluesky session cached or not, a Mastodon server answering or not; never a secret."""

from __future__ import annotations

import json
import secrets
import subprocess
import sys

import pytest

from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.x import StandinX
from tests.test_accounts_service import CONFIG, Three


@pytest.fixture
def three(tmp_path):
    # An app password like Bluesky's (random), so that no ordinary word of the output could match its tail.
    password = "-".join(secrets.token_hex(2) for _ in range(4))
    with StandinX() as x, StandinBluesky(password=password) as bsky, StandinMastodon() as masto:
        setup = Three(tmp_path, x, bsky, masto, config=CONFIG.replace('default_account = "x"\n', ""))
        yield setup
        for proc in setup.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def secrets_of(three: Three) -> list[str]:
    return [three.env[name] for name in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET",
                                         "CLINIC_BSKY_APP_PASSWORD")] + [three.masto.token]


def run(three: Three, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scheduler", "auth", "status", *args], env=env or three.env,
                          capture_output=True, text=True, timeout=60)


def assert_no_secret(three: Three, result: subprocess.CompletedProcess) -> None:
    output = result.stdout + result.stderr
    for secret in secrets_of(three):
        assert secret not in output and secret[-8:] not in output


def test_every_account_is_reported_for_its_network_without_a_secret(three):
    result = run(three, "--json")
    assert result.returncode == 0, result.stderr
    assert_no_secret(three, result)
    x, bsky, masto = json.loads(result.stdout)
    assert [(r["account"], r["network"]) for r in (x, bsky, masto)] == [("x", "x"), ("bsky", "bluesky"),
                                                                         ("masto", "mastodon")]
    assert (x["found"], x["kind"], x["publisher"]) == (True, "oauth1", "x")
    assert (bsky["found"], bsky["from"], bsky["session_cached"], bsky["service"]) == (
        True, "CLINIC_BSKY_APP_PASSWORD", False, three.bsky.url)
    assert masto["found"] and masto["from"] == f"the file {three.tmp / 'masto.secret'}"
    assert masto["instance_reachable"] is None  # not asked
    text = run(three)
    assert text.returncode == 0 and "bsky (Bluesky" in text.stdout and "masto (Mastodon" in text.stdout
    assert "app password from CLINIC_BSKY_APP_PASSWORD" in text.stdout and "none cached yet" in text.stdout
    assert_no_secret(three, text)


def test_one_account_with_check_and_a_cached_session(three):
    three.cli("queue", "add", "Stretch your hamstrings for thirty seconds after a run.", "--now",
              "--account", "bsky")
    served = subprocess.run([sys.executable, "-m", "scheduler", "serve", "--until-empty"], env=three.env,
                            capture_output=True, text=True, timeout=90)
    assert served.returncode == 0, served.stderr
    assert len(three.bsky.posts()) == 1  # it logged in to post, and kept the session
    result = run(three, "--account", "bsky", "--json")
    assert result.returncode == 0, result.stderr
    bsky = json.loads(result.stdout)
    assert bsky["account"] == "bsky" and bsky["session_cached"] is True
    session = (three.tmp / "home" / "bluesky-session-bsky.json").read_text()
    assert all(part not in result.stdout for part in session.strip().split(":::")[1:] if len(part) > 8)
    masto = json.loads(run(three, "--account", "masto", "--json", "--check").stdout)
    assert (masto["instance_reachable"], masto["max_characters"]) == (True, 500)


def test_missing_or_unusable_credentials_are_named_with_the_fix(three):
    env = {k: v for k, v in three.env.items() if k != "CLINIC_BSKY_APP_PASSWORD"}
    result = run(three, "--account", "bsky", env=env)
    assert result.returncode == 0, result.stderr
    assert "no Bluesky credentials: set CLINIC_BSKY_APP_PASSWORD" in result.stdout
    assert "posts go to the outbox" in result.stdout
    secret = three.tmp / "masto.secret"
    secret.chmod(0o644)
    result = run(three, "--json")
    assert result.returncode != 0
    assert "chmod 600" in result.stderr and str(secret) in result.stderr
    reports = json.loads(result.stdout)
    assert [r["problem"] is not None for r in reports] == [False, False, True]
    assert_no_secret(three, result)


def test_an_unreachable_mastodon_server_is_reported_when_checked(three):
    three.config.write_text(three.config.read_text().replace(three.masto.url, "http://127.0.0.1:9"))
    result = run(three, "--account", "masto", "--check")
    assert result.returncode == 0, result.stderr
    assert "server http://127.0.0.1:9: does not answer" in result.stdout
    assert_no_secret(three, result)


def test_default_account_does_not_hide_the_others(three):
    """default_account chooses the account commands act on; `auth status` still reports every account unless
    --account names one."""
    three.config.write_text('default_account = "bsky"\n' + three.config.read_text(), encoding="utf-8")
    result = run(three, "--json")
    assert result.returncode == 0, result.stderr
    assert [(r["account"], r["network"]) for r in json.loads(result.stdout)] == [
        ("x", "x"), ("bsky", "bluesky"), ("masto", "mastodon")]
    text = run(three)
    assert text.returncode == 0, text.stderr
    assert all(f"{name} (" in text.stdout for name in ("x", "bsky", "masto")), text.stdout
    one = json.loads(run(three, "--account", "masto", "--json").stdout)
    assert one["account"] == "masto"
    assert_no_secret(three, result)
    assert_no_secret(three, text)
