"""The ledger's part for followed feeds: the feeds, their polling state, and every entry seen.

A mixin of ``store.Store`` (one facade, SQL split by concern). Each (account, feed, entry) is a
primary key in ``feed_entries``: an entry is imported in the transaction that records it
(``Store.import_articles(..., feed_entry=)``), so whatever crashes or runs twice, the database
refuses a second import of the same entry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger import migrations as m
from scheduler.domain.errors import FeedError

OUTCOMES = ("imported", "seen", "skipped")


@dataclass(frozen=True)
class FeedEntry:
    """One entry of a feed as recorded: ``key`` is its id, else its link, else a hash of it."""

    key: str
    link: str | None
    title: str | None
    outcome: str = "imported"  # imported | seen | skipped
    reason: str | None = None  # why it was skipped
    article_key: str | None = None
    recorded_at: datetime | None = None


@dataclass(frozen=True)
class FeedRecord:
    account: str
    url: str
    title: str | None
    added_at: datetime
    etag: str | None
    last_modified: str | None
    checked_at: datetime | None
    next_check_at: datetime
    failures: int
    state: str  # ok | failing
    last_error: str | None
    counts: dict[str, int]  # entries by outcome


class AlreadyRecorded(Exception):
    """The entry is in the ledger already (another process took it first, or the feed was removed)."""


class FeedLedger:
    """SQL for feeds; ``Store`` inherits it and provides ``engine`` and ``_read``."""

    def add_feed(self, account: str, url: str, *, title: str | None, now: datetime, next_check_at: datetime,
                 etag: str | None, last_modified: str | None, seen: Sequence[FeedEntry]) -> None:
        """Follow a feed, recording the entries it already has as seen (all in one transaction)."""
        with self.engine.begin() as conn:
            if conn.execute(sa.select(m.feeds.c.url).where(*_feed(account, url))).first():
                raise FeedError(f"{url}: already followed for @{account}; `scheduler feeds list` shows it.")
            conn.execute(m.feeds.insert().values(
                account=account, url=url, title=title, added_at=now, etag=etag, last_modified=last_modified,
                checked_at=now, next_check_at=next_check_at, failures=0, state="ok",
            ))
            for entry in seen:
                conn.execute(m.feed_entries.insert().values(**_entry_row(account, url, entry, now)))

    def remove_feed(self, account: str, url: str) -> int:
        """Stop following a feed; its entry records go with it. Returns how many entries it had."""
        with self.engine.begin() as conn:
            entries = conn.execute(m.feed_entries.delete().where(
                m.feed_entries.c.account == account, m.feed_entries.c.feed_url == url)).rowcount
            if not conn.execute(m.feeds.delete().where(*_feed(account, url))).rowcount:
                raise FeedError(f"{url}: not a followed feed of @{account}; `scheduler feeds list` shows them.")
        return entries

    def feeds(self, account: str | None = None, *, due_at: datetime | None = None) -> list[FeedRecord]:
        """Followed feeds (of one account, or all), oldest first; ``due_at``: only those due by then."""
        query = sa.select(m.feeds).order_by(m.feeds.c.added_at, m.feeds.c.url)
        if account is not None:
            query = query.where(m.feeds.c.account == account)
        if due_at is not None:
            query = query.where(m.feeds.c.next_check_at <= due_at)
        with self._read() as conn:
            rows = conn.execute(query).all()
            counts: dict[tuple[str, str], dict[str, int]] = {}
            if rows:
                count_query = sa.select(m.feed_entries.c.account, m.feed_entries.c.feed_url,
                                        m.feed_entries.c.outcome, sa.func.count()).group_by(
                    m.feed_entries.c.account, m.feed_entries.c.feed_url, m.feed_entries.c.outcome)
                if account is not None:
                    count_query = count_query.where(m.feed_entries.c.account == account)
                for acc, url, outcome, number in conn.execute(count_query):
                    counts.setdefault((acc, url), {})[outcome] = number
        return [
            FeedRecord(r.account, r.url, r.title, r.added_at, r.etag, r.last_modified, r.checked_at,
                       r.next_check_at, r.failures, r.state, r.last_error,
                       {o: counts.get((r.account, r.url), {}).get(o, 0) for o in OUTCOMES})
            for r in rows
        ]

    def claim_feed_check(self, account: str, url: str, now: datetime, until: datetime) -> bool:
        """Take a due feed for checking: moves its next check to ``until`` if it was due. True for one taker."""
        with self.engine.begin() as conn:
            return conn.execute(
                m.feeds.update()
                .where(*_feed(account, url), m.feeds.c.next_check_at <= now)
                .values(next_check_at=until)
            ).rowcount == 1

    def record_feed_check(self, account: str, url: str, now: datetime, *, next_check_at: datetime,
                          error: str | None = None, title: str | None = None, etag: str | None = None,
                          last_modified: str | None = None, keep_validators: bool = False) -> tuple[str, str] | None:
        """The outcome of one check: ok (``error`` None) or failing. Returns (state before, state now),
        or None when the feed is no longer followed."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(m.feeds.c.state, m.feeds.c.failures).where(*_feed(account, url))).first()
            if row is None:
                return None
            values = dict(checked_at=now, next_check_at=next_check_at)
            if error is None:
                values.update(state="ok", failures=0, last_error=None)
                if title:
                    values["title"] = title
                if not keep_validators:
                    values.update(etag=etag, last_modified=last_modified)
            else:
                values.update(state="failing", failures=row.failures + 1, last_error=error)
            conn.execute(m.feeds.update().where(*_feed(account, url)).values(**values))
            return row.state, values["state"]

    def recorded_entry_keys(self, account: str, url: str) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(sa.select(m.feed_entries.c.entry_key).where(
                m.feed_entries.c.account == account, m.feed_entries.c.feed_url == url)).scalars())

    def record_feed_entry(self, account: str, url: str, entry: FeedEntry, now: datetime) -> bool:
        """Record an entry that imports nothing (seen, skipped). False if it was recorded already."""
        try:
            with self.engine.begin() as conn:
                self._insert_entry(conn, account, url, entry, now)
        except AlreadyRecorded:
            return False
        return True

    def feed_entries(self, account: str, url: str | None = None, *, outcomes: Sequence[str] = OUTCOMES,
                     limit: int = 20) -> list[tuple[str, FeedEntry]]:
        """(feed URL, entry), newest first."""
        query = (sa.select(m.feed_entries)
                 .where(m.feed_entries.c.account == account, m.feed_entries.c.outcome.in_(list(outcomes)))
                 .order_by(m.feed_entries.c.recorded_at.desc()).limit(limit))
        if url is not None:
            query = query.where(m.feed_entries.c.feed_url == url)
        with self._read() as conn:
            rows = conn.execute(query).all()
        return [(r.feed_url, FeedEntry(r.entry_key, r.link, r.title, r.outcome, r.reason, r.article_key,
                                       r.recorded_at)) for r in rows]

    def _insert_entry(self, conn: Connection, account: str, url: str, entry: FeedEntry, now: datetime) -> None:
        """Insert the entry's row; AlreadyRecorded if the key is taken (the database decides)."""
        try:
            with conn.begin_nested():
                conn.execute(m.feed_entries.insert().values(**_entry_row(account, url, entry, now)))
        except sa.exc.IntegrityError:
            raise AlreadyRecorded(entry.key) from None


def _feed(account: str, url: str):
    return m.feeds.c.account == account, m.feeds.c.url == url


def _entry_row(account: str, url: str, entry: FeedEntry, now: datetime) -> dict:
    if entry.outcome not in OUTCOMES:
        raise ValueError(f"unknown entry outcome {entry.outcome!r}")
    return {
        "account": account, "feed_url": url, "entry_key": entry.key, "outcome": entry.outcome,
        "link": entry.link, "title": entry.title, "article_key": entry.article_key, "reason": entry.reason,
        "recorded_at": now,
    }
