"""The ledger's part for look-ups that fail: how many, since when, so they end instead of repeating forever.

A mixin of ``store.Store``: ``Store`` provides ``engine``, ``_read``, ``_update_owned`` and ``_bump``. A post whose
last call may have reached the network is looked up before anything is sent again (publishing.py). When the
look-up itself fails (the network answers 5xx or 429, or nothing), the failure is counted here, in the same
transaction that puts the post back to wait (``retrying``) or, past the limit, leaves it ``unknown`` for a person;
a look-up that succeeds, or a person settling the post (``resolve``), forgets the count.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from scheduler.ledger import migrations as m
from scheduler.domain.models import PostState


@dataclass(frozen=True)
class LookupFailures:
    failures: int
    first_failed_at: datetime  # aware UTC
    last_failed_at: datetime
    last_error: str


class LookupLedger:
    def lookup_failures(self, post_id: str) -> LookupFailures | None:
        """The failed look-ups of a post since its last successful one, or None."""
        with self._read() as conn:  # type: ignore[attr-defined]
            row = conn.execute(sa.select(m.lookups).where(m.lookups.c.post_id == post_id)).first()
        if row is None:
            return None
        return LookupFailures(row.failures, row.first_failed_at, row.last_failed_at, row.last_error)

    def lookup_failed(self, post_id: str, instance: str, now: datetime, *, error: str, status: int | None,
                      retry_at: datetime | None = None, unknown_reason: str | None = None) -> LookupFailures:
        """Count a failed look-up of a post this instance holds and, in the same transaction, put the post back to
        look again at ``retry_at`` (``retrying``, still uncertain) or leave it ``unknown`` with ``unknown_reason``."""
        if (retry_at is None) == (unknown_reason is None):
            raise ValueError("a failed look-up is either retried at a time or left unknown with a reason")
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            if unknown_reason is not None:
                values = dict(state=PostState.UNKNOWN.value, last_error=unknown_reason, last_status=status,
                              next_attempt_at=None)
            else:
                values = dict(state=PostState.RETRYING.value, next_attempt_at=retry_at,
                              last_error=f"could not look the post up yet: {error}", last_status=status)
            account = self._update_owned(conn, post_id, instance, claimed_by=None, updated_at=now,  # type: ignore[attr-defined]
                                         **values)
            # A clock stepped back must not break the count (ck_lookups_times: last >= first): the last failure is
            # never earlier than the one before it. The post is this instance's (checked above), so no one else
            # writes this row meanwhile.
            previous = conn.execute(sa.select(m.lookups.c.last_failed_at)
                                    .where(m.lookups.c.post_id == post_id)).scalar()
            if previous is not None:
                conn.execute(
                    m.lookups.update().where(m.lookups.c.post_id == post_id)
                    .values(failures=m.lookups.c.failures + 1, last_failed_at=max(now, previous), last_error=error)
                )
            else:
                conn.execute(m.lookups.insert().values(post_id=post_id, failures=1, first_failed_at=now,
                                                       last_failed_at=now, last_error=error))
            row = conn.execute(sa.select(m.lookups).where(m.lookups.c.post_id == post_id)).one()
            self._bump(conn, account)  # type: ignore[attr-defined]
        return LookupFailures(row.failures, row.first_failed_at, row.last_failed_at, row.last_error)

    def lookup_succeeded(self, post_id: str) -> None:
        """A look-up answered: the failures before it no longer count."""
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            forget_lookups(conn, post_id)


def forget_lookups(conn: sa.engine.Connection, post_id: str) -> None:
    conn.execute(m.lookups.delete().where(m.lookups.c.post_id == post_id))
