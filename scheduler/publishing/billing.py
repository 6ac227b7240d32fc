"""Recording what X bills: every billed call (a post, a post with a link, a metric read, the followers read, the
look-up read after a lost answer) goes into the ledger with its price from ``[x.pricing]`` at the moment it was made, so a later price
change never rewrites what a past month cost."""

from __future__ import annotations

import logging
import threading
from datetime import datetime

from scheduler.config import Config
from scheduler.domain.pricing import call_price
from scheduler.ledger.metrics import BilledCall
from scheduler.planning.budget import part_kind

log = logging.getLogger("scheduler.publishing")


def record_call(store, config: Config, kind: str, now: datetime, *, units: int = 1, post_id: str | None = None) -> int:
    """Record one billed X call of the chosen account; returns its price in millionths of a dollar. A read that
    returned nothing (``units`` 0) is not billed and not recorded."""
    if units == 0:
        return 0
    price = call_price(config["x"]["pricing"], kind, units)
    store.record_billed_call(BilledCall(account=config.account, network="x", kind=kind, units=units,
                                        price_micro_usd=price, at=now, post_id=post_id))
    return price


class Billing:
    """What one X account's publishing engine tells the ledger X billed: each post created (priced by its text,
    ``planning/budget.part_kind``), found after a lost answer (X billed its creation all the same), and each
    look-up read (the posts X returned to it, counted by the publisher). Recording never stops a publication: a
    failure to record is logged and the post goes on."""

    def __init__(self, store, config: Config, clock):
        self._store, self._config, self._clock = store, config, clock
        self._reads_seen = 0
        self._lock = threading.Lock()

    def created(self, post_id: str, text: str) -> None:
        self._record(part_kind(text), 1, post_id)

    def read(self, post_id: str, publisher) -> None:
        with self._lock:
            total = getattr(publisher, "posts_read", 0)
            units, self._reads_seen = total - self._reads_seen, total
        self._record("lookup_read", units, post_id)

    def _record(self, kind: str, units: int, post_id: str) -> None:
        try:
            record_call(self._store, self._config, kind, self._clock(), units=units, post_id=post_id)
        except Exception as exc:  # the post is out: a failure to count its price must not undo that
            log.error("could not record X's price of a %s for %s (%s): month-to-date spend will be short",
                      kind, post_id, type(exc).__name__)
