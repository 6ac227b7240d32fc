"""Publishing one post: claim it, send each part, settle every outcome in the ledger.

The rules that keep the account safe:

- A post is claimed (one conditional UPDATE) and each call is recorded as an attempt, committed,
  *before* the call goes out. A process killed mid-call leaves the post ``sending`` with an open
  attempt; whoever recovers it knows a request may have reached X.
- An uncertain outcome is never answered with a blind re-post. Uncertain is anything after which
  the post may exist: a timeout or dropped connection after the request went out, and any 5xx
  (X's gateways answer 5xx after the post was created). The post is looked up on X at once
  (``Publisher.find_post``: the publisher knows how X rewrites text); found: it was sent. Not
  found: look again after ``reconcile_delay`` (X's timelines lag) and only then send again, with
  backoff, a bounded number of times. Cannot look (no read access): the post becomes ``unknown``
  and waits for a person (``scheduler resolve``). The look-up fails (5xx, 429, no answer): it is
  counted (store_lookups) and tried again later, the wait doubling and never before the network's
  reset time, until ``lookup_max_failures`` or ``lookup_give_up_after``: then ``unknown`` too.
  Whether a failed call may have reached the network at all is decided by publisher.reached. Look-ups read only posts created since the
  attempt, a small page at a time: reads are billed.
- A duplicate-content 403 after an uncertain attempt means the earlier attempt went out: it is
  looked up, not failed. Without an earlier uncertain attempt it is a permanent failure.
- 429 waits for the reset time in X's headers (bounded); network errors before anything was sent
  back off exponentially with jitter, a bounded number of times, then fail with the reason.
- A post being retried keeps the slot it was claimed for (the next post waits for its own slot).
- An unexpected error between claim and call puts the post back to retry (looked up first if a
  call was open); a post still left ``sending`` is recovered by the service while it runs.
- 401 and permission 403s pause the account and put the post back in its place in the queue.
- Where the network offers idempotency (a Bluesky record key, a Mastodon Idempotency-Key), each
  part's key is chosen by the publisher and stored before the part's first call; every later call
  and every look-up of that part carries the same key (``create_post``/``find_post`` ``key=``).
- Threads go out part by part as a reply chain; each part's id is stored as soon as it is known,
  so an interrupted thread resumes at its first unsent part.
- With review on (``require_review``), the claim itself checks that what is about to be sent hashes
  to what a reviewer approved, in the claim's transaction; a post edited after the plan was made
  (by any process) is not claimed, and the engine sends only the row it claimed.

Retries are not slept on here: a post to retry goes back to the ledger as ``retrying`` with its
``next_attempt_at``, and the planner (so preview and the service) shows it at that time.
"""

from __future__ import annotations

import logging
import os
import random
import socket
import tempfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from scheduler.domain.content_hash import hash_from_digests, read_media
from scheduler.domain.models import PostState
from scheduler.ledger.store import (
    STOPPED_MID_CALL,
    HeldBack,
    LostClaim,
    NotApproved,
    PostRecord,
    Store,
)
from scheduler.networks.base import (
    AuthError,
    DuplicateContent,
    LookupUnavailable,
    OutcomeUnknown,
    Publisher,
    PublishError,
    RateLimited,
    Rejected,
    TransientError,
)
from scheduler.networks.factory import NETWORK_NAMES
from scheduler.planning import agenda, evergreen
from scheduler.publishing.billing import Billing
from scheduler.publishing.liveness import instance_is_alive, live_instances  # noqa: F401 - the liveness rule
from scheduler.publishing.retry_policy import RetryPolicy  # noqa: F401 - importers of the engine use it

log = logging.getLogger("scheduler.publishing")

Clock = Callable[[], datetime]

# A publication run takes every entry due within this margin, so posts pinned a few
# milliseconds apart go out in one wake-up instead of one wake-up each.
DUE_MARGIN = timedelta(milliseconds=5)
# How many entries ahead a publication run plans.
PLAN_AHEAD = 5

# How far before the first attempt to search the account's posts when reconciling: room for a clock
# difference between this machine and X, no more (every post read is billed).
CLOCK_SKEW = timedelta(minutes=1)


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


def publish_due(engine: PublishingEngine, config, *, should_stop: Callable[[], bool] = lambda: False,
                on_start: Callable[[object], None] | None = None,
                on_done: Callable[[object, Outcome], None] | None = None,
                skip: Collection[str] = (), on_plan: Callable[[list, int, datetime], None] | None = None,
                ) -> list[tuple[object, Outcome]]:
    """One publication run, as the service does it: publish every planned entry whose time has come,
    re-planning after each, until nothing is due. Returns each entry with its outcome. ``skip``: posts
    not to try (an earlier run could not take them, and the ledger has not changed since). ``on_plan``: told
    each plan with the account's revision read in the same snapshot (the last one is the plan after the run)."""
    done: list[tuple[object, Outcome]] = []
    skipped: set[str] = set(skip)
    while not should_stop():
        now = engine.clock()
        with engine.store.snapshot():
            revision = engine.store.revision(engine.account) if on_plan is not None else 0
            entries = agenda.upcoming(engine.store, config, now, count=PLAN_AHEAD)
        if on_plan is not None:
            on_plan(entries, revision, now)
        due = [e for e in entries if e.post is not None and e.at <= now + DUE_MARGIN and e.post.post_id not in skipped]
        if not due:
            break
        entry = due[0]
        if entry.source == "recycle":
            evergreen.materialize(engine.store, config, entry.post, now)
        if on_start is not None:
            on_start(entry)
        outcome = engine.publish(entry.post.post_id, entry.at, source=entry.source)
        if outcome.state == "skipped":
            skipped.add(entry.post.post_id)  # taken by another service: the next plan shows where it went
        done.append((entry, outcome))
        if on_done is not None:
            on_done(entry, outcome)
    return done


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
        require_review: bool = False,
        media_dir: Path | None = None,
        hold: Callable[[PostRecord], str | None] | None = None,
        billing: Billing | None = None,
    ):
        self.billing = billing  # X: what each call cost goes into the ledger
        self.require_review = require_review
        # Review off: why a content rule holds back the post about to be claimed (agenda.HeldByRule.reason).
        self.hold = hold
        self.media_dir = media_dir  # where approved images are copied, as hashed, to be uploaded (default: a temp dir)
        self.store = store
        self.publisher = publisher
        self.account = account
        self.instance = instance
        self.policy = policy
        self.clock = clock
        self.rng = rng or random.Random()

        # Where the posts go, for the reasons a person reads ("Bluesky refused the credentials").
        name = getattr(publisher, "name", "x")
        self.network = {**NETWORK_NAMES, "outbox": "the outbox"}.get(name, name)

    def _go_look(self, post_id: str) -> str:
        where = "x.com" if self.network == "X" else f"the account on {self.network}"
        return f"look at {where} and run `scheduler resolve {post_id} --sent ID_OR_URL` or `--retry`"

    # -- entry points ----------------------------------------------------------------------

    def publish(self, post_id: str, slot_at: datetime | None, *, source: str = "pin") -> Outcome:
        """Claim and send one pending post for its planned time. ``source`` is the plan entry's: a
        calendar slot ("slot", "missed pin", ...) is held by one post only; a "retry" goes out for
        the slot it was first claimed for; a "pin" has a moment of its own."""
        now = self.clock()
        calendar = slot_at is not None and source not in ("pin", "retry")
        try:
            post = self.store.claim_post(post_id, self.instance, slot_at or now, now, calendar_slot=calendar,
                                         keep_slot=source == "retry", require_approval=self.require_review,
                                         hold=self.hold)
        except HeldBack as held:
            log.warning("not sending %s: %s", post_id, held.reason)
            return Outcome(post_id, slot_at, "skipped", detail=held.reason)
        except NotApproved:
            log.warning("not sending %s: what it would send is not what a reviewer approved", post_id)
            return Outcome(post_id, slot_at, "skipped",
                           detail="awaiting review: it changed since it was approved, or was never approved")
        if post is None:
            holder = self.store.slot_holder(self.account, slot_at) if calendar else None
            detail = (f"slot already taken by {holder}" if holder and holder != post_id
                      else "taken by another publisher, or no longer pending")
            return Outcome(post_id, slot_at, "skipped", detail=detail)
        try:
            return self._send(post)
        except LostClaim:
            return Outcome(post_id, slot_at, "skipped", detail="the claim was taken over while sending")
        except Exception as exc:
            return self._unexpected(post, exc)

    def recover(self, stale_after: timedelta, *, own: bool = False) -> list[str]:
        """Take back posts left ``sending`` by a publisher that is gone, to be reconciled first.

        ``own``: also this instance's own claims; the caller guarantees no publication of this
        process is in flight. Returns the ids recovered. A post whose open attempt may have reached
        X becomes uncertain, so the next try looks it up on X before sending anything.
        """
        now = self.clock()
        alive = set(live_instances(self.store, self.account, now, stale_after))
        if own:
            alive.discard(self.instance)
        else:
            alive.add(self.instance)
        recovered = []
        for post in self.store.posts_in_state(self.account, PostState.SENDING):
            if post.claimed_by in alive:
                continue
            in_flight = self._maybe_out(post)
            if not self.store.take_over(post.post_id, post.claimed_by, self.instance, now):
                continue
            try:
                if in_flight:
                    self.store.set_uncertain(post.post_id, self.instance, True, now)
                self.store.mark_retrying(
                    post.post_id, self.instance, now, now,
                    error="recovered after the publishing process stopped mid-call" if in_flight
                    else "recovered: it was left sending without a call in flight",
                    status=None, count_attempt=False,
                )
            except LostClaim:
                continue
            log.warning("recovered post %s left sending by %s%s", post.post_id, post.claimed_by,
                        " (a call may have reached the network: it will be looked up first)" if in_flight else "")
            recovered.append(post.post_id)
        return recovered

    # -- sending ---------------------------------------------------------------------------

    def _send(self, post: PostRecord) -> Outcome:
        part_ids = list(post.part_ids)
        # Uncertain with every part known (a process killed after recording the last part it found, before
        # marking the post sent): nothing is left to look up or send; the post is marked sent below.
        if post.uncertain and len(part_ids) < len(post.parts):
            settled = self._settle_uncertain(post, part_ids)
            if settled is not None:
                return settled
        media_ids: tuple[str, ...] = ()
        while len(part_ids) < len(post.parts):
            index = len(part_ids)
            if index == 0 and post.media and not media_ids:
                images = self._images_to_send(post)
                if images is None:
                    return self._image_changed(post)
                try:
                    media_ids = tuple(self.publisher.upload_media(path) for path in images)
                except PublishError as exc:
                    return self._failure(post, exc, part_ids, attempt=None)
            key = self._publish_key(post, index)
            attempt = self.store.begin_attempt(post.post_id, self.account, index, self.instance, self.clock())
            try:
                tweet_id = self.publisher.create_post(
                    post.parts[index],
                    reply_to=part_ids[-1] if part_ids else None,
                    media_ids=media_ids if index == 0 else (),
                    key=key,
                )
            except OutcomeUnknown as exc:
                self.store.end_attempt(attempt, "lost", self.clock(), status=exc.status, detail=exc.detail,
                                       uncertain=(post.post_id, self.instance))
                settled = self._settle_uncertain(post, part_ids, just_lost=exc)
                if settled is not None:
                    return settled
                continue
            except DuplicateContent as exc:
                if self._attempts_of(post.post_id, index, "lost"):
                    # An earlier attempt went out after all: find it rather than fail it.
                    self.store.end_attempt(attempt, "duplicate", self.clock(), status=exc.status, detail=exc.detail,
                                           uncertain=(post.post_id, self.instance))
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
                self._bill(post, index)
                return self._sent(post, part_ids)
            self.store.finish_part(attempt, post.post_id, self.instance, part_ids, self.clock())
            self._bill(post, index)
        # Every part was already out (found on X while reconciling).
        self.store.mark_sent(post.post_id, self.instance, part_ids, self.clock())
        return self._sent(post, part_ids)

    def _images_to_send(self, post: PostRecord) -> list[Path] | None:
        """The files to upload for the post's images. With review on: each image read once, the post's hash
        computed from those very bytes and compared with the approval, and the bytes written to a file of this
        engine's own that is uploaded (a swap of the original file after the check changes nothing); None when
        the bytes are not what was approved. Without review: the files themselves."""
        if not (self.require_review or self.store.review_requirement_of(self.account)):
            return [Path(path) for path in post.media]
        read = [read_media(path) for path in post.media]
        digest = hash_from_digests(post.parts, [d for _, d in read], getattr(post, "reply_settings", None))
        review = self.store.reviews([post.post_id]).get(post.post_id)
        if review is None or review.approved_hash != digest or any(data is None for data, _ in read):
            return None
        folder = self._media_dir()
        files = []
        for path, (data, image_digest) in zip(post.media, read, strict=True):
            target = folder / f"{image_digest.removeprefix('sha256:')}{Path(path).suffix.lower()}"
            if not target.exists():
                partial = target.with_name(f".{target.name}.{os.getpid()}.part")
                partial.write_bytes(data)
                os.replace(partial, target)
            files.append(target)
        return files

    def _media_dir(self) -> Path:
        if self.media_dir is None:
            self.media_dir = Path(tempfile.mkdtemp(prefix="scheduler-approved-media-"))
        self.media_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.media_dir

    def _image_changed(self, post: PostRecord) -> Outcome:
        """An image's bytes are not the approved ones (swapped after the claim's check): nothing is sent; the post
        goes back to review, saying why."""
        now = self.clock()
        names = ", ".join(Path(p).name for p in post.media)
        reason = (f"not sent: an image ({names}) changed after the post was approved, so what would go out is not "
                  "what a reviewer saw; the post is awaiting review again (`scheduler review show "
                  f"{post.post_id}`)")
        log.warning("%s: %s", post.post_id, reason)
        self.store.mark_retrying(post.post_id, self.instance, now, now, error=reason, status=None,
                                 count_attempt=False)
        return Outcome(post.post_id, post.slot_at, "skipped", detail=reason)

    def _publish_key(self, post: PostRecord, index: int) -> str | None:
        """The part's idempotency key, stored before its first call and reused by every later one; None
        for a network that has none (X)."""
        fresh = self.publisher.new_key(self.clock())
        if fresh is None:
            return None
        return self.store.keep_publish_key(post.post_id, self.instance, index, fresh, self.clock())

    def _sent(self, post: PostRecord, part_ids: list[str]) -> Outcome:
        return Outcome(post.post_id, post.slot_at, PostState.SENT.value, tuple(part_ids),
                       self.publisher.post_url(part_ids[0]))

    def _maybe_out(self, post: PostRecord) -> bool:
        """Whether a call for the post's next part may have reached the network unsettled: an attempt still open
        (killed mid-call), or its last attempt a lost answer or a duplicate (killed after recording it)."""
        attempts = self.store.attempts(post.post_id)
        if any(a.outcome == "sending" for a in attempts):
            return True
        part = [a for a in attempts if a.part == len(post.part_ids)]
        return bool(part) and max(part, key=lambda a: a.id).outcome in ("lost", "duplicate")

    def _why_uncertain(self, post_id: str, part: int) -> str:
        """What made a part uncertain, as it happened, from its last unsettled attempt: a duplicate answer, a run
        stopped during the call (nothing was heard from the network), or an answer lost."""
        unsettled = [a for a in self.store.attempts(post_id) if a.part == part and a.outcome in ("lost", "duplicate")]
        last = max(unsettled, key=lambda a: a.id, default=None)
        if last is not None and last.outcome == "duplicate":
            return f"{self.network} calls it a duplicate of an earlier attempt"
        if last is not None and last.detail == STOPPED_MID_CALL:
            return f"the previous run was stopped during this call, so it may have reached {self.network}"
        if last is not None and last.detail:
            return f"the answer to an earlier attempt was lost ({last.detail})"
        return f"an earlier call may have reached {self.network}"

    def _attempts_of(self, post_id: str, part: int, outcome: str) -> list[datetime]:
        return [a.started_at for a in self.store.attempts(post_id) if a.part == part and a.outcome == outcome]

    def _settle_uncertain(self, post: PostRecord, part_ids: list[str], *, just_lost: OutcomeUnknown | None = None,
                          duplicate: bool = False) -> Outcome | None:
        """Look the next part up on X after an uncertain attempt. None: go on sending (``part_ids``
        may have grown by the part found); otherwise what became of the post for now."""
        index = len(part_ids)
        where = f" (part {index + 1} of {len(post.parts)})" if len(post.parts) > 1 else ""
        try:
            found = self._look_up(post, part_ids)
        except LookupUnavailable as exc:
            reason = (
                f"the outcome of a call{where} is unknown and the account's posts cannot be read to check "
                f"({exc.detail}); {self._go_look(post.post_id)}"
            )
            self.store.mark_unknown(post.post_id, self.instance, reason, self.clock())
            return Outcome(post.post_id, post.slot_at, PostState.UNKNOWN.value, tuple(part_ids), detail=reason)
        except PublishError as exc:
            return self._lookup_failed(post, part_ids, exc, where)
        except LostClaim:
            raise
        except Exception as exc:  # a bug or a library's surprise in a look-up: still a failed look-up, counted
            log.error("post %s: the look-up failed unexpectedly (%s)", post.post_id, type(exc).__name__, exc_info=exc)
            return self._lookup_failed(post, part_ids, TransientError(f"unexpected error: {type(exc).__name__}"),
                                       where)
        now = self.clock()
        self.store.lookup_succeeded(post.post_id)
        if found is not None:
            part_ids.append(found)
            self.store.record_part(post.post_id, self.instance, part_ids, now, uncertain=False)
            self.store.end_attempt(
                self.store.begin_attempt(post.post_id, self.account, index, self.instance, now),
                "reconciled", now, tweet_id=found, detail="found among the account's posts",
            )
            self._bill(post, index)
            log.info("post %s%s was published after all (id %s); not sending it again", post.post_id, where, found)
            return None
        lost = self._attempts_of(post.post_id, index, "lost")
        duplicates = self._attempts_of(post.post_id, index, "duplicate")
        settle_at = max(lost + duplicates, default=now) + self.policy.reconcile_delay
        if just_lost is not None or duplicate or now < settle_at:
            # Not visible yet: X's timelines lag behind its writes. Look again before any new attempt.
            tries = post.attempts + (1 if just_lost is not None else 0)
            at = max(settle_at, now)
            if just_lost is not None:
                at = max(at, now + self.policy.delay(tries, self.rng))
            detail = just_lost.detail if just_lost is not None else self._why_uncertain(post.post_id, index)
            self.store.mark_retrying(post.post_id, self.instance, at, now,
                                     error=f"{detail}{where}; not on {self.network} yet, looking again before any "
                                           "new attempt",
                                     status=just_lost.status if just_lost is not None else None,
                                     count_attempt=just_lost is not None)
            return Outcome(post.post_id, post.slot_at, PostState.RETRYING.value, tuple(part_ids),
                           detail=f"outcome uncertain{where}: {detail}; will look it up again", retry_at=at)
        if duplicates:
            reason = (f"{self.network} calls it a duplicate{where}, so an earlier attempt went out, but it is not "
                      f"among the account's posts; {self._go_look(post.post_id)}")
            self.store.mark_unknown(post.post_id, self.instance, reason, now)
            return Outcome(post.post_id, post.slot_at, PostState.UNKNOWN.value, tuple(part_ids), detail=reason)
        # Looked twice, a safe delay apart: it did not go out.
        if post.attempts >= self.policy.max_attempts:
            reason = (f"gave up after {post.attempts} attempts{where}, none of which reached {self.network}: "
                      f"{post.last_error}")
            self.store.mark_failed(post.post_id, self.instance, reason, post.last_status, now)
            return Outcome(post.post_id, post.slot_at, PostState.FAILED.value, tuple(part_ids), detail=reason)
        self.store.set_uncertain(post.post_id, self.instance, False, now)
        return None

    def _lookup_failed(self, post: PostRecord, part_ids: list[str], exc: PublishError, where: str) -> Outcome:
        """The look-up itself failed (5xx, 429, no answer): the post stays uncertain and is looked up again,
        spaced by ``lookup_delay`` and never before the network's reset time; once ``lookup_max_failures`` have
        failed, or the next one could not come before ``lookup_give_up_after`` since the first, it is ``unknown``
        and waits for a person."""
        now = self.clock()
        before = self.store.lookup_failures(post.post_id)
        failures = (before.failures if before else 0) + 1
        first = before.first_failed_at if before else now
        at = now + self.policy.lookup_delay(failures)
        if exc.reset_at is not None:
            at = max(at, exc.reset_at)
        give_up_at = first + self.policy.lookup_give_up_after
        if failures >= self.policy.lookup_max_failures or at > give_up_at:
            reason = (
                f"the outcome of a call{where} is unknown: {failures} look-up(s) of it on {self.network} failed "
                f"since {first:%Y-%m-%d %H:%M} UTC (last: {exc.detail}), so the scheduler stopped looking; "
                f"{self._go_look(post.post_id)}"
            )
            self.store.lookup_failed(post.post_id, self.instance, now, error=exc.detail, status=exc.status,
                                     unknown_reason=reason)
            log.warning("post %s: %s", post.post_id, reason)
            return Outcome(post.post_id, post.slot_at, PostState.UNKNOWN.value, tuple(part_ids), detail=reason)
        self.store.lookup_failed(post.post_id, self.instance, now, error=exc.detail, status=exc.status, retry_at=at)
        detail = (f"could not look it up on {self.network}{where} ({exc.detail}); look-up {failures} of at most "
                  f"{self.policy.lookup_max_failures} failed, next at {at:%H:%M:%S} UTC")
        return Outcome(post.post_id, post.slot_at, PostState.RETRYING.value, tuple(part_ids), detail=detail,
                       retry_at=at)

    def _look_up(self, post: PostRecord, part_ids: list[str]) -> str | None:
        index = len(part_ids)
        started = [a.started_at for a in self.store.attempts(post.post_id) if a.part == index]
        since = (min(started) if started else self.clock()) - CLOCK_SKEW
        try:
            return self.publisher.find_post(
                post.parts[index],
                since=since,
                reply_to=part_ids[-1] if part_ids else None,
                with_media=bool(post.media) and index == 0,
                key=self.store.publish_keys(post.post_id).get(index),
            )
        finally:
            if self.billing is not None:
                self.billing.read(post.post_id, self.publisher)

    def _bill(self, post: PostRecord, index: int) -> None:
        if self.billing is not None:
            self.billing.created(post.post_id, post.parts[index])

    def _unexpected(self, post: PostRecord, exc: Exception) -> Outcome:
        """A bug or a ledger hiccup between claim and call: never leave the post ``sending``."""
        log.error("unexpected error while publishing %s: %s", post.post_id, exc, exc_info=exc)
        now = self.clock()
        detail = f"unexpected error: {type(exc).__name__}: {exc}"[:300]
        at = now + self.policy.backoff
        try:
            for attempt in self.store.open_attempts(post.post_id):
                self.store.end_attempt(attempt.id, "lost", now, detail=detail)
                self.store.set_uncertain(post.post_id, self.instance, True, now)
            self.store.mark_retrying(post.post_id, self.instance, at, now, error=detail, status=None,
                                     count_attempt=True)
        except LostClaim:
            return Outcome(post.post_id, post.slot_at, "skipped", detail="the claim was taken over while sending")
        except Exception:
            log.exception("could not record the error for %s; the service will recover it", post.post_id)
            return Outcome(post.post_id, post.slot_at, PostState.SENDING.value, detail=detail)
        return Outcome(post.post_id, post.slot_at, PostState.RETRYING.value, detail=detail, retry_at=at)

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
            http = f" (HTTP {exc.status})" if exc.status else ""
            reason = f"{self.network} refused the credentials{where}{http}: {exc.detail}"
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
            reason = f"{self.network} refused it as duplicate content{where}: {exc.detail}"
        elif isinstance(exc, Rejected):
            reason = f"{self.network} rejected it{where} (HTTP {exc.status}): {exc.detail}"
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
