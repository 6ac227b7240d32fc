"""An X account's month in money, from the ledger and the plan: spent so far, what the posts planned for the rest of
the UTC month will cost, the forecast (their sum) against ``[x] monthly_budget``, and what metric reads may still
spend once those posts are paid for (posts come first: ``domain/budget.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from itertools import takewhile

from scheduler.config import Config
from scheduler.domain import budget
from scheduler.domain.pricing import PRICES_CHECKED, dollars
from scheduler.planning import agenda
from scheduler.planning.budget import billed, month_spent, planned_posts_cost

# Entries planned beyond the month's calendar slots: its pins and retries.
EXTRA_ENTRIES = 50


@dataclass(frozen=True)
class MonthMoney:
    """An X account's month in millionths of a dollar: spent so far, the plan's posts still to come this month,
    and the budget (None: none)."""

    account: str
    month: str  # "2026-12", a UTC month as X bills it
    spent: int
    planned: int
    budget: int | None
    waiting: int = 0  # posts the budget leaves waiting this month (slots it empties)

    @property
    def forecast(self) -> int:
        return self.spent + self.planned

    @property
    def left(self) -> int | None:
        return None if self.budget is None else max(0, self.budget - self.spent)


def rest_of_month_plan(store, config: Config, now: datetime) -> list:
    """The plan from ``now`` to the end of its UTC month (and a little past it)."""
    _, end = budget.billing_month(now)
    slots = sum(1 for _ in takewhile(lambda at: at < end, config.calendar().slots_after(now)))
    return agenda.upcoming(store, config, now, count=slots + EXTRA_ENTRIES)


def month_money(store, config: Config, now: datetime) -> MonthMoney | None:
    """The chosen account's month of ``now`` in money; None when its network does not bill (only X does)."""
    if not billed(config):
        return None
    start, end = budget.billing_month(now)
    entries = rest_of_month_plan(store, config, now)
    waiting = sum(1 for e in entries if e.reason == "budget" and e.at < end)
    return MonthMoney(config.account, f"{start:%Y-%m}", month_spent(store, config, now),
                      planned_posts_cost(entries, config, now), config["x"]["monthly_budget"], waiting)


def money_json(money: MonthMoney | None) -> dict | None:
    """The month in money for `status --json` and /api/v1/status: millionths of a dollar (exact) and dollars."""
    if money is None:
        return None
    micro = {"spent": money.spent, "planned": money.planned, "forecast": money.forecast, "budget": money.budget,
             "left": money.left}
    return {"month": money.month, "basis": "UTC calendar month, as X bills",
            **{f"{k}_micro_usd": v for k, v in micro.items()},
            **{f"{k}_usd": None if v is None else dollars(v) for k, v in micro.items()},
            "waiting_for_budget": money.waiting, "prices_checked": PRICES_CHECKED}


def read_allowance(store, config: Config, now: datetime) -> int | None:
    """What metric reads of the chosen account may still spend this month, after every post the plan still has to
    pay for this month; None when it has no budget (or its network does not bill reads)."""
    limit = config["x"]["monthly_budget"]
    if limit is None or not billed(config):
        return None
    planned = planned_posts_cost(rest_of_month_plan(store, config, now), config, now)
    return budget.read_allowance(limit, month_spent(store, config, now), planned)
