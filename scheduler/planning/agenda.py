"""The agenda: the plan built from the ledger, shared by preview, status and the service.

One function gathers the planner's inputs from the ledger, so what preview shows and what the
service publishes come from the same code with the same data.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from scheduler.config import Config
from scheduler.domain.content_hash import hash_of
from scheduler.domain.content_rules import blocking, rules_from_config
from scheduler.domain.models import QueuedPost
from scheduler.domain.pricing import dollars
from scheduler.domain.planner import SentRecord, plan
from scheduler.ledger.store import Store
from scheduler.planning.budget import plan_budget
from scheduler.planning.evergreen import candidates

# Slot-filling posts read ahead of the plan; pinned and retrying posts are always read whole.
# Far more than `count` so that series spacing can step over a long run of one article.
READ_AHEAD_FACTOR = 5
READ_AHEAD_MIN = 200
HEAD_PAGE = 250  # slot-filling posts read at once when the plan reads them as it goes


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
    """The plan: what goes out when. With review on, only approved posts fill it (see review.py)."""
    return upcoming_with_drafts(store, config, now, count=count, drafts=0)[0]


@dataclass(frozen=True)
class DraftSlot:
    """A post awaiting review, and where it would go if it were approved now (None: beyond the plan)."""

    post: QueuedPost
    content_hash: str
    at: datetime | None
    source: str | None


def upcoming_with_drafts(store: Store, config: Config, now: datetime, *, count: int,
                         drafts: int) -> tuple[list, list[DraftSlot]]:
    """The plan, and (review on) the first ``drafts`` posts awaiting review, each with the slot it would
    get if it alone were approved now. Drafts never fill the plan: a slot whose post is not approved
    goes to the next approved one, or stays empty with the reason "awaiting review"."""
    account = config.account
    settings = config.plan_settings()
    review = config["review"]["required"]
    # One snapshot: a publication committed by another service between two of these reads would
    # otherwise be half in the plan (its slot free, its post gone, or the reverse).
    with store.snapshot():
        history = [SentRecord(*row) for row in store.sent_since(account, history_start(config, now))]
        consumed = store.consumed_slots(account, now - settings.grace - timedelta(seconds=1))
        # Recycled wordings are new texts nobody has approved: with review on they are not planned.
        use_recycle = config["queue"]["evergreen"] and not review
        recycle = _recycle_candidates(store, config, now, count) if use_recycle else ()
        paused = store.account_state(account).paused
        money = plan_budget(store, config, now)
        if not review:
            # The same window of the queue as queue_window's, read as the planner goes (it stops at the
            # few hundred posts a month of slots takes, of the thousands the window may hold), so the
            # plan is made inside the snapshot. A post a content rule blocks is held (held_by_rule).
            held = HeldByRule(config)
            own_time = [p for p in store.scheduled_pending(account) if not held(p)]
            head = (p for p in _queue_head(store, account, count, len(own_time)) if not held(p))
            queue = heapq.merge(own_time, head, key=lambda p: p.position)
            entries = plan(now, config.calendar(), queue, history, settings, count=count, paused=paused,
                           consumed_slots=consumed, recycle=[p for p in recycle if not held(p)], own_time=own_time,
                           budget=money)
            if held.seen:
                entries = [replace(e, reason=HELD) if e.reason == "queue empty" else e for e in entries]
            return entries, []
        queue, waiting = queue_window(store, account, count, review=review)

    def planned(posts: list[QueuedPost], n: int) -> list:
        return plan(now, config.calendar(), posts, history, settings, count=n, paused=paused,
                    consumed_slots=consumed, recycle=recycle, budget=money)

    entries = planned(queue, count)
    if waiting:
        entries = [replace(e, reason="awaiting review") if e.reason == "queue empty" else e for e in entries]
    slots = []
    for draft, content_hash in waiting[:drafts]:
        with_it = list(heapq.merge(queue, [draft], key=lambda p: p.position))
        timed = sum(1 for p in with_it if p.pinned_at is not None or p.next_attempt_at is not None)
        ahead = sum(1 for p in with_it if p.position < draft.position) + timed
        found = next((e for e in planned(with_it, ahead + 1) if e.post is not None and e.post.post_id == draft.post_id),
                     None)
        slots.append(DraftSlot(draft, content_hash, found.at if found else None, found.source if found else None))
    return entries, slots


ONE_DAY = timedelta(days=1)
HELD = "held by a content rule"


class HeldByRule:
    """With review off, the one answer to "does a content rule hold this post?": a ``block`` finding of the rules
    in force ([review] rules) in any part. Nobody approves posts then, so a text that says "400 mg" would
    otherwise go out; it is left out of the plan (its slot goes to the next post) until its text changes or the
    rule does. review.policy.held lists such posts for the Review page and `review list`."""

    def __init__(self, config: Config):
        self.rules = rules_from_config(config["review"])
        self.seen = 0

    def findings(self, parts) -> list:
        return blocking(self.rules.check(parts))

    def reason(self, post) -> str | None:
        """Why the post (anything with ``parts``) is held, or None: what the engine checks on the row it claims,
        so a text edited to say "400 mg" after the plan was made is held at the send too."""
        found = self.findings(post.parts)
        return f"{HELD}: {found[0].describe()}" if found else None

    def __call__(self, post: QueuedPost) -> bool:
        found = bool(self.findings(post.parts))
        self.seen += found
        return found


def why_empty(entry, entries, config: Config) -> str:
    """Why a slot of the plan stays empty, in words for the person reading preview or the calendar: the planner's
    reason, and for "series spacing" the post of the same article that holds the slot back (one pinned at noon
    empties that morning's slot with a gap of a day). ``entries``: the plan the entry belongs to."""
    reason = entry.reason or ""
    if reason == "budget":
        return budget_words(config)
    if reason != "series spacing":
        return reason
    gap = config.plan_settings().series_gap
    tz = config.tz
    day = entry.at.astimezone(tz).date()

    def within(other: datetime) -> bool:
        if gap % ONE_DAY:
            return abs(other - entry.at) < gap
        return abs((other.astimezone(tz).date() - day).days) < gap.days

    near = [e for e in entries if e.post is not None and e.post.article_key and within(e.at)]
    rule = ("one tip of an article per local day" if gap == ONE_DAY
            else f"tips of one article at least {_duration(gap)} apart")
    if not near:
        return (f"series spacing: a tip of the next post's article went out within [calendar] series_gap = "
                f"{_duration(gap)} ({rule}), so this slot waits")
    holder = min(near, key=lambda e: abs(e.at - entry.at))
    when = holder.at.astimezone(tz)
    kind = "pinned" if holder.source == "pin" else "planned"
    at = f"{when:%a} {when.day} {when:%b}, {when:%H:%M}"
    return (f"series spacing: {holder.post.post_id}, of the same article, is {kind} at {at} "
            f"([calendar] series_gap = {_duration(gap)}: {rule}); the next tip waits for a later slot")


def budget_words(config: Config) -> str:
    """Why the budget empties a slot, in words."""
    limit = dollars(config["x"]["monthly_budget"] or 0)
    return f"budget: [x] monthly_budget = {limit} is spent or planned for this month (UTC)"


def _duration(gap: timedelta) -> str:
    if gap % ONE_DAY == timedelta(0):
        return f"{gap.days}d"
    if gap % timedelta(hours=1) == timedelta(0):
        return f"{int(gap.total_seconds() // 3600)}h"
    return f"{int(gap.total_seconds() // 60)}m"


def _queue_head(store: Store, account: str, count: int, own_time: int) -> Iterator[QueuedPost]:
    """queue_window's head without review: the first ``max(count * READ_AHEAD_FACTOR, READ_AHEAD_MIN)``
    slot-filling posts (no pin or retry time) in queue order, read a page at a time as they are asked for."""
    limit = max(count * READ_AHEAD_FACTOR, READ_AHEAD_MIN)
    taken = 0
    for post in store.iter_pending(account, page=min(limit + own_time, HEAD_PAGE)):
        if post.pinned_at is None and post.next_attempt_at is None:
            yield post
            taken += 1
            if taken >= limit:
                return


def queue_window(store: Store, account: str, count: int, *,
                  review: bool) -> tuple[list[QueuedPost], list[tuple[QueuedPost, str]]]:
    """Every pinned or retrying post, plus the head of the slot-filling queue, in queue order; with
    review on, only approved ones, and apart the posts awaiting review met on the way (with their hash)."""
    own_time = store.scheduled_pending(account)
    limit = max(count * READ_AHEAD_FACTOR, READ_AHEAD_MIN)
    head = []
    # One page holds the head whatever the pinned and retrying posts among it (a page of ``limit`` alone
    # would end a few posts short, and the next page would read ``limit`` more rows to take those few).
    for post in store.iter_pending(account, page=limit + len(own_time)):
        if post.pinned_at is None and post.next_attempt_at is None:
            head.append(post)
            if len(head) >= limit and not review:
                break
            if review and len(head) >= limit and len(head) % limit == 0 and _approved_count(store, head) >= limit:
                break
    merged = list(heapq.merge(own_time, head, key=lambda p: p.position))
    if not review:
        return merged, []
    approvals = store.reviews(p.post_id for p in merged)
    approved, waiting = [], []
    for post in merged:
        digest = hash_of(post)
        review_row = approvals.get(post.post_id)
        if review_row is not None and review_row.approved_hash == digest:
            approved.append(post)
        else:
            waiting.append((post, digest))
    return approved, waiting


def _approved_count(store: Store, posts: list[QueuedPost]) -> int:
    approvals = store.reviews(p.post_id for p in posts)
    return sum(1 for p in posts
               if (r := approvals.get(p.post_id)) is not None and r.approved_hash == hash_of(p))


def _recycle_candidates(store: Store, config: Config, now: datetime, count: int) -> list[QueuedPost]:
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
