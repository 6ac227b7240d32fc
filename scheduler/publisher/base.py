"""The publisher protocol: the one place a post leaves this program.

Implementations: ``x.XPublisher`` (tweepy against X or the stand-in), ``outbox.OutboxPublisher``
(a JSON-lines file, the default without credentials). Each turns every failure into one of the
exceptions below, so the publishing engine can decide what happens next without knowing HTTP.
Error details never contain credentials: implementations build them from the response body only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PublishedTweet:
    tweet_id: str
    text: str
    created_at: datetime | None = None  # aware UTC, when known
    in_reply_to: str | None = None


class PublishError(Exception):
    """Base of every failure a publisher reports. ``detail`` is safe to log and store."""

    def __init__(self, detail: str, status: int | None = None):
        super().__init__(detail)
        self.detail = detail
        self.status = status


class TransientError(PublishError):
    """5xx, or a network error before the request was sent: safe to retry with backoff."""


class RateLimited(PublishError):
    """429 (rate limit or usage cap). ``reset_at``: when X says the window resets (aware UTC)."""

    def __init__(self, detail: str, status: int | None = 429, reset_at: datetime | None = None):
        super().__init__(detail, status)
        self.reset_at = reset_at


class AuthError(PublishError):
    """401, or a 403 about app permissions/enrolment: publishing pauses until a person fixes it."""


class DuplicateContent(PublishError):
    """403 'duplicate content': X already has this exact text from the account."""


class Rejected(PublishError):
    """A permanent refusal of this post (400 too long, other 4xx): retrying cannot help."""


class OutcomeUnknown(PublishError):
    """The request went out but no response came back (timeout, dropped connection)."""


class LookupUnavailable(PublishError):
    """The account's recent posts cannot be read (plan without read access, auth scope...)."""


class Publisher(Protocol):
    name: str  # "x", "outbox", ...

    def create_post(self, text: str, *, reply_to: str | None = None, media_ids: tuple[str, ...] = ()) -> str:
        """Publish one post; return its id. Raises a PublishError subclass on failure."""

    def upload_media(self, path: Path) -> str:
        """Upload an image; return the media id to attach."""

    def recent_posts(self, since: datetime) -> list[PublishedTweet]:
        """The account's own posts created at or after ``since`` (for reconciliation).

        Raises LookupUnavailable when the account's plan or credentials cannot read them.
        """

    def post_url(self, tweet_id: str) -> str:
        """Public URL of a published post (or the outbox line it went to)."""

    def close(self) -> None: ...
