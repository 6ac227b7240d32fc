"""The calendar page's data: a week or a month of the account's local days, with the plan's entries
(exactly what `preview --json` lists for those days) and the posts already sent in them.

With review on, the posts awaiting review are kept apart from the plan, as `preview` keeps them: each
shown on the day of the slot it would get if approved now (review.waiting, as `review list` gives
``would_go_at``), never as a planned post."""

from __future__ import annotations

import calendar as _cal
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from scheduler.app import review_views, views
from scheduler.config import Config
from scheduler.ledger.store import Store
from scheduler.planning import agenda
from scheduler.review import policy as review

MAX_PLAN = 10000  # preview's own --count limit
MONTH_CELL = 8  # entries listed in one day of the month view


@dataclass
class Day:
    day: date
    in_range: bool
    planned: list = field(default_factory=list)  # views.entry_json dicts
    sent: list = field(default_factory=list)  # views.post_json dicts
    drafts: list = field(default_factory=list)  # review_views.item_json dicts: awaiting review, NOT going out
    more: int = 0  # month view: entries not listed in the day's cell (the week view lists them all)


@dataclass
class CalendarPage:
    view: str  # week | month
    start: date  # first day shown (a Monday)
    end: date  # the day after the last day shown
    first: date  # first day of the week or month asked for
    previous: date
    next: date
    days: list[Day]
    review: dict | None = None  # with review on: how many posts await review, how many are shown, blocked

    @property
    def weeks(self) -> list[list[Day]]:
        return [self.days[i:i + 7] for i in range(0, len(self.days), 7)]


def span(view: str, around: date) -> tuple[date, date, date, date, date]:
    """(first day asked for, first shown, end shown, previous period's first day, next period's first day)."""
    if view == "week":
        first = around - timedelta(days=around.weekday())
        return first, first, first + timedelta(days=7), first - timedelta(days=7), first + timedelta(days=7)
    first = around.replace(day=1)
    last = first.replace(day=_cal.monthrange(first.year, first.month)[1])
    start = first - timedelta(days=first.weekday())
    end = last + timedelta(days=7 - last.weekday())
    previous = (first - timedelta(days=1)).replace(day=1)
    return first, start, end, previous, last + timedelta(days=1)


def planned_between(store: Store, config: Config, now: datetime, start: datetime, end: datetime) -> list:
    """The plan's entries with ``start <= at < end``: the preview from ``now``, read as far as ``end``."""
    if end <= now - config["calendar"]["grace"]:
        return []
    entries = agenda.upcoming(store, config, now, count=min(entries_before(store, config, now, end), MAX_PLAN))
    return [e for e in entries if start <= e.at < end]


def entries_before(store: Store, config: Config, now: datetime, end: datetime) -> int:
    """At most how many entries the plan holds before ``end``: one per calendar slot from where planning
    starts (``now - grace``), plus one per post with a time of its own. Planning that many reaches
    ``end`` in one pass (a plan's entries before ``end`` are the same however far it goes on)."""
    from itertools import takewhile

    slots = takewhile(lambda at: at < end, config.calendar().slots_after(now - config["calendar"]["grace"]))
    return 1 + sum(1 for _ in slots) + len(store.scheduled_pending(config.account))


def calendar_page(store: Store, config: Config, now: datetime, *, view: str, around: date | None) -> CalendarPage:
    tz = config.tz
    around = around or now.astimezone(tz).date()
    first, start, end, previous, nxt = span(view, around)
    start_at = datetime.combine(start, time(0), tz)
    end_at = datetime.combine(end, time(0), tz)
    days = {start + timedelta(days=i): Day(start + timedelta(days=i), view == "week" or
                                           (start + timedelta(days=i)).month == first.month)
            for i in range((end - start).days)}
    with store.snapshot():  # the plan, the sent posts and the drafts as of one moment of the ledger
        plan = planned_between(store, config, now, start_at, end_at)
        for entry in plan:
            shown = views.entry_json(entry, tz) | ({"why": agenda.why_empty(entry, plan, config)} if entry.post is None else {})
            days[entry.at.astimezone(tz).date()].planned.append(shown)
        _place_sent(store, config, days, start_at, end_at, listed=MONTH_CELL if view == "month" else None)
        review_summary = None
        if config["review"]["required"]:
            review_summary = _place_drafts(store, config, now, days, start_at, end_at)
    if view == "month":
        for day in days.values():
            _fit_month_cell(day)
    return CalendarPage(view, start, end, first, previous, nxt, list(days.values()), review_summary)


def _place_sent(store: Store, config: Config, days: dict, start_at: datetime, end_at: datetime, *,
                listed: int | None) -> None:
    """The posts sent (or being sent, or of unknown outcome) for a slot in the range, each on its day. Two
    columns of each are read to place them; the full record only of those a cell lists (``listed`` per
    day; None: all). The others are counted in ``more``: a month of a busy account is ~1,500 posts."""
    shown: dict[date, list[str]] = {}
    for post_id, at in store.published_slots(config.account, start_at, end_at):
        day = days.get(at.astimezone(config.tz).date())
        if day is None:
            continue
        ids = shown.setdefault(day.day, [])
        if listed is None or len(ids) < listed:
            ids.append(post_id)
        else:
            day.more += 1
    records = store.posts_by_id([post_id for ids in shown.values() for post_id in ids])
    for day, ids in shown.items():
        days[day].sent = [views.post_json(records[post_id], config) for post_id in ids if post_id in records]


def _fit_month_cell(day: Day) -> None:
    """A month cell lists its first ``MONTH_CELL`` entries (sent, then planned, then drafts) and counts the
    rest: a calendar posting every half hour would otherwise put ~1,500 cards on one page. (The sent posts
    beyond the first ``MONTH_CELL`` were counted in ``more`` already, without being read.)"""
    budget = MONTH_CELL
    for name in ("sent", "planned", "drafts"):
        entries = getattr(day, name)
        day.more += max(0, len(entries) - budget)
        setattr(day, name, entries[:budget])
        budget = max(0, budget - len(entries))


def _place_drafts(store: Store, config: Config, now: datetime, days: dict, start_at: datetime,
                  end_at: datetime) -> dict:
    items = review.waiting(store, config, now)
    shown = 0
    for item in items:
        if item.would_go_at is not None and start_at <= item.would_go_at < end_at:
            days[item.would_go_at.astimezone(config.tz).date()].drafts.append(review_views.item_json(item, config))
            shown += 1
    return {"waiting": len(items), "shown": shown, "blocked": sum(1 for i in items if i.blocked)}
