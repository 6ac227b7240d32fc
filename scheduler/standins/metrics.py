"""The metrics every stand-in serves for the posts it holds: deterministic from the post's id and its age, growing
(never falling) as a real post's counters do, so a test can predict exactly what a read returns.

    counts("1445880548472328192", 3600.0)   # Counts(impressions=..., likes=..., ...) of that post at one hour
    followers("tipbot", 7200.0)             # the account's followers two hours after the stand-in started

Each counter rises towards a ceiling of its own (drawn from a hash of the id) as ``1 - exp(-age / 6 h)``: most of a
post's engagement comes in its first day, as on the real networks. A stand-in measures ages on its metrics clock
(``metrics_clock``, ``time.time`` by default) multiplied by ``metrics_speed`` (1: real time; 3600: an hour a second),
both settable (``set_metrics_clock``, ``set_metrics_speed``, ``/_standin/metrics_speed``), so a test can put a post
at exactly 24 hours of age, or watch a day go by in seconds.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

RISE_S = 6 * 3600.0  # a counter reaches 63 % of its ceiling six hours after the post


@dataclass(frozen=True)
class Counts:
    impressions: int
    likes: int
    reposts: int
    replies: int
    quotes: int
    bookmarks: int


def _draws(key: str, n: int) -> list[int]:
    digest = hashlib.sha256(key.encode()).digest()
    return [int.from_bytes(digest[2 * i:2 * i + 2], "big") for i in range(n)]


def _rise(age_s: float) -> float:
    return 1.0 - math.exp(-max(0.0, age_s) / RISE_S)


def counts(key: str, age_s: float) -> Counts:
    """The counters of the post with id ``key`` at ``age_s`` seconds old (0 before it exists)."""
    d = _draws(key, 6)
    likes = 5 + d[0] % 120
    ceilings = Counts(impressions=likes * 30 + d[1] % 500, likes=likes, reposts=likes // 4 + d[2] % 5,
                      replies=likes // 6 + d[3] % 4, quotes=likes // 10 + d[4] % 3, bookmarks=likes // 5 + d[5] % 4)
    rise = _rise(age_s)
    return Counts(*(math.floor(ceiling * rise) for ceiling in vars(ceilings).values()))


def clicks(key: str, age_s: float) -> tuple[int, int]:
    """X's non-public counters of the post with id ``key`` at ``age_s`` seconds old: (url_link_clicks,
    user_profile_clicks), rising as the public ones do."""
    d = _draws(key + "/clicks", 2)
    rise = _rise(age_s)
    return math.floor((10 + d[0] % 90) * rise), math.floor((2 + d[1] % 30) * rise)


def followers(key: str, age_s: float) -> int:
    """The followers of account ``key``, ``age_s`` seconds after the stand-in started: a few hundred, one more
    every two hours."""
    return 200 + _draws(key, 1)[0] % 800 + math.floor(max(0.0, age_s) / 7200)
