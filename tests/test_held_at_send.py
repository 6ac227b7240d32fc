"""Review off, a content rule's `block` finding holds a post back at the send as well as in the plan: a text
edited to say "400 mg" after the service planned it does not go out, and says why (issue 23's gap)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from scheduler.app.editing import edit_text
from scheduler.app.queueing import add_text
from scheduler.config import parse_config
from scheduler.ledger.store import Store
from scheduler.networks.outbox.publisher import OutboxPublisher
from scheduler.planning import agenda
from scheduler.publishing.engine import PublishingEngine, RetryPolicy

NOW = datetime(2026, 12, 7, 13, 0, tzinfo=UTC)
CONFIG = """\
[account]
handle = "GleiberMD"
[calendar]
slots = ["daily 09:00"]
[publisher]
kind = "outbox"
"""


def setup(tmp_path):
    config = parse_config(CONFIG, source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    outbox = tmp_path / "outbox.jsonl"
    # Built as the service builds it with review off (publishing/service.py, _make_engine).
    engine = PublishingEngine(store, OutboxPublisher(outbox, config.handle, clock=lambda: NOW), account=config.account,
                              instance="me", policy=RetryPolicy(), clock=lambda: NOW,
                              hold=agenda.HeldByRule(config).reason)
    return config, store, engine, outbox


def test_a_text_edited_to_break_a_block_rule_after_planning_is_held_at_the_send(tmp_path):
    config, store, engine, outbox = setup(tmp_path)
    post = add_text(store, config, "Walk for ten minutes after lunch.", NOW - timedelta(hours=1), at=NOW)
    planned = agenda.upcoming(store, config, NOW, count=1)
    assert planned[0].post.post_id == post.post_id  # the plan was made with the harmless text
    edit_text(store, config, post.post_id, "Take 400 mg of ibuprofen before you walk.", NOW)  # then edited

    outcome = engine.publish(post.post_id, planned[0].at, source=planned[0].source)

    assert outcome.state == "skipped" and "held by a content rule" in outcome.detail and "400 mg" in outcome.detail
    assert not outbox.exists() or outbox.read_text() == ""  # nothing went out
    assert store.get(post.post_id).state == "queued"  # not claimed: it waits for its text to change
    store.close()


def test_a_harmless_text_still_goes_out_and_a_fixed_one_goes_out_after(tmp_path):
    config, store, engine, outbox = setup(tmp_path)
    post = add_text(store, config, "Take 400 mg of ibuprofen before you walk.", NOW - timedelta(hours=1), at=NOW)
    assert engine.publish(post.post_id, NOW, source="pin").state == "skipped"
    edit_text(store, config, post.post_id, "Walk for ten minutes after lunch.", NOW)
    assert engine.publish(post.post_id, NOW, source="pin").state == "sent"
    assert [json.loads(line)["text"] for line in outbox.read_text().splitlines()] == [
        "Walk for ten minutes after lunch."]
    store.close()
