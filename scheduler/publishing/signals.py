"""The service's signal handlers: installed first thing, before configuration, ledger or libraries load.

Nothing heavy is imported here, so ``scheduler serve`` installs them within milliseconds of starting;
from then on a SIGTERM, SIGINT or SIGHUP at any moment is handled, never the default "die".
"""

from __future__ import annotations

import logging
import signal
import threading

log = logging.getLogger("scheduler.service")


class Signals:
    """What the signal handlers ask for. Installed first thing, before configuration or ledger."""

    def __init__(self) -> None:
        self.stopping = threading.Event()
        self.wake = threading.Event()
        self.reload_requested = False

    def install(self) -> Signals:
        signal.signal(signal.SIGTERM, self._stop)
        signal.signal(signal.SIGINT, self._stop)
        signal.signal(signal.SIGHUP, self._hup)
        return self

    def _stop(self, signum, _frame) -> None:
        log.info("received %s: stopping", signal.Signals(signum).name)
        self.stopping.set()
        self.wake.set()

    def _hup(self, _signum, _frame) -> None:
        self.reload_requested = True
        self.wake.set()
