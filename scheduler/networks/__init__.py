"""Publishers: where posts go (X, or the local outbox). See base.py for the protocol and errors.

XPublisher and OutboxPublisher are imported lazily: the outbox needs no tweepy, and
scheduler.networks.x.oauth2 (which XPublisher uses) itself imports publisher.transport.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scheduler.networks.base import (
    AuthError,
    DuplicateContent,
    LookupUnavailable,
    OutcomeUnknown,
    PublishedTweet,
    Publisher,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
)

if TYPE_CHECKING:
    from scheduler.networks.outbox.publisher import OutboxPublisher
    from scheduler.networks.x.publisher import XPublisher

__all__ = [
    "AuthError",
    "DuplicateContent",
    "LookupUnavailable",
    "OutboxPublisher",
    "OutcomeUnknown",
    "PublishError",
    "PublishedTweet",
    "Publisher",
    "RateLimited",
    "Rejected",
    "TransientError",
    "XPublisher",
]


def __getattr__(name: str) -> Any:
    if name == "XPublisher":
        from scheduler.networks.x.publisher import XPublisher

        return XPublisher
    if name == "OutboxPublisher":
        from scheduler.networks.outbox.publisher import OutboxPublisher

        return OutboxPublisher
    raise AttributeError(name)
