"""The networks: where posts go. ``base.py`` is the publisher protocol and its errors, ``reached.py`` decides whether a
failed call may have reached the network, ``factory.py`` gives an account its publisher, and each network has a
sub-package of its own (``x/``, ``bluesky/``, ``mastodon/``, ``outbox/``). Nothing here knows the ledger.

XPublisher and OutboxPublisher are imported lazily: the outbox needs no tweepy.
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
        from scheduler.networks.x.publisher import XPublisher  # lazy: the network's client library, loaded only for an account on it

        return XPublisher
    if name == "OutboxPublisher":
        from scheduler.networks.outbox.publisher import OutboxPublisher  # lazy: the network's client library, loaded only for an account on it

        return OutboxPublisher
    raise AttributeError(name)
