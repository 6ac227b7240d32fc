"""The service's one timer over every account, and its bounded pool of publication workers.

    timetable = Timetable(run, workers=16, clock=clock)
    timetable.start()
    timetable.set("clinic-a", at)     # the account's next publication run (replaces the one set before)
    timetable.clear("clinic-a")       # nothing planned for it
    timetable.stop()

One thread waits for the earliest moment of a heap of ``(due_at, account)`` and hands each account that comes due
to a pool of at most ``workers`` threads, which calls ``run(account)``. An account is never run twice at once (its
posts go out in order): one that comes due while its run is still going is run again right after it ends. So an
account whose network is slow or down occupies one worker at most, and the others keep going on the rest; the
number of threads does not grow with the number of accounts.
"""

from __future__ import annotations

import heapq
import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

log = logging.getLogger("scheduler.service")

# The timer never sleeps longer than this at once, so a clock that jumps (a faked clock, a suspended machine)
# is noticed within it.
LONGEST_SLEEP_S = 30.0


class Timetable:
    def __init__(self, run: Callable[[str], None], *, workers: int, clock: Callable[[], datetime]) -> None:
        self._run = run
        self._clock = clock
        self.workers = workers
        self._heap: list[tuple[datetime, float, str]] = []
        self._due: dict[str, datetime] = {}
        self._running: set[str] = set()
        self._queued: set[str] = set()  # handed to the pool, not yet begun
        self._again: set[str] = set()
        # Accounts due at one moment go in an order of this process's own: replicas serving the same accounts
        # then start on different ones (ledger/turns.py) instead of all queueing for the first.
        self._order = random.Random()
        self._cond = threading.Condition()
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="publish")
        self._thread = threading.Thread(target=self._loop, name="timetable", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def set(self, account: str, at: datetime) -> None:
        with self._cond:
            if self._due.get(account) == at:
                return
            self._due[account] = at
            heapq.heappush(self._heap, (at, self._order.random(), account))
            self._cond.notify()

    def clear(self, account: str) -> None:
        with self._cond:
            self._due.pop(account, None)  # its heap entry is dropped when it comes up

    def due_at(self, account: str) -> datetime | None:
        with self._cond:
            return self._due.get(account)

    def waiting(self, account: str) -> bool:
        """Whether a run of the account is due and has not begun yet: it will plan from the ledger as it begins."""
        with self._cond:
            due = self._due.get(account)
            return account in self._queued or (due is not None and due <= self._clock())

    def running(self) -> set[str]:
        with self._cond:
            return set(self._running)

    def stop(self) -> None:
        """No run starts any more; runs in progress are left to finish (or be abandoned by the caller)."""
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        with self._cond:
            while not self._stopped:
                while self._heap and self._due.get(self._heap[0][2]) != self._heap[0][0]:
                    heapq.heappop(self._heap)  # replaced or cleared since
                if not self._heap:
                    self._cond.wait()
                    continue
                at, _, account = self._heap[0]
                wait = (at - self._clock()).total_seconds()
                if wait > 0:
                    self._cond.wait(min(wait, LONGEST_SLEEP_S))
                    continue
                heapq.heappop(self._heap)
                del self._due[account]
                if account in self._running:
                    self._again.add(account)  # run again as soon as this run ends: posts of one account in order
                    continue
                self._submit(account)

    def _submit(self, account: str) -> None:
        self._running.add(account)
        self._queued.add(account)
        try:
            self._pool.submit(self._work, account)
        except RuntimeError:  # the pool is shut down: the service is stopping
            self._running.discard(account)
            self._queued.discard(account)

    def _work(self, account: str) -> None:
        with self._cond:
            self._queued.discard(account)
        try:
            self._run(account)
        except Exception:
            log.exception("publication run for %s failed; the ledger keeps each post's state", account)
        finally:
            with self._cond:
                self._running.discard(account)
                if account in self._again and not self._stopped:
                    self._again.discard(account)
                    self._submit(account)
