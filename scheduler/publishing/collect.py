"""Collecting metrics: reading what sent posts did, on the decaying schedule, for every account in one pass.

``Collector.collect`` is ONE job of the service over all accounts (``[service] metrics_interval``, on an executor of
its own, never the publication workers), and ``collect_round`` is what `scheduler insights collect` runs once by
hand. A round:

- finds, in one read per schedule, the accounts with a reading due (the rule: ``domain/metric_schedule.py``);
  accounts on the outbox, or with ``[metrics] enabled = false``, are left out;
- skips an account whose metrics are paused (a refused token) or waiting (a 429 until its reset, a failing network
  for a back-off that doubles), and one another service is collecting (a lease in the ledger);
- reads the account's followers once, then its due posts, newest sent first, in batches of its network's limit
  (X 100, Bluesky 25, Mastodon 20 ids; a thread's parts together), with its own publisher (its own HTTP session: it
  never shares a connection or a lock with publishing), and stores each batch's readings in one short transaction;
- on X, records each read as billed (``metric_read``, one unit per post X returned; ``user_read`` for the followers
  read) and reads only what the budget
  leaves once the posts planned this month are paid for (posts come first: ``planning/forecast.read_allowance``,
  taken once per round and counted down by each read);
- a part the network says is gone is recorded deleted once and never read again; a post with nothing left to read
  is never due again.

Failures stay with their account and never touch its publishing: a 429 waits for its reset, a 5xx or a network error
backs off, a refused token pauses that account's metrics (logged, and shown by `scheduler status`) until the service
starts again or reloads (SIGHUP), or a person runs `scheduler insights collect`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduler.config import Config
from scheduler.domain.errors import CredentialsError
from scheduler.domain.metric_schedule import windows
from scheduler.domain.metrics import MetricReading
from scheduler.domain.pricing import call_price, dollars
from scheduler.ledger.collection import DuePost
from scheduler.networks.base import AuthError, MetricsUnavailable, PublishError, RateLimited, ReadResult
from scheduler.networks.factory import destination, make_publisher
from scheduler.planning.budget import billed
from scheduler.planning.forecast import read_allowance
from scheduler.publishing.billing import record_call

log = logging.getLogger("scheduler.metrics")

LEASE = timedelta(minutes=10)  # how long one service holds an account's collection without renewing it
RATE_LIMIT_WAIT = timedelta(minutes=15)  # a 429 without a reset time: X's and Mastodon's windows are 15 and 5 min
LONGEST_BACKOFF = timedelta(hours=1)
MAX_BATCHES = 10_000  # a bound against a network that answers but never for the ids asked


@dataclass
class AccountRound:
    """What one round did for one account."""

    account: str
    posts: int = 0  # posts read (a thread is one)
    parts: int = 0  # parts read
    deleted: int = 0  # parts found deleted
    calls: int = 0  # metric reads (one per batch) and the followers read
    billed: int = 0  # millionths of a dollar (X)
    stopped: str | None = None  # why it stopped before reading every due post (None: it read them all)

    def describe(self) -> str:
        text = f"{self.posts} post(s) read ({self.parts} part(s)), {self.deleted} part(s) found deleted"
        if self.billed:
            text += f", {dollars(self.billed)} billed"
        return text + (f"; stopped: {self.stopped}" if self.stopped else "")


@dataclass
class Round:
    accounts: list[AccountRound] = field(default_factory=list)


def collectable(config: Config) -> str | None:
    """Why this account has no metrics to collect (None: it has): turned off, or its posts go to the outbox."""
    if not config["metrics"]["enabled"]:
        return "[metrics] enabled = false"
    if destination(config)["kind"] == "outbox":
        return "its posts go to the outbox file: nothing was published, so there is nothing to read"
    return None


class Collector:
    """The service's collection over its accounts. ``configs``: the accounts' configurations now (they change on a
    reload); ``owner``: the service instance, holder of the leases."""

    def __init__(self, store, configs: Callable[[], list[Config]], owner: str, clock: Callable[[], datetime],
                 stopping: threading.Event | None = None, make: Callable = make_publisher) -> None:
        self.store = store
        self._configs = configs
        self.owner = owner
        self.clock = clock
        self.stopping = stopping or threading.Event()
        self._make = make
        self._publishers: dict[str, object] = {}
        self._stale: list = []  # publishers of the configuration before a reload, closed by the next round
        self._retry_paused = True  # the first round, and the first after a reload, try paused accounts again
        self._why_none: dict[int, tuple[Config, str | None]] = {}  # collectable(), once per configuration
        self._idle = threading.Event()
        self._idle.set()

    def collect(self) -> None:
        """The service's job: one round over every account; nothing it meets stops the service."""
        self._idle.clear()
        while self._stale:
            self._stale.pop().close()
        try:
            collect_round(self.store, self._configs(), self.owner, self.clock, self.stopping,
                          publisher=self._publisher, retry_paused=self._take_retry(), why_none=self._why)
        except Exception:
            log.exception("collecting metrics failed; trying again in the next round")
        finally:
            self._idle.set()

    def reload(self) -> None:
        """New configuration (maybe new credentials): new publishers, and paused accounts are tried again."""
        self._stale.extend(self._publishers.values())  # closed by the metrics thread, which may be using one now
        self._publishers = {}
        self._why_none = {}
        self._retry_paused = True

    def wait_idle(self, seconds: float) -> bool:
        """Wait for a round in flight to end (it stops between batches once ``stopping`` is set)."""
        return self._idle.wait(max(0.0, seconds))

    def _take_retry(self) -> bool:
        retry, self._retry_paused = self._retry_paused, False
        return retry

    def _why(self, config: Config) -> str | None:
        """``collectable`` of each configuration, once (it reads credential files; configurations change only on a
        reload, which forgets these)."""
        if id(config) not in self._why_none:
            self._why_none[id(config)] = (config, collectable(config))
        return self._why_none[id(config)][1]

    def _publisher(self, config: Config):
        key = config.account_name
        if key not in self._publishers:
            self._publishers[key] = self._make(config, clock=self.clock)
        return self._publishers[key]


def collect_round(store, configs: list[Config], owner: str, clock: Callable[[], datetime],
                  stopping: threading.Event | None = None, *, publisher: Callable[[Config], object] | None = None,
                  retry_paused: bool = False, why_none: Callable[[Config], str | None] = collectable) -> Round:
    """Read every due reading of these accounts once (see the module's docstring). ``publisher``: how an account's
    publisher is had (default: a new one, closed at the end); ``retry_paused``: try accounts paused by a refused
    token again (a person asked, or the credentials may have changed); ``why_none``: ``collectable``, or a cache of
    it."""
    stopping = stopping or threading.Event()
    made: list = []

    def fresh(config: Config):
        made.append(make_publisher(config, clock=clock))
        return made[-1]

    get = publisher or fresh
    report = Round()
    try:
        now = clock()
        wanted = [c for c in configs if why_none(c) is None]
        due: set[str] = set()
        for schedule, max_age in {(c["metrics"]["schedule"], c["metrics"]["max_age"]) for c in wanted}:
            due |= store.accounts_with_due_readings(windows(schedule, now), now - max_age)
        if not due and not retry_paused:
            return report
        states = store.metric_accounts()
        for config in wanted:
            state = states.get(config.account)
            if retry_paused and state is not None and state.paused_at is not None:
                store.resume_metrics(config.account)
                log.info("metrics of %s: trying again after the pause (%s)", config.account_name, state.pause_reason)
            elif state is not None and state.paused_at is not None:
                continue
            if config.account not in due or stopping.is_set():
                continue
            if state is not None and state.wait_until is not None and state.wait_until > now:
                continue
            if not store.take_metrics_lease(config.account, owner, now, now + LEASE):
                continue  # another service collects it
            try:
                done = _collect_account(store, config, get, clock, stopping)
            except Exception:  # one account's trouble never stops the others'
                log.exception("collecting the metrics of %s failed; trying again in the next round",
                              config.account_name)
                continue
            finally:
                store.release_metrics_lease(config.account, owner)
            report.accounts.append(done)
            if done.posts or done.deleted:
                log.info("metrics of %s: %s", config.account_name, done.describe())
    finally:
        for each in made:
            each.close()
    return report


def _collect_account(store, config: Config, get, clock, stopping: threading.Event) -> AccountRound:
    done = AccountRound(config.account_name)
    account, network = config.account, config.network
    metrics = config["metrics"]
    x_bills = billed(config)
    price = config["x"]["pricing"].read
    allowance = read_allowance(store, config, clock()) if x_bills else None
    if allowance is not None and allowance < call_price(config["x"]["pricing"], "user_read") + price:
        # Not even the account's own read and one post's: no call at all, not a billed read the budget cannot pay.
        done.stopped = (f"the X budget: reads may spend only what the month's planned posts leave "
                        f"({dollars(allowance)} left for reads)")
        log.warning("metrics of %s: %s", config.account_name, done.stopped)
        return done
    try:
        publisher = get(config)
        followers = publisher.read_followers()
        done.calls += 1
        if x_bills:  # X bills the read of the account itself too (users/me)
            cost = record_call(store, config, "user_read", clock())
            done.billed += cost
            allowance = None if allowance is None else allowance - cost
    except CredentialsError as exc:
        return _failed(store, config, AuthError(str(exc)), clock(), done)
    except PublishError as exc:
        return _failed(store, config, exc, clock(), done)
    skip: set[str] = set()
    for _ in range(MAX_BATCHES):
        if stopping.is_set():
            done.stopped = "the service is stopping"
            break
        now = clock()
        room, affordable = publisher.metrics_batch, None
        if allowance is not None and price:
            affordable = allowance // price
            room = min(room, affordable)
            if room <= 0:
                done.stopped = (f"the X budget: reads may spend only what the month's planned posts leave "
                                f"({dollars(allowance)} left for reads)")
                log.warning("metrics of %s: %s", config.account_name, done.stopped)
                break
        due = store.due_readings(account, windows(metrics["schedule"], now), now - metrics["max_age"], limit=room,
                                 skip=skip)
        batch = _batch(due, room, affordable)
        if not batch:
            if due:
                done.stopped = f"the X budget leaves {dollars(allowance or 0)} for reads: too little for the next post"
                log.warning("metrics of %s: %s", config.account_name, done.stopped)
            break
        ids = [part for post in batch for part in post.parts]
        try:
            result = publisher.read_metrics(ids) if ids else ReadResult()
        except PublishError as exc:
            return _failed(store, config, exc, clock(), done)
        done.calls += 1 if ids else 0
        read_at = clock()
        if x_bills and result.readings:
            cost = record_call(store, config, "metric_read", read_at, units=len(result.readings))
            done.billed += cost
            allowance = None if allowance is None else allowance - cost
        owner_of = {part: post for post in batch for part in post.parts}
        readings = [MetricReading(post_id=owner_of[r.remote_id].post_id, account=account, network=network,
                                  remote_id=r.remote_id, read_at=read_at, likes=r.likes, reposts=r.reposts,
                                  replies=r.replies, quotes=r.quotes, impressions=r.impressions,
                                  bookmarks=r.bookmarks, followers=followers, url_link_clicks=r.url_link_clicks,
                                  user_profile_clicks=r.user_profile_clicks)
                    for r in result.readings if r.remote_id in owner_of]
        deleted: dict[str, list[str]] = {}
        for part in result.deleted:
            if part in owner_of:
                deleted.setdefault(owner_of[part].post_id, []).append(part)
        read = {r.post_id for r in readings}
        gone = [p.post_id for p in batch if p.post_id not in read and set(p.parts) <= set(deleted.get(p.post_id, ()))]
        store.record_collected(account, {p.post_id: p.sent_at for p in batch}, readings, deleted, gone, read_at)
        skip |= {p.post_id for p in batch if p.post_id not in read and p.post_id not in gone}
        done.posts += len(read)
        done.parts += len(readings)
        done.deleted += sum(len(parts) for parts in deleted.values())
    store.metrics_read_ok(account)
    return done


def _batch(due: list[DuePost], room: int, affordable: int | None) -> list[DuePost]:
    """The due posts whose parts fit one read of ``room`` ids, a thread's parts together. A thread longer than a
    call takes goes alone (the publisher splits it), if the budget (``affordable`` reads; None: no budget) allows."""
    batch, size = [], 0
    for post in due:
        if size + len(post.parts) > room:
            if not batch and (affordable is None or len(post.parts) <= affordable):
                return [post]
            break
        batch.append(post)
        size += len(post.parts)
    return batch


def _failed(store, config: Config, exc: PublishError, now: datetime, done: AccountRound) -> AccountRound:
    """An account's read failed: wait for a 429's reset, back off after a 5xx, pause on a refused token."""
    name, account = config.account_name, config.account
    state = store.metric_account(account)
    if isinstance(exc, MetricsUnavailable):
        done.stopped = exc.detail
    elif isinstance(exc, AuthError):
        store.pause_metrics(account, exc.detail, now)
        done.stopped = f"paused: {exc.detail}"
        log.error("metrics of %s paused (publishing goes on): %s; fix its credentials, then reload the service "
                  "(SIGHUP) or run `scheduler insights collect --account %s`", name, exc.detail, name)
    elif isinstance(exc, RateLimited):
        until = exc.reset_at if exc.reset_at is not None and exc.reset_at > now else now + RATE_LIMIT_WAIT
        store.metrics_wait(account, until, exc.detail, failed=False)
        done.stopped = f"rate limited until {until.isoformat(timespec='seconds')}"
        log.warning("metrics of %s: %s (%s)", name, done.stopped, exc.detail)
    else:
        backoff = min(config["service"]["metrics_interval"] * 2 ** min(state.failures, 16), LONGEST_BACKOFF)
        until = max(exc.reset_at or now, now + backoff)
        store.metrics_wait(account, until, exc.detail, failed=True)
        done.stopped = f"failed ({exc.detail}); trying again after {until.isoformat(timespec='seconds')}"
        log.warning("metrics of %s: %s", name, done.stopped)
    return done
