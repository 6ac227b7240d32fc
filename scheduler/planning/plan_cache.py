"""Plans kept between requests, for as long as they cannot have changed.

The dashboard asks for the same plan over and over (every open page refreshes itself; a month page plans
up to ~1,700 entries and reads a month of sent posts), while the plan changes only when the ledger does
or when time alone moves it on. A cached value is keyed by (account, ledger revision, what was asked) and
served only while ``now`` stays in ``[the now it was computed for, stable_until(...))``:

- the ledger's revision (``accounts.revision``) is bumped by every change a plan reads, in the same
  transaction, by whichever process makes it (the CLI, the service, the dashboard): a new revision is a
  new key, so a change is seen by the next request;
- ``stable_until`` is the first moment at which time alone could change the plan: the next slot passing
  (the latest past slot is the one still due), the oldest slot of the grace window leaving it, a pin or
  retry coming due or leaving the grace window, a slot or pin entering the planning horizon, the next
  local midnight (today's date), and whatever the caller adds (the calendar's range ending). Before that
  moment the planner, given the same ledger, gives the same entries (planner.py: an entry's time is its
  slot's or pin's, never ``now``).

Evergreen mode is not cached: its candidates depend on ``now`` through cooldowns and duplicate windows.

Concurrent requests for the same key share one computation (single flight): the first computes, the
others wait for it and take its result. Each account keeps its few most recent values (``PER_ACCOUNT``),
and a newer revision evicts the older ones at once, so the memory held stays small.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from itertools import islice
from typing import Any

from scheduler.config import Config
from scheduler.ledger.store import Store

PER_ACCOUNT = 6  # values kept per account: week and month pages, a preview or two, another date


def cacheable(config: Config) -> bool:
    """Whether a plan for this account can be cached at all (see the module's note on evergreen)."""
    return not (config["queue"]["evergreen"] and not config["review"]["required"])


def stable_until(store: Store, config: Config, now: datetime, *, also: Iterable[datetime] = ()) -> datetime:
    """The first moment after ``now`` at which time alone could change this account's plan (the ledger
    staying as it is); ``now`` itself when it could change at once. ``also``: more such moments."""
    settings = config.plan_settings()
    calendar = config.calendar()
    grace, horizon = settings.grace, settings.horizon
    # Moments from which on the plan may differ ...
    changes_at = list(also)
    changes_at += islice(calendar.slots_after(now, inclusive=False), 1)  # the next slot becomes the latest past
    changes_at += (at - horizon for at in islice(calendar.slots_after(now + horizon, inclusive=False), 1))
    local = now.astimezone(config.tz)
    changes_at.append(datetime.combine(local.date() + timedelta(days=1), time(0), config.tz))  # today's date
    # ... and moments just after which it may differ: a slot, pin or retry is still in the grace window at
    # exactly ``its time + grace`` (the planner starts at ``now - grace``, inclusive).
    changes_after = [at + grace for at in islice(calendar.slots_after(now - grace), 1)]
    for at in store.own_moments(config.account):
        changes_at += (at, at - horizon)  # (coming due does not move a pin; counted anyway, to be safe)
        changes_after.append(at + grace)
    if now in changes_after:
        return now
    return min((at for at in changes_at + changes_after if at > now), default=now + horizon)


@dataclass
class _Value:
    value: Any
    computed_for: datetime  # the now it was computed for
    until: datetime  # exclusive


class PlanCache:
    """Values computed from the plan, by (account, revision, key), each valid for a span of ``now``."""

    def __init__(self, per_account: int = PER_ACCOUNT):
        self.per_account = per_account
        self._lock = threading.Lock()
        self._values: dict[str, OrderedDict[tuple, _Value]] = {}
        self._flights: dict[tuple, threading.Lock] = {}
        self.computed = 0  # how many times a value was computed (tests and the bench read it)

    def get(self, store: Store, config: Config, now: datetime, key: Hashable,
            compute: Callable[[], tuple[Any, Iterable[datetime]]]) -> Any:
        """The value for ``key`` at ``now``: cached, or ``compute()`` -> (value, extra moments at which time
        changes it), run inside one ledger snapshot with the revision read in it."""
        account = config.account
        if not cacheable(config):
            return compute()[0]
        revision = store.revision(account)
        while True:
            with self._lock:
                hit = self._lookup(account, (revision, key), now)
                if hit is not None:
                    return hit.value
                flight = self._flights.get((account, revision, key))
                owner = flight is None
                if owner:
                    flight = self._flights[(account, revision, key)] = threading.Lock()
                    flight.acquire()
            if owner:
                try:
                    return self._compute(store, config, now, key, compute)
                finally:
                    with self._lock:
                        del self._flights[(account, revision, key)]
                    flight.release()
            # Another request is computing this very value: wait for it, then look again (if it failed,
            # or its value does not cover this request's now, this request computes its own).
            with flight:
                pass
            revision = store.revision(account)

    def _compute(self, store: Store, config: Config, now: datetime, key: Hashable, compute) -> Any:
        with store.snapshot():
            revision = store.revision(config.account)  # the revision of exactly what compute() reads
            value, moments = compute()
            until = stable_until(store, config, now, also=moments)
        with self._lock:
            self.computed += 1
            if until > now:
                self._keep(config.account, (revision, key), _Value(value, now, until))
        return value

    def _lookup(self, account: str, key: tuple, now: datetime) -> _Value | None:
        values = self._values.get(account)
        found = values.get(key) if values else None
        if found is None or not found.computed_for <= now < found.until:
            return None
        values.move_to_end(key)
        return found

    def _keep(self, account: str, key: tuple, value: _Value) -> None:
        values = self._values.setdefault(account, OrderedDict())
        for old in [k for k in values if k[0] < key[0]]:  # an older revision: never served again
            del values[old]
        values[key] = value
        values.move_to_end(key)
        while len(values) > self.per_account:
            values.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._values.clear()
