"""Many accounts over the stand-ins for real `scheduler serve` processes (issue 22): a scheduler.toml of X,
Bluesky, Mastodon and outbox accounts, each with its own credentials, on a SQLite ledger or a PostgreSQL one, and
the helpers to queue posts, run services and read each account's ledger and network."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa

from scheduler.app.queueing import add_text
from scheduler.config import load_config
from scheduler.ledger import migrations as m
from scheduler.ledger.store import Store
from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.x import StandinX

HEAD = """\
[calendar]
slots = []
series_gap = "0s"

[publisher]
timeout = "{timeout}"
backoff = "1s"
backoff_max = "2s"
max_attempts = 50
rate_limit_max_wait = "5s"
reconcile_delay = "3s"

[service]
heartbeat = "1s"
watch_interval = "1s"
stop_timeout = "3s"
{workers}

[database]
url = "{database}"
"""

# Faults a create can meet (as the soak of issue 14 draws them), where each stand-in has them.
KINDS = ("server_error", "bad_gateway", "unavailable", "gateway_timeout", "drop", "slow", "rate_limited",
         "create_then_drop", "create_then_reset", "create_then_server_error", "create_then_unavailable")


class Many:
    """A scheduler.toml of many accounts over the stand-ins, its environment (each account's own credentials)
    and the helpers to queue posts, run `serve` and read each account's ledger and network."""

    def __init__(self, tmp: Path, *, x: StandinX | None = None, bsky: StandinBluesky | None = None,
                 masto: StandinMastodon | None = None, counts: dict[str, int], timeout: str = "1s",
                 workers: int | None = None, extra_x: dict[str, StandinX] | None = None,
                 database_url: str = "") -> None:
        self.tmp = tmp
        self.x, self.bsky, self.masto = x, bsky, masto
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("X_", "SCHEDULER_", "XA", "BA", "MA", "OA"))}
        self.env["SCHEDULER_HOME"] = str(tmp / "home")
        self.networks: dict[str, tuple[str, object, str]] = {}  # account name -> (network, stand-in, handle)
        blocks = [HEAD.format(timeout=timeout, workers=f"workers = {workers}" if workers else "",
                              database=database_url)]
        for n in range(counts.get("x", 0)):
            blocks.append(self._x_account(f"x{n}", x))
        for name, standin in (extra_x or {}).items():
            blocks.append(self._x_account(name, standin))
        for n in range(counts.get("bsky", 0)):
            handle = f"clinic{n}.bsky.test"
            password = f"pw-{n}-abcd-efgh"
            bsky.add_account(handle, password)
            self.env[f"BA{n}_APP_PASSWORD"] = password
            blocks.append(f'[[accounts]]\nname = "b{n}"\nnetwork = "bluesky"\nhandle = "{handle}"\n'
                          f'instance = "{bsky.url}"\ncredentials_env = "BA{n}"\n')
            self.networks[f"b{n}"] = ("bluesky", bsky, handle)
        for n in range(counts.get("masto", 0)):
            account = masto.add_account(f"clinic{n}")
            self.env[f"MA{n}_ACCESS_TOKEN"] = account.token
            blocks.append(f'[[accounts]]\nname = "m{n}"\nnetwork = "mastodon"\nhandle = "{account.username}"\n'
                          f'instance = "{masto.url}"\ncredentials_env = "MA{n}"\n')
            self.networks[f"m{n}"] = ("mastodon", masto, account.username)
        for n in range(counts.get("outbox", 0)):
            # No credentials under its prefix: the account publishes to its own outbox file.
            blocks.append(f'[[accounts]]\nname = "o{n}"\nhandle = "outbox{n}"\ncredentials_env = "OA{n}"\n')
            self.networks[f"o{n}"] = ("outbox", None, f"outbox{n}")
        self.config_path = tmp / "scheduler.toml"
        self.config_path.write_text("\n".join(blocks), encoding="utf-8")
        self.env["SCHEDULER_CONFIG"] = str(self.config_path)
        self.config = load_config(self.config_path, env=self.env)
        self.store = Store.open(self.config.database_url)
        self.procs: list[subprocess.Popen] = []

    def _x_account(self, name: str, standin: StandinX) -> str:
        account = standin.add_account(f"clinic_{name}")
        prefix = f"XA{name.upper()}"
        self.env.update({f"{prefix}_API_KEY": standin.consumer_key, f"{prefix}_API_SECRET": standin.consumer_secret,
                         f"{prefix}_ACCESS_TOKEN": account.access_token,
                         f"{prefix}_ACCESS_TOKEN_SECRET": account.access_token_secret})
        self.networks[name] = ("x", standin, account.username)
        return (f'[[accounts]]\nname = "{name}"\nhandle = "{account.username}"\ninstance = "{standin.url}"\n'
                f'credentials_env = "{prefix}"\n')

    def add(self, account: str, text: str, at: datetime) -> str:
        """Queue a post pinned at ``at``, as `queue add --at` does (the same application function)."""
        return add_text(self.store, self.config.for_account(account), text, datetime.now(UTC), at=at).post_id

    def serve(self, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "scheduler", "serve", "--log-json"], env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, cwd=self.tmp)
        self.procs.append(proc)
        return proc

    def log_records(self, name: str) -> list[dict]:
        records = []
        for line in (self.tmp / f"{name}.log").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    pass  # a line cut by a SIGKILL
        return records

    def ledger(self) -> dict[str, list[tuple[str, str, str | None]]]:
        """Each account's posts as (text, state, network id), by account name."""
        keys = {self.config.for_account(name).account: name for name in self.networks}
        with self.store.engine.connect() as conn:
            rows = conn.execute(sa.select(m.posts.c.account, m.posts.c.text, m.posts.c.state,
                                          m.posts.c.tweet_id)).all()
        out: dict[str, list] = {name: [] for name in self.networks}
        for row in rows:
            out[keys[row.account]].append((row.text, row.state, row.tweet_id))
        return out

    def on_network(self, name: str) -> list[tuple[str, str]]:
        """What the account's network (or outbox file) holds: (text, id)."""
        network, standin, handle = self.networks[name]
        if network == "x":
            return [(p["text"], p["id"]) for p in standin.timeline(handle)]
        if network == "bluesky":
            return [(p["text"], p["rkey"]) for p in standin.posts(handle)]
        if network == "mastodon":
            return [(s["text"], s["id"]) for s in standin.statuses(handle)]
        path = self.config.for_account(name).data_dir / f"outbox-{name}.jsonl"
        if not path.exists():
            return []
        rows = []
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                try:
                    record = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line torn by a SIGKILL mid-write is no post
                rows.append((record["text"], record["id"]))
        return rows

    def wait(self, done, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done():
                return
            time.sleep(0.3)
        raise AssertionError(f"timed out after {timeout}s waiting for {what}")

    def kill_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def tip(name: str, n: int) -> str:
    return f"{name} tip {n}: stand up and stretch for thirty seconds, twice a day."
