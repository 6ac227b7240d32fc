"""When a failed publication or look-up is tried again: backoff with jitter, the rate-limit wait, the look-up
spacing and when to give up, from ``[publisher]``."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(minutes=30)
    rate_limit_max_wait: timedelta = timedelta(hours=1)
    reconcile_delay: timedelta = timedelta(seconds=30)
    # A look-up that fails (5xx, 429, no answer) is tried again, spaced like retries and never before the network's
    # reset time, until this many have failed in a row or this long has passed since the first: then `unknown`.
    lookup_max_failures: int = 10
    lookup_give_up_after: timedelta = timedelta(hours=6)

    def delay(self, attempt: int, rng: random.Random) -> timedelta:
        """Exponential backoff with "equal jitter": half fixed, half random, capped."""
        base = min(self.backoff * (2 ** max(attempt - 1, 0)), self.backoff_max)
        return base / 2 + base / 2 * rng.random()

    @classmethod
    def from_config(cls, publisher: dict) -> RetryPolicy:
        return cls(
            max_attempts=publisher["max_attempts"],
            backoff=publisher["backoff"],
            backoff_max=publisher["backoff_max"],
            rate_limit_max_wait=publisher["rate_limit_max_wait"],
            reconcile_delay=publisher["reconcile_delay"],
            lookup_max_failures=publisher.get("lookup_max_failures", cls.lookup_max_failures),
            lookup_give_up_after=publisher.get("lookup_give_up_after", cls.lookup_give_up_after),
        )

    def lookup_delay(self, failures: int) -> timedelta:
        """How long after its ``failures``-th failure in a row a look-up is tried again: ``reconcile_delay``,
        doubling, at most ``backoff_max``."""
        return min(self.reconcile_delay * (2 ** max(failures - 1, 0)), max(self.backoff_max, self.reconcile_delay))
