"""The ledger's part for attempts and publish keys: the post's state machine while it is published, and its settling.

A mixin of ``Store`` (one facade, SQL split by aggregate)."""

from __future__ import annotations


from collections.abc import Callable, Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger import migrations as m
from scheduler.domain.errors import QueueError
from scheduler.domain.models import PostState
from scheduler.ledger.lookups import forget_lookups
from scheduler.ledger.types import UTCDateTime
from scheduler.ledger.records import AttemptRecord, HeldBack, LostClaim, NotApproved, PENDING, PostRecord, STOPPED_MID_CALL, _attempt, _json, _record


class AttemptsLedger:
    def attempts(self, post_id: str) -> list[AttemptRecord]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.attempts).where(m.attempts.c.post_id == post_id).order_by(m.attempts.c.id)
            ).all()
        return [_attempt(row) for row in rows]

    def claim(self, post_id: str, instance: str, slot_at: datetime, now: datetime) -> bool:
        """Take a pending post for sending. One atomic conditional update: true for exactly one taker."""
        return self.claim_post(post_id, instance, slot_at, now) is not None

    def claim_post(self, post_id: str, instance: str, slot_at: datetime, now: datetime, *,
                   calendar_slot: bool = False, keep_slot: bool = False,
                   require_approval: bool = False,
                   hold: Callable[[PostRecord], str | None] | None = None) -> PostRecord | None:
        """``claim``, returning the claimed row (read in the same transaction), or None.

        ``calendar_slot``: ``slot_at`` is a slot of the calendar, which only one post of the account
        may ever hold (the ledger's unique index refuses a second, whatever two planners decided:
        then None). ``keep_slot``: a retry, which goes out for the slot it was first claimed for.
        ``require_approval`` (review is on): the row about to be sent must hash to its approved hash,
        checked inside this transaction, after the UPDATE locked the row; otherwise nothing is
        claimed and ``NotApproved`` is raised. The engine sends the returned row, so what goes out
        is exactly what was checked. ``hold`` (review off): a reason a content rule holds back the row about to be
        sent, checked the same way on the locked row; then nothing is claimed and ``HeldBack`` is raised. A post
        that may already be live (uncertain, or a thread partly sent) is never held: its rest must follow."""
        if keep_slot:
            values = dict(slot_at=sa.func.coalesce(m.posts.c.slot_at, sa.literal(slot_at, UTCDateTime)))
        else:
            values = dict(slot_at=slot_at, calendar_slot=slot_at if calendar_slot else None)
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql" and conn.execute(
                        sa.select(m.posts.c.post_id).where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING))
                        .with_for_update(skip_locked=True)).first() is None:
                    return None  # no longer pending, or another process is taking it right now: never wait for it
                taken = conn.execute(
                    m.posts.update()
                    .where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING))
                    .values(state=PostState.SENDING.value, claimed_by=instance, claimed_at=now, updated_at=now,
                            **values)
                ).rowcount
                if taken != 1:
                    return None
                row = conn.execute(sa.select(m.posts).where(m.posts.c.post_id == post_id)).one()
                # Review as the ledger records it too: a process started without it sends nothing unapproved.
                if ((require_approval or self.review_required_in(conn, row.account))
                        and not self.approved_for_sending(conn, row)):
                    raise NotApproved(post_id)  # rolls the claim back
                record = _record(row)
                if hold is not None and not record.uncertain and not record.part_ids:
                    reason = hold(record)
                    if reason:
                        raise HeldBack(post_id, reason)  # rolls the claim back
                # The post left the queue and its slot is taken: every plan changed (a cached one too).
                self._bump(conn, row.account)
                return record
        except sa.exc.IntegrityError:
            return None

    def sending_claimers(self, account: str) -> set[str]:
        """The instances holding a post of the account in ``sending``, in one read."""
        with self._read() as conn:
            return set(conn.execute(sa.select(m.posts.c.claimed_by).where(
                m.posts.c.account == account, m.posts.c.state == PostState.SENDING.value).distinct()).scalars())

    def slot_holder(self, account: str, slot_at: datetime) -> str | None:
        """The post that holds a calendar slot, if any."""
        with self._read() as conn:
            return conn.execute(
                sa.select(m.posts.c.post_id).where(m.posts.c.account == account, m.posts.c.calendar_slot == slot_at)
            ).scalar()

    def take_over(self, post_id: str, dead_instance: str | None, instance: str, now: datetime) -> bool:
        """Claim a post left ``sending`` by an instance that is gone (crash recovery)."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                m.posts.update()
                .where(
                    m.posts.c.post_id == post_id,
                    m.posts.c.state == PostState.SENDING.value,
                    m.posts.c.claimed_by == dead_instance
                    if dead_instance is not None
                    else m.posts.c.claimed_by.is_(None),
                )
                .values(claimed_by=instance, claimed_at=now, updated_at=now)
            ).rowcount
            if taken:
                conn.execute(
                    m.attempts.update()
                    .where(m.attempts.c.post_id == post_id, m.attempts.c.outcome == "sending")
                    .values(outcome="lost", finished_at=now, detail=STOPPED_MID_CALL)
                )
        return taken == 1

    def begin_attempt(self, post_id: str, account: str, part: int, instance: str, now: datetime) -> int:
        """Record that a call is about to go out (committed before the call)."""
        with self.engine.begin() as conn:
            self._owned(conn, post_id, instance)
            result = conn.execute(
                m.attempts.insert().values(
                    post_id=post_id, account=account, part=part, instance=instance, started_at=now, outcome="sending"
                )
            )
            return result.inserted_primary_key[0]

    def keep_publish_key(self, post_id: str, instance: str, part: int, key: str, now: datetime) -> str:
        """The idempotency key of a part: the one stored, else ``key``, stored now (committed before
        the call, so every later attempt, after a crash too, carries the same one)."""
        with self.engine.begin() as conn:
            self._owned(conn, post_id, instance)
            stored = self._publish_keys(conn, post_id).get(part)
            if stored is not None:
                return stored
            conn.execute(m.publish_keys.insert().values(post_id=post_id, part=part, publish_key=key, created_at=now))
            return key

    def publish_keys(self, post_id: str) -> dict[int, str]:
        """Part number -> its idempotency key, for the parts that have one."""
        with self._read() as conn:
            return self._publish_keys(conn, post_id)

    @staticmethod
    def _publish_keys(conn: Connection, post_id: str) -> dict[int, str]:
        rows = conn.execute(sa.select(m.publish_keys.c.part, m.publish_keys.c.publish_key)
                            .where(m.publish_keys.c.post_id == post_id))
        return {row.part: row.publish_key for row in rows}

    def end_attempt(self, attempt_id: int, outcome: str, now: datetime, *, status: int | None = None,
                    detail: str | None = None, tweet_id: str | None = None,
                    uncertain: tuple[str, str] | None = None) -> None:
        """Close an attempt. ``uncertain`` ((post_id, instance)): in the same transaction, mark the post uncertain
        (a lost answer: no kill between the two can leave the loss recorded but the post thought settled)."""
        with self.engine.begin() as conn:
            conn.execute(
                m.attempts.update()
                .where(m.attempts.c.id == attempt_id)
                .values(outcome=outcome, finished_at=now, http_status=status, detail=detail, tweet_id=tweet_id)
            )
            if uncertain is not None:
                post_id, instance = uncertain
                self._update_owned(conn, post_id, instance, uncertain=True, updated_at=now)

    def finish_part(self, attempt_id: int, post_id: str, instance: str, part_ids: Sequence[str], now: datetime) -> None:
        """A part went out: close its attempt and remember its id in one transaction, so no crash
        can leave a sent part that the ledger neither knows nor treats as uncertain."""
        with self.engine.begin() as conn:
            self._close_sent_attempt(conn, attempt_id, part_ids[-1], now)
            self._update_owned(conn, post_id, instance, part_ids=list(part_ids), updated_at=now)

    @staticmethod
    def _close_sent_attempt(conn: Connection, attempt_id: int, tweet_id: str, now: datetime) -> None:
        conn.execute(
            m.attempts.update()
            .where(m.attempts.c.id == attempt_id)
            .values(outcome="sent", finished_at=now, tweet_id=tweet_id)
        )

    def open_attempts(self, post_id: str) -> list[AttemptRecord]:
        return [a for a in self.attempts(post_id) if a.outcome == "sending"]

    def record_part(self, post_id: str, instance: str, part_ids: Sequence[str], now: datetime, *,
                    uncertain: bool = False) -> None:
        """A part went out (or was found on X): remember its id before anything else happens."""
        with self.engine.begin() as conn:
            self._update_owned(conn, post_id, instance, part_ids=list(part_ids), uncertain=uncertain, updated_at=now)

    def set_uncertain(self, post_id: str, instance: str, uncertain: bool, now: datetime) -> None:
        with self.engine.begin() as conn:
            self._update_owned(conn, post_id, instance, uncertain=uncertain, updated_at=now)

    def mark_sent(self, post_id: str, instance: str, part_ids: Sequence[str], now: datetime) -> None:
        with self.engine.begin() as conn:
            self._mark_sent(conn, post_id, instance, part_ids, now)

    def finish_post(self, attempt_id: int, post_id: str, instance: str, part_ids: Sequence[str],
                    now: datetime) -> None:
        """The last part went out: close its attempt and mark the post sent in one transaction."""
        with self.engine.begin() as conn:
            self._close_sent_attempt(conn, attempt_id, part_ids[-1], now)
            self._mark_sent(conn, post_id, instance, part_ids, now)

    def _mark_sent(self, conn: Connection, post_id: str, instance: str, part_ids: Sequence[str],
                   now: datetime) -> None:
        account = self._update_owned(
            conn,
            post_id,
            instance,
            state=PostState.SENT.value,
            part_ids=list(part_ids),
            tweet_id=part_ids[0],
            sent_at=now,
            uncertain=False,
            next_attempt_at=None,
            last_error=None,
            last_status=None,
            claimed_by=None,
            updated_at=now,
        )
        self._bump(conn, account)

    def mark_retrying(self, post_id: str, instance: str, at: datetime, now: datetime, *, error: str | None,
                      status: int | None, count_attempt: bool) -> None:
        with self.engine.begin() as conn:
            values = dict(
                state=PostState.RETRYING.value,
                next_attempt_at=at,
                last_error=error,
                last_status=status,
                claimed_by=None,
                updated_at=now,
            )
            if count_attempt:
                values["attempts"] = m.posts.c.attempts + 1
            account = self._update_owned(conn, post_id, instance, **values)
            self._bump(conn, account)

    def release(self, post_id: str, instance: str, now: datetime, *, error: str | None = None,
                status: int | None = None) -> None:
        """Give a post back to the queue untouched (account paused mid-flight): it keeps its place."""
        with self.engine.begin() as conn:
            account = self._update_owned(
                conn, post_id, instance, state=PostState.QUEUED.value, slot_at=None, calendar_slot=None,
                claimed_by=None,
                last_error=error, last_status=status, updated_at=now,
            )
            self._bump(conn, account)

    def mark_failed(self, post_id: str, instance: str, reason: str, status: int | None, now: datetime) -> None:
        self._finish(post_id, instance, PostState.FAILED, reason, status, now)

    def mark_unknown(self, post_id: str, instance: str, reason: str, now: datetime) -> None:
        self._finish(post_id, instance, PostState.UNKNOWN, reason, None, now)

    def _finish(self, post_id, instance, state: PostState, reason, status, now) -> None:
        with self.engine.begin() as conn:
            account = self._update_owned(
                conn, post_id, instance, state=state.value, last_error=reason, last_status=status,
                next_attempt_at=None, claimed_by=None, updated_at=now,
            )
            self._bump(conn, account)

    def _owned(self, conn: Connection, post_id: str, instance: str):
        row = conn.execute(
            sa.select(m.posts.c.account).where(
                m.posts.c.post_id == post_id,
                m.posts.c.state == PostState.SENDING.value,
                m.posts.c.claimed_by == instance,
            )
        ).first()
        if row is None:
            raise LostClaim(post_id)
        return row

    def _update_owned(self, conn: Connection, post_id: str, instance: str, **values) -> str:
        row = conn.execute(
            m.posts.update()
            .where(
                m.posts.c.post_id == post_id,
                m.posts.c.state == PostState.SENDING.value,
                m.posts.c.claimed_by == instance,
            )
            .values(**values)
            .returning(m.posts.c.account)
        ).first()
        if row is None:
            raise LostClaim(post_id)
        return row.account

    def resolve(self, account: str, post_id: str, *, sent_tweet_id: str | None, retry: bool, now: datetime,
                live_instances: dict[str, str] | None = None) -> None:
        """A person settles a post whose outcome is unknown (or failed, or left ``sending`` by a process
        that is gone). ``live_instances``: the running services (instance id -> description); a post
        one of them holds is refused, since its call to X may still be in flight."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(m.posts).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
            ).first()
            if row is None:
                raise QueueError(f"no post with id {post_id!r}")
            # A post still ``retrying`` whose look-ups are failing is as uncertain as an ``unknown`` one, only not
            # given up on yet: a person who knows may settle it now (``status`` says so).
            looking = (row.state == PostState.RETRYING.value and row.uncertain and conn.execute(
                sa.select(m.lookups.c.post_id).where(m.lookups.c.post_id == post_id)).first() is not None)
            if row.state not in (PostState.UNKNOWN.value, PostState.FAILED.value, PostState.SENDING.value) \
                    and not looking:
                raise QueueError(f"post {post_id} is {row.state}; only unknown or failed posts, or retrying ones "
                                 "whose look-ups are failing, need resolving")
            holder = (live_instances or {}).get(row.claimed_by) if row.state == PostState.SENDING.value else None
            if holder is not None:
                raise QueueError(
                    f"post {post_id} is being sent right now by the running service {row.claimed_by} ({holder}); "
                    "it will settle it itself: wait for `scheduler status`, or stop that service first"
                )
            if sent_tweet_id:
                ids = list(_json(row.part_ids))
                ids.append(sent_tweet_id)
                values = dict(state=PostState.SENT.value, tweet_id=ids[0], part_ids=ids, sent_at=now,
                              uncertain=False, last_error=f"resolved by hand as sent ({sent_tweet_id})")
                if len(ids) < len(_json(row.parts)):
                    # A thread: the rest still has to go out, as replies.
                    values.update(state=PostState.RETRYING.value, next_attempt_at=now, sent_at=None)
            else:
                values = dict(state=PostState.RETRYING.value, next_attempt_at=now, uncertain=False, attempts=0,
                              last_error="retry requested by hand")
            settled = conn.execute(
                m.posts.update()
                .where(m.posts.c.post_id == post_id, m.posts.c.state == row.state,
                       m.posts.c.claimed_by.is_(None) if row.claimed_by is None
                       else m.posts.c.claimed_by == row.claimed_by)
                .values(claimed_by=None, updated_at=now, **values)
            ).rowcount
            if not settled:
                raise QueueError(f"post {post_id} changed while resolving it; look at `scheduler status` and try again")
            forget_lookups(conn, post_id)  # settled by a person: earlier failed look-ups no longer count
            conn.execute(
                m.attempts.update()
                .where(m.attempts.c.post_id == post_id, m.attempts.c.outcome == "sending")
                .values(outcome="lost", finished_at=now, detail="settled by a person after the process stopped")
            )
            conn.execute(
                m.attempts.insert().values(
                    post_id=post_id, account=account, part=len(_json(row.part_ids)), instance="person",
                    started_at=now, finished_at=now, outcome="resolved",
                    detail=f"sent as {sent_tweet_id}" if sent_tweet_id else "retry", tweet_id=sent_tweet_id,
                )
            )
            self._bump(conn, account)

    def last_attempt(self, account: str) -> AttemptRecord | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(m.attempts).where(m.attempts.c.account == account).order_by(m.attempts.c.id.desc()).limit(1)
            ).first()
        return _attempt(row) if row else None
