"""The ledger's part for the dashboard: users, API tokens, sessions, sign-in limits and the audit trail.

A mixin of ``Store`` (the one class that speaks SQL), kept apart so the publishing ledger reads on
its own. Only hashes of secrets are stored; the web layer (scheduler.app.access) makes and checks them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa

from scheduler.ledger import migrations as m
from scheduler.domain.errors import AccessError

LAST_USE_RESOLUTION = timedelta(minutes=1)  # an API token's last use is recorded to this


@dataclass(frozen=True)
class TokenRecord:
    token_id: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None
    role: str = "admin"


@dataclass(frozen=True)
class SessionRecord:
    username: str
    csrf: str
    expires_at: datetime
    role: str = "admin"  # the user's role now (a changed role applies to open sessions at once)


@dataclass(frozen=True)
class AuditRecord:
    id: int
    at: datetime
    actor: str
    action: str
    post_id: str | None
    detail: str | None


def _token(row) -> TokenRecord:
    return TokenRecord(row.token_id, row.name, row.created_at, row.last_used_at, row.revoked_at, row.role)


class _Refused(Exception):
    """Raised inside a sign-in's transaction to roll it back: a concurrent attempt blocked one of its keys."""

    def __init__(self, until: datetime):
        self.until = until


class WebLedger:
    """Methods of ``Store`` for the dashboard; each is one transaction."""

    engine: sa.engine.Engine

    # -- users ---------------------------------------------------------------------------------

    def set_password(self, username: str, password_hash: str, now: datetime, *, role: str | None = None) -> None:
        """Set (or replace) a user's password hash; that user's open sessions end. ``role``: set it too (a new
        user without one is an admin, as every user was before roles)."""
        with self.engine.begin() as conn:
            values = dict(password_hash=password_hash, updated_at=now, **({"role": role} if role else {}))
            done = conn.execute(m.web_users.update().where(m.web_users.c.username == username)
                                .values(**values)).rowcount
            if not done:
                conn.execute(m.web_users.insert().values(username=username, **{"role": "admin", **values}))
            conn.execute(m.web_sessions.delete().where(m.web_sessions.c.username == username))

    def password_hash(self, username: str) -> str | None:
        with self._read() as conn:
            return conn.execute(sa.select(m.web_users.c.password_hash)
                                .where(m.web_users.c.username == username)).scalar()

    def has_password(self) -> bool:
        with self._read() as conn:
            return conn.execute(sa.select(sa.func.count()).select_from(m.web_users)).scalar() > 0

    # -- API tokens ----------------------------------------------------------------------------

    def user_role(self, username: str) -> str | None:
        with self._read() as conn:
            return conn.execute(sa.select(m.web_users.c.role).where(m.web_users.c.username == username)).scalar()

    def add_token(self, token_id: str, name: str, token_hash: str, now: datetime, *, role: str = "admin") -> None:
        with self.engine.begin() as conn:
            taken = conn.execute(sa.select(m.web_tokens.c.token_id).where(
                m.web_tokens.c.name == name, m.web_tokens.c.revoked_at.is_(None))).first()
            if taken:
                raise AccessError(f"an API token named {name!r} exists already; revoke it first "
                                  f"(`scheduler web token revoke {name}`) or choose another name")
            conn.execute(m.web_tokens.insert().values(token_id=token_id, name=name, token_hash=token_hash,
                                                      created_at=now, role=role))

    def tokens(self) -> list[TokenRecord]:
        with self._read() as conn:
            rows = conn.execute(sa.select(m.web_tokens).order_by(m.web_tokens.c.created_at)).all()
        return [_token(r) for r in rows]

    def revoke_token(self, name_or_id: str, now: datetime) -> TokenRecord:
        """Revoke the live token with this name or id; it is refused from the next request on."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(m.web_tokens).where(
                sa.or_(m.web_tokens.c.name == name_or_id, m.web_tokens.c.token_id == name_or_id),
                m.web_tokens.c.revoked_at.is_(None))).first()
            if row is None:
                raise AccessError(f"no live API token named {name_or_id!r}; `scheduler web token list` shows them")
            conn.execute(m.web_tokens.update().where(m.web_tokens.c.token_id == row.token_id).values(revoked_at=now))
        return _token(row)

    def token_by_hash(self, token_hash: str, now: datetime) -> TokenRecord | None:
        """The live token with this hash (its last use is recorded, to the minute), or None.

        Read in a read transaction; the last use is written only when the one recorded is a minute old or
        more: a script polling the API would otherwise take the ledger's write lock for every request."""
        live = (m.web_tokens.c.token_hash == token_hash, m.web_tokens.c.revoked_at.is_(None))
        with self._read() as conn:
            row = conn.execute(sa.select(m.web_tokens).where(*live)).first()
        if row is None:
            return None
        if row.last_used_at is None or now - row.last_used_at >= LAST_USE_RESOLUTION:
            with self.engine.begin() as conn:
                # A token revoked in between: refused, and its record left alone.
                if not conn.execute(m.web_tokens.update().where(*live).values(last_used_at=now)).rowcount:
                    return None
        return _token(row)

    # -- sessions ------------------------------------------------------------------------------

    def create_session(self, session_hash: str, username: str, csrf: str, now: datetime,
                       expires_at: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.web_sessions.delete().where(m.web_sessions.c.expires_at <= now))
            conn.execute(m.web_sessions.insert().values(session_hash=session_hash, username=username, csrf=csrf,
                                                        created_at=now, expires_at=expires_at))

    def session(self, session_hash: str, now: datetime) -> SessionRecord | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(m.web_sessions, m.web_users.c.role)
                .select_from(m.web_sessions.outerjoin(m.web_users, m.web_users.c.username == m.web_sessions.c.username))
                .where(m.web_sessions.c.session_hash == session_hash, m.web_sessions.c.expires_at > now)).first()
        if row is None:
            return None
        # "local" (no password: this machine only) has no user row and acts as an admin, as the CLI does.
        role = row.role or ("admin" if row.username == "local" else "editor")  # a user since removed: the least
        return SessionRecord(row.username, row.csrf, row.expires_at, role)

    def end_session(self, session_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.web_sessions.delete().where(m.web_sessions.c.session_hash == session_hash))

    def prune_web(self, now: datetime, *, forget_logins: timedelta) -> int:
        """Delete expired sessions, and sign-in counts untouched for ``forget_logins`` and not blocking; how many
        sessions went."""
        limits = m.web_login_limits
        with self.engine.begin() as conn:
            gone = conn.execute(m.web_sessions.delete().where(m.web_sessions.c.expires_at <= now)).rowcount
            conn.execute(limits.delete().where(
                limits.c.last_at <= now - forget_logins,
                sa.or_(limits.c.blocked_until.is_(None), limits.c.blocked_until <= now)))
        return gone

    # -- the signing key (scheduler.review.signing_key) ----------------------------------------------------

    def rotate_link_secret(self, now: datetime, new_secret: str, *, actor: str) -> list[tuple[str, str]]:
        """Replace the signing key; revoke (and log) every reviewer link still usable, whose signature the new key
        no longer verifies. Returns those links' (account, link id)."""
        links = m.review_links
        with self.engine.begin() as conn:
            replace = m.link_keys.update().where(m.link_keys.c.key_id == 1).values(secret=new_secret, created_at=now)
            if not conn.execute(replace).rowcount:
                try:
                    with conn.begin_nested():
                        conn.execute(m.link_keys.insert().values(key_id=1, secret=new_secret, created_at=now))
                except sa.exc.IntegrityError:  # made by a concurrent process's first use: replace it
                    conn.execute(replace)
            usable = conn.execute(sa.select(links.c.account, links.c.link_id).where(
                links.c.revoked_at.is_(None), links.c.used_at.is_(None), links.c.expires_at > now)
                .order_by(links.c.account, links.c.created_at)).all()
            for account, link_id in usable:
                conn.execute(links.update().where(links.c.link_id == link_id).values(revoked_at=now))
                conn.execute(m.review_log.insert().values(
                    account=account, at=now, actor=actor, action="link revoked", findings=[],
                    comment=f"link {link_id}: the signing key was rotated (`scheduler web rotate-key`)"))
        return [(account, link_id) for account, link_id in usable]

    # -- sign-in limits ------------------------------------------------------------------------

    def reserve_login(self, keys: Sequence[str], now: datetime, *, block_for: Callable[[str, int], timedelta],
                      forget: timedelta) -> datetime | None:
        """Count one sign-in attempt under every key (``ip:ADDRESS``, ``user:NAME``, ``device:ID``) BEFORE its
        password is checked, in one transaction that every dashboard process shares (rows locked, on SQLite the
        write lock), so concurrent attempts cannot all pass the limit. None: the attempt may go ahead (counted).
        Else the time the last of its blocked keys frees, and NOTHING is written: a refused attempt neither counts
        nor leaves a row (a blocked address sending attempts for made-up user names would otherwise fill the
        table); rows appear only for attempts counted. A key's count starts again once ``forget`` has passed since
        its last attempt; ``block_for(key, failures)`` is how long a key then waits (0: not at all)."""
        limits = m.web_login_limits
        keys = sorted(set(keys))

        def blocked_until(conn, *, lock: bool) -> tuple[datetime | None, list]:
            query = sa.select(limits).where(limits.c.limit_key.in_(keys)).order_by(limits.c.limit_key)
            rows = conn.execute(query.with_for_update() if lock else query).all()
            blocked = [r.blocked_until for r in rows if r.blocked_until is not None and r.blocked_until > now]
            return (max(blocked) if blocked else None), rows

        # Most refusals are settled by a read, taking no lock (a flood from a blocked address costs no writes).
        with self._read() as conn:
            until, _ = blocked_until(conn, lock=False)
        if until is not None:
            return until
        try:
            with self.engine.begin() as conn:
                if conn.dialect.name == "postgresql":
                    from sqlalchemy.dialects.postgresql import insert  # lazy: only the dialect of the database in use is loaded
                else:
                    from sqlalchemy.dialects.sqlite import insert  # lazy: only the dialect of the database in use is loaded
                conn.execute(insert(limits).values([{"limit_key": k, "failures": 0, "last_at": now} for k in keys])
                             .on_conflict_do_nothing(index_elements=["limit_key"]))
                until, rows = blocked_until(conn, lock=True)
                if until is not None:  # blocked in the meantime by a concurrent attempt: undo the rows made
                    raise _Refused(until)
                for r in rows:
                    failures = (0 if r.last_at <= now - forget else r.failures) + 1
                    wait = block_for(r.limit_key, failures)
                    conn.execute(limits.update().where(limits.c.limit_key == r.limit_key).values(
                        failures=failures, last_at=now, blocked_until=now + wait if wait > timedelta(0) else None))
        except _Refused as refused:
            return refused.until
        return None

    def clear_login(self, keys: Sequence[str]) -> None:
        """A sign-in succeeded: its keys' counts start again."""
        with self.engine.begin() as conn:
            conn.execute(m.web_login_limits.delete().where(m.web_login_limits.c.limit_key.in_(sorted(set(keys)))))

    # -- articles (read-only, for the Articles page) ------------------------------------------------

    def article_summaries(self, account: str) -> list[dict]:
        """Every imported article of the account: key, title, url, source, tip count, imported_at; by title."""
        with self._read() as conn:
            rows = conn.execute(sa.select(m.articles).where(m.articles.c.account == account)
                                .order_by(m.articles.c.title)).all()
        summaries = []
        for r in rows:
            tips = r.tips if isinstance(r.tips, list) else json.loads(r.tips)
            summaries.append({"article": r.article_key, "title": r.title, "url": r.url, "source": r.source,
                              "tips": len(tips), "imported_at": r.imported_at})
        return summaries

    # -- audit -----------------------------------------------------------------------------------

    def record_audit(self, account: str, actor: str, action: str, now: datetime, *, post_id: str | None = None,
                     detail: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.web_audit.insert().values(account=account, at=now, actor=actor, action=action,
                                                     post_id=post_id, detail=detail))

    def audit(self, account: str, *, limit: int = 50) -> list[AuditRecord]:
        with self._read() as conn:
            rows = conn.execute(sa.select(m.web_audit).where(m.web_audit.c.account == account)
                                .order_by(m.web_audit.c.id.desc()).limit(limit)).all()
        return [AuditRecord(r.id, r.at, r.actor, r.action, r.post_id, r.detail) for r in rows]
