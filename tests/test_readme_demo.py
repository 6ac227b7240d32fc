"""The README's demo commands, run exactly as written (issue 23): the Quick start's `.venv/bin/scheduler demo`
and the dashboard demo `.venv/bin/scheduler demo --web 8040`, read from README.md itself, through a shell, from a
directory laid out like a clone (its posts/ and its .venv), so a command the README shows that fails, fails here."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.test_demo import SEED, outbox_lines, sent_ids

REPO = Path(__file__).parents[1]
README = (REPO / "README.md").read_text(encoding="utf-8")
INSTALL = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && "


def quick_start_demo() -> str:
    """The Quick start's first command, after its install part (the test runs in the installed environment)."""
    line = next(ln.strip() for ln in README.splitlines() if ln.startswith("    ") and ln.strip().startswith(INSTALL)
                and ln.strip().endswith("scheduler demo"))
    return line[len(INSTALL):]


def dashboard_demo() -> str:
    return re.search(r"`(\.venv/bin/scheduler demo --web \d+)`", README).group(1)


@pytest.fixture
def clone(tmp_path) -> Path:
    """A directory like a fresh clone after the install: posts/ and .venv (this environment's)."""
    shutil.copytree(REPO / "posts", tmp_path / "posts")
    venv = Path(sys.prefix)
    assert (venv / "bin" / "scheduler").exists(), "run the tests from the project's .venv, as the README does"
    (tmp_path / ".venv").symlink_to(venv)
    return tmp_path


def test_the_readme_shows_both_demo_commands():
    assert quick_start_demo() == ".venv/bin/scheduler demo"
    assert dashboard_demo() == ".venv/bin/scheduler demo --web 8040"


@pytest.mark.slow
def test_the_quick_start_demo_as_written_publishes_the_seed(clone):
    done = subprocess.run(quick_start_demo(), shell=True, cwd=clone, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    home = clone / "demo-data"  # "The demo keeps its own data in ./demo-data"
    assert sorted(sent_ids(home)) == SEED and outbox_lines(home) == len(SEED)
    assert "Done." in done.stdout


@pytest.mark.slow
def test_the_dashboard_demo_as_written_starts_and_shows_the_seed(clone):
    command = dashboard_demo()
    port = int(command.rsplit(" ", 1)[1])
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            pytest.skip(f"port {port}, the README's, is taken on this machine (another demo running?)")
    # Its words as the argv a shell would give (no shell in between, so Ctrl-C reaches the demo as from a terminal).
    proc = subprocess.Popen(shlex.split(command), cwd=clone, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    try:
        deadline, page = time.monotonic() + 120, ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/calendar", timeout=10) as response:
                    page = response.read().decode()
                break
            except OSError:
                assert proc.poll() is None, proc.stdout.read()  # it refused to start ('*/60 ...' once did)
                time.sleep(0.3)
        assert all(f'data-post-id="{post_id}"' in page for post_id in SEED), page[-2000:]
        proc.send_signal(signal.SIGINT)  # Ctrl-C, as the README says
        started = time.monotonic()
        out, _ = proc.communicate(timeout=180)
        assert f"http://127.0.0.1:{port}/" in out and "Stopped." in out
        print(f"stopped {time.monotonic() - started:.1f} s after Ctrl-C")
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_the_first_real_setup_queues_the_articles_posts(clone):
    """The README's "First real setup", run line by line as written (without the clone, the install and real X keys:
    posts then go to the outbox, as it says), with an article of the repository for "path/to/your-article.md"."""
    section = README.split("## First real setup", 1)[1].split("\n## ", 1)[0]
    commands = [ln[4:] for ln in section.splitlines() if ln.startswith("    ")]
    assert len(commands) <= 10  # "ten lines"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))}
    env |= {"SCHEDULER_HOME": str(clone / "home"), "PATH": f"{clone / '.venv' / 'bin'}:{env.get('PATH', '')}"}
    ran = []
    for command in commands:
        if command.startswith(("git clone", "python3 -m venv", "export X_")) or command.startswith("scheduler serve"):
            continue
        command = command.replace("path/to/your-article.md", "posts/massage-therapy-for-back-pain.md")
        done = subprocess.run(command, shell=True, cwd=clone, env=env, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (command, done.stderr)
        ran.append((command.split("#")[0].strip(), done.stdout))
    out = dict(ran)
    assert "5 added" in out["scheduler import posts/massage-therapy-for-back-pain.md"]
    listed = out["scheduler queue list"]
    assert all(post_id in listed for post_id in SEED) and "queued" in listed
    assert "@YourHandle" in out["scheduler preview"]
