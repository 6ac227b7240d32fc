"""The plan reads the queue as it goes: only as far as its slots need, within the same window of the queue
(`agenda.queue_window`) that bounds it, inside the same ledger snapshot. What it plans must be exactly what
the planner gives for that whole window read up front, on SQLite and on PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.planning import agenda
from scheduler.config import parse_config
from scheduler.domain.planner import SentRecord, plan
from tests.helpers_ledger import new_post

CONFIG = """\
[account]
handle = "tipbot"
timezone = "America/New_York"

[calendar]
cron = ["*/30 * * * *"]
series_gap = "1d"

[quota]
daily = 0
monthly = 0
"""
NOW = datetime(2026, 3, 6, 14, 7, tzinfo=UTC)  # a Friday; New York's clocks spring forward on Sunday


def whole_window_plan(store, config, now, count):
    """The reference: the planner given the whole window as one list (as before the plan read as it went)."""
    settings = config.plan_settings()
    with store.snapshot():
        history = [SentRecord(*row) for row in store.sent_since(config.account, agenda.history_start(config, now))]
        consumed = store.consumed_slots(config.account, now - settings.grace - timedelta(seconds=1))
        queue, _ = agenda.queue_window(store, config.account, count, review=False)
    return plan(now, config.calendar(), queue, history, settings, count=count, consumed_slots=consumed)


def shown(entries):
    return [(e.at, e.post.post_id if e.post else e.reason, e.source) for e in entries]


@pytest.fixture
def ledger(store, tmp_path):
    config = parse_config(CONFIG, source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    account = config.account
    added = NOW - timedelta(days=1)
    # 201 tips of one article first, one of them pinned: a window of 200 slot-filling posts holds exactly the
    # others, so a short plan leaves most slots empty for series spacing although other articles wait.
    for i in range(201):
        store.add_post(account, new_post(f"long-{i}", article_key="long", tip=i + 1), added)
    for i in range(90):
        store.add_post(account, new_post(f"art{i // 3}-{i % 3}", article_key=f"art{i // 3}", tip=i % 3 + 1), added)
    for i in range(4):
        store.add_post(account, new_post(f"solo-{i}"), added)
    # Pins, two at the same second (queue order decides), one among the queued posts.
    same = NOW + timedelta(hours=5, minutes=10)
    for post_id, at in [("solo-2", same), ("art3-0", same), ("solo-0", NOW + timedelta(days=2, hours=1, minutes=3)),
                        ("long-150", NOW + timedelta(hours=9))]:
        store.pin(account, post_id, at, added)
    return store, config


def test_the_plan_read_as_it_goes_is_the_plan_of_the_whole_window(ledger):
    store, config = ledger
    for count in (1, 30, 150):
        for now in (NOW, NOW + timedelta(days=1, hours=13)):
            assert shown(agenda.upcoming(store, config, now, count=count)) == shown(
                whole_window_plan(store, config, now, count)
            ), (count, now)


def test_a_short_plan_stays_within_its_window(ledger):
    store, config = ledger
    entries = agenda.upcoming(store, config, NOW, count=30)  # a window of the first 200 slot-filling posts
    slot_posts = {e.post.post_id for e in entries if e.post and e.source == "slot"}
    assert slot_posts and all(p.startswith("long-") for p in slot_posts)
    assert "series spacing" in {e.reason for e in entries}
    pins = [(e.at, e.post.post_id) for e in entries if e.source == "pin"]
    assert pins[:2] == [(NOW + timedelta(hours=5, minutes=10), "art3-0"), (NOW + timedelta(hours=5, minutes=10), "solo-2")]
    # A longer plan reads further and fills those slots with the other articles.
    longer = agenda.upcoming(store, config, NOW, count=150)
    assert any(e.post and e.post.post_id.startswith("art") and e.source == "slot" for e in longer)


def test_a_change_to_the_queue_shows_in_the_next_plan(ledger):
    store, config = ledger
    before = agenda.upcoming(store, config, NOW, count=30)
    store.move(config.account, "solo-3", top=True)
    after = agenda.upcoming(store, config, NOW, count=30)
    first_slot = next(e for e in after if e.source == "slot" and e.post)
    assert first_slot.post.post_id == "solo-3" and shown(before) != shown(after)
    assert shown(after) == shown(whole_window_plan(store, config, NOW, 30))
