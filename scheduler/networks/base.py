"""The publisher protocol: the one place a post leaves this program.

Implementations: ``x.XPublisher`` (tweepy against X or the stand-in), ``bluesky.BlueskyPublisher``
(atproto), ``mastodon.MastodonPublisher`` (Mastodon.py), ``outbox.OutboxPublisher`` (a JSON-lines
file, the default without credentials). Each turns every failure into one of the
exceptions below, so the publishing engine (and the metrics collector) can decide what happens next without
knowing HTTP. Besides publishing, each reads what its sent posts did (``read_metrics``, ``read_followers``).
Error details never contain credentials: implementations build them from the response body only.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Protocol


@dataclass(frozen=True)
class PublishedTweet:
    tweet_id: str
    text: str
    created_at: datetime | None = None  # aware UTC, when known
    in_reply_to: str | None = None


@dataclass(frozen=True)
class PartMetrics:
    """One part's counters as its network gave them at one read; None where the network gives none (only X gives
    impressions and bookmarks)."""

    remote_id: str  # as ``create_post`` returned it
    likes: int
    reposts: int
    replies: int
    quotes: int
    impressions: int | None = None
    bookmarks: int | None = None
    url_link_clicks: int | None = None  # X's non-public metrics: the author's own posts under 30 days
    user_profile_clicks: int | None = None


@dataclass(frozen=True)
class ReadResult:
    """What a read of metrics found: the parts read, and the parts the network says no longer exist. A part the
    network could not read and did not say was gone is in neither."""

    readings: tuple[PartMetrics, ...] = ()
    deleted: frozenset[str] = frozenset()


def chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    """``items`` (without repeats) in lists of at most ``size``: the ids one call of a network takes."""
    unique = list(dict.fromkeys(items))
    for start in range(0, len(unique), size):
        yield unique[start:start + size]


class PublishError(Exception):
    """Base of every failure a publisher reports. ``detail`` is safe to log and store. ``reset_at``: when the
    network said to come back (a rate limit's reset, a 503's Retry-After), aware UTC, if it said."""

    def __init__(self, detail: str, status: int | None = None, reset_at: datetime | None = None):
        super().__init__(detail)
        self.detail = detail
        self.status = status
        self.reset_at = reset_at


# The headers a network uses to say when to come back, in the order they are believed: X's, Bluesky's, Mastodon's
# rate-limit reset (epoch seconds, or Mastodon's ISO time), then the standard Retry-After (seconds or a date).
RESET_HEADERS = ("x-rate-limit-reset", "ratelimit-reset", "x-ratelimit-reset", "retry-after")
# The latest a network's answer may put the next call: every limit the networks document resets within a day (X's
# 24-hour user limit the latest), so a later time is a broken header, not a reason to wait for years (or to fail).
MAX_RESET_WAIT = timedelta(hours=24)


def reset_from_epoch(value: object, now: datetime) -> datetime | None:
    """An epoch-seconds reset (a header's digits, or a number an SDK parsed) as aware UTC, at most ``now`` +
    MAX_RESET_WAIT; None when it is not a number. Never raises: a reset too large for a datetime is the maximum."""
    try:
        number = float(value) if isinstance(value, (int, float)) or (isinstance(value, str) and value.isdigit()) \
            else None
    except (ValueError, OverflowError):
        return None
    if number is None or number != number:  # not a number, or NaN
        return None
    latest = now + MAX_RESET_WAIT
    if number >= latest.timestamp():
        return latest
    try:
        return datetime.fromtimestamp(number, timezone.utc)
    except (ValueError, OverflowError, OSError):  # before the platform's epoch range: no usable time
        return None


def reset_time(headers: Mapping[str, str] | None, now: datetime) -> datetime | None:
    """When an answer's headers say to come back (aware UTC), or None. Header names in any case. The one place
    reset headers are read: never later than ``now`` + MAX_RESET_WAIT, and never raises."""
    if not headers:
        return None
    lowered = {str(k).lower(): str(v).strip() for k, v in headers.items()}
    latest = now + MAX_RESET_WAIT
    for name in RESET_HEADERS:
        value = lowered.get(name)
        if not value:
            continue
        if value.isdigit():
            # Retry-After counts seconds; the reset headers give a moment (epoch seconds).
            if name != "retry-after":
                return reset_from_epoch(value, now)
            seconds = int(value)
            return latest if seconds >= MAX_RESET_WAIT.total_seconds() else now + timedelta(seconds=seconds)
        for parse in (lambda v: datetime.fromisoformat(v.replace("Z", "+00:00")), parsedate_to_datetime):
            try:
                moment = parse(value)
            except (ValueError, TypeError, IndexError, OverflowError):
                continue
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=timezone.utc)
            try:
                return min(moment.astimezone(timezone.utc), latest)
            except (ValueError, OverflowError):
                return latest
    return None


class TransientError(PublishError):
    """A failure after which nothing was created: a network error before the request was sent, a 5xx
    on a read or an upload. Safe to retry with backoff."""


class RateLimited(PublishError):
    """429 (rate limit or usage cap). ``reset_at``: when the network says the window resets (aware UTC),
    from its own headers (X: x-rate-limit-reset; Bluesky: ratelimit-reset; Mastodon: X-RateLimit-Reset)."""

    def __init__(self, detail: str, status: int | None = 429, reset_at: datetime | None = None):
        super().__init__(detail, status, reset_at)


class AuthError(PublishError):
    """401, or a 403 about app permissions/enrolment: publishing pauses until a person fixes it."""


class DuplicateContent(PublishError):
    """403 'duplicate content': X already has this exact text from the account."""


class Rejected(PublishError):
    """A permanent refusal of this post (400 too long, other 4xx): retrying cannot help."""


class OutcomeUnknown(PublishError):
    """The request to create a post went out and the post may exist: no response came back (timeout,
    dropped connection), or a 5xx (X's gateways answer 5xx after creating the post)."""


class LookupUnavailable(PublishError):
    """The account's recent posts cannot be read (plan without read access, auth scope...)."""


class MetricsUnavailable(PublishError):
    """This publisher has no metrics to read: the outbox file holds posts nobody saw."""


class Publisher(Protocol):
    name: str  # "x", "bluesky", "mastodon", "outbox", ...

    def new_key(self, now: datetime) -> str | None:
        """A fresh idempotency key for one part of a post, or None when the network has none (X).

        The engine stores it in the ledger before the part's first call and passes the stored key
        (``key=``) to every call and look-up of that part, after a restart too: a Bluesky record key
        (a TID), a Mastodon ``Idempotency-Key``.
        """

    def create_post(self, text: str, *, reply_to: str | None = None, media_ids: tuple[str, ...] = (),
                    key: str | None = None) -> str:
        """Publish one post; return its id. Raises a PublishError subclass on failure.

        ``key``: this part's idempotency key (see ``new_key``); a publisher whose network has none
        ignores it."""

    def upload_media(self, path: Path) -> str:
        """Upload an image; return the media id to attach."""

    def find_post(self, text: str, *, since: datetime, reply_to: str | None = None,
                  with_media: bool = False, key: str | None = None) -> str | None:
        """The id of the account's post created at or after ``since`` whose text, as the network
        rewrites it, is ``text`` (and which replies to ``reply_to``, when given); None if there is none.

        Reconciliation after an uncertain outcome. The publisher owns its network's text rules
        (escaping, link wrapping, media links) and reads as few posts as it can: reads can be billed.
        With a ``key``, a network that can read a post by its key does (Bluesky reads that exact
        record). Raises LookupUnavailable when the account's plan or credentials cannot read them.
        """

    def post_url(self, tweet_id: str) -> str:
        """Public URL of a published post (or the outbox line it went to)."""

    # The most ids one call of the network's metrics read takes (X 100, Bluesky 25, Mastodon 20).
    metrics_batch: int

    def read_metrics(self, remote_ids: Sequence[str]) -> ReadResult:
        """The counters of these parts (ids as ``create_post`` returned them), read in calls of at most
        ``metrics_batch`` ids. A part the network says no longer exists is in ``deleted``, never a failure of the
        read. Raises RateLimited (with ``reset_at``) on a 429, TransientError on a 5xx or a network error, AuthError
        when the token is refused (the metrics of the account pause; its publishing does not), MetricsUnavailable
        where there is nothing to read (the outbox)."""

    def read_followers(self) -> int | None:
        """The account's followers now, where the network gives them (None elsewhere); raises as ``read_metrics``."""

    def close(self) -> None: ...


class Unusable:
    """The publisher of an account whose credentials cannot be used (a file missing or readable by others): every
    call is refused as credentials are, so the engine keeps the post and pauses the account if it is resumed
    before they are fixed."""

    def __init__(self, name: str, problem: str):
        self.name = name
        self.problem = problem

    def new_key(self, now: datetime) -> str | None:
        return None

    def create_post(self, text: str, *, reply_to: str | None = None, media_ids: tuple[str, ...] = (),
                    key: str | None = None) -> str:
        raise AuthError(self.problem)

    def upload_media(self, path: Path) -> str:
        raise AuthError(self.problem)

    def find_post(self, text: str, *, since: datetime, reply_to: str | None = None,
                  with_media: bool = False, key: str | None = None) -> str | None:
        raise LookupUnavailable(self.problem)

    def post_url(self, tweet_id: str) -> str:
        return tweet_id

    metrics_batch = 100

    def read_metrics(self, remote_ids: Sequence[str]) -> ReadResult:
        raise AuthError(self.problem)

    def read_followers(self) -> int | None:
        raise AuthError(self.problem)

    def close(self) -> None:
        pass
