"""Publishing one post: claim it, send each part, settle every outcome in the ledger.

The rules that keep the account safe:

- A post is claimed (one conditional UPDATE) and each call is recorded as an attempt, committed,
  *before* the call goes out. A process killed mid-call leaves the post ``sending`` with an open
  attempt; whoever recovers it knows a request may have reached X.
- A lost response (timeout, dropped connection) is never answered with a blind re-post. The post
  becomes *uncertain*: the account's recent posts are searched for its text. Found: it was sent.
  Not found: look again after ``reconcile_delay``, then send. Cannot look (no read access): the
  post becomes ``unknown`` and waits for a person (``scheduler resolve``).
- A duplicate-content 403 after an uncertain attempt means the earlier attempt went out: it is
  reconciled, not failed. Without an earlier uncertain attempt it is a permanent failure.
- 429 waits for the reset time in X's headers (bounded); 5xx and network errors before sending
  back off exponentially with jitter, a bounded number of times, then fail with the reason.
- 401 and permission 403s pause the account and put the post back in its place in the queue.
- Threads go out part by part as a reply chain; each part's id is stored as soon as it is known,
  so an interrupted thread resumes at its first unsent part.

Retries are not slept on here: a post to retry goes back to the ledger as ``retrying`` with its
``next_attempt_at``, and the planner (so preview and the service) shows it at that time.
"""

from __future__ import annotations

import logging
import os
import random
import re
import socket
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from scheduler.models import PostState
from scheduler.publisher.base import (
    AuthError,
    DuplicateContent,
    LookupUnavailable,
    OutcomeUnknown,
    PublishError,
    Publisher,
    RateLimited,
    Rejected,
    TransientError,
)
from scheduler.store import InstanceRecord, LostClaim, PostRecord, Store

log = logging.getLogger("scheduler.publishing")

Clock = Callable[[], datetime]

# How far before the first attempt to search the timeline when reconciling.
LOOKBACK = timedelta(minutes=10)


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    backoff: timedelta = timedelta(seconds=30)
    backoff_max: timedelta = timedelta(minutes=30)
    rate_limit_max_wait: timedelta = timedelta(hours=1)
    reconcile_delay: timedelta = timedelta(seconds=30)

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
        )


@dataclass(frozen=True)
class Outcome:
    """What became of one publication attempt; the service logs one line per outcome."""

    post_id: str
    slot_at: datetime | None
    state: str  # a PostState value, or "skipped" when another publisher had it
    tweet_ids: tuple[str, ...] = ()
    url: str | None = None
    detail: str | None = None
    retry_at: datetime | None = None


def new_instance_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{random.getrandbits(32):08x}"


def instance_is_alive(record: InstanceRecord, now: datetime, stale_after: timedelta) -> bool:
    if record.stopped_at is not None:
        return False
    if record.host == socket.gethostname() and not _pid_running(record.pid):
        return False
    return record.beat_at >= now - stale_after


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


_URL = re.compile(r"https?://\S+")


def comparable(text: str) -> str:
    """X rewrites links to t.co and may normalize: compare texts without links or spacing."""
    text = unicodedata.normalize("NFC", text)
    return " ".join(_URL.sub("<url>", text).split())


class PublishingEngine:
    def __init__(
        self,
        store: Store,
        publisher: Publisher,
        *,
        account: str,
        instance: str,
        policy: RetryPolicy,
        clock: Clock,
        rng: random.Random | None = None,
    ):
        self.store = store
        self.publisher = publisher
        self.account = account
        self.instance = instance
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()

    # -- entry points ----------------------------------------------------------------------

    def publish(self, post_id: str, slot_at: datetime | None) -> Outcome:
        """Claim and send one pending post for the given slot time."""
        post = self.store.claim_post(post_id, self.instance, slot_at or self.clock(), self.clock())
        if post is None:
            return Outcome(post_id, slot_at, "skipped", detail="taken by another publisher, or no longer pending")
        try:
            return self._send(post)
        except LostClaim:
            return Outcome(post_id, slot_at, "skipped", detail="the claim was taken over while sending")

    def recover(self, stale_after: timedelta) -> list[str]:
        """Take back posts left ``sending`` by a publisher that is gone, to be reconciled first.

        Returns the ids recovered. A post whose open attempt may have reached X becomes uncertain,
        so the next try looks it up on X before sending anything.
        """
        now = self.clock()
        alive = {
            record.instance
            for record in self.store.instances(self.account)
            if record.instance == self.instance or instance_is_alive(record, now, stale_after)
        }
        recovered = []
        for post in self.store.posts_in_state(self.account, PostState.SENDING):
            if post.claimed_by in alive:
                continue
            in_flight = bool(self.store.open_attempts(post.post_id))
            if not self.store.take_over(post.post_id, post.claimed_by, self.instance, now):
                continue
            try:
                if in_flight:
                    self.store.set_uncertain(post.post_id, self.instance, True, now)
                self.store.mark_retrying(
                    post.post_id, self.instance, now, now,
                    error="recovered after the publishing process stopped mid-call" if in_flight else None,
                    status=None, count_attempt=False,
                )
            except LostClaim:
                continue
            log.warning("recovered post %s left sending by %s%s", post.post_id, post.claimed_by,
                        " (a call may have reached X: it will be looked up first)" if in_flight else "")
            recovered.append(post.post_id)
        return recovered

    # -- sending ---------------------------------------------------------------------------

    def _send(self, post: PostRecord) -> Outcome:
        part_ids = list(post.part_ids)
        if post.uncertain:
            settled = self._settle_uncertain(post, part_ids)
            if settled is not None:
                return settled
        media_ids: tuple[str, ...] = ()
        while len(part_ids) < len(post.parts):
            index = len(part_ids)
            if index == 0 and post.media and not media_ids:
                try:
                    media_ids = tuple(self.publisher.upload_media(Path(path)) for path in post.media)
                except PublishError as exc:
                    return self._failure(post, exc, part_ids, attempt=None)
            attempt = self.store.begin_attempt(post.post_id, self.account, index, self.instance, self.clock())
            try:
                tweet_id = self.publisher.create_post(
                    post.parts[index],
                    reply_to=part_ids[-1] if part_ids else None,
                    media_ids=media_ids if index == 0 else (),
                )
            except OutcomeUnknown as exc:
                self.store.end_attempt(attempt, "lost", self.clock(), detail=exc.detail)
                self.store.set_uncertain(post.post_id, self.instance, True, self.clock())
                settled = self._settle_uncertain(post, part_ids, just_lost=True)
                if settled is not None:
                    return settled
                continue
            except DuplicateContent as exc:
                if self._had_lost_attempt(post.post_id, index):
                    # An earlier attempt went out after all: find it rather than fail it.
                    self.store.end_attempt(attempt, "duplicate", self.clock(), status=exc.status, detail=exc.detail)
                    settled = self._settle_uncertain(post, part_ids, duplicate=True)
                    if settled is not None:
                        return settled
                    continue
                return self._failure(post, exc, part_ids, attempt)
            except PublishError as exc:
                return self._failure(post, exc, part_ids, attempt)
            part_ids.append(tweet_id)
            if len(part_ids) == len(post.parts):
                self.store.finish_post(attempt, post.post_id, self.instance, part_ids, self.clock())
                return self._sent(post, part_ids)
            self.store.finish_part(attempt, post.post_id, self.instance, part_ids, self.clock())
        # Every part was already out (found on X while reconciling).
        self.store.mark_sent(post.post_id, self.instance, part_ids, self.clock())
        return self._sent(post, part_ids)

    def _sent(self, post: PostRecord, part_ids: list[str]) -> Outcome:
        return Outcome(post.post_id, post.slot_at, PostState.SENT.value, tuple(part_ids),
                       self.publisher.post_url(part_ids[0]))

    def _had_lost_attempt(self, post_id: str, part: int) -> bool:
        return any(a.part == part and a.outcome == "lost" for a in self.store.attempts(post_id))

    def _settle_uncertain(self, post: PostRecord, part_ids: list[str], *, just_lost: bool = False,
                          duplicate: bool = False) -> Outcome | None:
        """Find the next part on X after a lost response. None: go on sending (part_ids may have grown)."""
        index = len(part_ids)
        try:
            found = self._find_on_x(post, part_ids)
        except LookupUnavailable as exc:
            reason = (
                f"the response to part {index + 1} was lost and the account's posts cannot be read to check "
                f"({exc.detail}); look at x.com and run `scheduler resolve {post.post_id} --sent TWEET_ID` "
                "or `--retry`"
            )
            self.store.mark_unknown(post.post_id, self.instance, reason, self.clock())
            return Outcome(post.post_id, post.slot_at, PostState.UNKNOWN.value, tuple(part_ids), detail=reason)
        except PublishError as exc:
            # The lookup itself failed for a passing reason: stay uncertain, look again later.
            at = self.clock() + self.policy.reconcile_delay
            self.store.mark_retrying(post.post_id, self.instance, at, self.clock(),
                                     error=f"could not look the post up yet: {exc.detail}", status=exc.status,
                                     count_attempt=False)
            return Outcome(post.post_id, post.slot_at, PostState.RETRYING.value, detail=exc.detail, retry_at=at)
        now = self.clock()
        if found is not None:
            part_ids.append(found)
            self.store.record_part(post.post_id, self.instance, part_ids, now, uncertain=False)
            self.store.end_attempt(
                self.store.begin_attempt(post.post_id, self.account, index, self.instance, now),
                "reconciled", now, tweet_id=found, detail="found on the account's timeline",
            )
            log.info("post %s part %d was published after all (id %s); not sending again",
                     post.post_id, index + 1, found)
            return None
        if duplicate:
            reason = ("X calls it a duplicate but it is not among the account's recent posts; "
                      f"check x.com and run `scheduler resolve {post.post_id} --sent TWEET_ID` or `--retry`")
            self.store.mark_unknown(post.post_id, self.instance, reason, now)
            return Outcome(post.post_id, post.slot_at, PostState.UNKNOWN.value, tuple(part_ids), detail=reason)
        lost_at = self._last_lost_at(post.post_id, index) or now
        if just_lost or now < lost_at + self.policy.reconcile_delay:
            at = max(lost_at + self.policy.reconcile_delay, now)
            self.store.mark_retrying(post.post_id, self.instance, at, now,
                                     error="response lost; not on X yet, looking again before any new attempt",
                                     status=None, count_attempt=False)
            return Outcome(post.post_id, post.slot_at, PostState.RETRYING.value, tuple(part_ids),
                           detail="response lost; will look it up again", retry_at=at)
        # Looked twice, a safe delay apart: it did not go out. Sending is safe now.
        self.store.set_uncertain(post.post_id, self.instance, False, now)
        return None

    def _last_lost_at(self, post_id: str, part: int) -> datetime | None:
        lost = [a.started_at for a in self.store.attempts(post_id) if a.part == part and a.outcome == "lost"]
        return max(lost) if lost else None

    def _find_on_x(self, post: PostRecord, part_ids: list[str]) -> str | None:
        index = len(part_ids)
        attempts = [a.started_at for a in self.store.attempts(post.post_id) if a.part == index]
        since = (min(attempts) if attempts else self.clock()) - LOOKBACK
        wanted = comparable(post.parts[index])
        reply_to = part_ids[-1] if part_ids else None
        for tweet in self.publisher.recent_posts(since):
            if comparable(tweet.text) == wanted and (reply_to is None or tweet.in_reply_to in (None, reply_to)):
                return tweet.tweet_id
        return None

    def _failure(self, post: PostRecord, exc: PublishError, part_ids: list[str], attempt: int | None) -> Outcome:
        now = self.clock()
        kind = _outcome_name(exc)
        if attempt is not None:
            self.store.end_attempt(attempt, kind, now, status=exc.status, detail=exc.detail)
        where = f" (part {len(part_ids) + 1} of {len(post.parts)})" if len(post.parts) > 1 else ""
        if isinstance(exc, RateLimited):
            earliest = now + timedelta(seconds=1)
            reset = exc.reset_at or now + self.policy.backoff
            at = min(max(reset, earliest), now + self.policy.rate_limit_max_wait)
            self.store.mark_retrying(post.post_id, self.instance, at, now, error=f"rate limited: {exc.detail}",
                                     status=exc.status, count_attempt=False)
            return Outcome(post.post_id, post.slot_at, PostState.RETRYING.value, tuple(part_ids),
                           detail=f"rate limited{where}: {exc.detail}", retry_at=at)
        if isinstance(exc, TransientError):
            tries = post.attempts + 1
            if tries >= self.policy.max_attempts:
                reason = f"gave up after {tries} attempts{where}: {exc.detail}"
                self.store.mark_failed(post.post_id, self.instance, reason, exc.status, now)
                return Outcome(post.post_id, post.slot_at, PostState.FAILED.value, tuple(part_ids), detail=reason)
            at = now + self.policy.delay(tries, self.rng)
            self.store.mark_retrying(post.post_id, self.instance, at, now, error=exc.detail, status=exc.status,
                                     count_attempt=True)
            return Outcome(post.post_id, post.slot_at, PostState.RETRYING.value, tuple(part_ids),
                           detail=f"attempt {tries} failed{where}: {exc.detail}", retry_at=at)
        if isinstance(exc, AuthError):
            reason = f"X refused the credentials{where} (HTTP {exc.status}): {exc.detail}"
            if part_ids:
                # Half a thread is out: keep the claim's progress, resume when resumed.
                self.store.mark_retrying(post.post_id, self.instance, now, now, error=reason, status=exc.status,
                                         count_attempt=False)
            else:
                self.store.release(post.post_id, self.instance, now, error=reason, status=exc.status)
            self.store.pause(self.account, reason + "; fix the credentials, then `scheduler queue resume`", now)
            log.error("publishing paused for %s: %s", self.account, reason)
            return Outcome(post.post_id, post.slot_at, "paused", tuple(part_ids), detail=reason)
        if isinstance(exc, DuplicateContent):
            reason = f"X refused it as duplicate content{where}: {exc.detail}"
        elif isinstance(exc, Rejected):
            reason = f"X rejected it{where} (HTTP {exc.status}): {exc.detail}"
        else:
            reason = f"{type(exc).__name__}{where}: {exc.detail}"
        self.store.mark_failed(post.post_id, self.instance, reason, exc.status, now)
        return Outcome(post.post_id, post.slot_at, PostState.FAILED.value, tuple(part_ids), detail=reason)


def _outcome_name(exc: PublishError) -> str:
    return {
        RateLimited: "rate_limited",
        TransientError: "retry",
        AuthError: "auth",
        DuplicateContent: "duplicate",
        Rejected: "failed",
    }.get(type(exc), "failed")
