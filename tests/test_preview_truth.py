"""Preview is the truth: what `preview` shows is exactly what the service publishes.

A month of slots (Nov -> Dec, blackout over Christmas) is planned once, then published with a
simulated clock by the loop the service runs (``scheduler.publishing.engine.publish_due``): the published
(slot time, post id, text) sequence must equal the preview, and the outbox must hold those texts
in that order.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from scheduler.planning import agenda
from scheduler.app import queueing
from scheduler.config import parse_config
from scheduler.articles.library import import_articles
from scheduler.networks.outbox.publisher import OutboxPublisher
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.publishing.engine import publish_due as run_due
from scheduler.ledger.store import Store

POSTS = Path(__file__).parents[1] / "posts"
NY = ZoneInfo("America/New_York")
COUNT = 30

CONFIG = """\
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = ["mon-fri 09:00", "sat 11:30"]
blackout = ["2026-12-24..2026-12-26"]
series_gap = "1d"

[quota]
daily = 0
monthly = 0

[publisher]
kind = "outbox"
"""

BLACKOUT = {date(2026, 12, 24), date(2026, 12, 25), date(2026, 12, 26)}


class FakeClock:
    def __init__(self, now: datetime):
        self.t = now

    def now(self) -> datetime:
        return self.t

    __call__ = now


def _post_entries(entries):
    return [(e.at, e.post.post_id, e.post.text) for e in entries if e.post is not None]


def publish_due(store, config, engine, clock) -> list:
    """The service's own publication run (``scheduler.publishing.engine.publish_due``), on the simulated clock."""
    published = []
    for entry, outcome in run_due(engine, config):
        assert outcome.state == "sent", outcome
        published.append((entry.at, entry.post.post_id, entry.post.text))
    return published


@pytest.fixture
def world(tmp_path):
    config = parse_config(CONFIG, source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    yield config, store, tmp_path
    store.close()


def test_published_sequence_equals_preview_over_a_month(world):
    config, store, tmp_path = world
    start = datetime(2026, 11, 27, 12, 0, tzinfo=NY).astimezone(UTC)  # a Friday, noon

    [imported] = import_articles(store, config, [POSTS], start)
    assert len(imported.report.added) == 5
    adhoc = [
        queueing.add_text(store, config, f"Back care note {n}: keep moving, {n * 5} minutes at a time. #BackPain",
                          start).post_id
        for n in range(1, 26)
    ]
    # Two pins at exact (odd) seconds, one on a Sunday (no slot that day), one mid-week.
    pin_sun = datetime(2026, 12, 6, 14, 17, 42, tzinfo=NY).astimezone(UTC)
    pin_wed = datetime(2026, 12, 9, 9, 0, 1, tzinfo=NY).astimezone(UTC)  # one second after a slot
    store.pin(config.account, adhoc[10], pin_sun, start)
    store.pin(config.account, adhoc[20], pin_wed, start)
    store.move(config.account, adhoc[24], top=True)
    assert store.counts(config.account)["queued"] == 30

    expected = _post_entries(agenda.upcoming(store, config, start, count=COUNT))
    assert len(expected) == COUNT
    assert expected[0][1] == adhoc[24]  # moved to the top: the first slot (Sat 11:30) is its own
    assert expected[0][0] == datetime(2026, 11, 28, 11, 30, tzinfo=NY)
    assert (pin_sun, adhoc[10]) in [(at, pid) for at, pid, _ in expected]
    assert (pin_wed, adhoc[20]) in [(at, pid) for at, pid, _ in expected]

    clock = FakeClock(start)
    outbox = tmp_path / "outbox.jsonl"
    publisher = OutboxPublisher(outbox, config.handle, clock=clock)
    engine = PublishingEngine(store, publisher, account=config.account, instance="sim-1",
                              policy=RetryPolicy(), clock=clock)

    published: list = []
    wakeups = 0
    while len(published) < COUNT:
        nxt = next(e for e in agenda.upcoming(store, config, clock(), count=1) if e.post is not None)
        assert nxt.at > clock() - timedelta(seconds=1), "the plan went backwards"
        clock.t = nxt.at + timedelta(milliseconds=3)  # the DateTrigger fires a little late
        published.extend(publish_due(store, config, engine, clock))
        wakeups += 1
        assert wakeups <= COUNT, "a wake-up published nothing"
    published = published[:COUNT]

    assert published == expected

    # The outbox holds exactly those texts, in that order.
    records = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [r["text"] for r in records] == [text for _, _, text in expected]

    # The ledger agrees: each post sent for the slot it was planned for.
    sent = {p.post_id: p for p in store.history(config.account, limit=100)}
    assert len(sent) == COUNT
    for at, post_id, _ in expected:
        assert sent[post_id].state.value == "sent"
        assert sent[post_id].slot_at == at

    local = [at.astimezone(NY) for at, _, _ in published]
    # No post in the blackout (the pins are outside it too).
    assert not [t for t in local if t.date() in BLACKOUT]
    # Slots only on the calendar: weekdays 09:00, Saturdays 11:30; the pins at their seconds.
    for t, (at, post_id, _) in zip(local, published):
        if post_id in (adhoc[10], adhoc[20]):
            continue
        assert (t.weekday() < 5 and (t.hour, t.minute, t.second) == (9, 0, 0)) or \
               (t.weekday() == 5 and (t.hour, t.minute, t.second) == (11, 30, 0)), t
    # The month boundary: November and December both planned, no DST change in between (EST).
    assert {11, 12} <= {t.month for t in local}
    assert sum(t.month == 12 for t in local) >= 20  # the month of slots in between
    assert all(t.utcoffset() == timedelta(hours=-5) for t in local)
    assert local[1] == datetime(2026, 11, 30, 9, 0, tzinfo=NY)
    assert local[2] == datetime(2026, 12, 1, 9, 0, tzinfo=NY)
    # Series spacing: at most one tip of the article per local day.
    tip_days = [t.date() for t, (_, pid, _) in zip(local, published) if pid.startswith("massage-")]
    assert len(tip_days) == 5 and len(set(tip_days)) == 5
    # Strictly increasing, never two posts in one second.
    assert all(a[0] < b[0] for a, b in zip(published, published[1:]))

    # Nothing else is due: the remaining plan is empty (queue empty).
    rest = agenda.upcoming(store, config, clock(), count=1)
    assert all(e.post is None for e in rest)


@pytest.mark.parametrize("late", [timedelta(milliseconds=3), timedelta(seconds=90), timedelta(minutes=14)])
def test_truth_holds_for_pins_on_slots_in_blackout_and_late_wakeups(world, late):
    """Pins on a slot's second and inside the blackout, and a service that wakes late (within grace)."""
    config, store, tmp_path = world
    start = datetime(2026, 11, 27, 12, 0, tzinfo=NY).astimezone(UTC)
    import_articles(store, config, [POSTS], start)
    adhoc = [
        queueing.add_text(store, config, f"Desk posture check {n}: feet flat, screen at eye level. #BackPain",
                          start).post_id
        for n in range(1, 21)
    ]
    on_slot = datetime(2026, 12, 2, 9, 0, 0, tzinfo=NY).astimezone(UTC)  # a slot's very second
    in_blackout = datetime(2026, 12, 25, 10, 0, 0, tzinfo=NY).astimezone(UTC)
    next_second = datetime(2026, 12, 25, 10, 0, 1, tzinfo=NY).astimezone(UTC)
    store.pin(config.account, adhoc[3], on_slot, start)
    store.pin(config.account, "massage-therapy-for-back-pain-5", in_blackout, start)
    store.pin(config.account, adhoc[4], next_second, start)
    store.move(config.account, "massage-therapy-for-back-pain-3", top=True)

    count = 25
    expected = _post_entries(agenda.upcoming(store, config, start, count=count))
    assert len(expected) == count
    pinned = {pid: at for at, pid, _ in expected}
    assert pinned[adhoc[3]] == on_slot
    assert pinned["massage-therapy-for-back-pain-5"] == in_blackout  # pins go even in a blackout
    assert pinned[adhoc[4]] == next_second

    clock = FakeClock(start)
    outbox = tmp_path / "outbox.jsonl"
    engine = PublishingEngine(store, OutboxPublisher(outbox, config.handle, clock=clock), account=config.account,
                              instance="sim-2", policy=RetryPolicy(), clock=clock)
    published: list = []
    for _ in range(count + 1):
        if len(published) >= count:
            break
        nxt = next(e for e in agenda.upcoming(store, config, clock(), count=1) if e.post is not None)
        clock.t = max(clock.t, nxt.at + late)
        published.extend(publish_due(store, config, engine, clock))
    published = published[:count]

    assert published == expected
    records = [json.loads(line) for line in outbox.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert [r["text"] for r in records] == [text for _, _, text in expected]
    slot_posts_in_blackout = [
        at for at, pid, _ in published
        if at.astimezone(NY).date() in BLACKOUT and at not in (in_blackout, next_second)
    ]
    assert slot_posts_in_blackout == []
