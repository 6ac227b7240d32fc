"""`scheduler serve` following a blog's feed, as real processes against a real local web site:
new entries become queued posts within one poll; kill -9 mid-import and a second service on the
same ledger never import an entry twice (SQLite, and PostgreSQL where a server answers)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.feed_site import Blog, Post
from tests.web_site import WebSite

pytestmark = pytest.mark.slow

CONFIG = """\
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = []

[quota]
daily = 0
monthly = 0

[publisher]
kind = "outbox"

[service]
heartbeat = "1s"
watch_interval = "1s"

[fetch]
timeout = "10s"

[feeds]
interval = "1s"
backoff_max = "2s"
"""


class Scheduler:
    def __init__(self, tmp: Path, database_url: str | None = None):
        self.tmp = tmp
        (tmp / "scheduler.toml").write_text(CONFIG, encoding="utf-8")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))}
        self.env.update(SCHEDULER_HOME=str(tmp / "home"), SCHEDULER_CONFIG=str(tmp / "scheduler.toml"))
        if database_url:
            self.env["SCHEDULER_DATABASE_URL"] = database_url
        self.procs: list[subprocess.Popen] = []

    def cli(self, *args: str) -> subprocess.CompletedProcess:
        result = subprocess.run([sys.executable, "-m", "scheduler", *args], env=self.env, capture_output=True,
                                text=True, timeout=60)
        assert result.returncode == 0, f"scheduler {' '.join(args)}: {result.stderr}"
        return result

    def json(self, *args: str):
        return json.loads(self.cli(*args, "--json").stdout)

    def serve(self, name: str) -> subprocess.Popen:
        log = open(self.tmp / f"{name}.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "scheduler", "serve"], env=self.env, stdout=log,
                                stderr=subprocess.STDOUT)
        proc.log_path = self.tmp / f"{name}.log"  # type: ignore[attr-defined]
        self.procs.append(proc)
        return proc

    @staticmethod
    def log(proc) -> str:
        return proc.log_path.read_text(errors="replace")

    def wait_for(self, what, timeout: float = 30, procs=()) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if what():
                return
            time.sleep(0.2)
        logs = "\n".join(self.log(p) for p in procs or self.procs)
        raise AssertionError(f"timed out waiting; service logs:\n{logs}")

    def queued(self) -> list[str]:
        return [p["post_id"] for p in self.json("queue", "list", "--limit", "1000")]

    def close(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture
def site():
    with WebSite() as web:
        yield web


@pytest.fixture
def run(tmp_path):
    scheduler = Scheduler(tmp_path)
    yield scheduler
    scheduler.close()


def imported_lines(text: str, slug: str) -> int:
    return sum(1 for line in text.splitlines() if "imported" in line and f" as {slug} (" in line)


def test_an_entry_published_while_the_service_runs_is_queued_within_one_poll(site, run):
    blog = Blog(site)
    blog.publish(Post("already-there"))
    run.cli("feeds", "add", blog.feed_url)
    proc = run.serve("serve")
    run.wait_for(lambda: "service started" in run.log(proc))
    blog.publish(Post("fresh-article", tips=3))
    run.wait_for(lambda: run.queued() == ["fresh-article-1", "fresh-article-2", "fresh-article-3"])
    assert "already-there" not in " ".join(run.queued())
    assert imported_lines(run.log(proc), "fresh-article") == 1
    # Later polls see the same entries (304, or new ETag with nothing new): nothing is imported again.
    blog.refresh()
    time.sleep(3)
    assert imported_lines(run.log(proc), "fresh-article") == 1
    [feed] = run.json("feeds", "list")
    assert (feed["imported"], feed["seen"], feed["state"]) == (1, 1, "ok")
    status = run.json("status")
    assert status["feeds"][0]["url"] == blog.feed_url and status["feeds"][0]["imported"] == 1
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_a_broken_feed_is_logged_once_and_the_service_keeps_running(site, run):
    blog = Blog(site)
    blog.refresh()
    run.cli("feeds", "add", blog.feed_url)
    site.page("/feed.xml", b"", status=404)
    proc = run.serve("serve")
    run.wait_for(lambda: "is failing" in run.log(proc))
    time.sleep(5)  # several more checks (backoff 2 s): still one line
    assert run.log(proc).count("is failing") == 1
    assert proc.poll() is None
    blog.publish(Post("after-repair", tips=1))
    run.wait_for(lambda: "works again" in run.log(proc) and run.queued() == ["after-repair-1"])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0


def test_kill_9_mid_import_then_restart_imports_nothing_twice(site, run):
    blog = Blog(site)
    blog.refresh()
    run.cli("feeds", "add", blog.feed_url)
    blog.publish(Post("first-entry", tips=2))
    blog.publish(Post("second-entry", tips=2), page_options={"delay": 6})  # still downloading when killed
    proc = run.serve("first")
    run.wait_for(lambda: imported_lines(run.log(proc), "first-entry") == 1 and site.requested("/blog/second-entry/"))
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert run.queued() == ["first-entry-1", "first-entry-2"]

    site.page("/blog/second-entry/", site.routes["/blog/second-entry/"].body)  # quick now
    again = run.serve("second")
    run.wait_for(lambda: imported_lines(run.log(again), "second-entry") == 1)
    time.sleep(2)  # a few more polls
    assert imported_lines(run.log(again), "first-entry") == 0
    assert len(site.requested("/blog/first-entry/")) == 1  # settled before the kill: never fetched again
    assert run.queued() == ["first-entry-1", "first-entry-2", "second-entry-1", "second-entry-2"]
    [feed] = run.json("feeds", "list")
    assert feed["imported"] == 2
    again.send_signal(signal.SIGTERM)
    assert again.wait(timeout=10) == 0


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_services_on_one_ledger_import_each_entry_once(site, tmp_path, request, backend):
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    run = Scheduler(tmp_path, url)
    try:
        blog = Blog(site)
        blog.refresh()
        run.cli("feeds", "add", blog.feed_url)
        services = [run.serve("one"), run.serve("two")]
        run.wait_for(lambda: all("service started" in run.log(p) for p in services))
        slugs = [f"entry-{n}" for n in range(4)]
        for slug in slugs:
            blog.publish(Post(slug, tips=2))
            time.sleep(0.7)  # entries arrive across several polls of both services
        expected = [f"{slug}-{n}" for slug in slugs for n in (1, 2)]
        run.wait_for(lambda: sorted(run.queued()) == sorted(expected))
        time.sleep(3)  # both keep polling
        logs = run.log(services[0]) + run.log(services[1])
        for slug in slugs:
            assert imported_lines(logs, slug) == 1, logs
            assert len(site.requested(f"/blog/{slug}/")) >= 1
        assert sorted(run.queued()) == sorted(expected)
        [feed] = run.json("feeds", "list")
        assert feed["imported"] == 4
        for proc in services:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0
    finally:
        run.close()
