"""The ledger's part for collecting metrics: which sent posts have a reading due (the rule is
``domain/metric_schedule.py``; the query tests its windows on stored columns), storing a batch of readings with where
each post now stands, parts found deleted (once), and each account's collection state: paused by a refused token,
waiting for a reset, and the lease that lets one service at a time collect an account.

A mixin of ``Store``. Every write is one short transaction: a batch's readings, its posts' standing and its
deleted parts land together, and nothing is held across a network call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.domain.metric_schedule import Window, read_age
from scheduler.domain.metrics import MetricReading
from scheduler.domain.models import PostState
from scheduler.ledger import migrations as m

OUTBOX_PREFIX = "outbox-"  # a part that went to the outbox file has nothing to read (networks.outbox.publisher)


@dataclass(frozen=True)
class DuePost:
    """A sent post with a reading due: the parts still to read (deleted ones and outbox lines left out)."""

    post_id: str
    sent_at: datetime
    parts: tuple[str, ...]
    read_age_s: int | None  # its newest reading's age after sending (None: never read)


@dataclass(frozen=True)
class MetricAccount:
    """An account's collection state (absent row: all None and 0)."""

    account: str
    paused_at: datetime | None = None
    pause_reason: str | None = None
    wait_until: datetime | None = None
    failures: int = 0
    last_error: str | None = None
    collector: str | None = None
    lease_until: datetime | None = None


def _due_condition(windows: Sequence[Window], oldest: datetime):
    p, s = m.posts.c, m.metric_posts.c
    passed = sa.or_(*[sa.and_(p.sent_at <= w.sent_before, sa.or_(s.read_age_s.is_(None), s.read_age_s < w.age_s))
                      for w in windows])
    return sa.and_(p.state == PostState.SENT.value, p.sent_at.is_not(None), p.sent_at > oldest,
                   s.gone_at.is_(None), passed)


_JOINED = m.posts.outerjoin(m.metric_posts, m.metric_posts.c.post_id == m.posts.c.post_id)


class CollectionLedger:
    # -- what is due --------------------------------------------------------------------------------

    def accounts_with_due_readings(self, windows: Sequence[Window], oldest: datetime) -> set[str]:
        """The accounts with a sent post (younger than ``oldest``) whose reading is due under ``windows``, in one
        read."""
        if not windows:
            return set()
        query = sa.select(m.posts.c.account).select_from(_JOINED).where(_due_condition(windows, oldest)).distinct()
        with self._read() as conn:  # type: ignore[attr-defined]
            return set(conn.execute(query).scalars())

    def due_readings(self, account: str, windows: Sequence[Window], oldest: datetime, *, limit: int,
                     skip: Iterable[str] = ()) -> list[DuePost]:
        """Up to ``limit`` of the account's sent posts with a reading due, the newest sent first (their early
        readings are the ones a backlog would make late), leaving out ``skip``."""
        if not windows:
            return []
        p = m.posts.c
        query = (sa.select(p.post_id, p.sent_at, p.part_ids, m.metric_posts.c.read_age_s).select_from(_JOINED)
                 .where(p.account == account, _due_condition(windows, oldest))
                 .order_by(p.sent_at.desc(), p.post_id).limit(limit))
        skipped = list(skip)
        if skipped:
            query = query.where(p.post_id.not_in(skipped))
        with self._read() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(query).all()
            gone: dict[str, set[str]] = {}
            if rows:
                for post_id, remote_id in conn.execute(sa.select(m.metric_deleted.c.post_id, m.metric_deleted.c.remote_id)
                                                       .where(m.metric_deleted.c.post_id.in_([r.post_id for r in rows]))):
                    gone.setdefault(post_id, set()).add(remote_id)
        return [DuePost(r.post_id, r.sent_at,
                        tuple(str(i) for i in (r.part_ids or []) if i and not str(i).startswith(OUTBOX_PREFIX)
                              and str(i) not in gone.get(r.post_id, ())),
                        r.read_age_s) for r in rows]

    # -- what was read ------------------------------------------------------------------------------

    def record_collected(self, account: str, sent: dict[str, datetime], readings: Sequence[MetricReading],
                         deleted: dict[str, Sequence[str]], gone: Iterable[str], now: datetime) -> int:
        """One batch, in one transaction: its readings (a part already read at that moment is skipped), each post's
        newest reading and its age after sending (``sent``: post -> sent_at), parts found deleted (each recorded
        once), and the posts with nothing left to read (``gone``). Returns how many readings were new."""
        newest: dict[str, datetime] = {}
        for r in readings:
            newest[r.post_id] = max(newest.get(r.post_id, r.read_at), r.read_at)
        gone = set(gone)
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            new = _insert_readings(conn, readings)
            posts = set(newest) | gone
            known = {row.post_id: row for row in conn.execute(
                sa.select(m.metric_posts).where(m.metric_posts.c.post_id.in_(posts)))} if posts else {}
            for post_id in posts:
                values: dict = {}
                if post_id in newest:
                    values.update(read_at=newest[post_id], read_age_s=read_age(sent[post_id], newest[post_id]))
                if post_id in gone:
                    values["gone_at"] = now
                if post_id in known:
                    conn.execute(m.metric_posts.update().where(m.metric_posts.c.post_id == post_id).values(**values))
                else:
                    conn.execute(m.metric_posts.insert().values(post_id=post_id, account=account, **values))
            marked = {(r.post_id, r.remote_id) for r in conn.execute(sa.select(m.metric_deleted).where(
                m.metric_deleted.c.post_id.in_(list(deleted))))} if deleted else set()
            rows = [{"post_id": post_id, "remote_id": remote_id, "account": account, "deleted_at": now}
                    for post_id, parts in deleted.items() for remote_id in dict.fromkeys(parts)
                    if (post_id, remote_id) not in marked]
            if rows:
                conn.execute(m.metric_deleted.insert(), rows)
        return new

    def metric_standing(self, post_id: str) -> tuple[datetime | None, int | None, datetime | None, list[str]]:
        """(newest reading, its age after sending, when every part was found deleted, the parts found deleted)."""
        with self._read() as conn:  # type: ignore[attr-defined]
            row = conn.execute(sa.select(m.metric_posts).where(m.metric_posts.c.post_id == post_id)).first()
            parts = list(conn.execute(sa.select(m.metric_deleted.c.remote_id)
                                      .where(m.metric_deleted.c.post_id == post_id)
                                      .order_by(m.metric_deleted.c.remote_id)).scalars())
        if row is None:
            return None, None, None, parts
        return row.read_at, row.read_age_s, row.gone_at, parts

    def metric_counts(self, account: str) -> dict[str, object]:
        """How far collection has got for an account: posts read, the newest reading, parts found deleted."""
        with self._read() as conn:  # type: ignore[attr-defined]
            read, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(m.metric_posts.c.read_at))
                                        .where(m.metric_posts.c.account == account,
                                               m.metric_posts.c.read_at.is_not(None))).one()
            deleted = conn.execute(sa.select(sa.func.count()).select_from(m.metric_deleted)
                                   .where(m.metric_deleted.c.account == account)).scalar()
        return {"posts_read": int(read), "last_read_at": newest, "deleted_parts": int(deleted or 0)}

    # -- each account's collection ------------------------------------------------------------------

    def metric_account(self, account: str) -> MetricAccount:
        with self._read() as conn:  # type: ignore[attr-defined]
            row = conn.execute(sa.select(m.metric_accounts).where(m.metric_accounts.c.account == account)).first()
        return MetricAccount(account) if row is None else _account(row)

    def metric_accounts(self) -> dict[str, MetricAccount]:
        """Every account's collection state that has one, in one read."""
        with self._read() as conn:  # type: ignore[attr-defined]
            return {row.account: _account(row) for row in conn.execute(sa.select(m.metric_accounts))}

    def take_metrics_lease(self, account: str, collector: str, now: datetime, until: datetime) -> bool:
        """Collect ``account`` as ``collector`` until ``until``: refused while another collector's lease runs."""
        t = m.metric_accounts
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            _ensure(conn, account)
            taken = conn.execute(t.update().where(
                t.c.account == account,
                sa.or_(t.c.collector.is_(None), t.c.collector == collector, t.c.lease_until < now),
            ).values(collector=collector, lease_until=until)).rowcount
        return bool(taken)

    def release_metrics_lease(self, account: str, collector: str) -> None:
        t = m.metric_accounts
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(t.update().where(t.c.account == account, t.c.collector == collector)
                         .values(collector=None, lease_until=None))

    def pause_metrics(self, account: str, reason: str, now: datetime) -> None:
        """A refused token: no metric read of this account until ``resume_metrics`` (publishing is untouched)."""
        self._set_metrics(account, paused_at=now, pause_reason=reason, last_error=reason)

    def resume_metrics(self, account: str) -> None:
        self._set_metrics(account, paused_at=None, pause_reason=None, wait_until=None, failures=0)

    def metrics_wait(self, account: str, until: datetime, error: str, *, failed: bool) -> None:
        """No read of this account before ``until`` (a 429's reset, or a back-off after ``failed`` reads)."""
        t = m.metric_accounts
        values = {"wait_until": until, "last_error": error}
        if failed:
            values["failures"] = t.c.failures + 1
        self._set_metrics(account, **values)

    def metrics_read_ok(self, account: str) -> None:
        """A read went through: no waiting, no failures counted."""
        t = m.metric_accounts
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(t.update().where(t.c.account == account, sa.or_(t.c.failures > 0, t.c.wait_until.is_not(None)))
                         .values(failures=0, wait_until=None))

    def _set_metrics(self, account: str, **values) -> None:
        t = m.metric_accounts
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            _ensure(conn, account)
            conn.execute(t.update().where(t.c.account == account).values(**values))


def _ensure(conn: Connection, account: str) -> None:
    t = m.metric_accounts
    if conn.execute(sa.select(t.c.account).where(t.c.account == account)).first() is None:
        try:
            with conn.begin_nested():
                conn.execute(t.insert().values(account=account, failures=0))
        except sa.exc.IntegrityError:
            pass  # created by a concurrent writer


def _account(row) -> MetricAccount:
    return MetricAccount(row.account, row.paused_at, row.pause_reason, row.wait_until, row.failures, row.last_error,
                         row.collector, row.lease_until)


def _insert_readings(conn: Connection, readings: Sequence[MetricReading]) -> int:
    """Insert the readings not stored yet (same post, part and moment), in one statement; how many were new."""
    if not readings:
        return 0
    t = m.metric_readings
    stored = {(r.post_id, r.remote_id, r.read_at) for r in conn.execute(
        sa.select(t.c.post_id, t.c.remote_id, t.c.read_at).where(
            t.c.post_id.in_({r.post_id for r in readings}), t.c.read_at.in_({r.read_at for r in readings})))}
    rows, seen = [], set()
    for r in readings:
        key = (r.post_id, r.remote_id, r.read_at)
        if key in stored or key in seen:
            continue
        seen.add(key)
        rows.append({"post_id": r.post_id, "account": r.account, "network": r.network, "remote_id": r.remote_id,
                     "read_at": r.read_at, "impressions": r.impressions, "likes": r.likes, "reposts": r.reposts,
                     "replies": r.replies, "quotes": r.quotes, "bookmarks": r.bookmarks, "followers": r.followers,
                     "url_link_clicks": r.url_link_clicks, "user_profile_clicks": r.user_profile_clicks})
    if rows:
        conn.execute(t.insert(), rows)
    return len(rows)
