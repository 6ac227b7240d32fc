"""What a sent post did on its network: one reading of its counters, and the one rule for its engagement rate.

A reading is a snapshot taken at ``read_at``; readings are never updated, so the ledger holds each post's curve.
Counters a network does not give are None (only X gives impressions and bookmarks). ``followers`` is the account's
follower count when the reading was taken, where the network gives it, so a rate per follower uses the audience
of that moment rather than today's.

Engagement rate: interactions (likes + reposts + replies + quotes) over impressions where the network gives
impressions (X), otherwise over followers at the time of the reading. ``engagement`` says which basis it used;
every table that shows a rate says it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class RateBasis(str, Enum):
    IMPRESSIONS = "impressions"
    FOLLOWERS = "followers"


@dataclass(frozen=True)
class MetricReading:
    post_id: str
    account: str
    network: str  # x | bluesky | mastodon
    remote_id: str  # the network's id of the part read (X id, at:// URI, Mastodon status id)
    read_at: datetime  # aware UTC
    likes: int
    reposts: int
    replies: int
    quotes: int
    impressions: int | None = None
    bookmarks: int | None = None
    followers: int | None = None
    url_link_clicks: int | None = None  # X's non-public metrics: the author's own posts under 30 days only
    user_profile_clicks: int | None = None

    @property
    def interactions(self) -> int:
        return self.likes + self.reposts + self.replies + self.quotes


@dataclass(frozen=True)
class Engagement:
    interactions: int
    rate: float | None  # None when neither impressions nor followers are known (or both are 0)
    basis: RateBasis | None


def engagement(reading: MetricReading) -> Engagement:
    """The engagement of one reading, on impressions where the network gave them, else on followers."""
    if reading.impressions:
        return Engagement(reading.interactions, reading.interactions / reading.impressions, RateBasis.IMPRESSIONS)
    if reading.followers:
        return Engagement(reading.interactions, reading.interactions / reading.followers, RateBasis.FOLLOWERS)
    return Engagement(reading.interactions, None, None)
