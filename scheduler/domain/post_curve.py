"""A sent post's metrics as one series: its parts' readings added up at each moment, and the latest of them.

A thread is several remote posts, each read on its own; what the post did is the sum of its parts. At each
moment a part was read, the post's value is the sum of every part's latest reading up to that moment (a part not
read yet counts nothing). Impressions are summed only while every part read so far gave them; followers are the
account's at the time of the reading (the largest a part reported at that moment). The engagement rate of a
point is ``domain.metrics.engagement`` of that sum: the one rule, applied to the whole post.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime

from scheduler.domain.metrics import Engagement, MetricReading, engagement

# What a post's results can be grouped by (`insights --by`, the API's ``by``); weekday-hour is in the account's zone.
GROUP_BY = ("post", "tip", "article", "variant", "template", "weekday-hour", "network")


@dataclass(frozen=True)
class CurvePoint:
    reading: MetricReading  # the post's parts added up at ``reading.read_at``
    engagement: Engagement


def curve(readings: Iterable[MetricReading]) -> list[CurvePoint]:
    """The post's points in time order, from the readings of one post (any order, any parts)."""
    ordered = sorted(readings, key=lambda r: (r.read_at, r.remote_id))
    latest: dict[str, MetricReading] = {}
    points: list[CurvePoint] = []
    for i, reading in enumerate(ordered):
        latest[reading.remote_id] = reading
        if i + 1 < len(ordered) and ordered[i + 1].read_at == reading.read_at:
            continue  # other parts were read at the same moment: one point for all of them
        total = reading if len(latest) == 1 else _sum(list(latest.values()), reading.read_at)
        points.append(CurvePoint(total, engagement(total)))
    return points


def latest(readings: Iterable[MetricReading]) -> CurvePoint | None:
    """The post's newest point (None when it has no reading)."""
    points = curve(readings)
    return points[-1] if points else None


def by_post(readings: Iterable[MetricReading]) -> dict[str, list[MetricReading]]:
    """Readings grouped by post, in the order met."""
    found: dict[str, list[MetricReading]] = {}
    for reading in readings:
        found.setdefault(reading.post_id, []).append(reading)
    return found


def _sum(parts: list[MetricReading], at: datetime) -> MetricReading:
    first = parts[0]
    impressions = None if any(p.impressions is None for p in parts) else sum(p.impressions or 0 for p in parts)
    bookmarks = None if all(p.bookmarks is None for p in parts) else sum(p.bookmarks or 0 for p in parts)
    followers = max((p.followers for p in parts if p.followers is not None), default=None)
    # X's clicks, like bookmarks: a part without them (older than 30 days, or public only) adds nothing.
    link = None if all(p.url_link_clicks is None for p in parts) else sum(p.url_link_clicks or 0 for p in parts)
    profile = (None if all(p.user_profile_clicks is None for p in parts)
               else sum(p.user_profile_clicks or 0 for p in parts))
    return replace(first, remote_id=first.remote_id if len(parts) == 1 else f"{len(parts)} parts", read_at=at,
                   likes=sum(p.likes for p in parts), reposts=sum(p.reposts for p in parts),
                   replies=sum(p.replies for p in parts), quotes=sum(p.quotes for p in parts),
                   impressions=impressions, bookmarks=bookmarks, followers=followers, url_link_clicks=link,
                   user_profile_clicks=profile)
