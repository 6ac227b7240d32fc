"""The quick start's first command, as a newcomer runs it: `scheduler demo` (and `demo --web`), real subprocesses."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from itertools import islice
from pathlib import Path

import pytest

REPO = Path(__file__).parents[1]
SEED = [f"massage-therapy-for-back-pain-{n}" for n in range(1, 6)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sent_ids(home: Path) -> list[str]:
    """The ledger's sent posts, as `scheduler history --json` gives them, oldest first."""
    import os

    env = {**os.environ, "SCHEDULER_HOME": str(home), "SCHEDULER_CONFIG": str(home / "scheduler.toml")}
    if not (home / "scheduler.toml").exists():
        return []
    done = subprocess.run([sys.executable, "-m", "scheduler", "history", "--json"], env=env, capture_output=True,
                          text=True, timeout=60)
    if done.returncode != 0:
        return []
    return [p["post_id"] for p in reversed(json.loads(done.stdout)) if p["state"] == "sent"]


def outbox_lines(home: Path) -> int:
    path = home / "outbox.jsonl"
    return len(path.read_text(encoding="utf-8").splitlines()) if path.exists() else 0


def test_demo_imports_the_seed_and_publishes_every_post_once_into_the_outbox(tmp_path):
    home = tmp_path / "demo"
    done = subprocess.run([sys.executable, "-m", "scheduler", "demo", "--every", "1", "--home", str(home)],
                          cwd=REPO, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert sorted(sent_ids(home)) == SEED and outbox_lines(home) == len(SEED)
    assert "Done." in done.stdout and "outbox" in done.stdout


def test_demo_with_the_dashboard_shows_the_seed_on_the_calendar_and_marks_posts_sent(tmp_path):
    home, port = tmp_path / "demo", free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scheduler", "demo", "--web", str(port), "--every", "3",
                             "--home", str(home)], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    try:
        def calendar() -> str:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/calendar", timeout=10) as response:
                return response.read().decode()

        deadline, page = time.monotonic() + 90, ""
        while time.monotonic() < deadline:
            try:
                page = calendar()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()
                time.sleep(0.3)
        assert all(f'data-post-id="{post_id}"' in page for post_id in SEED)  # planned, or already sent
        while not sent_ids(home) and time.monotonic() < deadline:
            time.sleep(0.3)
        first = sent_ids(home)[0]
        assert f'data-post-id="{first}" data-state="sent"' in calendar()
        proc.send_signal(signal.SIGINT)  # Ctrl-C
        out, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, out
        assert f"http://127.0.0.1:{port}/" in out and "Stopped." in out
        sent = sent_ids(home)
        assert len(sent) == len(set(sent)) == outbox_lines(home)  # each post at most once, each in the outbox
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("every", [1, 15, 30, 60, 120, 300, 600, 3600])
def test_the_demo_calendar_has_a_slot_every_so_many_seconds(tmp_path, every):
    """`demo --web PORT` (the README's dashboard demo) defaults to a slot every 60 s: the calendar it writes must
    load (a seconds field of */60 was refused) and its slots come that often."""
    slots = list(islice(_demo_calendar(tmp_path, every).slots_after(datetime(2026, 12, 7, 14, 0, 30, tzinfo=UTC)), 4))
    assert {int((b - a).total_seconds()) for a, b in zip(slots, slots[1:])} == {every}


def test_every_interval_demo_every_takes_is_a_calendar_the_config_accepts(tmp_path):
    for every in [*range(1, 3601, 7), 59, 61, 3599, 3600]:  # the option's whole range, sampled
        assert next(_demo_calendar(tmp_path, every).slots_after(datetime(2026, 12, 7, tzinfo=UTC))), every


def _demo_calendar(tmp_path, every: int):
    from scheduler.cli.demo import DEMO_CONFIG, demo_cron
    from scheduler.config import parse_config

    text = DEMO_CONFIG.format(every=every, cron=demo_cron(every), posts=tmp_path.as_posix())
    return parse_config(text, source=tmp_path / "scheduler.toml").calendar()
