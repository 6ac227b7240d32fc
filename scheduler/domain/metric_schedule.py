"""When a sent post's metrics are read: the decaying schedule, and the one rule of which reading is due.

``[metrics] schedule`` lists offsets after sending (default 1 h, 24 h, 7 d and 30 d). A reading at
``sent_at + offset`` falls due at that moment and stays due until the post is read at or after it. One reading
covers every offset it is at or after, so readings missed while no service ran are made up by ONE reading, not one
per missed offset. A post sent ``[metrics] max_age`` ago or longer is not read any more: a first reading of a long
history would cost a read per post on X, and its figures barely move by then.

The ledger finds the posts due with this same rule: ``windows`` turns it into pairs (sent at or before this moment,
newest reading younger than this many seconds after sending) that a query tests on two stored values, the post's
``sent_at`` and its newest reading's age (``read_age``), so SQL needs no date arithmetic of its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

@dataclass(frozen=True)
class Window:
    """One offset of the schedule as of ``now``: a post sent at or before ``sent_before`` has passed it, and a
    reading at least ``age_s`` seconds after sending covers it."""

    sent_before: datetime
    age_s: int


def windows(offsets: Iterable[timedelta], now: datetime) -> tuple[Window, ...]:
    """The schedule's offsets as of ``now``, shortest first (each in whole seconds)."""
    return tuple(Window(now - timedelta(seconds=s), s) for s in sorted({int(o.total_seconds()) for o in offsets}))


def read_age(sent_at: datetime, read_at: datetime) -> int:
    """How long after sending a reading was taken, in whole seconds (never negative: a clock that stepped back
    counts as a reading at once)."""
    return max(0, int((read_at - sent_at).total_seconds() // 1))


def is_due(sent_at: datetime, read_age_s: int | None, offsets: Iterable[timedelta], now: datetime,
           max_age: timedelta) -> bool:
    """Is a reading of this post due at ``now``? ``read_age_s``: its newest reading's ``read_age`` (None: never
    read). Due when an offset has passed that no reading covers, and the post is younger than ``max_age``."""
    if sent_at <= now - max_age:
        return False
    return any(sent_at <= w.sent_before and (read_age_s is None or read_age_s < w.age_s)
               for w in windows(offsets, now))


def due_since(sent_at: datetime, read_age_s: int | None, offsets: Iterable[timedelta], now: datetime,
              max_age: timedelta) -> datetime | None:
    """Since when the reading due at ``now`` has been due (sent_at + the longest offset passed), or None."""
    if not is_due(sent_at, read_age_s, offsets, now, max_age):
        return None
    passed = [w.age_s for w in windows(offsets, now) if sent_at <= w.sent_before]
    return sent_at + timedelta(seconds=max(passed))


def next_due(sent_at: datetime, read_age_s: int | None, offsets: Iterable[timedelta],
             max_age: timedelta) -> datetime | None:
    """When the next reading falls due after the newest one (the first offset it does not cover), or None when
    every offset is covered or falls at or past ``max_age``."""
    for seconds in sorted({int(o.total_seconds()) for o in offsets}):
        at = sent_at + timedelta(seconds=seconds)
        if read_age_s is not None and read_age_s >= seconds:
            continue
        return at if timedelta(seconds=seconds) < max_age else None
    return None
