"""The ledger's part for accounts: their pause state and revision, and which account holds the plain post ids;
and the all-accounts summaries a service over many accounts reads in one query each (revisions, who has work).

A mixin of ``Store`` (one facade, SQL split by aggregate)."""

from __future__ import annotations


from collections.abc import Iterable
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger import migrations as m
from scheduler.ledger.records import AccountState


class AccountsLedger:
    def account_state(self, account: str) -> AccountState:
        with self._read() as conn:
            row = conn.execute(sa.select(m.accounts).where(m.accounts.c.account == account)).first()
        if row is None:
            return AccountState(account, False, None, None, 0)
        return AccountState(account, bool(row.paused), row.pause_reason, row.paused_at, row.revision)

    def revision(self, account: str) -> int:
        with self._read() as conn:
            value = conn.execute(sa.select(m.accounts.c.revision).where(m.accounts.c.account == account)).scalar()
        return value or 0

    def revisions(self, accounts: Iterable[str] | None = None) -> dict[str, int]:
        """Every account's revision (or those of ``accounts``) in one read (an account never changed is absent: its
        revision is 0)."""
        query = sa.select(m.accounts.c.account, m.accounts.c.revision)
        if accounts is not None:
            query = query.where(m.accounts.c.account.in_(list(accounts)))
        with self._read() as conn:
            return dict(conn.execute(query).all())

    def accounts_with_posts(self, states: Iterable[str]) -> set[str]:
        """The accounts with at least one post in one of ``states``, in one read."""
        wanted = [getattr(s, "value", s) for s in states]
        with self._read() as conn:
            return set(conn.execute(sa.select(m.posts.c.account).where(m.posts.c.state.in_(wanted)).distinct())
                       .scalars())

    def accounts_with_due_notices(self, now: datetime) -> set[str]:
        """The accounts with a review notice waiting to be delivered by now, in one read."""
        with self._read() as conn:
            return set(conn.execute(sa.select(m.notices.c.account).where(
                m.notices.c.state == "pending", m.notices.c.next_attempt_at <= now).distinct()).scalars())

    def pause(self, account: str, reason: str, now: datetime) -> None:
        self._set_paused(account, paused=True, pause_reason=reason, paused_at=now)

    def resume(self, account: str) -> None:
        self._set_paused(account, paused=False, pause_reason=None, paused_at=None)

    def _set_paused(self, account: str, **values) -> None:
        with self.engine.begin() as conn:
            self._ensure_account(conn, account)
            conn.execute(m.accounts.update().where(m.accounts.c.account == account).values(**values))
            self._bump(conn, account)

    def _ensure_account(self, conn: Connection, account: str) -> None:
        exists = conn.execute(sa.select(m.accounts.c.account).where(m.accounts.c.account == account)).first()
        if not exists:
            try:
                with conn.begin_nested():
                    conn.execute(m.accounts.insert().values(account=account, paused=False, revision=0))
            except sa.exc.IntegrityError:
                pass  # created by a concurrent writer

    def _bump(self, conn: Connection, account: str) -> None:
        bump = m.accounts.update().where(m.accounts.c.account == account).values(revision=m.accounts.c.revision + 1)
        if not conn.execute(bump).rowcount:
            self._ensure_account(conn, account)
            conn.execute(bump)

    def plain_ids_account(self) -> str | None:
        """The account whose post ids carry no "~KEY" suffix, when one is recorded."""
        with self._read() as conn:
            return conn.execute(sa.select(m.plain_post_ids.c.account)).scalar()

    def hold_plain_ids(self, account: str, now: datetime) -> str:
        """The account holding the plain post ids: the one recorded, else ``account``, recorded now (for good)."""
        query = sa.select(m.plain_post_ids.c.account)
        with self.engine.begin() as conn:
            held = conn.execute(query).scalar()
            if held is None:
                try:
                    with conn.begin_nested():
                        conn.execute(m.plain_post_ids.insert().values(slot=1, account=account, recorded_at=now))
                    held = account
                except sa.exc.IntegrityError:
                    held = conn.execute(query).scalar()  # recorded by a concurrent import
        return held
