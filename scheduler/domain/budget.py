"""The X budget rule: what a month may still spend, posts first.

X bills by calendar month; this scheduler counts a month in UTC (the ledger stores UTC), from the first of the
month 00:00 UTC to the next. ``[x] monthly_budget`` caps what one X account may spend in such a month. Posts come
first: a planned post may be refused only by the budget itself, while metric reads may use only what is left after
every post still planned this month is paid for. Amounts are millionths of a dollar (``domain/pricing.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime


def billing_month(now: datetime) -> tuple[datetime, datetime]:
    """[start, end) of the UTC calendar month holding ``now`` (aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    at = now.astimezone(UTC)
    start = at.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    end = start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)
    return start, end


def may_post(limit: int | None, spent: int, committed: int, price: int) -> bool:
    """May a post costing ``price`` go out, given what the month has ``spent`` and what posts planned before it
    have ``committed``? ``limit`` None: no budget."""
    return limit is None or spent + committed + price <= limit


def read_allowance(limit: int | None, spent: int, planned_posts: int) -> int | None:
    """What metric reads may still spend this month: the budget less what was spent and what the posts planned for
    the rest of the month will cost (posts come first). None: no budget, reads are not capped by money."""
    if limit is None:
        return None
    return max(0, limit - spent - planned_posts)
