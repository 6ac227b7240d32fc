"""Recording what X bills: every billed call (a post, a post with a link, a metric read, the look-up read after a
lost answer) goes into the ledger with its price from ``[x.pricing]`` at the moment it was made, so a later price
change never rewrites what a past month cost."""

from __future__ import annotations

from datetime import datetime

from scheduler.config import Config
from scheduler.domain.pricing import call_price
from scheduler.ledger.metrics import BilledCall


def record_call(store, config: Config, kind: str, now: datetime, *, units: int = 1, post_id: str | None = None) -> int:
    """Record one billed X call of the chosen account; returns its price in millionths of a dollar. A read that
    returned nothing (``units`` 0) is not billed and not recorded."""
    if units == 0:
        return 0
    price = call_price(config["x"]["pricing"], kind, units)
    store.record_billed_call(BilledCall(account=config.account, network="x", kind=kind, units=units,
                                        price_micro_usd=price, at=now, post_id=post_id))
    return price
