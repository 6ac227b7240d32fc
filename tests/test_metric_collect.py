"""Collecting metrics (publishing/collect.py) for X, Bluesky and Mastodon accounts on one ledger (SQLite and
PostgreSQL), through the real publishers against the three stand-ins: readings on the schedule with exactly the
counters each stand-in serves, billed X reads, a deleted post marked once and never read again, a 429 that waits
for its reset, a 5xx that backs off, a refused token that pauses one account's metrics (not its publishing, not
the other accounts), the budget stopping reads, and one service at a time per account."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.app.collecting import collect_now, metrics_status
from scheduler.app.health import status
from scheduler.config.loading import parse_config
from scheduler.publishing.collect import Collector, collect_round
from scheduler.standins.metrics import counts, followers
from tests.helpers_ledger import FakeClock, new_post

CONFIG = """\
[publisher]
kind = "x"
timeout = "2s"

[metrics]
schedule = ["1h", "24h", "7d"]

[service]
metrics_interval = "1s"
{extra}
[[accounts]]
name = "x"
handle = "{x_handle}"
instance = "{x_url}"
{x_extra}
[[accounts]]
name = "bsky"
network = "bluesky"
handle = "{bsky_handle}"
instance = "{bsky_url}"
credentials_env = "CLINIC_BSKY"

[[accounts]]
name = "masto"
network = "mastodon"
handle = "tipbot"
instance = "{masto_url}"
"""
H, D = timedelta(hours=1), timedelta(days=1)


class World:
    """Three accounts on the three stand-ins, one ledger, a collector whose clock the test moves (and the stand-ins
    age their posts on the same clock)."""

    def __init__(self, store, tmp_path, monkeypatch, x, bsky, masto, *, extra: str = "", x_extra: str = ""):
        self.store, self.x, self.bsky, self.masto = store, x, bsky, masto
        account = x.default_account
        for name, value in {"X_API_KEY": x.consumer_key, "X_API_SECRET": x.consumer_secret,
                            "X_ACCESS_TOKEN": account.access_token, "X_ACCESS_TOKEN_SECRET": account.access_token_secret,
                            "CLINIC_BSKY_APP_PASSWORD": bsky.default_account.password,
                            "MASTODON_ACCESS_TOKEN": masto.token}.items():
            monkeypatch.setenv(name, value)
        monkeypatch.delenv("SCHEDULER_X_API_URL", raising=False)
        text = CONFIG.format(extra=extra, x_extra=x_extra, x_handle=account.username, x_url=x.url,
                             bsky_handle=bsky.default_account.handle, bsky_url=bsky.url, masto_url=masto.url)
        self.config = parse_config(text, source=None, env={"SCHEDULER_HOME": str(tmp_path / "home")})
        self.accounts = {c.account_name: c for c in self.config.each_account()}
        self.clock = FakeClock(datetime.now(UTC).replace(microsecond=0))
        for standin in (x, bsky, masto):
            standin.set_metrics_clock(lambda: self.clock().timestamp())
        self.collector = Collector(store, lambda: list(self.accounts.values()), "svc-test", self.clock)
        self.sent_at = self.clock()
        self.remote: dict[str, list[str]] = {}  # post id -> its parts on the network

    def send(self, name: str, count: int, *, thread: int = 1) -> list[str]:
        """``count`` posts (each a thread of ``thread`` parts) published on the account's network and sent in the
        ledger at the start of the test."""
        config = self.accounts[name]
        publisher = self.collector._publisher(config)
        made = []
        for n in range(count):
            post_id = f"{name}-{len(self.remote)}"
            parts: list[str] = []
            for p in range(thread):
                parts.append(publisher.create_post(f"{post_id} part {p}: walk after meals",
                                                   reply_to=parts[-1] if parts else None))
            self.store.add_post(config.account, new_post(post_id), self.sent_at)
            assert self.store.claim(post_id, "i", self.sent_at, self.sent_at)
            self.store.mark_sent(post_id, "i", parts, self.sent_at)
            self.remote[post_id] = parts
            made.append(post_id)
        return made

    def created(self, name: str, part: str) -> float:
        if name == "x":
            return next(p for p in self.x._state.posts if p.id == part).created_at.timestamp()
        if name == "bsky":
            return next(r for k, r in self.bsky._state.records.items() if k[2] == part).indexed_at.timestamp()
        return self.masto._state.statuses[part].created_at.timestamp()

    def expected(self, name: str, part: str) -> tuple:
        standin = {"x": self.x, "bsky": self.bsky, "masto": self.masto}[name]
        c = counts(part, standin.age_of(self.created(name, part)))
        quotes = 0 if name == "masto" else c.quotes
        return (c.likes, c.reposts, c.replies, quotes) + ((c.impressions, c.bookmarks) if name == "x" else (None, None))

    def readings(self, post_id: str):
        return self.store.metric_readings(post_id=post_id)


@pytest.fixture
def world(store, tmp_path, monkeypatch, standin, bluesky_standin, mastodon_standin):
    w = World(store, tmp_path, monkeypatch, standin, bluesky_standin, mastodon_standin)
    yield w
    for publisher in w.collector._publishers.values():
        publisher.close()


def test_each_network_is_read_on_the_schedule_with_the_counters_its_standin_serves(world):
    posts = {name: world.send(name, 3) for name in ("x", "bsky", "masto")}
    thread = world.send("x", 1, thread=2)[0]
    world.clock.advance(30 * 60)
    world.collector.collect()
    assert all(world.readings(p) == [] for ps in posts.values() for p in ps)  # nothing due before 1 h
    world.clock.advance(31 * 60)
    world.collector.collect()
    for name, ids in posts.items():
        for post_id in ids:
            (reading,) = world.readings(post_id)
            part = world.remote[post_id][0]
            assert (reading.likes, reading.reposts, reading.replies, reading.quotes, reading.impressions,
                    reading.bookmarks) == world.expected(name, part)
            assert reading.read_at == world.clock() and reading.network == world.accounts[name].network
    assert world.readings(posts["x"][0])[0].followers == followers("tipbot", world.x.age_of(world.x.started_at))
    assert world.readings(posts["bsky"][0])[0].followers is not None
    assert len(world.readings(thread)) == 2  # a thread: each part read
    # X billed the followers read (priced as a read) and each post it returned: 3 posts and 2 thread parts.
    billed = world.store.billed_calls(account="tipbot")
    assert [(b.kind, b.units, b.price_micro_usd) for b in billed] == [("user_read", 1, 5_000),
                                                                      ("metric_read", 5, 25_000)]
    calls = world.x.request_count("lookup")
    world.clock.advance(60)
    world.collector.collect()  # nothing newly due: no call at all
    assert world.x.request_count("lookup") == calls
    world.clock.set(world.sent_at + 24 * H + timedelta(seconds=5))
    world.collector.collect()
    second = world.readings(posts["masto"][0])
    assert len(second) == 2 and second[1].likes >= second[0].likes
    assert world.readings(posts["x"][1])[1].impressions > world.readings(posts["x"][1])[0].impressions


def test_readings_missed_while_down_are_made_up_once(world):
    (post,) = world.send("bsky", 1)
    world.clock.set(world.sent_at + 8 * D)  # down since before the 1 h reading: 1 h, 24 h and 7 d all passed
    world.collector.collect()
    world.clock.advance(60)
    world.collector.collect()
    assert len(world.readings(post)) == 1
    assert world.store.metric_standing(post)[1] == int((8 * D).total_seconds())


def test_a_deleted_post_is_marked_once_and_never_read_again(world):
    x_posts, masto_posts = world.send("x", 2), world.send("masto", 2)
    bsky_posts = world.send("bsky", 2)
    world.x.delete_post(world.remote[x_posts[0]][0])
    world.masto.delete_post(world.remote[masto_posts[0]][0])
    world.bsky.delete_post(world.remote[bsky_posts[0]][0])
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    world.collector.collect()
    for post in (x_posts[0], masto_posts[0], bsky_posts[0]):
        assert world.readings(post) == []
        _, _, gone, parts = world.store.metric_standing(post)
        assert gone == world.clock() and parts == world.remote[post]
    for post in (x_posts[1], masto_posts[1], bsky_posts[1]):
        assert len(world.readings(post)) == 1
    asked = (world.x.request_count("lookup"), world.masto.request_count("status"), world.bsky.request_count("getPosts"))
    world.clock.set(world.sent_at + 24 * H + timedelta(seconds=1))
    world.collector.collect()
    assert world.x.request_count("lookup") == asked[0] + 1  # only the live post is asked about
    assert world.masto.request_count("status") == asked[1]  # no 404 asked again
    assert world.store.metric_counts("tipbot")["deleted_parts"] == 1
    reads = [b for b in world.store.billed_calls(account="tipbot") if b.kind == "metric_read"]
    assert reads[0].units == 1  # the deleted post was not billed


def test_a_429_waits_for_its_reset_for_that_account_only(world):
    (x_post,) = world.send("x", 1)
    (masto_post,) = world.send("masto", 1)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    world.x.inject("lookup", "rate_limited", reset_in=7200)  # x-rate-limit-reset: two hours from (real) now
    world.collector.collect()
    state = world.store.metric_account("tipbot")
    assert abs((state.wait_until - (datetime.now(UTC) + 2 * H)).total_seconds()) < 60
    assert world.readings(x_post) == [] and len(world.readings(masto_post)) == 1  # Mastodon read all the same
    asked = world.x.request_count("lookup")
    world.clock.set(state.wait_until - timedelta(seconds=1))
    world.collector.collect()
    assert world.x.request_count("lookup") == asked  # still waiting: not asked
    world.clock.set(state.wait_until + timedelta(seconds=1))
    world.collector.collect()
    assert len(world.readings(x_post)) == 1 and world.store.metric_account("tipbot").wait_until is None


def test_a_5xx_backs_off_and_is_retried_later(world):
    (post,) = world.send("masto", 1)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    world.masto.inject("status_list", "unavailable", times=2)
    world.collector.collect()
    state = world.store.metric_account("tipbot@127.0.0.1")
    assert (state.failures, state.wait_until) == (1, world.clock() + timedelta(seconds=1))
    world.clock.advance(2)
    world.collector.collect()  # fails again: the wait doubles
    state = world.store.metric_account("tipbot@127.0.0.1")
    assert (state.failures, state.wait_until) == (2, world.clock() + timedelta(seconds=2))
    world.clock.advance(3)
    world.collector.collect()
    assert len(world.readings(post)) == 1
    assert world.store.metric_account("tipbot@127.0.0.1").failures == 0


def test_a_refused_token_pauses_that_accounts_metrics_until_asked_again(world):
    (x_post,) = world.send("x", 1)
    (bsky_post,) = world.send("bsky", 1)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    world.x.inject("me", "unauthorized", times=1)
    world.collector.collect()
    state = world.store.metric_account("tipbot")
    assert state.paused_at == world.clock() and "401" in state.pause_reason
    assert not world.store.account_state("tipbot").paused  # publishing is not paused
    assert world.readings(x_post) == [] and len(world.readings(bsky_post)) == 1
    report = status(world.store, world.accounts["x"], world.clock())
    assert report["metrics"]["paused"] and any("metrics are paused" in line for line in report["attention"])
    asked = world.x.request_count("me")
    world.clock.advance(3600)
    world.collector.collect()
    assert world.x.request_count("me") == asked  # paused: nothing is read, however long
    world.collector.reload()  # SIGHUP: the credentials may be fixed
    world.collector.collect()
    assert len(world.readings(x_post)) == 1 and not world.store.metric_account("tipbot").paused_at


def test_reads_stop_before_the_budget_and_posts_come_first(store, tmp_path, monkeypatch, standin, bluesky_standin,
                                                           mastodon_standin):
    # $0.015 a month and nothing planned: the followers read and two reads of $0.005; the third post waits for
    # next month's budget.
    world = World(store, tmp_path, monkeypatch, standin, bluesky_standin, mastodon_standin,
                  x_extra='[accounts.x]\nmonthly_budget = "0.015"\n')
    posts = world.send("x", 3)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    report = collect_round(store, list(world.accounts.values()), "cli", world.clock,
                           publisher=world.collector._publisher)
    (x_round,) = [a for a in report.accounts if a.account == "x"]
    assert x_round.posts == 2 and "budget" in x_round.stopped
    assert sum(b.price_micro_usd for b in store.billed_calls(account="tipbot")) == 15_000
    assert sum(1 for p in posts if world.readings(p)) == 2


def test_a_budget_that_cannot_pay_one_read_makes_no_call_at_all(store, tmp_path, monkeypatch, standin,
                                                                  bluesky_standin, mastodon_standin):
    # $0.005 left: the followers read ($0.005) and one post's read ($0.005) do not fit, so nothing is read or billed.
    world = World(store, tmp_path, monkeypatch, standin, bluesky_standin, mastodon_standin,
                  x_extra='[accounts.x]\nmonthly_budget = "0.005"\n')
    posts = world.send("x", 1)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    reads_before = standin.reads_billed()
    report = collect_round(store, list(world.accounts.values()), "cli", world.clock,
                           publisher=world.collector._publisher)
    (x_round,) = [a for a in report.accounts if a.account == "x"]
    assert "budget" in x_round.stopped and x_round.posts == 0
    assert store.billed_calls(account="tipbot") == [] and world.readings(posts[0]) == []
    assert standin.reads_billed() == reads_before  # X itself saw no billed read


def test_one_service_at_a_time_collects_an_account(world):
    (post,) = world.send("masto", 1)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    assert world.store.take_metrics_lease("tipbot@127.0.0.1", "another-service", world.clock(),
                                          world.clock() + timedelta(minutes=10))
    world.collector.collect()
    assert world.readings(post) == []
    world.clock.advance(11 * 60)  # the other's lease lapsed (it died)
    world.collector.collect()
    assert len(world.readings(post)) == 1


def test_collect_now_reports_each_account_and_the_outbox_has_none(world, tmp_path):
    world.send("x", 2)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    report = collect_now(world.store, list(world.accounts.values()), world.clock)
    rows = {r["account"]: r for r in report["accounts"]}
    assert rows["x"]["posts_read_now"] == 2 and rows["x"]["billed_usd"] == "$0.015"  # followers and two posts
    assert rows["masto"]["no_metrics"] is None and "posts_read_now" not in rows["masto"]  # nothing due there
    outbox = parse_config('[account]\nhandle = "Other"\n[publisher]\nkind = "outbox"\n', source=None,
                          env={"SCHEDULER_HOME": str(tmp_path / "o")})
    assert "outbox" in metrics_status(world.store, outbox, world.clock())["no_metrics"]


def test_one_accounts_unexpected_failure_leaves_the_others_collected(world):
    (x_post,) = world.send("x", 1)
    (bsky_post,) = world.send("bsky", 1)
    world.clock.set(world.sent_at + H + timedelta(seconds=1))

    def publisher(config):
        if config.account_name == "x":
            raise RuntimeError("a bug in one account's client")
        return world.collector._publisher(config)

    collect_round(world.store, list(world.accounts.values()), "svc", world.clock, publisher=publisher)
    assert world.readings(x_post) == [] and len(world.readings(bsky_post)) == 1
    assert world.store.metric_account("tipbot").collector is None  # its lease was given back


def test_x_link_and_profile_clicks_are_stored_for_young_posts_only_and_the_followers_read_is_billed(world):
    from scheduler.standins.metrics import clicks

    young, old = world.send("x", 2)
    # X dates the second post 40 days back (its id still looks young to us): X refuses its non-public metrics under
    # ``errors``, and the collector's read falls back to the public ones for it.
    stale_part = next(p for p in world.x._state.posts if p.id == world.remote[old][0])
    stale_part.created_at -= 40 * D
    world.clock.set(world.sent_at + H + timedelta(seconds=1))
    world.collector.collect()
    (reading,) = world.readings(young)
    part = world.remote[young][0]
    assert (reading.url_link_clicks, reading.user_profile_clicks) == clicks(part, world.x.age_of(
        world.created("x", part)))
    # Counted, not left at None or 0: an hour in, link clicks are at least 15 % of a ceiling of 10 or more (profile
    # clicks, ceiling 2 or more, may still round down to 0 for some ids, which come from the clock).
    assert reading.url_link_clicks >= 1 and reading.user_profile_clicks is not None
    (stale,) = world.readings(old)
    assert (stale.url_link_clicks, stale.user_profile_clicks) == (None, None)
    assert (stale.likes, stale.reposts, stale.replies, stale.quotes, stale.impressions,
            stale.bookmarks) == world.expected("x", world.remote[old][0])  # the public read still succeeded
    kinds = [(b.kind, b.units, b.price_micro_usd) for b in world.store.billed_calls(account="tipbot")]
    assert kinds == [("user_read", 1, 5_000), ("metric_read", 2, 10_000)]
