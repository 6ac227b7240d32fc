"""The ledger's part for review: approvals, the append-only decision log, reviewer links, notices.

A mixin of ``store.Store`` (one facade, SQL split by concern): ``Store`` provides ``engine``,
``_read`` and ``_bump``. An approval is the content hash a reviewer approved (content_hash.py); a
decision is recorded only if the post still hashes to what the reviewer was shown, in the same
transaction that locks the post's row, so nobody approves a text they did not see.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger import migrations as m
from scheduler.domain.content_hash import hash_of
from scheduler.domain.errors import ReviewError
from scheduler.domain.lifecycle import PENDING

APPROVED = "approved"
CHANGES_REQUESTED = "changes requested"


@dataclass(frozen=True)
class ReviewRecord:
    post_id: str
    approved_hash: str | None
    approved_by: str | None
    approved_at: datetime | None
    rejected_hash: str | None
    rejected_by: str | None
    rejected_at: datetime | None
    comment: str | None


@dataclass(frozen=True)
class Decision:
    """What a reviewer decides about one post, as it was shown to them."""

    post_id: str
    content_hash: str  # the hash of the text the reviewer saw
    findings: tuple[dict, ...] = ()  # content-rule findings shown beside it


@dataclass(frozen=True)
class LogEntry:
    id: int
    at: datetime
    actor: str
    action: str
    post_id: str | None
    content_hash: str | None
    parts: tuple[str, ...] | None
    media: tuple[str, ...] | None
    comment: str | None
    findings: tuple[dict, ...]


@dataclass(frozen=True)
class RequirementRecord:
    account: str
    required: bool
    changed_at: datetime
    changed_by: str


@dataclass(frozen=True)
class LinkRecord:
    link_id: str
    account: str
    purpose: str
    created_at: datetime
    created_by: str
    expires_at: datetime
    revoked_at: datetime | None
    used_at: datetime | None
    reviewer: str | None = None  # who it was issued to; None: made before links named one (covers nothing)


@dataclass(frozen=True)
class NoticeRecord:
    id: int
    account: str
    kind: str
    channel: str
    dedupe_key: str
    payload: dict
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime | None
    sent_at: datetime | None
    last_error: str | None


@dataclass(frozen=True)
class NewNotice:
    kind: str
    channel: str
    dedupe_key: str
    payload: dict


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


def _review(row) -> ReviewRecord:
    return ReviewRecord(row.post_id, row.approved_hash, row.approved_by, row.approved_at, row.rejected_hash,
                        row.rejected_by, row.rejected_at, row.comment)


def _link(row) -> LinkRecord:
    return LinkRecord(row.link_id, row.account, row.purpose, row.created_at, row.created_by, row.expires_at,
                      row.revoked_at, row.used_at, row.reviewer)


def _notice(row) -> NoticeRecord:
    return NoticeRecord(row.id, row.account, row.kind, row.channel, row.dedupe_key, _json(row.payload), row.state,
                        row.attempts, row.created_at, row.next_attempt_at, row.sent_at, row.last_error)


class ReviewLedger:
    """SQL for review; ``Store`` inherits it."""

    # -- approvals -----------------------------------------------------------------------------

    def reviews(self, post_ids: Iterable[str]) -> dict[str, ReviewRecord]:
        ids = list(dict.fromkeys(post_ids))
        found: dict[str, ReviewRecord] = {}
        with self._read() as conn:
            for start in range(0, len(ids), 500):
                rows = conn.execute(
                    sa.select(m.post_reviews).where(m.post_reviews.c.post_id.in_(ids[start:start + 500]))
                ).all()
                found.update((row.post_id, _review(row)) for row in rows)
        return found

    def approved_for_sending(self, conn: Connection, post_row) -> bool:
        """Inside the claim's transaction: does what is about to be sent hash to the approved hash?

        The review row is locked (PostgreSQL) so a decision cannot change under the claim; the
        post's row is already locked by the claim's UPDATE. Images are read again, not remembered."""
        approved = conn.execute(
            sa.select(m.post_reviews.c.approved_hash)
            .where(m.post_reviews.c.post_id == post_row.post_id)
            .with_for_update()
        ).scalar()
        return approved is not None and approved == hash_of(_PostContent(post_row), fresh=True)

    def record_decisions(self, account: str, decisions: Sequence[Decision], *, action: str, actor: str,
                         comment: str | None, now: datetime, notices: Sequence[NewNotice] = ()) -> None:
        """Approve posts, or request changes to them, all or none, and log each decision.

        Refused (nothing written) when a post is not waiting in the queue or no longer hashes to
        what the reviewer was shown."""
        with self.engine.begin() as conn:
            self._decide(conn, account, decisions, action, actor, comment, now)
            self._insert_notices(conn, account, notices, now)
            self._bump(conn, account)

    def _decide(self, conn: Connection, account: str, decisions: Sequence[Decision], action: str, actor: str,
                comment: str | None, now: datetime) -> None:
        if action not in (APPROVED, CHANGES_REQUESTED):
            raise ValueError(f"unknown review action {action!r}")
        for decision in decisions:
            row = conn.execute(
                sa.select(m.posts)
                .where(m.posts.c.account == account, m.posts.c.post_id == decision.post_id)
                .with_for_update()
            ).first()
            if row is None:
                raise ReviewError(f"no post with id {decision.post_id!r}; `scheduler review list` shows "
                                  "the posts awaiting review")
            if row.state not in PENDING:
                raise ReviewError(f"post {decision.post_id} is {row.state}, not waiting to be sent: there is "
                                  "nothing to review")
            if hash_of(_PostContent(row), fresh=True) != decision.content_hash:
                raise ReviewError(
                    f"post {decision.post_id} changed since it was shown to you (its text, images or reply "
                    f"settings); look at it again with `scheduler review show {decision.post_id}`"
                )
            self._write_review(conn, account, decision, action, actor, comment, now)
            conn.execute(m.review_log.insert().values(
                account=account, at=now, actor=actor, action=action, post_id=decision.post_id,
                content_hash=decision.content_hash, parts=list(_json(row.parts)), media=list(_json(row.media)),
                comment=comment, findings=list(decision.findings),
            ))

    @staticmethod
    def _write_review(conn: Connection, account: str, decision: Decision, action: str, actor: str,
                      comment: str | None, now: datetime) -> None:
        if action == APPROVED:
            values = dict(approved_hash=decision.content_hash, approved_by=actor, approved_at=now,
                          rejected_hash=None, rejected_by=None, rejected_at=None, comment=comment)
        else:
            values = dict(approved_hash=None, approved_by=None, approved_at=None,
                          rejected_hash=decision.content_hash, rejected_by=actor, rejected_at=now, comment=comment)
        done = conn.execute(
            m.post_reviews.update().where(m.post_reviews.c.post_id == decision.post_id).values(**values)
        ).rowcount
        if not done:
            conn.execute(m.post_reviews.insert().values(post_id=decision.post_id, account=account, **values))

    # -- who last changed a post's text (separation of duties) ---------------------------------------

    def record_authors(self, account: str, changes: dict[str, str], *, actor: str, now: datetime) -> None:
        """``changes``: post id -> the content hash it has after ``actor`` changed it."""
        with self.engine.begin() as conn:
            for post_id, digest in changes.items():
                done = conn.execute(m.post_authors.update().where(m.post_authors.c.post_id == post_id)
                                    .values(content_hash=digest, actor=actor, at=now)).rowcount
                if not done:
                    conn.execute(m.post_authors.insert().values(post_id=post_id, account=account,
                                                                content_hash=digest, actor=actor, at=now))

    def authors(self, post_ids: Iterable[str]) -> dict[str, tuple[str, str]]:
        """post id -> (the content hash it had when last changed by a known identity, that identity)."""
        ids = list(dict.fromkeys(post_ids))
        with self._read() as conn:
            rows = conn.execute(sa.select(m.post_authors).where(m.post_authors.c.post_id.in_(ids))).all() if ids else []
        return {row.post_id: (row.content_hash, row.actor) for row in rows}

    # -- the review requirement, kept in the ledger per account ------------------------------------

    def review_requirement(self, account: str) -> RequirementRecord | None:
        with self._read() as conn:
            row = conn.execute(sa.select(m.review_requirements)
                               .where(m.review_requirements.c.account == account)).first()
        return RequirementRecord(row.account, bool(row.required), row.changed_at, row.changed_by) if row else None

    def set_review_requirement(self, account: str, required: bool, *, actor: str, now: datetime,
                               only_if_unset: bool = False) -> RequirementRecord:
        """Record whether the account's posts need review (and, in the History, who changed it); returns the
        ledger's setting. ``only_if_unset``: keep a setting already recorded (a concurrent first start)."""
        with self.engine.begin() as conn:
            row = conn.execute(sa.select(m.review_requirements).where(m.review_requirements.c.account == account)
                               .with_for_update()).first()
            if row is not None and (only_if_unset or bool(row.required) == required):
                return RequirementRecord(row.account, bool(row.required), row.changed_at, row.changed_by)
            values = dict(required=required, changed_at=now, changed_by=actor)
            if row is None:
                try:
                    with conn.begin_nested():
                        conn.execute(m.review_requirements.insert().values(account=account, **values))
                except sa.exc.IntegrityError:  # recorded by a concurrent process: that one stands
                    row = conn.execute(sa.select(m.review_requirements)
                                       .where(m.review_requirements.c.account == account)).first()
                    return RequirementRecord(row.account, bool(row.required), row.changed_at, row.changed_by)
            else:
                conn.execute(m.review_requirements.update().where(m.review_requirements.c.account == account)
                             .values(**values))
            conn.execute(m.web_audit.insert().values(
                account=account, at=now, actor=actor, action="review required" if required else "review not required",
                detail="recorded in the ledger: every process on it " + ("needs approvals before sending" if required
                                                                           else "sends without review")))
            self._bump(conn, account)
        return RequirementRecord(account, required, now, actor)

    def review_requirement_of(self, account: str) -> bool:
        with self._read() as conn:
            return self.review_required_in(conn, account)

    @staticmethod
    def review_required_in(conn: Connection, account: str) -> bool:
        """Inside a transaction (the claim's): does the ledger say the account's posts need review?"""
        return bool(conn.execute(sa.select(m.review_requirements.c.required)
                                 .where(m.review_requirements.c.account == account)).scalar())

    # -- the decision log ----------------------------------------------------------------------

    def log_event(self, account: str, *, action: str, actor: str, now: datetime, comment: str | None = None) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.review_log.insert().values(account=account, at=now, actor=actor, action=action,
                                                      comment=comment, findings=[]))

    def review_log(self, account: str, *, limit: int = 100, post_id: str | None = None) -> list[LogEntry]:
        """Newest first."""
        query = sa.select(m.review_log).where(m.review_log.c.account == account)
        if post_id is not None:
            query = query.where(m.review_log.c.post_id == post_id)
        with self._read() as conn:
            rows = conn.execute(query.order_by(m.review_log.c.id.desc()).limit(limit)).all()
        return [
            LogEntry(row.id, row.at, row.actor, row.action, row.post_id, row.content_hash,
                     tuple(_json(row.parts)) if row.parts is not None else None,
                     tuple(_json(row.media)) if row.media is not None else None,
                     row.comment, tuple(_json(row.findings) or ()))
            for row in rows
        ]

    # -- reviewer links ------------------------------------------------------------------------

    def link_secret(self, now: datetime, new_secret: str) -> str:
        """The key that signs reviewer links, made (as ``new_secret``) on first use (scheduler.review.signing_key)."""
        with self._read() as conn:  # read first: the key is read on every request of a password-less dashboard
            secret = conn.execute(sa.select(m.link_keys.c.secret).where(m.link_keys.c.key_id == 1)).scalar()
        if secret is not None:
            return secret
        with self.engine.begin() as conn:
            secret = conn.execute(sa.select(m.link_keys.c.secret).where(m.link_keys.c.key_id == 1)).scalar()
            if secret is None:
                try:
                    with conn.begin_nested():
                        conn.execute(m.link_keys.insert().values(key_id=1, secret=new_secret, created_at=now))
                    secret = new_secret
                except sa.exc.IntegrityError:  # made by a concurrent process
                    secret = conn.execute(sa.select(m.link_keys.c.secret).where(m.link_keys.c.key_id == 1)).scalar()
            return secret

    def add_link(self, account: str, link_id: str, *, purpose: str, created_by: str, expires_at: datetime,
                 now: datetime, reviewer: str, covered: dict[str, str]) -> None:
        """A reviewer link for ``reviewer``, covering exactly ``covered`` (post id -> content hash at issue)."""
        with self.engine.begin() as conn:
            conn.execute(m.review_links.insert().values(
                link_id=link_id, account=account, purpose=purpose, created_at=now, created_by=created_by,
                expires_at=expires_at, reviewer=reviewer))
            if covered:
                conn.execute(m.review_link_posts.insert(), [
                    {"link_id": link_id, "post_id": post_id, "content_hash": digest}
                    for post_id, digest in covered.items()])
            conn.execute(m.review_log.insert().values(
                account=account, at=now, actor=created_by, action="link created", findings=[],
                comment=f"link {link_id} for {reviewer}, {len(covered)} post(s), expires {expires_at.isoformat()}"))

    def link_posts(self, link_id: str) -> dict[str, str]:
        """The posts a link covers: post id -> its content hash when the link was made."""
        with self._read() as conn:
            rows = conn.execute(sa.select(m.review_link_posts).where(m.review_link_posts.c.link_id == link_id)).all()
        return {row.post_id: row.content_hash for row in rows}

    def link(self, link_id: str) -> LinkRecord | None:
        with self._read() as conn:
            row = conn.execute(sa.select(m.review_links).where(m.review_links.c.link_id == link_id)).first()
        return _link(row) if row else None

    def links(self, account: str) -> list[LinkRecord]:
        with self._read() as conn:
            rows = conn.execute(sa.select(m.review_links).where(m.review_links.c.account == account)
                                .order_by(m.review_links.c.created_at.desc())).all()
        return [_link(row) for row in rows]

    def revoke_link(self, account: str, link_id: str, *, actor: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            done = conn.execute(
                m.review_links.update()
                .where(m.review_links.c.account == account, m.review_links.c.link_id == link_id,
                       m.review_links.c.revoked_at.is_(None))
                .values(revoked_at=now)
            ).rowcount
            if not done:
                exists = conn.execute(sa.select(m.review_links.c.link_id).where(
                    m.review_links.c.account == account, m.review_links.c.link_id == link_id)).first()
                if exists is None:
                    raise ReviewError(f"no reviewer link {link_id!r}; `scheduler review links` lists them")
                raise ReviewError(f"reviewer link {link_id} is already revoked")
            conn.execute(m.review_log.insert().values(account=account, at=now, actor=actor, action="link revoked",
                                                      comment=f"link {link_id}", findings=[]))

    def use_link(self, conn: Connection, link_id: str, now: datetime) -> bool:
        """Spend a link, inside the transaction that records what it was used for: true for exactly one
        use, while it is neither revoked nor expired."""
        return conn.execute(
            m.review_links.update()
            .where(m.review_links.c.link_id == link_id, m.review_links.c.used_at.is_(None),
                   m.review_links.c.revoked_at.is_(None), m.review_links.c.expires_at > now)
            .values(used_at=now)
        ).rowcount == 1

    def record_link_decisions(self, account: str, link_id: str, approvals: Sequence[Decision],
                              changes: Sequence[tuple[Decision, str]], *, actor: str, now: datetime,
                              notices: Sequence[NewNotice] = ()) -> None:
        """The decisions sent from a reviewer link, all or none, in the transaction that spends the link."""
        with self.engine.begin() as conn:
            if not self.use_link(conn, link_id, now):
                raise ReviewError("this reviewer link has been used, revoked or has expired")
            covered = {row.post_id: row.content_hash for row in conn.execute(
                sa.select(m.review_link_posts).where(m.review_link_posts.c.link_id == link_id)).all()}
            outside = [d.post_id for d in [*approvals, *(c for c, _ in changes)]
                       if covered.get(d.post_id) != d.content_hash]
            if outside:  # rolls back the link's use too
                raise ReviewError(f"this link does not cover {', '.join(outside)} as it is now: it covers the posts "
                                  "awaiting review when it was made, as they were then; ask for a new link")
            conn.execute(m.review_log.insert().values(account=account, at=now, actor=actor, action="link used",
                                                      comment=f"link {link_id}", findings=[]))
            self._decide(conn, account, approvals, APPROVED, actor, None, now)
            for decision, comment in changes:
                self._decide(conn, account, [decision], CHANGES_REQUESTED, actor, comment, now)
            self._insert_notices(conn, account, notices, now)
            self._bump(conn, account)

    # -- notices -------------------------------------------------------------------------------

    def add_notices(self, account: str, notices: Sequence[NewNotice], now: datetime) -> int:
        """Queue notices; one already queued for the same fact and channel is not queued again."""
        with self.engine.begin() as conn:
            return self._insert_notices(conn, account, notices, now)

    @staticmethod
    def _insert_notices(conn: Connection, account: str, notices: Sequence[NewNotice], now: datetime) -> int:
        added = 0
        for notice in notices:
            exists = conn.execute(sa.select(m.notices.c.id).where(
                m.notices.c.account == account, m.notices.c.channel == notice.channel,
                m.notices.c.dedupe_key == notice.dedupe_key)).first()
            if exists:
                continue
            try:
                with conn.begin_nested():
                    conn.execute(m.notices.insert().values(
                        account=account, kind=notice.kind, channel=notice.channel, dedupe_key=notice.dedupe_key,
                        payload=notice.payload, state="pending", attempts=0, created_at=now, next_attempt_at=now))
                added += 1
            except sa.exc.IntegrityError:
                pass  # queued by a concurrent process
        return added

    def due_notices(self, account: str, channel: str, now: datetime, *, limit: int = 100) -> list[NoticeRecord]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.notices)
                .where(m.notices.c.account == account, m.notices.c.channel == channel,
                       m.notices.c.state == "pending", m.notices.c.next_attempt_at <= now)
                .order_by(m.notices.c.id).limit(limit)
            ).all()
        return [_notice(row) for row in rows]

    def notices(self, account: str, *, limit: int = 100) -> list[NoticeRecord]:
        with self._read() as conn:
            rows = conn.execute(sa.select(m.notices).where(m.notices.c.account == account)
                                .order_by(m.notices.c.id.desc()).limit(limit)).all()
        return [_notice(row) for row in rows]

    def notices_sent(self, ids: Sequence[int], now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.notices.update().where(m.notices.c.id.in_(list(ids)), m.notices.c.state == "pending")
                         .values(state="sent", sent_at=now, next_attempt_at=None, attempts=m.notices.c.attempts + 1,
                                 last_error=None))

    def notices_failed(self, ids: Sequence[int], error: str, now: datetime, *, retry_at: datetime | None) -> None:
        """A delivery failed: try again at ``retry_at``, or give up (None)."""
        values = dict(attempts=m.notices.c.attempts + 1, last_error=error[:500])
        if retry_at is None:
            values.update(state="failed", next_attempt_at=None)
        else:
            values.update(next_attempt_at=retry_at)
        with self.engine.begin() as conn:
            conn.execute(m.notices.update().where(m.notices.c.id.in_(list(ids)), m.notices.c.state == "pending")
                         .values(**values))


class _PostContent:
    """A posts row seen as what it sends (parts and media as sequences)."""

    def __init__(self, row):
        self.parts = tuple(_json(row.parts))
        self.media = tuple(_json(row.media))
