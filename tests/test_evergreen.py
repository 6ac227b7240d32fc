"""Evergreen mode: when the queue runs dry, sent tips come back in another wording after a cooldown."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.planning import agenda
from scheduler.planning import evergreen
from scheduler.review.evergreen import propose_for_review
from scheduler.config import parse_config
from scheduler.articles.library import import_articles
from scheduler.networks.outbox.publisher import OutboxPublisher
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.ledger.store import Store
from tests.helpers_ledger import approve_shown

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


# -- evergreen with review on: recycled wordings go to the reviewer first ---------------------------------------

REVIEW = '\n[review]\nrequired = true\n\n[notify]\nwebhook = "http://127.0.0.1:9/notices"\n'


def setup_review(tmp_path: Path, ahead: int = 3):
    text = CONFIG.format(evergreen="true").replace("[queue]\n", f"[queue]\nevergreen_review_ahead = {ahead}\n")
    config = parse_config(text + REVIEW, source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    return config, store


def approve_pending(store, config, now, ids=None) -> list[str]:
    from scheduler.review import policy as review

    waiting = [i.post.post_id for i in review.waiting(store, config, now) if ids is None or i.post.post_id in ids]
    approve_shown(store, config, waiting, who="editor", now=now)
    return waiting


def test_with_review_on_recycled_wordings_are_put_up_for_review_not_planned(tmp_path):
    from scheduler.review import policy as review
    from scheduler.review.notices import AWAITING
    from scheduler.review.watcher import ReviewWatcher

    config, store = setup_review(tmp_path)
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    import_articles(store, config, [POSTS], start)
    approve_pending(store, config, start)
    last = publish_everything(store, config, tmp_path, start)
    sent = {p.post_id: p.text for p in store.history(config.account, limit=10)}

    later = last + timedelta(days=40)  # past the cooldown: the tips may come back
    assert {e.reason for e in agenda.upcoming(store, config, later, count=2)} == {"queue empty"}
    proposed = propose_for_review(store, config, later)
    assert len(proposed) == 3
    assert all(p.removesuffix("-r1") in sent for p in proposed)
    assert propose_for_review(store, config, later) == []  # enough stand ready: nothing more

    # Nothing unapproved is planned: the slots wait, and say why; the reviewer sees the new wordings.
    entries = agenda.upcoming(store, config, later, count=3)
    assert {e.post for e in entries} == {None} and {e.reason for e in entries} == {"awaiting review"}
    waiting = {i.post.post_id: i for i in review.waiting(store, config, later)}
    assert set(waiting) == set(proposed)
    for post_id in proposed:
        assert waiting[post_id].post.text != sent[post_id.removesuffix("-r1")]  # another wording
    ReviewWatcher().check(store, config, later)  # the service's notice job: the reviewer is told of each
    told = {n.payload["post_id"] for n in store.notices(config.account) if n.kind == AWAITING}
    assert told == set(proposed)

    # Approved, one goes out in its slot like any post; the next check tops the proposals up again.
    approve_pending(store, config, later, ids={proposed[0]})
    entry = agenda.upcoming(store, config, later, count=1)[0]
    assert entry.post.post_id == proposed[0]
    engine = PublishingEngine(store, OutboxPublisher(tmp_path / "outbox.jsonl", config.handle, clock=lambda: entry.at),
                              account=config.account, instance="test", policy=RetryPolicy(), clock=lambda: entry.at)
    assert engine.publish(proposed[0], entry.at).state == "sent"
    topped = propose_for_review(store, config, entry.at)
    assert len(topped) == 1 and topped[0] not in proposed


def test_a_proposal_a_person_removed_is_not_proposed_again(tmp_path):
    from scheduler.app.editing import remove as remove_post

    config, store = setup_review(tmp_path, ahead=1)
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    import_articles(store, config, [POSTS], start)
    approve_pending(store, config, start)
    later = publish_everything(store, config, tmp_path, start) + timedelta(days=40)
    [first] = propose_for_review(store, config, later)
    remove_post(store, config, first, later)
    [second] = propose_for_review(store, config, later)
    assert second != first
    assert store.get(first).state.value == "removed"


def test_nothing_is_proposed_with_review_or_evergreen_off(tmp_path):
    config, store = setup(tmp_path, evergreen_on=True)  # review off: evergreen plans recycled posts itself
    start = datetime(2026, 1, 5, 12, tzinfo=UTC)
    import_articles(store, config, [POSTS], start)
    later = publish_everything(store, config, tmp_path, start) + timedelta(days=40)
    assert propose_for_review(store, config, later) == []
    assert {e.source for e in agenda.upcoming(store, config, later, count=2)} == {"recycle"}


# -- the cooldown looks at each tip's newest publication, however long the history (issue 18, item 4) ----------

@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
def test_a_tip_sent_two_days_ago_does_not_come_back_inside_the_cooldown_behind_2000_older_sends(ledger_url, tmp_path):

    from scheduler.ledger import migrations as m
    from scheduler.domain.models import text_fingerprint
    from scheduler.ledger.store import NewPost

    config = parse_config(CONFIG.format(evergreen="true"), source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(ledger_url)
    try:
        now = datetime(2026, 6, 1, 12, tzinfo=UTC)
        import_articles(store, config, [POSTS], now - timedelta(days=200))
        key = "massage-therapy-for-back-pain"

        def send(post_id: str, at: datetime) -> None:
            assert store.claim(post_id, "i1", at, at)
            store.mark_sent(post_id, "i1", [f"x-{post_id}"], at)

        send(f"{key}-1", now - timedelta(days=100))  # tip 1 first went out long ago...
        # ... then 2,100 other sends of a long history (an article long gone from the ledger) ...
        with store.engine.begin() as conn:
            conn.execute(m.posts.insert(), [{
                "post_id": f"old-{n}", "account": config.account, "kind": "tip", "article_key": "old-article",
                "tip": n, "template": None, "variant": 0, "text": f"old tip {n}", "parts": [f"old tip {n}"],
                "media": [], "weighted_length": 10, "fingerprint": text_fingerprint(f"old tip {n}"), "state": "sent",
                "position": 100_000.0 + n, "attempts": 1, "uncertain": False, "part_ids": [f"x-old-{n}"],
                "tweet_id": f"x-old-{n}", "sent_at": now - timedelta(days=99) + timedelta(minutes=20 * n),
                "slot_at": now - timedelta(days=99) + timedelta(minutes=20 * n), "created_at": now - timedelta(days=200),
                "updated_at": now - timedelta(days=99)} for n in range(1, 2101)])
        # ... and tip 1 came back two days ago, recycled; tip 2 went out 50 days ago (past the 30-day cooldown).
        store.add_post(config.account, NewPost(post_id=f"{key}-1-r1", kind="recycle", text="Tip one, again.",
                                               parts=("Tip one, again.",), weighted_length=15, article_key=key,
                                               tip=1, variant=1), now - timedelta(days=2))
        send(f"{key}-1-r1", now - timedelta(days=2))
        send(f"{key}-2", now - timedelta(days=50))
        with store.engine.begin() as conn:  # the rest of the article stays out of the way
            conn.execute(m.posts.update().where(m.posts.c.post_id.in_([f"{key}-{n}" for n in (3, 4, 5)]))
                         .values(state="removed"))
        assert store.counts(config.account)["sent"] > 2000

        proposed = [p.post_id for p in evergreen.candidates(store, config, now, limit=5)]
        assert proposed == [f"{key}-2-r1"]  # tip 1 rests until 30 days after its latest send
        later = [p.post_id for p in evergreen.candidates(store, config, now + timedelta(days=29), limit=5)]
        assert f"{key}-1-r2" in later and f"{key}-1-r1" not in later
    finally:
        store.close()
