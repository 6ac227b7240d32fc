"""Run the real CLI and the real `scheduler serve` as subprocesses against the stand-in X."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler.standins.x import StandinX

CONFIG = """\
[account]
handle = "{handle}"
timezone = "America/New_York"

[calendar]
slots = []
cron = {cron}
series_gap = "0s"
grace = "{grace}"

[quota]
daily = 0
monthly = 0

[publisher]
kind = "x"
timeout = "{timeout}"
backoff = "1s"
reconcile_delay = "1s"

[service]
heartbeat = "1s"
watch_interval = "1s"
stop_timeout = "3s"
"""


@dataclass
class Harness:
    tmp: Path
    standin: StandinX
    procs: list[subprocess.Popen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.config = self.tmp / "scheduler.toml"
        self.write_config()

    def write_config(self, *, cron: tuple[str, ...] = (), grace: str = "15m", timeout: str = "3s") -> None:
        text = CONFIG.format(handle=self.standin.default_account.username, cron=json.dumps(list(cron)), grace=grace,
                             timeout=timeout)
        self.config.write_text(text, encoding="utf-8")

    @property
    def env(self) -> dict[str, str]:
        account = self.standin.default_account
        return {
            **{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
            "SCHEDULER_HOME": str(self.tmp / "home"),
            "SCHEDULER_CONFIG": str(self.config),
            "SCHEDULER_X_API_URL": self.standin.url,
            "X_API_KEY": self.standin.consumer_key,
            "X_API_SECRET": self.standin.consumer_secret,
            "X_ACCESS_TOKEN": account.access_token,
            "X_ACCESS_TOKEN_SECRET": account.access_token_secret,
        }

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "scheduler", *args], env=self.env, capture_output=True,
                                text=True, timeout=60)
        if check and result.returncode != 0:
            raise AssertionError(f"scheduler {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
        return result

    def json(self, *args: str):
        return json.loads(self.cli(*args, "--json").stdout)

    def serve(self, name: str = "serve", *args: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "scheduler", "serve", *args], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        proc.log_path = self.tmp / f"{name}.log"  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    def log_of(self, proc: subprocess.Popen) -> str:
        return proc.log_path.read_text(errors="replace")  # type: ignore[attr-defined]

    def wait_for_log(self, proc: subprocess.Popen, text: str, timeout: float = 15) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_of(proc):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.1)
        raise AssertionError(f"{text!r} not in the service log:\n{self.log_of(proc)}")

    def add(self, text: str, at: datetime | None = None) -> str:
        args = ["queue", "add", text] + (["--at", at.isoformat(timespec="seconds")] if at else [])
        out = self.cli(*args).stdout
        return out.split()[1]

    def wait_for_timeline(self, count: int, timeout: float = 20) -> list[dict]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            timeline = self.standin.timeline()
            if len(timeline) >= count:
                return timeline
            time.sleep(0.1)
        raise AssertionError(f"expected {count} posts on the stand-in, got {len(self.standin.timeline())}")

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, timeout: float = 10) -> float:
        started = time.monotonic()
        proc.send_signal(sig)
        proc.wait(timeout=timeout)
        return time.monotonic() - started

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def seconds_ahead(seconds: float) -> datetime:
    """A whole-second time at least ``seconds`` ahead (pins have second precision)."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.replace(microsecond=0) + timedelta(seconds=1)


def parse(ts: str) -> datetime:
    return datetime.fromisoformat(ts)
