"""The domain's plain values, shared by every stage of the pipeline.

article -> tips -> composed posts -> queued posts -> slots -> publication records.
These are immutable data; the modules named for each concept do the work.
"""

from __future__ import annotations

import enum
import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class Tip:
    number: int  # as written in the article (may skip or restart; see Article.warnings)
    headline: str
    body: str


@dataclass(frozen=True)
class Article:
    title: str
    url: str | None
    tips: tuple[Tip, ...]
    source: str  # path or name the article was read from, for messages
    intro: str = ""
    conclusion: str = ""
    hashtags: tuple[str, ...] = ()  # from front matter, without '#'
    warnings: tuple[str, ...] = ()  # numbering that skips or restarts, etc.
    # Front matter keys the scheduler does not use (author, date, tags...), JSON-ready values.
    metadata: dict[str, Any] = field(default_factory=dict, hash=False)
    id: str | None = None  # front matter `id`, or the key the ledger already knows the article by

    @property
    def key(self) -> str:
        """Stable identity: the ``id``, else the article file's name as a slug; a web page is known by its
        address (its canonical URL, the one place a page's identity is written).

        A file's URL or title never counts: adding or changing either must not make the article a new one,
        whose tips would be queued a second time.
        """
        if self.id:
            return slugify(self.id)
        if self.source.startswith(("http://", "https://")) or not _ARTICLE_FILE.search(self.source):
            return self.legacy_key  # a web page (or text with no file behind it)
        return source_slug(self.source) or self.legacy_key

    @property
    def legacy_key(self) -> str:
        """The key earlier versions gave the article (the URL's last path segment, else the title), which
        ledgers written by them still use."""
        return article_key(self.title, self.url)


def slugify(text: str, max_len: int = 48) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "article"


_ARTICLE_FILE = re.compile(r"\.(?:md|markdown|txt|html?)$", re.IGNORECASE)


def source_slug(source: str) -> str:
    """The slug of the file (or page) an article was read from: "posts/drink-water.md" -> "drink-water"."""
    name = re.split(r"[/\\]", source.split("?")[0].split("#")[0].rstrip("/\\"))[-1] if source else ""
    stem = re.sub(r"\.[A-Za-z0-9]{1,8}$", "", name)
    return slugify(stem) if re.search(r"[A-Za-z0-9]", stem) else ""


def article_key(title: str, url: str | None) -> str:
    if url:
        path = re.sub(r"^[a-z]+://[^/]+", "", url.strip()).split("?")[0].split("#")[0]
        segments = [s for s in path.split("/") if s]
        if segments:
            last = re.sub(r"\.(html?|php|aspx?)$", "", segments[-1])
            return slugify(last)
    return slugify(title)


def post_id_for(article_key_: str, tip_number: int) -> str:
    """Post ids derive from article and tip only, so re-imports are idempotent."""
    return f"{article_key_}-{tip_number}"


def adhoc_post_id(text: str, created: datetime) -> str:
    """Ad-hoc posts have no tip; their id comes from the text and when it was queued."""
    seed = f"{normalize_for_duplicates(text)}\0{created.isoformat()}"
    return "adhoc-" + hashlib.sha256(seed.encode()).hexdigest()[:10]


def normalize_for_duplicates(text: str) -> str:
    """X compares posts loosely; so do we: NFC, case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).casefold().split())


def text_fingerprint(text: str) -> str:
    return hashlib.sha256(normalize_for_duplicates(text).encode()).hexdigest()[:32]


@dataclass(frozen=True)
class ComposedPost:
    """What the composer makes of one tip: valid on X by construction."""

    tip: int
    text: str
    weighted_length: int
    template: str
    variant: int
    thread: tuple[str, ...] | None = None  # every part, first included, when a thread
    media: tuple[str, ...] = ()  # image paths named by the template or post

    @property
    def parts(self) -> tuple[str, ...]:
        return self.thread if self.thread else (self.text,)


class PostState(str, enum.Enum):
    QUEUED = "queued"  # waiting for a slot (or its pin)
    SENDING = "sending"  # claimed; a call to X may be in flight (committed before the call)
    RETRYING = "retrying"  # a transient failure; next attempt at next_attempt_at
    SENT = "sent"
    FAILED = "failed"  # permanent, with reason
    UNKNOWN = "unknown"  # outcome uncertain and not reconcilable automatically: a person decides
    REMOVED = "removed"  # taken out of the queue by a person; kept, so a re-import does not bring it back

    @property
    def is_pending(self) -> bool:
        return self in (PostState.QUEUED, PostState.RETRYING)


# Every state change a post may make; the ledger holds the same pairs in its post_transitions table and
# refuses any other change (a trigger), whatever program writes to it.
TRANSITIONS: frozenset[tuple[PostState, PostState]] = frozenset(
    (PostState(a), PostState(b))
    for a, b in (
        ("queued", "sending"), ("queued", "removed"),  # claimed for a slot / removed by a person
        ("retrying", "sending"), ("retrying", "removed"),
        ("sending", "sent"), ("sending", "failed"), ("sending", "unknown"),
        ("sending", "retrying"),  # a passing error, a rate limit, a lost response to look up
        ("sending", "queued"),  # released untouched when the account pauses
        ("unknown", "sent"), ("unknown", "retrying"),  # settled by a person (`scheduler resolve`)
        ("failed", "sent"), ("failed", "retrying"),
        ("removed", "queued"),  # restored
    )
)


@dataclass(frozen=True)
class QueuedPost:
    """A post as the planner sees it (read from the ledger)."""

    post_id: str
    account: str
    text: str
    parts: tuple[str, ...]
    weighted_length: int
    state: PostState
    position: float
    article_key: str | None = None
    tip: int | None = None
    pinned_at: datetime | None = None  # aware UTC
    next_attempt_at: datetime | None = None  # aware UTC, for RETRYING
    template: str | None = None
    variant: int = 0
    media: tuple[str, ...] = field(default_factory=tuple)
    why: str | None = field(default=None, compare=False)  # evergreen: why this tip and wording were chosen
