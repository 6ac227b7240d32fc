"""Three accounts (X, Bluesky, Mastodon) on one ledger, published by one `scheduler serve` against the three
stand-ins, through the real CLI: every post exactly once on its own network under faults and a SIGKILL, the
ledger equal to each stand-in; one account's refused credentials pause only that account."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.x import StandinX

CONFIG = """\
default_account = "x"

[calendar]
slots = []
series_gap = "0s"

[publisher]
kind = "x"
timeout = "2s"
backoff = "1s"
reconcile_delay = "1s"

[service]
heartbeat = "1s"
watch_interval = "1s"
stop_timeout = "3s"

[[accounts]]
name = "x"
handle = "{x_handle}"
instance = "{x_url}"

[[accounts]]
name = "bsky"
network = "bluesky"
handle = "{bsky_handle}"
instance = "{bsky_url}"
credentials_env = "CLINIC_BSKY"

[[accounts]]
name = "masto"
network = "mastodon"
handle = "{masto_handle}"
instance = "{masto_url}"
credentials_file = "masto.secret"
"""


class Three:
    def __init__(self, tmp: Path, x: StandinX, bsky: StandinBluesky, masto: StandinMastodon, config: str = CONFIG):
        self.tmp, self.x, self.bsky, self.masto = tmp, x, bsky, masto
        self.config = tmp / "scheduler.toml"
        self.config.write_text(config.format(
            x_handle=x.default_account.username, x_url=x.url, bsky_handle=bsky.default_account.handle,
            bsky_url=bsky.url, masto_handle=masto.default_account.username, masto_url=masto.url), encoding="utf-8")
        secret = tmp / "masto.secret"
        secret.write_text(f"ACCESS_TOKEN={masto.token}\n", encoding="utf-8")
        secret.chmod(0o600)
        account = x.default_account
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_", "CLINIC_", "MASTODON_"))},
            "SCHEDULER_HOME": str(tmp / "home"), "SCHEDULER_CONFIG": str(self.config),
            "X_API_KEY": x.consumer_key, "X_API_SECRET": x.consumer_secret,
            "X_ACCESS_TOKEN": account.access_token, "X_ACCESS_TOKEN_SECRET": account.access_token_secret,
            "CLINIC_BSKY_APP_PASSWORD": bsky.default_account.password,
        }
        self.procs: list[subprocess.Popen] = []

    def masto_limits(self):
        from scheduler.text.limits import instance_limits

        return instance_limits(self.masto.url, 5.0)

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "scheduler", *args], env=self.env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result

    def serve(self, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "scheduler", "serve"], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        self.procs.append(proc)
        return proc

    def texts(self) -> dict[str, list[str]]:
        return {"x": [p["text"] for p in self.x.timeline()], "bsky": [p["text"] for p in self.bsky.posts()],
                "masto": [s["text"] for s in self.masto.statuses()]}

    def sent(self, account: str) -> list[str]:
        history = json.loads(self.cli("history", "--account", account, "--json").stdout)
        assert all(row["account"] == account for row in history)
        return sorted(row["text"] for row in history if row["state"] == "sent")

    def wait(self, done, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(0.2)
        raise AssertionError(f"timed out; stand-ins hold {self.texts()}")


@pytest.fixture
def three(tmp_path):
    with StandinX() as x, StandinBluesky() as bsky, StandinMastodon() as masto:
        setup = Three(tmp_path, x, bsky, masto)
        yield setup
        for proc in setup.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def test_three_networks_each_post_exactly_once_through_faults_and_a_sigkill(three):
    posts = {name: [f"{name} tip {n}: stretch for thirty seconds, twice a day." for n in range(3)]
             for name in ("x", "bsky", "masto")}
    for name, texts in posts.items():
        for text in texts:
            three.cli("queue", "add", text, "--now", "--account", name)
    # Faults on every network's create: a 5xx before, created-then-5xx, created-then-dropped.
    three.x.inject("tweets", "unavailable")
    three.x.inject("tweets", "create_then_drop")
    three.bsky.inject("createRecord", "create_then_server_error")
    three.bsky.inject("createRecord", "create_then_drop")
    three.masto.inject("statuses", "create_then_drop")
    three.masto.inject("statuses", "unavailable")
    first = three.serve("first")
    three.wait(lambda: sum(map(len, three.texts().values())) >= 2)
    first.send_signal(signal.SIGKILL)
    first.wait(10)
    second = three.serve("second")
    three.wait(lambda: all(sorted(three.texts()[n]) == sorted(posts[n]) for n in posts), timeout=90)
    time.sleep(2)  # nothing more arrives: no second copy of a post settled late
    second.send_signal(signal.SIGTERM)
    second.wait(15)
    for name, texts in posts.items():
        assert sorted(three.texts()[name]) == sorted(texts), name  # each exactly once, on its own network only
        assert three.sent(name) == sorted(texts)  # the ledger equals the stand-in
    status = json.loads(three.cli("status", "--account", "masto", "--json").stdout)
    assert status["account"] == "masto" and status["network"] == "mastodon"


def test_one_accounts_refused_token_pauses_only_that_account(three):
    three.masto.revoke_token(three.masto.token)
    for name in ("x", "bsky", "masto"):
        three.cli("queue", "add", f"{name}: walk for ten minutes after lunch.", "--now", "--account", name)
    proc = three.serve("serve")
    three.wait(lambda: len(three.x.timeline()) == 1 and len(three.bsky.posts()) == 1)
    three.wait(lambda: json.loads(three.cli("status", "--account", "masto", "--json").stdout)["paused"])
    proc.send_signal(signal.SIGTERM)
    proc.wait(15)
    assert three.masto.statuses() == []
    for name in ("x", "bsky"):
        assert not json.loads(three.cli("status", "--account", name, "--json").stdout)["paused"]


def test_import_to_several_accounts_composes_for_each_network(three):
    seed = Path(__file__).resolve().parent.parent / "posts" / "massage-therapy-for-back-pain.md"
    report = json.loads(three.cli("import", str(seed), "--to", "x,bsky,masto", "--json").stdout)
    assert [r["account"] for r in report] == ["x", "bsky", "masto"]
    assert [r["network"] for r in report] == ["x", "bluesky", "mastodon"]
    assert all(r["added"] for r in report)
    from scheduler.text import bluesky_length
    from scheduler.text import mastodon_length
    from scheduler.text.x_length import weighted_length

    fits = {"x": lambda t: weighted_length(t) <= 280, "bsky": bluesky_length.fits,
            "masto": lambda t: mastodon_length.fits(t, three.masto_limits())}
    lengths = {}
    for name in ("x", "bsky", "masto"):
        queue = json.loads(three.cli("queue", "list", "--account", name, "--json").stdout)
        assert len(queue) == len(report[0]["added"]) and all(row["account"] == name for row in queue)
        assert all(fits[name](row["text"]) for row in queue), name
        lengths[name] = sum(len(row["text"]) for row in queue)
    assert lengths["masto"] > lengths["x"]  # Mastodon's 500 leaves room for more of each tip
    # An unknown name changes nothing: every name is checked before any account is imported.
    bad = subprocess.run([sys.executable, "-m", "scheduler", "import", str(seed), "--to", "x,nope"], env=three.env,
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no account named 'nope'" in bad.stderr
