"""Evergreen mode: when the queue runs dry, sent tips come back in another wording after a cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from scheduler import agenda, evergreen
from scheduler.config import parse_config
from scheduler.library import import_articles
from scheduler.publisher.outbox import OutboxPublisher
from scheduler.publishing import PublishingEngine, RetryPolicy
from scheduler.store import Store

POSTS = Path(__file__).parents[1] / "posts"

CONFIG = """\
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = ["daily 09:00"]
series_gap = "0s"

[quota]
daily = 0
monthly = 0

[queue]
evergreen = {evergreen}
evergreen_cooldown = "30d"
duplicate_window = "30d"

[publisher]
kind = "outbox"
"""


def setup(tmp_path: Path, evergreen_on: bool):
    config = parse_config(CONFIG.format(evergreen=str(evergreen_on).lower()), source=None,
                          env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    return config, store


def publish_everything(store, config, tmp_path, start: datetime) -> datetime:
    """Publish the whole queue, one slot after another, with a simulated clock; return the last time."""
    now = start
    engine = PublishingEngine(store, OutboxPublisher(tmp_path / "outbox.jsonl", config.handle, clock=lambda: now),
                              account=config.account, instance="test", policy=RetryPolicy(), clock=lambda: now)
    while True:
        entries = [e for e in agenda.upcoming(store, config, now, count=1) if e.post and e.source != "recycle"]
        if not entries:
            return now
        now = entries[0].at
        assert engine.publish(entries[0].post.post_id, entries[0].at).state == "sent"


def test_sent_tips_come_back_in_another_wording_after_the_cooldown(tmp_path):
    config, store = setup(tmp_path, evergreen_on=True)
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    import_articles(store, config, [POSTS], start)
    last = publish_everything(store, config, tmp_path, start)
    first_texts = {p.post_id: p.text for p in store.history(config.account, limit=10)}

    # Within the cooldown nothing comes back: the queue is empty and says so.
    soon = agenda.upcoming(store, config, last + timedelta(days=1), count=3)
    assert [e.reason for e in soon] == ["queue empty"]

    later = last + timedelta(days=40)
    entries = agenda.upcoming(store, config, later, count=5)
    assert [e.source for e in entries] == ["recycle"] * 5
    assert [e.post.post_id for e in entries] == [f"{pid}-r1" for pid in sorted(first_texts, key=lambda i: int(i.rsplit('-', 1)[1]))]
    for entry in entries:
        original = first_texts[entry.post.post_id.removesuffix("-r1")]
        assert entry.post.text != original  # another variant, so X does not refuse it as a duplicate
        assert entry.post.weighted_length <= 280

    # The service's path: the planned recycle post is put in the ledger, then published like any other.
    entry = entries[0]
    evergreen.materialize(store, config, entry.post, entry.at)
    engine = PublishingEngine(store, OutboxPublisher(tmp_path / "outbox.jsonl", config.handle, clock=lambda: entry.at),
                              account=config.account, instance="test", policy=RetryPolicy(), clock=lambda: entry.at)
    assert engine.publish(entry.post.post_id, entry.at).state == "sent"
    assert store.get(entry.post.post_id).text == entry.post.text
    after = agenda.upcoming(store, config, entry.at + timedelta(seconds=1), count=4)
    assert entry.post.post_id not in [e.post.post_id for e in after if e.post]


def test_evergreen_is_off_by_default(tmp_path):
    config, store = setup(tmp_path, evergreen_on=False)
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    import_articles(store, config, [POSTS], start)
    last = publish_everything(store, config, tmp_path, start)
    entries = agenda.upcoming(store, config, last + timedelta(days=400), count=3)
    assert [e.reason for e in entries] == ["queue empty"]
