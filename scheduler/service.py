"""`scheduler serve`: the background service.

APScheduler wakes the service; the ledger is the truth. The service keeps exactly one
publication job, a DateTrigger at the time of the next planned post, and re-plans:

- after every publication run (so the next post is always scheduled),
- when the ledger's revision for the account changes (a CLI command changed the queue),
  checked every ``[service] watch_interval`` (default 2 s) with one indexed read,
- on SIGHUP, after reloading scheduler.toml (a bad file is rejected, the old settings stay).

Between posts the process sleeps until the next one: no minute polling.

Missed slots after downtime follow the planner's rule (see planner.py, "Missed work"): a post
less than ``[calendar] grace`` late goes out at once; older ones move to the next free slots
in order, one per slot, never a burst.

SIGTERM / SIGINT: no new publication starts; the call in flight may finish for
``[service] stop_timeout``; if it has not, it is abandoned with its outcome recorded as lost
(the post becomes uncertain and is looked up on X before any new attempt), and the process
exits 0. The handlers are installed before anything else, so a signal at any moment from start
to exit is handled (one that arrives while starting stops the service as soon as it is up).

Posts left ``sending`` (a process killed mid-call, or an error between claim and call) are
recovered at start and then every three heartbeats while running.

Review notices (notices.py) are checked and delivered every ``[notify] check_interval`` on an
executor of their own: a slow or failing SMTP server or webhook never holds up a publication.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from scheduler.config import Config, load_config
from scheduler.errors import SchedulerError
from scheduler.signals import Signals
from scheduler.store import LostClaim, Store

log = logging.getLogger("scheduler.service")

PUBLISH_JOB = "publish"
# When the ledger cannot be read, try again after this long rather than stopping.
ERROR_RETRY = timedelta(seconds=5)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    def __init__(self, config: Config, config_path: str | None, *, clock: Callable[[], datetime] = utc_now,
                 signals: Signals | None = None):
        from scheduler.publishing import new_instance_id

        self.config = config
        self.config_path = config_path
        self.clock = clock
        self.instance = new_instance_id()
        self.store = Store.open(config.database_url)
        self.engine = self._make_engine(config)
        self.signals = signals or Signals()
        self.stopping = self.signals.stopping
        self.wake = self.signals.wake
        self.until_empty = False
        self._beat_lock = threading.Lock()
        self._stopped = False
        self._plan_lock = threading.Lock()
        self._busy = threading.Lock()
        self._current: str | None = None
        self._revision = -1
        self._last_outcome: str | None = None
        self._scheduler = None
        from scheduler.notices import ReviewWatcher

        self._review_watcher = ReviewWatcher()

    def _make_engine(self, config: Config):
        from scheduler.publisher.factory import make_publisher
        from scheduler.publishing import PublishingEngine, RetryPolicy

        publisher = make_publisher(config, clock=self.clock)
        return PublishingEngine(self.store, publisher, account=config.account, instance=self.instance,
                                policy=RetryPolicy.from_config(config["publisher"]), clock=self.clock,
                                require_review=config["review"]["required"])

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, *, until_empty: bool = False) -> int:
        from apscheduler.executors.pool import ThreadPoolExecutor
        from apscheduler.schedulers.background import BackgroundScheduler

        self.until_empty = until_empty
        self._announce()
        self._beat()
        self._recover(own=False)
        self._scheduler = BackgroundScheduler(
            timezone=UTC,
            executors={"default": ThreadPoolExecutor(2), "publisher": ThreadPoolExecutor(1),
                       "notices": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        service = self.config["service"]
        self._scheduler.add_job(self._beat, "interval", seconds=service["heartbeat"].total_seconds(), id="heartbeat")
        self._scheduler.add_job(self._watch, "interval", seconds=service["watch_interval"].total_seconds(), id="watch")
        self._scheduler.add_job(self._recover, "interval", seconds=self._stale_after().total_seconds(),
                                id="recover", kwargs={"own": True})
        self._scheduler.add_job(self._notices, "interval", seconds=self.config["notify"]["check_interval"].total_seconds(),
                                id="notices", executor="notices", next_run_time=self.clock())
        self._scheduler.start()
        self._replan()
        from scheduler.feeds import start_polling

        start_polling(self.store, lambda: self.config, self.stopping, self.clock)
        while not self.stopping.is_set():
            self.wake.wait()
            self.wake.clear()
            if self.signals.reload_requested:
                self.signals.reload_requested = False
                self._reload()
        return self._stop()

    def _recover(self, *, own: bool) -> None:
        """Take back posts left ``sending``: by a stopped process, and (``own``) by this one when no
        publication of it is in flight, after an error between claim and call."""
        if own and not self._busy.acquire(blocking=False):
            return  # a publication is in flight: its post is not stuck
        try:
            recovered = self.engine.recover(self._stale_after(), own=own)
        except Exception:
            log.exception("could not check for posts left sending")
            return
        finally:
            if own:
                self._busy.release()
        if recovered:
            log.warning("recovered %d post(s) left mid-send: %s", len(recovered), ", ".join(recovered))
            if self._scheduler is not None and self._scheduler.running:
                self._replan()

    def _announce(self) -> None:
        from scheduler.publishing import instance_is_alive

        now = self.clock()
        others = [i for i in self.store.instances(self.config.account)
                  if instance_is_alive(i, now, self._stale_after())]
        for other in others:
            log.warning("another instance is active on this ledger: pid %s on %s (last beat %s); "
                        "both can run safely - each post is claimed by one of them only",
                        other.pid, other.host, other.beat_at.isoformat(timespec="seconds"))
        log.info("service started: @%s, %s, publisher %s, instance %s", self.config.handle,
                 self.config.calendar().describe(), self.engine.publisher.name, self.instance)
        if self.engine.publisher.name == "outbox":
            from scheduler.health import destination

            why = destination(self.config)["why"] or "the outbox was chosen"
            log.warning("posts go to the outbox file %s, NOT to X (%s); set X credentials (README, Credentials) "
                        "to publish", self.engine.publisher.path, why)

    def _stop(self) -> int:
        timeout = self.config["service"]["stop_timeout"].total_seconds()
        self._scheduler.shutdown(wait=False)  # no job starts any more
        finished = self._busy.acquire(timeout=timeout)
        if not finished:
            self._abandon()
        with self._beat_lock:  # a heartbeat still running must not mark the instance alive again
            self._stopped = True
            self.store.stop_instance(self.instance, self.clock())
        log.info("service stopped")
        logging.shutdown()
        if not finished:
            # The worker thread is stuck in a network call; the ledger already says what happened.
            os._exit(0)
        return 0

    def _abandon(self) -> None:
        post_id = self._current
        if post_id is None:
            return
        now = self.clock()
        try:
            for attempt in self.store.open_attempts(post_id):
                self.store.end_attempt(attempt.id, "lost", now, detail="abandoned at shutdown while waiting for X")
            self.store.set_uncertain(post_id, self.instance, True, now)
            self.store.mark_retrying(post_id, self.instance, now, now, status=None, count_attempt=False,
                                     error="abandoned at shutdown mid-call; will be looked up on X first")
            log.warning("abandoned the call in flight for %s; it will be reconciled on the next start", post_id)
        except LostClaim:
            pass

    def _reload(self) -> None:
        try:
            config = load_config(self.config_path)
        except SchedulerError as exc:
            log.error("reload rejected, keeping the previous configuration: %s", exc)
            return
        with self._busy:
            self.config = config
            self.engine = self._make_engine(config)
        log.info("configuration reloaded from %s", config.source or "defaults")
        self._replan()

    def _stale_after(self) -> timedelta:
        return self.config["service"]["heartbeat"] * 3

    # -- jobs ------------------------------------------------------------------------------

    def _beat(self) -> None:
        with self._beat_lock:
            if self._stopped:
                return
            try:
                self.store.beat(self.instance, self.config.account, os.getpid(), socket.gethostname(),
                                self.clock(), self._last_outcome)
            except Exception:
                log.exception("could not record the heartbeat")

    def _notices(self) -> None:
        """Queue notices about posts awaiting review (or missing their slot), then deliver what is due."""
        from scheduler.notices import deliver_due

        config = self.config
        try:
            self._review_watcher.check(self.store, config, self.clock())
            deliver_due(self.store, config, self.clock())
        except Exception:
            log.exception("could not check or deliver review notices; trying again in %s",
                          config["notify"]["check_interval"])

    def _watch(self) -> None:
        try:
            revision = self.store.revision(self.config.account)
        except Exception:
            log.exception("could not read the ledger")
            return
        if revision != self._revision:
            self._replan()

    def _replan(self) -> None:
        """Schedule the publication job at the next planned post (or none)."""
        from scheduler import agenda

        if self.stopping.is_set():
            return
        with self._plan_lock:
            try:
                self._revision = self.store.revision(self.config.account)
                now = self.clock()
                entries = agenda.upcoming(self.store, self.config, now, count=1)
            except Exception:
                log.exception("planning failed; trying again in %ss", ERROR_RETRY.total_seconds())
                self._schedule(self.clock() + ERROR_RETRY)
                return
            nxt = next((e for e in entries if e.post is not None), None)
            if nxt is None:
                self._unschedule()
                if self.until_empty and not self._work_left():
                    log.info("nothing left to publish: stopping (--until-empty)")
                    self.stopping.set()
                    self.wake.set()
                return
            self._schedule(max(nxt.at, now))
            log.debug("next post %s at %s", nxt.post.post_id, nxt.at.isoformat())

    def _work_left(self) -> bool:
        from scheduler.models import PostState

        counts = self.store.counts(self.config.account)
        return any(counts.get(s.value) for s in (PostState.QUEUED, PostState.RETRYING, PostState.SENDING))

    def _schedule(self, at: datetime) -> None:
        from apscheduler.triggers.date import DateTrigger

        self._scheduler.add_job(self._publish_due, DateTrigger(run_date=at), id=PUBLISH_JOB,
                                replace_existing=True, executor="publisher")

    def _unschedule(self) -> None:
        if self._scheduler.get_job(PUBLISH_JOB):
            self._scheduler.remove_job(PUBLISH_JOB)

    def _publish_due(self) -> None:
        from scheduler.publishing import publish_due

        def started(entry) -> None:
            self._current = entry.post.post_id

        def done(entry, outcome) -> None:
            self._current = None
            self._report(entry, outcome)

        with self._busy:
            try:
                publish_due(self.engine, self.config, should_stop=self.stopping.is_set, on_start=started,
                            on_done=done)
            except Exception:
                log.exception("publication run failed; the ledger keeps each post's state")
            finally:
                self._current = None
        self._replan()

    def _report(self, entry, outcome) -> None:
        now = self.clock()
        late = (now - entry.at).total_seconds()
        fields = {
            "post_id": outcome.post_id,
            "slot": entry.at.astimezone(self.config.tz).isoformat(),
            "outcome": outcome.state,
            "url": outcome.url,
            "late_s": round(late, 3),
        }
        if outcome.detail:
            fields["detail"] = outcome.detail
        if outcome.retry_at:
            fields["retry_at"] = outcome.retry_at.astimezone(self.config.tz).isoformat()
        level = logging.INFO if outcome.state in ("sent", "skipped") else logging.WARNING
        text = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        log.log(level, "publication %s", text, extra={"fields": fields})
        self._last_outcome = f"{outcome.post_id} {outcome.state} at {now.isoformat(timespec='seconds')}"


def run_service(config_path: str | None, *, log_json: bool = False, until_empty: bool = False,
                log_level: int = logging.INFO, signals: Signals | None = None, web: str | None = None) -> int:
    # First: a SIGTERM or SIGHUP while starting must not kill the process (the CLI installs them
    # even earlier, before importing this module).
    signals = signals or Signals().install()
    from scheduler.logs import setup_logging

    setup_logging(json_lines=log_json, level=log_level)
    dashboard = None
    try:
        config = load_config(config_path)
        service = Service(config, config_path, signals=signals)
        if web:  # `serve --web`: the dashboard in a thread of this process, on its own ledger connection
            from scheduler.web.server import WebThread, parse_address

            dashboard = WebThread(config, *parse_address(web))
            dashboard.start()
    except SchedulerError as exc:
        log.error("%s", exc)
        return exc.exit_code
    try:
        return service.run(until_empty=until_empty)
    finally:
        if dashboard is not None:
            dashboard.stop()
