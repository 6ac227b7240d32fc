"""An X account's money against the ledger and the plan: what one post costs, what this month has spent, what the
posts planned for the rest of the month will cost (the forecast), and what metric reads may still spend. The rule
itself (posts first, the UTC billing month) is ``domain/budget.py``; prices are ``domain/pricing.py``'s."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from scheduler.config import Config
from scheduler.domain import budget
from scheduler.domain.planner import Budget
from scheduler.domain.pricing import Pricing, call_price
from scheduler.networks.factory import destination
from scheduler.text.x_length import url_spans


def part_kind(text: str) -> str:
    """How X bills creating one post with this text: "post_with_link" when it holds a link (as twitter-text finds
    links, the way X does), else "post". The one rule the plan's forecast and the recorded calls share."""
    return "post_with_link" if url_spans(text) else "post"


def post_cost(pricing: Pricing, parts: Sequence[str]) -> int:
    """What sending a post (each thread part one billed post) costs, in millionths of a dollar."""
    return sum(call_price(pricing, part_kind(part)) for part in parts)


def billed(config: Config) -> bool:
    """Whether the chosen account's posts are billed: X bills; Bluesky, Mastodon and the outbox do not (posts go
    where ``networks.factory.destination`` says, the rule `status` and the service tell it by)."""
    return destination(config)["kind"] == "x"


def plan_budget(store, config: Config, now: datetime) -> Budget | None:
    """The budget the planner keeps for the chosen account (None: no ``[x] monthly_budget``, or not X)."""
    limit = config["x"]["monthly_budget"]
    if limit is None or not billed(config):
        return None
    pricing = config["x"]["pricing"]
    cost = functools.lru_cache(maxsize=4096)(lambda parts: post_cost(pricing, parts))
    return Budget(limit=limit, spent=month_spent(store, config, now), cost=lambda post: cost(tuple(post.parts)))


def month_spent(store, config: Config, now: datetime) -> int:
    """What the chosen account's billed calls cost this UTC month, in millionths of a dollar."""
    start, end = budget.billing_month(now)
    return sum(store.spend_micro_usd(account=config.account, start=start, end=end).values())


def planned_posts_cost(entries, config: Config, now: datetime) -> int:
    """What the posts of a plan (``agenda.upcoming``'s entries) due in this UTC month will cost."""
    if not billed(config):
        return 0
    pricing = config["x"]["pricing"]
    _, end = budget.billing_month(now)
    return sum(post_cost(pricing, e.post.parts) for e in entries if e.post is not None and e.at < end)
