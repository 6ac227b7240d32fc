"""An X account's budget against the ledger: what this month has spent, and what metric reads may still spend
once the posts planned for the rest of the month are paid for (the rule itself: ``domain/budget.py``)."""

from __future__ import annotations

from datetime import datetime

from scheduler.config import Config
from scheduler.domain import budget


def month_spent(store, config: Config, now: datetime) -> int:
    """What the chosen account's billed calls cost this UTC month, in millionths of a dollar."""
    start, end = budget.billing_month(now)
    return sum(store.spend_micro_usd(account=config.account, start=start, end=end).values())


def planned_posts_cost(store, config: Config, now: datetime) -> int:
    """What the posts planned for the rest of this month will cost. Not yet forecast here: 0 (issue 21 adds the
    forecast from the plan)."""
    return 0


def read_allowance(store, config: Config, now: datetime) -> int | None:
    """What metric reads of the chosen account may still spend this month; None when it has no budget."""
    limit = config["x"]["monthly_budget"]
    if limit is None or config.network != "x":
        return None  # only X bills reads
    return budget.read_allowance(limit, month_spent(store, config, now), planned_posts_cost(store, config, now))
