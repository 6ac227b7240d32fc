"""What the ledger hands out: records of posts, attempts, accounts and instances, and how rows become them."""

from __future__ import annotations


import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


from scheduler.ledger import migrations as m
from scheduler.domain.models import PostState, QueuedPost
from scheduler.domain.lifecycle import PENDING  # noqa: F401 (re-exported: the ledger's modules read it here)



# The advisory-lock key space of queue positions (two-int keys: (this, hash of the account)); the single-key
# space holds the migration lock (727274), which two-int keys never meet.
_QUEUE_LOCKS = 727275


_THIS_MACHINE: Any = object()  # Store.beat's default: the machine the calling process runs on


@dataclass(frozen=True)
class NewPost:
    post_id: str
    kind: str  # tip | adhoc | recycle
    text: str
    parts: tuple[str, ...]
    weighted_length: int
    article_key: str | None = None
    tip: int | None = None
    template: str | None = None
    variant: int = 0
    media: tuple[str, ...] = ()
    pinned_at: datetime | None = None


@dataclass(frozen=True)
class ArticleImport:
    article_key: str
    title: str
    url: str | None
    source: str
    fingerprint: str
    tips: Sequence[dict]
    posts: Sequence[NewPost]
    hashtags: Sequence[str] = ()
    metadata: dict | None = None  # front matter the scheduler does not use (author, date, tags...)


@dataclass(frozen=True)
class ImportReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    kept_sent: tuple[str, ...]  # sent posts whose tip changed: left as history
    kept_edit: tuple[str, ...] = ()  # posts a person edited: their text stays as edited
    kept_removed: tuple[str, ...] = ()  # posts a person removed from the queue: they stay removed
    article_removed: bool = False  # the article was removed with `articles remove`: nothing was imported
    # Posts that may already be live (uncertain, or a thread partly sent): left as they were; the article's new
    # wording reaches them with the first import after they are settled (see scheduler.domain.lifecycle).
    kept_live: tuple[str, ...] = ()


@dataclass(frozen=True)
class ArticleSummary:
    article_key: str
    title: str
    url: str | None
    source: str
    imported_at: datetime
    removed_at: datetime | None
    counts: dict[str, int]  # its posts, by state ("removed": taken out of the queue by a person)
    metadata: dict = None  # type: ignore[assignment]  # front matter kept as the blog wrote it


@dataclass(frozen=True)
class PostRecord:
    """A full ledger row, for history, status and the publishing engine."""

    post_id: str
    account: str
    kind: str
    article_key: str | None
    tip: int | None
    template: str | None
    variant: int
    text: str
    parts: tuple[str, ...]
    media: tuple[str, ...]
    weighted_length: int
    state: PostState
    position: float
    pinned_at: datetime | None
    next_attempt_at: datetime | None
    attempts: int
    uncertain: bool
    slot_at: datetime | None
    claimed_by: str | None
    claimed_at: datetime | None
    part_ids: tuple[str, ...]
    tweet_id: str | None
    sent_at: datetime | None
    last_error: str | None
    last_status: int | None
    created_at: datetime
    updated_at: datetime
    edited_at: datetime | None = None  # when a person last changed it
    edit_kind: str | None = None  # "text" (kept by re-imports) or "variant" (a template chosen)

    def as_queued(self) -> QueuedPost:
        return QueuedPost(
            post_id=self.post_id,
            account=self.account,
            text=self.text,
            parts=self.parts,
            weighted_length=self.weighted_length,
            state=self.state,
            position=self.position,
            article_key=self.article_key,
            tip=self.tip,
            pinned_at=self.pinned_at,
            next_attempt_at=self.next_attempt_at,
            template=self.template,
            variant=self.variant,
            media=self.media,
        )


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    post_id: str
    part: int
    instance: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    http_status: int | None
    detail: str | None
    tweet_id: str | None


@dataclass(frozen=True)
class TipSends:
    """How often a tip went out, and when last (``Store.tips_sent_before``)."""

    article_key: str
    tip: int
    last_sent_at: datetime  # its latest publication (the original tip post or a recycled one)
    times_sent: int


@dataclass(frozen=True)
class TipHistory:
    """One tip as evergreen weighs it (``Store.tip_history``)."""

    sends: TipSends
    variant: int  # the template variant of its latest publication
    recycles: tuple[tuple[str, str, datetime, str], ...]  # its recycled posts: (post_id, state, updated_at, fingerprint)


@dataclass(frozen=True)
class AccountState:
    account: str
    paused: bool
    pause_reason: str | None
    paused_at: datetime | None
    revision: int


@dataclass(frozen=True)
class InstanceRecord:
    instance: str
    pid: int
    host: str
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None
    last_outcome: str | None
    machine: str | None = None  # where it ran (liveness.this_machine()), when it recorded that
    server_age: timedelta | None = None  # its heartbeat's age on the database's clock (PostgreSQL), read with it

    def age(self, now: datetime) -> timedelta:
        """How old the last heartbeat is: on the database's clock when the ledger has one (PostgreSQL, which
        also wrote it), else ``now`` (this machine's clock, which wrote it on SQLite)."""
        return self.server_age if self.server_age is not None else now - self.beat_at


def _record(row) -> PostRecord:
    return PostRecord(
        post_id=row.post_id,
        account=row.account,
        kind=row.kind,
        article_key=row.article_key,
        tip=row.tip,
        template=row.template,
        variant=row.variant,
        text=row.text,
        parts=tuple(_json(row.parts)),
        media=tuple(_json(row.media)),
        weighted_length=row.weighted_length,
        state=PostState(row.state),
        position=row.position,
        pinned_at=row.pinned_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        uncertain=bool(row.uncertain),
        slot_at=row.slot_at,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        part_ids=tuple(_json(row.part_ids)),
        tweet_id=row.tweet_id,
        sent_at=row.sent_at,
        last_error=row.last_error,
        last_status=row.last_status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        edited_at=row.edited_at,
        edit_kind=row.edit_kind,
    )


# What the planner reads of a pending post (QueuedPost's fields), and nothing more.
_QUEUED_COLUMNS = tuple(getattr(m.posts.c, name) for name in (
    "post_id", "account", "text", "parts", "weighted_length", "state", "position", "article_key", "tip",
    "pinned_at", "next_attempt_at", "template", "variant", "media"))


# Publications: sent, being sent, or sent with the outcome unknown.
_PUBLISHED = (PostState.SENT.value, PostState.SENDING.value, PostState.UNKNOWN.value)


def _queued(row) -> QueuedPost:
    """A row of ``_QUEUED_COLUMNS`` (unpacked by position: a plan builds thousands of these)."""
    (post_id, account, text, parts, weighted_length, state, position, article_key, tip, pinned_at,
     next_attempt_at, template, variant, media) = row
    return QueuedPost(post_id, account, text, tuple(_json(parts)), weighted_length, PostState(state), position,
                      article_key, tip, pinned_at, next_attempt_at, template, variant,
                      tuple(_json(media)) if media else ())


def _attempt(row) -> AttemptRecord:
    return AttemptRecord(row.id, row.post_id, row.part, row.instance, row.started_at, row.finished_at,
                         row.outcome, row.http_status, row.detail, row.tweet_id)


def _json_safe(value):
    """Front matter as JSON can hold it: YAML dates and other values become their text."""
    return json.loads(json.dumps(value, default=str))


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


# The detail of an attempt whose process was gone before its call answered (recorded when a post is taken over).
STOPPED_MID_CALL = "the publishing process stopped mid-call"


class LostClaim(Exception):
    """This instance no longer holds the post (another took over, or a person resolved it)."""


class HeldBack(Exception):
    """A content rule holds the post back (review off, a ``block`` finding in what it would send): not claimed."""

    def __init__(self, post_id: str, reason: str):
        super().__init__(post_id)
        self.reason = reason


class NotApproved(Exception):
    """Review is on and what the post would send is not what a reviewer approved: it was not claimed."""
