"""One account's publishing inside the service (a lane), and whether one of its runs may publish now: the rule
that keeps an account's posts in order across several services (replicas) on one ledger.

A run publishes only while it holds the account's turn (ledger/turns.py: on PostgreSQL one process at a time per
account) and only when no other process has a post of the account left ``sending``: that post goes first. A live
holder finishes it (its writes wake this service); one that is gone (``publishing/liveness.py``: heartbeat too old,
or its pid gone on this very machine) has it taken back here, to be looked up before anything is sent again. A live
replica's claim is never taken: its instance beats like any other.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from scheduler.config import Config
from scheduler.ledger.turns import Turn
from scheduler.networks.factory import NETWORK_NAMES, destination
from scheduler.publishing.liveness import instance_is_alive

log = logging.getLogger("scheduler.service")

# A run that may not publish now (another process holds the account's turn, or a post of it left sending) looks
# again this long later, unless that process's own writes wake the service sooner (NOTIFY on PostgreSQL).
LOOK_AGAIN = timedelta(seconds=1)


@contextmanager
def held(lock: threading.Lock) -> Iterator[None]:
    """Release a lock already acquired when the block ends."""
    try:
        yield
    finally:
        lock.release()


class Lane:
    """One account's publishing: its engine (publisher, retries, pause), its plan and its claims. Lanes share
    nothing but the ledger, the timer and the pool of workers (where a lane takes at most one worker at a time),
    so one account failing, paused or rate-limited never holds up or changes another's posts."""

    def __init__(self, config: Config, instance: str, engine) -> None:
        self.config = config
        self.name = config.account_name
        self.instance = instance
        self.engine = engine
        self.busy = threading.Lock()
        self.planning = threading.Lock()
        self.current: str | None = None
        self.revision = -1
        # The highest revision a change notification told while a run held the lane: past the run's last plan, the
        # run plans again when it ends.
        self.notified = -1
        self.last_outcome: str | None = None
        self.beaten_outcome: str | None = None  # the last outcome a heartbeat wrote
        self.review_mismatch = False  # the ledger requires review and this lane's config does not
        # Posts the last run found it could not take (claimed elsewhere, no longer pending, not approved) and the
        # ledger revision then: until the ledger changes, the plan's next post after them is what is scheduled,
        # never them again at once (a post that cannot be taken, planned "now" again and again, was a busy loop).
        self.held: set[str] = set()
        self.held_revision = -1

    def announce(self, now: datetime, stale_after: timedelta, told: set[tuple[int, str]]) -> None:
        """The lane's start in the log: the other services running on the ledger (each named once in ``told``,
        not once per account), this account's calendar and publisher, and a warning when it goes to the outbox."""
        store, config = self.engine.store, self.config
        others = [i for i in store.instances(config.account) if i.instance != self.instance
                  and (i.pid, i.host) not in told and instance_is_alive(i, now, stale_after)]
        for other in others:
            told.add((other.pid, other.host))
            log.warning("another instance is active on this ledger: pid %s on %s (last beat %s); "
                        "both can run safely - each post is claimed by one of them only%s",
                        other.pid, other.host, other.beat_at.isoformat(timespec="seconds"),
                        ", and each account published by one at a time, in order" if store.turns.shared else "")
        log.info("service started: @%s, %s, publisher %s, instance %s", config.handle,
                 config.calendar().describe(), self.engine.publisher.name, self.instance)
        if self.engine.publisher.name == "outbox":
            why = destination(config)["why"] or "the outbox was chosen"
            log.warning("posts of %s go to the outbox file %s, NOT to %s (%s); set its credentials (README, "
                        "Credentials) to publish", self.name, self.engine.publisher.path,
                        NETWORK_NAMES[config.network], why)

    def wait_for_others(self, turn: Turn | None, now: datetime, stale_after: timedelta) -> datetime | None:
        """None when a run holding ``turn`` may publish the account now; else when to look again."""
        if turn is None:
            return now + LOOK_AGAIN  # another process is publishing the account right now
        store = self.engine.store
        if not store.sending_claimers(self.config.account) - {self.instance}:
            return None
        recovered = self.engine.recover(stale_after)  # the posts of processes that are gone, never a live one's
        if recovered:
            log.warning("%s: recovered %d post(s) left mid-send by a service that is gone: %s", self.name,
                        len(recovered), ", ".join(recovered))
        if store.sending_claimers(self.config.account) - {self.instance}:
            return now + LOOK_AGAIN  # a live process is still sending one: it goes first
        return None

    def report(self, entry, outcome, now: datetime) -> None:
        """One log line per publication (JSON fields with --log-json), and the outcome the next heartbeat records."""
        fields = {
            "post_id": outcome.post_id,
            "slot": entry.at.astimezone(self.config.tz).isoformat(),
            "outcome": outcome.state,
            "url": outcome.url,
            "late_s": round((now - entry.at).total_seconds(), 3),
            "account": self.name,
        }
        if outcome.detail:
            fields["detail"] = outcome.detail
        if outcome.retry_at:
            fields["retry_at"] = outcome.retry_at.astimezone(self.config.tz).isoformat()
        level = logging.INFO if outcome.state in ("sent", "skipped") else logging.WARNING
        text = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        log.log(level, "publication %s", text, extra={"fields": fields})
        self.last_outcome = f"{outcome.post_id} {outcome.state} at {now.isoformat(timespec='seconds')}"
