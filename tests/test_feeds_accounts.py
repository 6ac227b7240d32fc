"""One blog feed followed by several accounts (X, Bluesky, Mastodon): each entry becomes posts on each account
that follows it, composed for its network, exactly once per account; by `feeds poll` and by services, on SQLite
and PostgreSQL. Real `scheduler` processes, a real local blog and Mastodon stand-in (for its limits)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from scheduler.standins.mastodon import StandinMastodon
from tests.feed_site import Blog, Post
from tests.test_feeds_service import Scheduler, imported_lines
from tests.web_site import WebSite

pytest_plugins = ["tests.helpers_ledger"]
pytestmark = pytest.mark.slow

ACCOUNTS = """
[[accounts]]
name = "x"
handle = "GleiberMD"

[[accounts]]
name = "bsky"
network = "bluesky"
handle = "gleibermd.bsky.social"

[[accounts]]
name = "masto"
network = "mastodon"
handle = "gleibermd"
instance = "{masto_url}"
"""
SUFFIX = {"x": "", "bsky": "~gleibermd.bsky.social", "masto": "~gleibermd@127.0.0.1"}


class Accounts(Scheduler):
    def __init__(self, tmp, masto_url: str, database_url: str | None = None):
        super().__init__(tmp, database_url)
        config = tmp / "scheduler.toml"
        text = config.read_text().replace('[account]\nhandle = "GleiberMD"\ntimezone = "America/New_York"\n', "")
        config.write_text(text + ACCOUNTS.format(masto_url=masto_url), encoding="utf-8")

    def ids(self, account: str) -> list[str]:
        return sorted(p["post_id"] for p in self.json("queue", "list", "--limit", "1000", "--account", account))



@pytest.fixture
def site():
    with WebSite() as web:
        yield web


@pytest.fixture
def masto():
    with StandinMastodon() as server:
        yield server


def expected(slugs, tips: int, account: str) -> list[str]:
    return sorted(f"{slug}-{n}{SUFFIX[account]}" for slug in slugs for n in range(1, tips + 1))


def test_feeds_poll_lands_each_entry_on_each_following_account_once(site, masto, tmp_path):
    run = Accounts(tmp_path, masto.url)
    blog = Blog(site)
    blog.publish(Post("old-news", tips=2))
    # Refused before anything is followed: an unknown name among them.
    bad = subprocess.run([sys.executable, "-m", "scheduler", "feeds", "add", blog.feed_url, "--to", "x,nope"],
                         env=run.env, capture_output=True, text=True, timeout=60)
    assert bad.returncode != 0 and "no account named 'nope'" in bad.stderr
    assert run.json("feeds", "list") == []
    out = run.cli("feeds", "add", blog.feed_url, "--to", "x,bsky").stdout
    assert "for x: 1 existing" in out and "for bsky: 1 existing" in out
    run.cli("feeds", "add", blog.feed_url, "--account", "masto")
    listed = run.json("feeds", "list")
    assert sorted((f["account"], f["url"]) for f in listed) == [(a, blog.feed_url) for a in ("bsky", "masto", "x")]

    blog.publish(Post("fresh-stretches", tips=3))
    polled = run.json("feeds", "poll")  # no --account, no default: every account's feeds
    assert sorted((r["account"], [i["added"] for i in r["imported"]]) for r in polled) == [
        ("bsky", [3]), ("masto", [3]), ("x", [3])]
    for account in ("x", "bsky", "masto"):
        assert run.ids(account) == expected(["fresh-stretches"], 3, account)  # not old-news: seen when added

    # Polling again, by every account or by one, imports nothing more anywhere.
    assert all(r["imported"] == [] for r in run.json("feeds", "poll"))
    assert [r["imported"] for r in run.json("feeds", "poll", "--account", "bsky")] == [[]]
    blog.publish(Post("second-entry", tips=2))
    only_bsky = run.json("feeds", "poll", "--account", "bsky")
    assert [(r["account"], len(r["imported"])) for r in only_bsky] == [("bsky", 1)]
    assert run.ids("x") == expected(["fresh-stretches"], 3, "x")  # X's feed not polled yet
    run.json("feeds", "poll")
    for account in ("x", "bsky", "masto"):
        ids = run.ids(account)
        assert ids == sorted(expected(["fresh-stretches"], 3, account) + expected(["second-entry"], 2, account))
    assert all(f["imported"] == 2 for f in run.json("feeds", "list"))
    assert len(site.requested("/blog/fresh-stretches/")) == 3  # one fetch per following account, then never again


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_services_with_three_accounts_import_each_entry_once_per_account(site, masto, tmp_path, request,
                                                                             backend):
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else None
    run = Accounts(tmp_path, masto.url, url)
    try:
        blog = Blog(site)
        blog.refresh()
        run.cli("feeds", "add", blog.feed_url, "--to", "x,bsky,masto")
        services = [run.serve("one"), run.serve("two")]
        run.wait_for(lambda: all("service started" in run.log(p) for p in services), timeout=60)
        slugs = [f"entry-{n}" for n in range(3)]
        for slug in slugs:
            blog.publish(Post(slug, tips=2))
            time.sleep(0.7)  # entries arrive across several polls of both services
        run.wait_for(lambda: all(run.ids(a) == expected(slugs, 2, a) for a in SUFFIX), timeout=90)
        # One service is killed mid-life; the other and a new one keep polling: nothing comes twice.
        services[0].send_signal(signal.SIGKILL)
        services[0].wait(timeout=10)
        services.append(run.serve("three"))
        run.wait_for(lambda: "service started" in run.log(services[2]), timeout=60)
        blog.publish(Post("late-entry", tips=2))
        run.wait_for(lambda: all(run.ids(a) == expected([*slugs, "late-entry"], 2, a) for a in SUFFIX), timeout=90)
        time.sleep(3)  # more polls
        logs = "".join(run.log(p) for p in services)
        for slug in [*slugs, "late-entry"]:
            assert imported_lines(logs, slug) == 3, logs  # once for each of the three accounts
        for account in SUFFIX:
            assert run.ids(account) == expected([*slugs, "late-entry"], 2, account)
        assert sorted((f["account"], f["imported"]) for f in run.json("feeds", "list")) == [
            ("bsky", 4), ("masto", 4), ("x", 4)]
        for proc in services[1:]:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=15) == 0
    finally:
        run.close()
