"""The ledger's part for posts and the queue: adding, editing, reading, ordering, pinning and removing posts.

A mixin of ``Store`` (one facade, SQL split by aggregate)."""

from __future__ import annotations


from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.domain import lifecycle
from scheduler.ledger import migrations as m
from scheduler.domain.errors import DuplicateError, QueueError
from scheduler.domain.models import PostState, QueuedPost, text_fingerprint
from scheduler.ledger.types import UTCDateTime
from scheduler.ledger.records import NewPost, PENDING, PostRecord, TipHistory, TipSends, _PUBLISHED, _QUEUED_COLUMNS, _QUEUE_LOCKS, _json, _queued, _record


class PostsLedger:
    def edit_post(self, account: str, post_id: str, now: datetime, *, text: str, parts: Sequence[str],
                  weighted_length: int, edit_kind: str, template: str | None = None, variant: int | None = None,
                  duplicate_window: timedelta | None = None) -> PostRecord:
        """Change a waiting post's content by hand, checked for duplicates like a new one, in one transaction."""
        with self.engine.begin() as conn:
            row = self._pending_row(conn, account, post_id, "edit", lock=True)
            if (why := lifecycle.frozen_row(row)) is not None:
                raise QueueError(
                    f"cannot edit {post_id!r}: {why}; let the service settle it first (`scheduler status`), "
                    "or `scheduler resolve` it once you know"
                )
            self._check_duplicate(conn, account, text, now, window=duplicate_window, ignore=(post_id,))
            values = {
                "text": text,
                "parts": list(parts),
                "weighted_length": weighted_length,
                "fingerprint": text_fingerprint(text),
                "edited_at": now,
                "edit_kind": edit_kind,
                "updated_at": now,
            }
            if variant is not None:
                values.update(template=template, variant=variant)
            done = conn.execute(
                m.posts.update()
                .where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING), sa.not_(m.posts.c.uncertain))
                .values(**values)
            ).rowcount
            if not done:
                self._explain_not_pending(conn, account, post_id, "edit")
            self._bump(conn, account)
        return self.get(post_id)

    def add_post(
        self, account: str, post: NewPost, now: datetime, *, duplicate_window: timedelta | None = None
    ) -> PostRecord:
        """Queue one post at the end; refuse a text sent or queued within the window."""
        with self.engine.begin() as conn:
            self._ensure_account(conn, account)
            self._lock_queue(conn, account)  # before the duplicate check too: two adds of one text, one queued
            if conn.execute(sa.select(m.posts.c.post_id).where(m.posts.c.post_id == post.post_id)).first():
                raise DuplicateError(f"post {post.post_id} is already in the ledger")
            self._check_duplicate(conn, account, post.text, now, window=duplicate_window, ignore=())
            position = self._end_position(conn, account) + 1
            conn.execute(m.posts.insert().values(**self._new_row(account, post, position, now)))
            self._bump(conn, account)
        return self.get(post.post_id)

    def find_duplicate(
        self, account: str, text: str, now: datetime, window: timedelta | None, ignore: Sequence[str] = ()
    ) -> PostRecord | None:
        with self._read() as conn:
            row = self._duplicate_row(conn, account, text, now, window, ignore)
        return _record(row) if row else None

    def _check_duplicate(self, conn, account, text, now, window, ignore) -> None:
        row = self._duplicate_row(conn, account, text, now, window, ignore)
        if row is not None:
            when = f"sent {row.sent_at:%Y-%m-%d %H:%M} UTC" if row.state == "sent" else f"{row.state}"
            raise DuplicateError(
                f"the same text is already in the ledger as post {row.post_id} ({when}); "
                "an account posts a text once within [queue] duplicate_window (X refuses a repeat outright): change "
                "the text, or remove that post first"
            )

    def _duplicate_row(self, conn, account, text, now, window, ignore):
        active = m.posts.c.state.in_((*PENDING, PostState.SENDING.value, PostState.UNKNOWN.value))
        if window is None:
            recent = m.posts.c.state == PostState.SENT.value
        else:
            recent = sa.and_(m.posts.c.state == PostState.SENT.value, m.posts.c.sent_at >= now - window)
        query = sa.select(m.posts).where(
            m.posts.c.account == account,
            m.posts.c.fingerprint == text_fingerprint(text),
            sa.or_(active, recent),
        )
        if ignore:
            query = query.where(m.posts.c.post_id.not_in(list(ignore)))
        return conn.execute(query.limit(1)).first()

    def _lock_queue(self, conn: Connection, account: str) -> None:
        """Hold the account's queue-position lock until this transaction ends: every writer that picks a position
        in the account's queue takes it first, so two of them never read the same free position (on PostgreSQL
        56 of 100 concurrent adds read one highest position and hit ux_posts_position). A transaction-scoped
        advisory lock, not the ``accounts`` row: a claim locks its post and then that row (``_bump``), so a
        writer holding the row while it waits for a post would deadlock with it. SQLite needs no lock: its
        write transactions (BEGIN IMMEDIATE) run one at a time already."""
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:account))"),
                         {"space": _QUEUE_LOCKS, "account": account})

    def _end_position(self, conn: Connection, account: str) -> float:
        """The highest position of the account's queue, read under the queue's lock (``_lock_queue``)."""
        self._lock_queue(conn, account)
        value = conn.execute(sa.select(sa.func.max(m.posts.c.position)).where(m.posts.c.account == account)).scalar()
        return float(value or 0)

    @staticmethod
    def _content_values(post: NewPost) -> dict:
        return {
            "text": post.text,
            "parts": list(post.parts),
            "media": list(post.media),
            "weighted_length": post.weighted_length,
            "fingerprint": text_fingerprint(post.text),
            "template": post.template,
            "variant": post.variant,
        }

    def _new_row(self, account: str, post: NewPost, position: float, now: datetime) -> dict:
        return {
            "post_id": post.post_id,
            "account": account,
            "kind": post.kind,
            "article_key": post.article_key,
            "tip": post.tip,
            "state": PostState.QUEUED.value,
            "position": position,
            "pinned_at": post.pinned_at,
            "attempts": 0,
            "uncertain": False,
            "part_ids": [],
            "created_at": now,
            "updated_at": now,
            **self._content_values(post),
        }

    def get(self, post_id: str) -> PostRecord:
        with self._read() as conn:
            row = conn.execute(sa.select(m.posts).where(m.posts.c.post_id == post_id)).first()
        if row is None:
            raise QueueError(f"no post with id {post_id!r}; `scheduler queue list` shows the ids")
        return _record(row)

    def iter_pending(self, account: str, page: int = 500) -> Iterator[QueuedPost]:
        """Pending posts in queue order, read a page at a time (the planner stops early).

        Positions are unique per account (the ledger refuses a tie), so paging on them never skips
        or repeats a post. Only the planner's columns are read (``_QUEUED_COLUMNS``): a plan reads
        thousands of these, and the rest of a row (six more timestamps, the part ids) is not needed."""
        last = float("-inf")
        while True:
            with self._read() as conn:
                rows = self._in_queue_order(conn, account, PENDING, after=last, limit=page, columns=_QUEUED_COLUMNS)
            for row in rows:
                yield _queued(row)
            if len(rows) < page:
                return
            last = rows[-1].position

    def scheduled_pending(self, account: str) -> list[QueuedPost]:
        """Pending posts that carry a time of their own (pinned or retrying), wherever they are queued."""
        found: dict[str, QueuedPost] = {}
        with self._read() as conn:
            for column in (m.posts.c.pinned_at, m.posts.c.next_attempt_at):
                rows = conn.execute(
                    sa.select(*_QUEUED_COLUMNS).where(
                        m.posts.c.account == account, column.is_not(None), m.posts.c.state.in_(PENDING)
                    )
                ).all()
                found.update((row.post_id, _queued(row)) for row in rows)
        return sorted(found.values(), key=lambda p: p.position)

    def own_moments(self, account: str) -> list[datetime]:
        """The pin and retry times of the pending posts (only those columns): the moments at which time
        alone changes a plan (plan_cache.stable_until)."""
        moments: list[datetime] = []
        with self._read() as conn:
            for column in (m.posts.c.pinned_at, m.posts.c.next_attempt_at):  # one indexed query each
                moments += conn.execute(sa.select(column).where(
                    m.posts.c.account == account, column.is_not(None), m.posts.c.state.in_(PENDING))).scalars()
        return moments

    def queue_page(self, account: str, *, offset: int = 0, limit: int = 50, states: Sequence[str] = PENDING) -> list[PostRecord]:
        with self._read() as conn:
            rows = self._in_queue_order(conn, account, states, limit=offset + limit)[offset:]
        return [_record(row) for row in rows]

    @staticmethod
    def _in_queue_order(conn: Connection, account: str, states: Sequence[str], *, after: float | None = None,
                        limit: int, columns: Sequence | None = None) -> list:
        """The first ``limit`` posts in ``states`` (after position ``after``), in queue order.

        One query per state, merged: each walks ix_posts_queue (account, state, position) in order and
        stops at ``limit``. A single ``state IN (...)`` query leads SQLite to walk ux_posts_position
        (account, position) instead, through every sent post of the account's history: ~25 ms on a
        100,000-post ledger for every plan, queue page and dashboard poll, whatever ANALYZE says."""
        import heapq

        streams = []
        for state in dict.fromkeys(states):
            query = sa.select(*(columns or (m.posts,))).where(m.posts.c.account == account, m.posts.c.state == state)
            if after is not None:
                query = query.where(m.posts.c.position > after)
            streams.append(conn.execute(query.order_by(m.posts.c.position).limit(limit)).all())
        return list(heapq.merge(*streams, key=lambda row: row.position))[:limit]

    def published_since(self, account: str, since: datetime) -> list[PostRecord]:
        """Posts sent (or being sent) for a slot at or after ``since``: caps and spacing.

        Every publication starts with a claim, which records its slot time."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts)
                .where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= since,
                    m.posts.c.state.in_(_PUBLISHED),
                )
                .order_by(m.posts.c.slot_at)
            ).all()
        return [_record(row) for row in rows]

    def sent_since(self, account: str, since: datetime) -> list:
        """``published_since`` reduced to what spacing and caps need: (post_id, article_key, slot_at, number
        of parts) per publication, oldest first; no full records (a plan reads a day or two of them, a
        monthly cap a whole month)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts.c.post_id, m.posts.c.article_key, m.posts.c.slot_at, m.posts.c.parts)
                .where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= since,
                    m.posts.c.state.in_(_PUBLISHED),
                )
                .order_by(m.posts.c.slot_at)
            ).all()
        return [(row.post_id, row.article_key, row.slot_at, len(_json(row.parts))) for row in rows]

    def published_slots(self, account: str, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        """(post_id, slot_at) of the posts sent (or being sent) for a slot in ``[start, end)``, in slot order:
        two columns, so a calendar can count a month of them and read in full only those it lists
        (``posts_by_id``)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts.c.post_id, m.posts.c.slot_at)
                .where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= start,
                    m.posts.c.slot_at < end,
                    m.posts.c.state.in_(_PUBLISHED),
                )
                .order_by(m.posts.c.slot_at)
            ).all()
        return [(row.post_id, row.slot_at) for row in rows]

    def posts_by_id(self, post_ids: Sequence[str]) -> dict[str, PostRecord]:
        """Full records of these posts (those that exist), by id."""
        found: dict[str, PostRecord] = {}
        ids = list(dict.fromkeys(post_ids))
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(sa.select(m.posts).where(m.posts.c.post_id.in_(ids[i:i + 500]))).all()
                found.update((row.post_id, _record(row)) for row in rows)
        return found

    def consumed_slots(self, account: str, since: datetime) -> set[datetime]:
        """Slot times already used by a publication (any outcome), so they are not filled twice.

        A post being retried keeps the slot it was claimed for: the next post waits for its own slot
        instead of taking that one seconds before the retry."""
        with self._read() as conn:
            values = conn.execute(
                sa.select(m.posts.c.slot_at).where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= since,
                    m.posts.c.state != PostState.QUEUED.value,
                )
            ).scalars()
            return set(values)

    def history(self, account: str, *, limit: int = 50, states: Sequence[str] | None = None) -> list[PostRecord]:
        done = states or (PostState.SENT.value, PostState.FAILED.value, PostState.UNKNOWN.value)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts)
                .where(m.posts.c.account == account, m.posts.c.state.in_(list(done)))
                .order_by(sa.func.coalesce(m.posts.c.sent_at, m.posts.c.updated_at).desc())
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]

    def pending_ids(self, account: str, *, kind: str) -> set[str]:
        """Ids of the account's queued or retrying posts of one kind (``recycle``: evergreen's proposals)."""
        with self._read() as conn:
            rows = conn.execute(sa.select(m.posts.c.post_id).where(
                m.posts.c.account == account, m.posts.c.kind == kind, m.posts.c.state.in_(PENDING))).all()
        return {row.post_id for row in rows}

    def tips_sent_before(self, account: str, before: datetime, *, offset: int = 0,
                         limit: int = 100) -> list[TipSends]:
        """Tips (article, number) of articles in the ledger (not removed) whose LATEST publication (a sent tip or
        recycled post) is older than ``before``, the longest-unsent first. Grouped by tip over every send, so a
        tip sent again recently is never taken for one sent long ago, however long the history."""
        sent_at = m.posts.c.sent_at
        # One pass over ix_posts_tip_sends (account, state, article_key, tip, sent_at), which covers it; only
        # tip and recycled posts carry a tip number.
        groups = (
            sa.select(m.posts.c.article_key, m.posts.c.tip, sa.func.max(sent_at).label("last_sent_at"),
                      sa.func.count().label("times"))
            .where(m.posts.c.account == account, m.posts.c.state == PostState.SENT.value, m.posts.c.tip.is_not(None))
            .group_by(m.posts.c.article_key, m.posts.c.tip)
            .having(sa.func.max(sent_at) < sa.literal(before, UTCDateTime))
            .subquery()
        )
        live_article = sa.exists().where(m.articles.c.account == account,
                                         m.articles.c.article_key == groups.c.article_key,
                                         m.articles.c.removed_at.is_(None))
        last = sa.type_coerce(groups.c.last_sent_at, UTCDateTime).label("last_sent_at")
        with self._read() as conn:
            rows = conn.execute(
                sa.select(groups.c.article_key, groups.c.tip, last, groups.c.times)
                .where(live_article)
                .order_by(groups.c.last_sent_at, groups.c.article_key, groups.c.tip)
                .offset(offset).limit(limit)
            ).all()
        return [TipSends(r.article_key, r.tip, r.last_sent_at, r.times) for r in rows]

    def tip_history(self, account: str, sends: TipSends) -> TipHistory:
        """What evergreen needs of one tip beyond ``sends``: the variant of its latest publication, and its
        recycled posts."""
        of_tip = (m.posts.c.account == account, m.posts.c.article_key == sends.article_key,
                  m.posts.c.tip == sends.tip)
        with self._read() as conn:
            variant = conn.execute(
                sa.select(m.posts.c.variant).where(*of_tip, m.posts.c.state == PostState.SENT.value,
                                                   m.posts.c.sent_at == sa.literal(sends.last_sent_at, UTCDateTime))
                .order_by(m.posts.c.post_id.desc()).limit(1)
            ).scalar() or 0
            recycles = conn.execute(
                sa.select(m.posts.c.post_id, m.posts.c.state, m.posts.c.updated_at, m.posts.c.fingerprint)
                .where(*of_tip, m.posts.c.kind == "recycle")
            ).all()
        return TipHistory(sends, variant, tuple((r.post_id, r.state, r.updated_at, r.fingerprint) for r in recycles))

    def tips_resting_since(self, account: str, since: datetime) -> datetime | None:
        """The earliest moment at or after ``since`` that starts a tip's rest: its latest publication (among tips
        whose latest is that recent), or the end of a recycled post that failed, ended unknown or was removed.
        Evergreen adds the cooldown to find when the next tip may come back."""
        latest = (
            sa.select(sa.func.max(m.posts.c.sent_at).label("last"))
            .where(m.posts.c.account == account, m.posts.c.state == PostState.SENT.value, m.posts.c.tip.is_not(None))
            .group_by(m.posts.c.article_key, m.posts.c.tip)
            .having(sa.func.max(m.posts.c.sent_at) >= sa.literal(since, UTCDateTime))
            .subquery()
        )
        ended = (PostState.FAILED.value, PostState.UNKNOWN.value, PostState.REMOVED.value)
        with self._read() as conn:
            sent = conn.execute(sa.select(sa.func.min(latest.c.last, type_=UTCDateTime))).scalar()
            stopped = conn.execute(
                sa.select(sa.func.min(m.posts.c.updated_at, type_=UTCDateTime)).where(
                    m.posts.c.account == account, m.posts.c.kind == "recycle", m.posts.c.state.in_(ended),
                    m.posts.c.updated_at >= since)
            ).scalar()
        return min((t for t in (sent, stopped) if t is not None), default=None)

    def counts(self, account: str) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts.c.state, sa.func.count())
                .where(m.posts.c.account == account)
                .group_by(m.posts.c.state)
            ).all()
        return {state: count for state, count in rows}

    def posts_in_state(self, account: str, state: PostState) -> list[PostRecord]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts)
                .where(m.posts.c.account == account, m.posts.c.state == state.value)
                .order_by(m.posts.c.updated_at)
            ).all()
        return [_record(row) for row in rows]

    def remove(self, account: str, post_id: str, now: datetime) -> None:
        """Take a pending post out of the queue. It stays in the ledger as ``removed`` (with its attempts),
        so a re-import does not queue it again; ``restore`` puts it back in its place."""
        with self.engine.begin() as conn:
            row = self._pending_row(conn, account, post_id, "remove")
            if row.uncertain:
                raise QueueError(
                    f"cannot remove {post_id!r}: its last call to X got no answer, so it may be live; it is "
                    "being looked up on X (or run `scheduler resolve` once you know)"
                )
            conn.execute(
                m.posts.update().where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING))
                .values(state=PostState.REMOVED.value, slot_at=None, calendar_slot=None, next_attempt_at=None,
                        updated_at=now)
            )
            self._bump(conn, account)

    def restore(self, account: str, post_id: str, now: datetime) -> None:
        """Put a removed post back in the queue, at the place it had."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(m.posts.c.state).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
            ).first()
            if row is None:
                raise QueueError(f"cannot restore {post_id!r}: no such post; `scheduler history` lists posts")
            if row.state != PostState.REMOVED.value:
                raise QueueError(f"cannot restore {post_id!r}: it is {row.state}, not removed")
            self._check_duplicate(conn, account, self._text_of(conn, post_id), now, window=None, ignore=(post_id,))
            conn.execute(
                m.posts.update().where(m.posts.c.post_id == post_id, m.posts.c.state == PostState.REMOVED.value)
                .values(state=PostState.QUEUED.value, attempts=0, updated_at=now)
            )
            self._bump(conn, account)

    @staticmethod
    def _text_of(conn: Connection, post_id: str) -> str:
        return conn.execute(sa.select(m.posts.c.text).where(m.posts.c.post_id == post_id)).scalar_one()

    def move(self, account: str, post_id: str, *, before: str | None = None, after: str | None = None,
             top: bool = False, bottom: bool = False) -> None:
        """Reorder: place the post before/after another pending post, or at the top/bottom."""
        with self.engine.begin() as conn:
            self._lock_queue(conn, account)
            self._pending_row(conn, account, post_id, "move")
            anchor = None
            if before or after:
                anchor = self._pending_row(conn, account, before or after, "move next to").position
            new = self._free_position(conn, account, post_id, anchor, before=bool(before) or top)
            if new is None:
                # Halving the gap between two neighbours runs out of float precision after ~50 moves.
                self._renumber(conn, account)
                if anchor is not None:
                    anchor = self._pending_row(conn, account, before or after, "move next to").position
                new = self._free_position(conn, account, post_id, anchor, before=bool(before) or top)
            if new is not None:
                conn.execute(m.posts.update().where(m.posts.c.post_id == post_id).values(position=new))
            self._bump(conn, account)

    def _free_position(self, conn: Connection, account: str, post_id: str, anchor: float | None, *,
                       before: bool) -> float | None:
        """A position no other post of the account holds, right before/after ``anchor`` (None: the top or
        bottom of the whole queue). None when no float fits between the two neighbours."""
        others = sa.select(m.posts.c.position).where(m.posts.c.account == account, m.posts.c.post_id != post_id)
        if anchor is None:
            edge = conn.execute(
                sa.select(sa.func.min(m.posts.c.position) if before else sa.func.max(m.posts.c.position))
                .where(m.posts.c.account == account, m.posts.c.post_id != post_id)
            ).scalar()
            return (edge or 0.0) + (-1.0 if before else 1.0)
        if before:
            neighbour = conn.execute(
                others.where(m.posts.c.position < anchor).order_by(m.posts.c.position.desc()).limit(1)
            ).scalar()
            new = (anchor + neighbour) / 2 if neighbour is not None else anchor - 1.0
        else:
            neighbour = conn.execute(
                others.where(m.posts.c.position > anchor).order_by(m.posts.c.position).limit(1)
            ).scalar()
            new = (anchor + neighbour) / 2 if neighbour is not None else anchor + 1.0
        return new if new != anchor and new != neighbour else None

    def _renumber(self, conn: Connection, account: str) -> None:
        """Spread the account's positions to 1..n in their current order (every position stays unique
        at every step: first all move above both ranges, then each takes its rank)."""
        low, high, n = conn.execute(
            sa.select(sa.func.min(m.posts.c.position), sa.func.max(m.posts.c.position), sa.func.count())
            .where(m.posts.c.account == account)
        ).one()
        shift = max(high, n) - low + 1
        conn.execute(m.posts.update().where(m.posts.c.account == account)
                     .values(position=m.posts.c.position + shift))
        ids = conn.execute(
            sa.select(m.posts.c.post_id).where(m.posts.c.account == account).order_by(m.posts.c.position)
        ).scalars().all()
        conn.execute(
            m.posts.update().where(m.posts.c.post_id == sa.bindparam("id")).values(position=sa.bindparam("rank")),
            [{"id": post_id, "rank": float(rank)} for rank, post_id in enumerate(ids, start=1)],
        )

    def pin(self, account: str, post_id: str, at: datetime | None, now: datetime) -> None:
        """Pin a pending post to an exact time (``None`` unpins it)."""
        with self.engine.begin() as conn:
            self._pending_row(conn, account, post_id, "pin")
            conn.execute(
                m.posts.update().where(m.posts.c.post_id == post_id).values(pinned_at=at, updated_at=now)
            )
            self._bump(conn, account)

    def _pending_row(self, conn: Connection, account: str, post_id: str | None, verb: str, *, lock: bool = False):
        query = sa.select(m.posts).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
        row = conn.execute(query.with_for_update() if lock else query).first()
        if row is None or row.state not in PENDING:
            self._explain_not_pending(conn, account, post_id, verb)
        return row

    def _explain_not_pending(self, conn: Connection, account: str, post_id: str | None, verb: str) -> None:
        # Another account's post is no post of this one (not a post whose state refuses the change).
        row = conn.execute(
            sa.select(m.posts.c.state).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
        ).first()
        if row is None:
            raise QueueError(f"cannot {verb} {post_id!r}: no such post; `scheduler queue list` shows the ids")
        raise QueueError(f"cannot {verb} {post_id!r}: it is {row.state}, not waiting in the queue")
