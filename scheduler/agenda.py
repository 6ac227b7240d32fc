"""The agenda: the plan built from the ledger, shared by preview, status and the service.

One function gathers the planner's inputs from the ledger, so what preview shows and what the
service publishes come from the same code with the same data.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.config import Config
from scheduler.models import QueuedPost
from scheduler.store import Store

# Slot-filling posts read ahead of the plan; pinned and retrying posts are always read whole.
# Far more than `count` so that series spacing can step over a long run of one article.
READ_AHEAD_FACTOR = 5
READ_AHEAD_MIN = 200


def history_start(config: Config, now: datetime) -> datetime:
    """How far back publications matter: spacing looks at its gaps, a monthly cap at the local month."""
    settings = config.plan_settings()
    start = now - max(settings.series_gap, settings.min_spacing, timedelta(days=1)) - timedelta(days=1)
    if settings.monthly_cap is not None:
        start = min(start, month_start(config, now))
    return start


def month_start(config: Config, now: datetime) -> datetime:
    local = now.astimezone(config.tz)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def upcoming(store: Store, config: Config, now: datetime, *, count: int) -> list:
    from scheduler.planner import SentRecord, plan

    account = config.account
    settings = config.plan_settings()
    # One snapshot: a publication committed by another service between two of these reads would
    # otherwise be half in the plan (its slot free, its post gone, or the reverse).
    with store.snapshot():
        history = [
            SentRecord(p.post_id, p.article_key, p.slot_at, len(p.parts))
            for p in store.published_since(account, history_start(config, now))
        ]
        consumed = store.consumed_slots(account, now - settings.grace - timedelta(seconds=1))
        queue = _queue_window(store, account, count)
        recycle = _recycle_candidates(store, config, now, count) if config["queue"]["evergreen"] else ()
        paused = store.account_state(account).paused
    return plan(
        now,
        config.calendar(),
        queue,
        history,
        settings,
        count=count,
        paused=paused,
        consumed_slots=consumed,
        recycle=recycle,
    )


def _queue_window(store: Store, account: str, count: int) -> list[QueuedPost]:
    """Every pinned or retrying post, plus the head of the slot-filling queue, in queue order."""
    own_time = store.scheduled_pending(account)
    limit = max(count * READ_AHEAD_FACTOR, READ_AHEAD_MIN)
    head = []
    for post in store.iter_pending(account, page=limit):
        if post.pinned_at is None and post.next_attempt_at is None:
            head.append(post)
            if len(head) >= limit:
                break
    return list(heapq.merge(own_time, head, key=lambda p: p.position))


def _recycle_candidates(store: Store, config: Config, now: datetime, count: int) -> list[QueuedPost]:
    from scheduler.evergreen import candidates

    return candidates(store, config, now, limit=count)


@dataclass(frozen=True)
class QuotaUsage:
    today: int
    month: int


def quota_usage(store: Store, config: Config, now: datetime) -> QuotaUsage:
    """X posts used today and this month, in the account's local calendar (threads count per part)."""
    tz = config.tz
    local_now = now.astimezone(tz)
    today = month = 0
    for post in store.published_since(config.account, month_start(config, now)):
        when = post.slot_at.astimezone(tz)
        if (when.year, when.month) == (local_now.year, local_now.month):
            month += len(post.part_ids) or len(post.parts)
            if when.date() == local_now.date():
                today += len(post.part_ids) or len(post.parts)
    return QuotaUsage(today, month)


def planned_times(store: Store, config: Config, now: datetime, *, count: int) -> dict[str, datetime]:
    """When the plan puts each of the next ``count`` posts (the same plan preview shows)."""
    return {entry.post.post_id: entry.at for entry in upcoming(store, config, now, count=count) if entry.post}
