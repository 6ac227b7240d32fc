"""The ledger's feed records, on SQLite and PostgreSQL: the database itself refuses a second import
of one feed entry, whoever tries it and however the two attempts interleave."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from scheduler.ledger import migrations as m
from scheduler.domain.errors import FeedError
from scheduler.ledger.store import ArticleImport, Store
from scheduler.ledger.feeds import AlreadyRecorded, FeedEntry
from tests.helpers_ledger import ACCOUNT, new_post

NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)
FEED = "https://blog.example/feed.xml"


def article(key: str) -> ArticleImport:
    return ArticleImport(
        article_key=key, title=key, url=f"https://blog.example/{key}/", source=f"https://blog.example/{key}/",
        fingerprint=key, tips=[{"number": 1, "headline": "h", "body": ""}],
        posts=[new_post(f"{key}-1", f"the one tip of {key}", kind="tip", article_key=key, tip=1)],
    )


def follow(store: Store, url: str = FEED, seen=()) -> None:
    store.add_feed(ACCOUNT, url, title="Blog", now=NOW, next_check_at=NOW + timedelta(hours=1), etag='"v1"',
                   last_modified=None, seen=seen)


def test_a_followed_feed_keeps_its_entries_and_counts_them(store):
    follow(store, seen=[FeedEntry("old-1", "https://blog.example/old-1/", "Old 1", outcome="seen")])
    store.import_articles(ACCOUNT, [article("new-post")], NOW,
                          feed_entry=(FEED, FeedEntry("new-1", "https://blog.example/new-post/", "New",
                                                      article_key="new-post")))
    store.record_feed_entry(ACCOUNT, FEED, FeedEntry("prose", None, "Prose", outcome="skipped",
                                                     reason="no numbered tips"), NOW)
    [feed] = store.feeds(ACCOUNT)
    assert (feed.url, feed.title, feed.etag, feed.state) == (FEED, "Blog", '"v1"', "ok")
    assert feed.counts == {"imported": 1, "seen": 1, "skipped": 1}
    assert store.recorded_entry_keys(ACCOUNT, FEED) == {"old-1", "new-1", "prose"}
    skipped = store.feed_entries(ACCOUNT, outcomes=("skipped",))
    assert [(url, e.key, e.reason) for url, e in skipped] == [(FEED, "prose", "no numbered tips")]


def test_following_a_feed_twice_is_refused(store):
    follow(store)
    with pytest.raises(FeedError, match="already followed"):
        follow(store)


def test_an_entry_recorded_before_imports_nothing_at_all(store):
    follow(store, seen=[FeedEntry("e-1", None, None, outcome="seen")])
    with pytest.raises(AlreadyRecorded):
        store.import_articles(ACCOUNT, [article("would-be-new")], NOW,
                              feed_entry=(FEED, FeedEntry("e-1", None, None)))
    assert store.article(ACCOUNT, "would-be-new") is None
    assert store.queue_page(ACCOUNT) == []
    assert store.record_feed_entry(ACCOUNT, FEED, FeedEntry("e-1", None, None, outcome="skipped", reason="x"),
                                   NOW) is False


def test_an_entry_of_a_feed_removed_meanwhile_imports_nothing(store):
    follow(store)
    store.remove_feed(ACCOUNT, FEED)
    with pytest.raises(AlreadyRecorded):
        store.import_articles(ACCOUNT, [article("orphan")], NOW, feed_entry=(FEED, FeedEntry("e-1", None, None)))
    assert store.queue_page(ACCOUNT) == []


def test_two_ledger_clients_importing_one_entry_at_once_import_it_once(ledger_url):
    """Each client imports a different article for the same entry: exactly one article lands."""
    stores = [Store.open(ledger_url) for _ in range(2)]
    try:
        follow(stores[0])
        barrier = threading.Barrier(2)
        outcomes: dict[int, str] = {}

        def attempt(n: int) -> None:
            barrier.wait()
            try:
                stores[n].import_articles(ACCOUNT, [article(f"copy-{n}")], NOW,
                                          feed_entry=(FEED, FeedEntry("the-entry", None, None)))
                outcomes[n] = "imported"
            except AlreadyRecorded:
                outcomes[n] = "refused"

        threads = [threading.Thread(target=attempt, args=(n,)) for n in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert sorted(outcomes.values()) == ["imported", "refused"]
        winner = next(n for n, outcome in outcomes.items() if outcome == "imported")
        assert [p.post_id for p in stores[0].queue_page(ACCOUNT)] == [f"copy-{winner}-1"]
        assert stores[0].article(ACCOUNT, f"copy-{1 - winner}") is None
    finally:
        for store in stores:
            store.close()


def test_a_due_feed_is_claimed_by_one_checker(store):
    follow(store)
    later = NOW + timedelta(hours=2)
    assert store.claim_feed_check(ACCOUNT, FEED, NOW, NOW + timedelta(hours=3)) is False  # not due yet
    assert store.claim_feed_check(ACCOUNT, FEED, later, later + timedelta(hours=1)) is True
    assert store.claim_feed_check(ACCOUNT, FEED, later, later + timedelta(hours=1)) is False  # taken
    assert [f.url for f in store.feeds(due_at=later + timedelta(hours=1))] == [FEED]


def test_check_results_move_the_state_and_count_failures(store):
    follow(store)
    at = NOW + timedelta(hours=1)
    assert store.record_feed_check(ACCOUNT, FEED, at, next_check_at=at, error="404") == ("ok", "failing")
    assert store.record_feed_check(ACCOUNT, FEED, at, next_check_at=at, error="404") == ("failing", "failing")
    [feed] = store.feeds(ACCOUNT)
    assert (feed.state, feed.failures, feed.last_error, feed.etag) == ("failing", 2, "404", '"v1"')
    assert store.record_feed_check(ACCOUNT, FEED, at, next_check_at=at, etag='"v2"') == ("failing", "ok")
    [feed] = store.feeds(ACCOUNT)
    assert (feed.state, feed.failures, feed.last_error, feed.etag) == ("ok", 0, None, '"v2"')
    store.record_feed_check(ACCOUNT, FEED, at, next_check_at=at, etag='"v3"', keep_validators=True)
    assert store.feeds(ACCOUNT)[0].etag == '"v2"'


def test_removing_a_feed_forgets_its_entries_so_it_can_be_followed_again(store):
    follow(store, seen=[FeedEntry("e-1", None, None, outcome="seen")])
    assert store.remove_feed(ACCOUNT, FEED) == 1
    assert store.feeds(ACCOUNT) == []
    with pytest.raises(FeedError, match="not a followed feed"):
        store.remove_feed(ACCOUNT, FEED)
    follow(store)
    assert store.recorded_entry_keys(ACCOUNT, FEED) == set()


def test_the_database_refuses_a_skipped_entry_without_its_reason_and_unknown_outcomes(store):
    follow(store)
    row = dict(account=ACCOUNT, feed_url=FEED, entry_key="k", link=None, title=None, article_key=None,
               recorded_at=NOW)
    for bad in ({"outcome": "skipped", "reason": None}, {"outcome": "maybe", "reason": "x"}):
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.execute(m.feed_entries.insert().values(**row, **bad))
