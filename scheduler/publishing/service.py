"""`scheduler serve`: the background service.

One timer serves every account (timetable.py): a heap of each account's next planned post, and a bounded
pool of ``[service] workers`` threads that run one account's publication at a time each. An account is
never run twice at once (its posts go out in order), and one whose network is slow, down, rate-limited or
paused occupies one worker at most: the others publish on time. Threads do not grow with the accounts.
The service re-plans an account:

- after every publication run of it (so its next post is always scheduled),
- when its ledger revision changes (a CLI command, the dashboard or another service changed the queue):
  on PostgreSQL at once, told by the listener (ledger/notify.py: LISTEN for migration m018's notifications),
  with a full check every NOTIFIED_WATCH as a safety net; on SQLite (or while the listener is reconnecting)
  every ``[service] watch_interval`` (default 2 s), with ONE read of every account's revision,
- on SIGHUP, after reloading scheduler.toml (a bad file is rejected, the old settings stay).

Between posts the process sleeps until the next one: no minute polling. Planning at start (and after a
reload) skips the accounts with nothing pending and nothing to recycle, found in one read.

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

Replicas: several services on one PostgreSQL ledger share the work. Each plans every account; a run publishes an
account only while it holds that account's turn (ledger/turns.py) and no other live service has a post of it
left ``sending`` (lanes.py), so each account's posts go out in order whoever sends them; claims skip rows another
service is taking, and a post is still claimed by one service only.

Idle costs next to nothing per account: the periodic jobs (``_shared_jobs``: heartbeats, written for all
accounts in one transaction; the watch; recovery; notices; metrics) each run once over all accounts, reading one
summary (which accounts have posts left sending, notices or readings due) instead of asking each account; feeds are
checked by one thread for all accounts. Review notices (notices.py) and metric reads (collect.py) each run on an
executor of their own: a slow SMTP server, webhook or network read never holds up a publication. With review
and evergreen on, the notices job puts recycled wordings up for review when the approved queue runs short.
"""

from __future__ import annotations

import gc
import logging
import os
import socket
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler.articles.feeds import start_polling, tick
from scheduler.config import Config, load_config
from scheduler.domain.errors import CredentialsError, SchedulerError
from scheduler.domain.models import PostState
from scheduler.ledger.notify import QueueListener
from scheduler.ledger.store import LostClaim, Store
from scheduler.logs import setup_logging
from scheduler.networks.base import Unusable
from scheduler.networks.factory import make_publisher, unusable
from scheduler.planning import agenda
from scheduler.planning.budget import billed
from scheduler.planning.evergreen import next_due
from scheduler.publishing.billing import Billing
from scheduler.publishing.collect import Collector
from scheduler.publishing.engine import PLAN_AHEAD, PublishingEngine, RetryPolicy, new_instance_id, publish_due
from scheduler.publishing.lanes import Lane, held
from scheduler.publishing.signals import Signals
from scheduler.publishing.timetable import Timetable
from scheduler.review import policy as review
from scheduler.review.evergreen import propose_for_review
from scheduler.review.notices import deliver_due
from scheduler.review.watcher import ReviewWatcher
from scheduler.review.policy import agree_with_ledger

log = logging.getLogger("scheduler.service")

# A post in one of these states is work for the account (planned, or recovered and then planned).
WORK_STATES = (PostState.QUEUED, PostState.RETRYING, PostState.SENDING)
# When the ledger cannot be read, try again after this long rather than stopping.
ERROR_RETRY = timedelta(seconds=5)
# On PostgreSQL, while the listener hears every change, the watch reads every account's revision only this often:
# a safety net (a notification is lost only with its connection, and a reconnection checks every account).
NOTIFIED_WATCH = timedelta(seconds=30)


def utc_now() -> datetime:
    return datetime.now(UTC)


class Service:
    def __init__(self, config: Config, config_path: str | None, *, clock: Callable[[], datetime] = utc_now,
                 signals: Signals | None = None):
        self.config = config
        self.config_path = config_path
        self.clock = clock
        self.instance = new_instance_id()
        self.workers = config["service"]["workers"]
        # Each worker, the periodic jobs and the feed thread may each hold a connection at once.
        self.store = Store.open(config.database_url, connections=self.workers + 6)
        self.lanes = self._make_lanes(config)
        self.signals = signals or Signals()
        self.stopping = self.signals.stopping
        self.wake = self.signals.wake
        self.until_empty = False
        self._beat_lock = threading.Lock()
        self._stopped = False
        self._scheduler = None
        self._timetable: Timetable | None = None
        self._listener: QueueListener | None = None
        self._next_full_watch = self.clock()

        self._watchers = {name: ReviewWatcher() for name in self.lanes}
        self._collector = Collector(self.store, lambda: [lane.config for lane in self.lanes.values()], self.instance,
                                    self.clock, self.stopping)

    @property
    def engine(self):
        """The engine of the only (or default) account."""
        return self.lanes[self.config.for_account(None).account_name].engine

    def _make_lanes(self, config: Config) -> dict[str, Lane]:
        accounts = config.each_account()
        lanes = {}
        for each in accounts:
            # One instance row per account: heartbeats, claims and `status` stay per account.
            instance = self.instance if len(accounts) == 1 else f"{self.instance}:{each.account_name}"
            lanes[each.account_name] = Lane(each, instance, self._make_engine(each, instance))
        return lanes

    def _make_engine(self, config: Config, instance: str):
        # The ledger's review requirement binds every process on it: a config that disagrees does not start.
        agree_with_ledger(self.store, config, self.clock(), who=f"service {self.instance}")
        try:
            publisher = make_publisher(config, clock=self.clock)
        except CredentialsError as exc:
            problem = unusable(config, exc)
            if len(config.each_account()) == 1:
                raise problem from None  # nothing else to publish: refuse to start, saying why
            # One account's unusable credentials must not stop the others: its lane starts paused, saying why.
            reason = (f"{problem}; then send the service SIGHUP (or restart it) and run "
                      f"`scheduler queue resume --account {config.account_name}`")
            self.store.pause(config.account, reason, self.clock())
            log.error("publishing paused for %s: %s", config.account_name, reason)
            publisher = Unusable(config.network, str(problem))
        return PublishingEngine(self.store, publisher, account=config.account, instance=instance,
                                policy=RetryPolicy.from_config(config["publisher"]), clock=self.clock,
                                require_review=config["review"]["required"],
                                media_dir=config.data_dir / "approved-media",
                                hold=None if config["review"]["required"] else agenda.HeldByRule(config).reason,
                                billing=Billing(self.store, config, self.clock) if billed(config) else None)

    # -- lifecycle -------------------------------------------------------------------------

    def run(self, *, until_empty: bool = False) -> int:
        self.until_empty = until_empty
        told: set[tuple[int, str]] = set()  # each other service is named once, not once per account
        for lane in self.lanes.values():
            lane.announce(self.clock(), self._stale_after(), told)
        self._beat()
        self._recover_all(own=False)
        self._timetable = Timetable(self._publish_account, workers=self.workers, clock=self.clock)
        self._scheduler = BackgroundScheduler(
            timezone=UTC, executors={"default": ThreadPoolExecutor(2), "notices": ThreadPoolExecutor(1),
                                     "metrics": ThreadPoolExecutor(1)},
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": None},
        )
        for job, every, executor, at_once in self._shared_jobs():
            self._scheduler.add_job(job, "interval", seconds=every.total_seconds(), id=job.__name__.strip("_"),
                                    executor=executor, **({"next_run_time": self.clock()} if at_once else {}))
        self._scheduler.start()
        self._timetable.start()
        if self.store.turns.shared:  # PostgreSQL: every change to a queue wakes the service at once
            self._listener = QueueListener(self.store.engine, self._changed)
            self._listener.start()
        self._plan_all()
        # What start-up built (every account's configuration, engine and client) lives as long as the process:
        # out of the collector's sight, a collection no longer walks a thousand accounts' objects each time.
        gc.freeze()
        start_polling(self.store, lambda: [lane.config for lane in self.lanes.values()], self.stopping, self.clock)
        while not self.stopping.is_set():
            self.wake.wait()
            self.wake.clear()
            if self.signals.reload_requested:
                self.signals.reload_requested = False
                self._reload()
        return self._stop()

    def _shared_jobs(self) -> list[tuple[Callable[[], None], timedelta, str, bool]]:
        """The periodic jobs, each ONE job over all accounts: (job, how often, executor, first run at once).
        A new job over all accounts is one more line here. (Feeds are checked by their own thread, which
        polls the due feeds of all accounts: start_polling.)"""
        service = self.config["service"]
        return [
            (self._beat, service["heartbeat"], "default", False),
            (self._watch, service["watch_interval"], "default", False),
            (self._recover_all, self._stale_after(), "default", False),
            (self._notices, self.config["notify"]["check_interval"], "notices", True),
            (self._collector.collect, service["metrics_interval"], "metrics", False),
        ]

    def _recover_all(self, *, own: bool = True) -> None:
        """Recover the posts left ``sending``, of the accounts that have any (one read finds them)."""
        try:
            stuck = self.store.accounts_with_posts([PostState.SENDING])
        except Exception:
            log.exception("could not check for posts left sending")
            return
        for lane in self.lanes.values():
            if lane.config.account in stuck:
                self._recover(lane, own=own)

    def _recover(self, lane: Lane, *, own: bool) -> None:
        """Take back the account's posts left ``sending``: by a stopped process, and (``own``) by this one when no
        publication of it is in flight, after an error between claim and call. Only while holding the account's
        turn: a service publishing it (a replica, however late its heartbeat) holds the turn, so its claims are
        never taken from it."""
        if own and not lane.busy.acquire(blocking=False):
            return  # a publication is in flight: its post is not stuck
        turn = None
        try:
            turn = self.store.turns.take(lane.config.account)
            recovered = [] if turn is None else lane.engine.recover(self._stale_after(), own=own)
        except Exception:
            log.exception("could not check for posts left sending (%s)", lane.name)
            return
        finally:
            if turn is not None:
                self.store.turns.give_back(turn)
            if own:
                lane.busy.release()
        if recovered:
            log.warning("recovered %d post(s) left mid-send: %s", len(recovered), ", ".join(recovered))
            if self._timetable is not None:
                self._replan(lane)
        if lane.notified > lane.revision and self._timetable is not None:  # the queue changed while this held it
            self._replan(lane)

    def _stop(self) -> int:
        timeout = self.config["service"]["stop_timeout"].total_seconds()
        self._scheduler.shutdown(wait=False)  # no job starts any more
        self._timetable.stop()  # no publication run starts any more
        if self._listener is not None:
            self._listener.stop()
        deadline = self.clock() + timedelta(seconds=timeout)
        finished = True
        for lane in self.lanes.values():
            left = max(0.0, (deadline - self.clock()).total_seconds())
            if not lane.busy.acquire(timeout=left):
                finished = False
                self._abandon(lane)
        finished = self._collector.wait_idle((deadline - self.clock()).total_seconds()) and finished
        with self._beat_lock:  # a heartbeat still running must not mark the instance alive again
            self._stopped = True
            for lane in self.lanes.values():
                self.store.stop_instance(lane.instance, self.clock())
        log.info("service stopped")
        logging.shutdown()
        if not finished:
            # A worker (or the metrics reader) is stuck in a network call; the ledger already says what happened.
            os._exit(0)
        return 0

    def _abandon(self, lane: Lane) -> None:
        post_id = lane.current
        if post_id is None:
            return
        now = self.clock()
        try:
            for attempt in self.store.open_attempts(post_id):
                self.store.end_attempt(attempt.id, "lost", now, detail="abandoned at shutdown while waiting for the network")
            self.store.set_uncertain(post_id, lane.instance, True, now)
            self.store.mark_retrying(post_id, lane.instance, now, now, status=None, count_attempt=False,
                                     error="abandoned at shutdown mid-call; will be looked up on the network first")
            log.warning("abandoned the call in flight for %s; it will be reconciled on the next start", post_id)
        except LostClaim:
            pass

    def _reload(self) -> None:
        try:
            config = load_config(self.config_path)
            if [a.name for a in config.accounts] != list(self.lanes):
                raise SchedulerError("the accounts changed (added, removed or renamed): restart the service "
                                     "to publish for the new set")
            lanes = {}
            for each in config.each_account():
                lane = self.lanes[each.account_name]
                lanes[lane.name] = (each, self._make_engine(each, lane.instance))
        except SchedulerError as exc:
            log.error("reload rejected, keeping the previous configuration: %s", exc)
            return
        self.config = config
        self._collector.reload()
        for name, (each, engine) in lanes.items():
            lane = self.lanes[name]
            with lane.busy:
                lane.config, lane.engine = each, engine
        log.info("configuration reloaded from %s", config.source or "defaults")
        self._plan_all()

    def _stale_after(self) -> timedelta:
        return self.config["service"]["heartbeat"] * 3

    # -- jobs ------------------------------------------------------------------------------

    def _beat(self) -> None:
        """One heartbeat per account (its instance row), all written in one transaction."""
        with self._beat_lock:
            if self._stopped:
                return
            lanes = list(self.lanes.values())
            outcomes = [lane.last_outcome for lane in lanes]  # read once: a run may change one meanwhile
            try:
                self.store.beat_many([(lane.instance, lane.config.account,
                                       outcome if outcome != lane.beaten_outcome else None)
                                      for lane, outcome in zip(lanes, outcomes)], os.getpid(), socket.gethostname(),
                                     self.clock())
            except Exception:
                log.exception("could not record the heartbeat")
                return
            for lane, outcome in zip(lanes, outcomes):
                lane.beaten_outcome = outcome

    def _notices(self) -> None:
        """Queue notices about posts awaiting review (or missing their slot), then deliver what is due: only the
        accounts with review (or evergreen) on are read for the first, and one read finds who has notices due."""
        for lane in self.lanes.values():
            config = lane.config
            try:
                proposed = propose_for_review(self.store, config, self.clock())
                if proposed:
                    log.info("%s: the approved queue runs short: %d recycled wording(s) put up for review: %s",
                             lane.name, len(proposed), ", ".join(proposed))
                self._watchers[lane.name].check(self.store, config, self.clock())
            except Exception:
                log.exception("could not check review notices; trying again in %s", config["notify"]["check_interval"])
        try:
            due = self.store.accounts_with_due_notices(self.clock())
        except Exception:
            log.exception("could not read the notices due")
            return
        for lane in self.lanes.values():
            if lane.config.account not in due:
                continue
            try:
                deliver_due(self.store, lane.config, self.clock())
            except Exception:
                log.exception("could not deliver review notices; trying again in %s",
                              lane.config["notify"]["check_interval"])

    def _watch(self) -> None:
        """Every ``[service] watch_interval``: every account's revision, read at once; while the PostgreSQL
        listener hears each change as it is made, only every NOTIFIED_WATCH (a safety net)."""
        listening = self._listener is not None and self._listener.connected.is_set()
        if listening and self.clock() < self._next_full_watch:
            return
        self._next_full_watch = self.clock() + NOTIFIED_WATCH
        self._changed(None)

    def _changed(self, revisions: dict[str, int] | None) -> None:
        """Re-plan the accounts whose revision moved (a CLI command, the dashboard, another service changed their
        queue): those of ``revisions`` (ledger key -> revision, as the PostgreSQL listener hears each change
        commit, on its thread: no read) or, with None, all of them (the watch: one read of every revision). A
        lane in a run is left to the run, which plans again at its end if the revision moved past its last plan."""
        if revisions is None:
            try:
                revisions = self.store.revisions()
            except Exception:
                log.exception("could not read the ledger")
                return
            lanes = list(self.lanes.values())
        else:
            by_key = {lane.config.account: lane for lane in self.lanes.values()}
            lanes = [by_key[key] for key in revisions if key in by_key]
        for lane in lanes:
            revision = revisions.get(lane.config.account, 0)
            if lane.busy.locked():
                lane.notified = max(lane.notified, revision)  # then checked again: a run that ended meanwhile
                if lane.busy.locked():  # has looked already
                    continue
            if revision > lane.revision and not (self._timetable and self._timetable.waiting(lane.name)):
                self._replan(lane)  # (a run that is due and not begun plans afresh as it begins)

    def _plan_all(self) -> None:
        """Plan every account. Those with no post pending and evergreen off have nothing to plan: one read finds
        them (with the revisions, read first: a change in between is seen by the next watch)."""
        try:
            revisions = self.store.revisions()
            working = self.store.accounts_with_posts(WORK_STATES)
        except Exception:
            log.exception("could not read the ledger; planning each account")
            revisions, working = {}, None
        for lane in self.lanes.values():
            if working is None or lane.config.account in working or lane.config["queue"]["evergreen"]:
                self._replan(lane, stop_when_empty=False)
                continue
            with lane.planning:
                lane.revision = revisions.get(lane.config.account, 0)
                self._unschedule(lane)
        self._stop_when_empty()

    def _stop_when_empty(self) -> None:
        if not self.until_empty or self.stopping.is_set():
            return
        try:
            working = self.store.accounts_with_posts(WORK_STATES)
        except Exception:
            log.exception("could not read the ledger")
            return
        if not any(lane.config.account in working for lane in self.lanes.values()):
            log.info("nothing left to publish: stopping (--until-empty)")
            self.stopping.set()
            self.wake.set()

    def _replan(self, lane: Lane, *, stop_when_empty: bool = True, plan: tuple | None = None) -> None:
        """Schedule the account's publication run at its next planned post (or none). ``plan``: the plan a run
        just made after its last post, with the revision read with it (entries, revision, now), used as is."""
        if self.stopping.is_set():
            return
        with lane.planning:
            try:
                if plan is not None and len(lane.held) >= PLAN_AHEAD - 1:
                    plan = None  # it may not reach past the posts held
                revision = self.store.revision(lane.config.account) if plan is None else plan[1]
                lane.revision = revision
                if lane.revision != lane.held_revision:
                    lane.held = set()  # the ledger changed: every post may be taken again
                now = self.clock() if plan is None else plan[2]
                if self._review_turned_on_elsewhere(lane):
                    self._unschedule(lane)
                    return
                entries = (agenda.upcoming(self.store, lane.config, now, count=1 + len(lane.held))
                           if plan is None else plan[0])
            except Exception:
                log.exception("planning failed; trying again in %ss", ERROR_RETRY.total_seconds())
                self._schedule(lane, self.clock() + ERROR_RETRY)
                return
            nxt = next((e for e in entries if e.post is not None and e.post.post_id not in lane.held), None)
            if nxt is None:
                wake = self._evergreen_wake(lane, now)
                if wake is not None:
                    # Nothing to publish now, but a sent tip comes out of its cooldown then: plan again at that
                    # moment (always later than now, so this can never spin).
                    self._schedule(lane, wake)
                    log.debug("nothing due; evergreen may recycle a tip at %s", wake.isoformat())
                    return
                self._unschedule(lane)
                if stop_when_empty:
                    self._stop_when_empty()
                return
            self._schedule(lane, max(nxt.at, now))
            log.debug("next post %s at %s", nxt.post.post_id, nxt.at.isoformat())

    def _review_turned_on_elsewhere(self, lane: Lane) -> bool:
        """The ledger came to require review after this process started without it: its plan would hold posts
        nobody approved (the claim refuses them), so the account publishes nothing here until restarted."""
        if review.required(lane.config) or not self.store.review_requirement_of(lane.config.account):
            lane.review_mismatch = False
            return False
        if not lane.review_mismatch:
            log.error("%s: the ledger now requires review for @%s, but this process's configuration has [review] "
                      "required = false: it publishes nothing for this account until it is restarted (or reloaded, "
                      "SIGHUP) with required = true, or review is turned off (`scheduler review require off`)",
                      lane.name, lane.config.handle)
            lane.review_mismatch = True
        return True

    def _evergreen_wake(self, lane: Lane, now: datetime) -> datetime | None:
        if self.until_empty:
            return None
        try:
            return next_due(self.store, lane.config, now)
        except Exception:
            log.exception("could not read when evergreen may recycle next; trying again in %ss",
                          ERROR_RETRY.total_seconds())
            return now + ERROR_RETRY

    def _schedule(self, lane: Lane, at: datetime) -> None:
        self._timetable.set(lane.name, at)

    def _unschedule(self, lane: Lane) -> None:
        self._timetable.clear(lane.name)

    def _publish_account(self, name: str) -> None:
        """A worker's publication run for the account come due (the timetable never runs one account twice at
        once)."""
        self._publish_due(self.lanes[name])

    def _publish_due(self, lane: Lane) -> None:
        def started(entry) -> None:
            lane.current = entry.post.post_id

        def done(entry, outcome) -> None:
            lane.current = None
            lane.report(entry, outcome, self.clock())

        last: list[tuple] = []
        after = None  # the run's last plan, when it ended normally with nothing held: no need to plan again
        again = None  # not this process's turn to publish the account now: when to look again
        # Stopping holds every lane's lock to the end: a run that has not begun by then never does (nor waits).
        while not lane.busy.acquire(timeout=0.5):
            if self.stopping.is_set():
                return
        with held(lane.busy):
            if self.stopping.is_set():
                return
            turn = None
            try:
                turn = self.store.turns.take(lane.config.account)  # replicas: one run of an account at a time
                again = lane.wait_for_others(turn, self.clock(), self._stale_after())
                if again is None:
                    skip = (lane.held if lane.held and self.store.revision(lane.config.account) == lane.held_revision
                            else set())
                    runs = publish_due(lane.engine, lane.config, on_start=started, on_done=done, skip=skip,
                                       should_stop=lambda: self.stopping.is_set() or not self.store.turns.holds(turn),
                                       on_plan=lambda *plan: last.append(plan))
                    self._hold_skipped(lane, runs)
                    if last and not skip and all(outcome.state != "skipped" for _, outcome in runs):
                        after = last[-1]
                        lane.revision = after[1]  # what a change heard from now on is compared with
            except Exception:
                log.exception("publication run failed; the ledger keeps each post's state")
            finally:
                lane.current = None
                if turn is not None:
                    self.store.turns.give_back(turn)
        if again is not None:
            self._schedule(lane, again)
            return
        self._replan(lane, plan=after)
        if lane.notified > lane.revision:  # the queue changed during the run, after its last plan
            self._replan(lane)

    def _hold_skipped(self, lane: Lane, runs) -> None:
        """Remember the posts this run could not take, so the next plan does not schedule them at once again."""
        skipped = {entry.post.post_id for entry, outcome in runs if outcome.state == "skipped"}
        sent = {entry.post.post_id for entry, outcome in runs if outcome.state != "skipped"}
        if not skipped - sent:
            return
        revision = self.store.revision(lane.config.account)
        if revision != lane.held_revision:
            lane.held = set()
        new = skipped - sent - lane.held
        lane.held |= skipped - sent
        lane.held_revision = revision
        if new:
            log.info("%s: could not take %s; not trying again until the ledger changes", lane.name,
                     ", ".join(sorted(new)))


def run_service(config_path: str | None, *, log_json: bool = False, until_empty: bool = False,
                log_level: int = logging.INFO, signals: Signals | None = None,
                dashboard: Callable[[Config], Any] | None = None) -> int:
    """Run the service until stopped. ``dashboard``: starts the dashboard in this process for the loaded
    configuration (`serve --web`) and returns what to ``stop()`` at the end; the caller, who knows the web
    layer, hands it over (publishing never imports the interfaces above it)."""
    # First: a SIGTERM or SIGHUP while starting must not kill the process (the CLI installs them
    # even earlier, before importing this module).
    signals = signals or Signals().install()

    setup_logging(json_lines=log_json, level=log_level)
    running = None
    try:
        config = load_config(config_path)
        service = Service(config, config_path, signals=signals)
        if dashboard is not None:  # `serve --web`: the dashboard in a thread of this process, on its own ledger
            running = dashboard(config)
    except SchedulerError as exc:
        log.error("%s", exc)
        return exc.exit_code
    try:
        return service.run(until_empty=until_empty)
    finally:
        if running is not None:
            running.stop()
