"""PublishingEngine on a real ledger, real tweepy (XPublisher) and the real HTTP stand-in.

Each test drives one of the rules in publishing.py's docstring and checks both sides: what the
ledger says, and what is actually on the (stand-in) account's timeline.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import zlib
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scheduler.domain.models import PostState
from scheduler.networks.outbox.publisher import OutboxPublisher
from scheduler.networks.x.publisher import XPublisher
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.ledger.store import Store
from tests.conftest_standin import TEST_TIMEOUT
from tests.helpers_ledger import ACCOUNT, new_post

POLICY = RetryPolicy(
    max_attempts=3,
    backoff=timedelta(seconds=10),
    backoff_max=timedelta(seconds=60),
    rate_limit_max_wait=timedelta(hours=1),
    reconcile_delay=timedelta(seconds=30),
)


def make_engine(store: Store, publisher, clock, *, instance: str = "me", policy: RetryPolicy = POLICY,
                seed: int = 7) -> PublishingEngine:
    return PublishingEngine(store, publisher, account=ACCOUNT, instance=instance, policy=policy, clock=clock,
                            rng=random.Random(seed))


def queue(store: Store, *posts) -> None:
    for post in posts:
        store.add_post(ACCOUNT, post, datetime.now(timezone.utc))


def tiny_png(path: Path) -> Path:
    """A valid 1x1 RGB PNG."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    png = b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
    path.write_bytes(png + chunk(b"IEND", b""))
    return path


def outcomes(store: Store, post_id: str) -> list[str]:
    return [a.outcome for a in store.attempts(post_id)]


@pytest.fixture
def engine(sqlite_store, x_publisher, fake_clock):
    return make_engine(sqlite_store, x_publisher, fake_clock)


# -- success ----------------------------------------------------------------------------------------


def test_success_records_the_id_everywhere(engine, sqlite_store, standin, fake_clock):
    queue(sqlite_store, new_post("p1", "Tip 1: drink water"))
    slot = fake_clock() + timedelta(minutes=1)
    outcome = engine.publish("p1", slot)

    [on_x] = standin.timeline()
    assert on_x["text"] == "Tip 1: drink water"
    assert (outcome.state, outcome.tweet_ids, outcome.slot_at) == ("sent", (on_x["id"],), slot)
    assert outcome.url == f"https://x.com/tipbot/status/{on_x['id']}"
    post = sqlite_store.get("p1")
    assert (post.state, post.tweet_id, post.part_ids, post.sent_at, post.slot_at) == (
        PostState.SENT, on_x["id"], (on_x["id"],), fake_clock(), slot)
    assert (post.claimed_by, post.uncertain, post.last_error) == (None, False, None)
    [attempt] = sqlite_store.attempts("p1")
    assert (attempt.outcome, attempt.part, attempt.instance, attempt.tweet_id, attempt.finished_at) == (
        "sent", 0, "me", on_x["id"], fake_clock())


def test_a_post_no_longer_pending_is_skipped(engine, sqlite_store, standin):
    queue(sqlite_store, new_post("p1"))
    assert engine.publish("p1", None).state == "sent"
    again = engine.publish("p1", None)
    assert again.state == "skipped"
    assert len(standin.timeline()) == 1 and standin.request_count("tweets") == 1


# -- rate limits and transient errors --------------------------------------------------------------------


def test_429_waits_for_the_reset_time_in_the_headers(engine, sqlite_store, standin, fake_clock):
    queue(sqlite_store, new_post("p1"))
    standin.inject("tweets", "rate_limited", reset_in=120)
    before = int(datetime.now(timezone.utc).timestamp())
    outcome = engine.publish("p1", None)
    after = int(datetime.now(timezone.utc).timestamp())

    post = sqlite_store.get("p1")
    assert post.state is PostState.RETRYING and outcome.state == "retrying"
    # x-rate-limit-reset is epoch seconds: the stand-in's was now + 120 when it answered
    reset = post.next_attempt_at.timestamp()
    assert reset == int(reset) and before + 120 <= reset <= after + 120
    assert outcome.retry_at == post.next_attempt_at
    assert (post.attempts, post.last_status) == (0, 429)  # a rate limit is not a failed attempt
    assert outcomes(sqlite_store, "p1") == ["rate_limited"]
    assert standin.timeline() == []


def test_429_wait_is_bounded_by_rate_limit_max_wait(engine, sqlite_store, standin, fake_clock):
    queue(sqlite_store, new_post("p1"))
    standin.inject("tweets", "usage_capped", reset_in=30 * 3600)
    engine.publish("p1", None)
    assert sqlite_store.get("p1").next_attempt_at == fake_clock() + POLICY.rate_limit_max_wait


def test_5xx_on_create_is_looked_up_before_each_retry_with_backoff_then_gives_up(engine, sqlite_store, standin,
                                                                                  fake_clock):
    """A 5xx may come after X created the post: each one is settled by a look-up, never a blind re-send."""
    queue(sqlite_store, new_post("p1"))
    standin.inject("tweets", "unavailable", times=3)
    waits = []
    for expected_attempts in (1, 2, 3):
        lost_at = fake_clock()
        reads = standin.request_count("timeline")
        outcome = engine.publish("p1", None)
        post = sqlite_store.get("p1")
        assert (outcome.state, post.state, post.attempts, post.last_status, post.uncertain) == (
            "retrying", PostState.RETRYING, expected_attempts, 503, True)
        assert standin.request_count("timeline") > reads  # looked up at once
        waits.append(post.next_attempt_at - lost_at)
        fake_clock.set(post.next_attempt_at)
    # never sooner than the look-up delay; equal jitter beyond it: attempt n waits half to all of 10 s * 2^(n-1)
    assert all(wait >= POLICY.reconcile_delay for wait in waits)
    assert timedelta(seconds=20) <= waits[2] <= timedelta(seconds=40)

    final = engine.publish("p1", None)  # looked up once more: not there, and no attempts left
    post = sqlite_store.get("p1")
    assert (final.state, post.state) == ("failed", PostState.FAILED)
    assert post.last_error.startswith("gave up after 3 attempts") and "503" in post.last_error
    assert outcomes(sqlite_store, "p1") == ["lost", "lost", "lost"]
    assert standin.timeline() == []


def test_backoff_delay_bounds_and_jitter():
    policy = RetryPolicy(backoff=timedelta(seconds=30), backoff_max=timedelta(minutes=30))
    rng = random.Random(1)
    for attempt, full in [(1, 30), (2, 60), (3, 120), (7, 1800), (20, 1800)]:
        delays = {policy.delay(attempt, rng) for _ in range(50)}
        assert all(timedelta(seconds=full / 2) <= d <= timedelta(seconds=full) for d in delays)
        assert len(delays) > 40  # jittered, so many publishers do not retry in lockstep


def test_network_error_before_sending_is_retried(sqlite_store, oauth1_credentials, closed_port_url, fake_clock):
    publisher = XPublisher(oauth1_credentials, handle="tipbot", api_url=closed_port_url, timeout=TEST_TIMEOUT)
    engine = make_engine(sqlite_store, publisher, fake_clock)
    queue(sqlite_store, new_post("p1"))
    outcome = engine.publish("p1", None)
    post = sqlite_store.get("p1")
    assert (outcome.state, post.state, post.attempts, post.uncertain) == ("retrying", PostState.RETRYING, 1, False)
    assert "not sent" in post.last_error
    assert fake_clock() + timedelta(seconds=5) <= post.next_attempt_at <= fake_clock() + timedelta(seconds=10)


# -- account-level refusals ----------------------------------------------------------------------------


@pytest.mark.parametrize(("kind", "status"), [("unauthorized", 401), ("permission", 403), ("client_forbidden", 403)])
def test_auth_errors_pause_the_account_and_keep_the_queue(engine, sqlite_store, standin, kind, status):
    queue(sqlite_store, new_post("p1"), new_post("p2"), new_post("p3"))
    order = [p.post_id for p in sqlite_store.iter_pending(ACCOUNT)]
    standin.inject("tweets", kind)
    outcome = engine.publish("p2", None)

    assert outcome.state == "paused"
    state = sqlite_store.account_state(ACCOUNT)
    assert state.paused and f"HTTP {status}" in state.pause_reason
    post = sqlite_store.get("p2")
    assert (post.state, post.attempts, post.claimed_by, post.last_status) == (PostState.QUEUED, 0, None, status)
    assert [p.post_id for p in sqlite_store.iter_pending(ACCOUNT)] == order
    assert outcomes(sqlite_store, "p2") == ["auth"]
    assert standin.timeline() == []


# -- permanent refusals --------------------------------------------------------------------------------


def test_duplicate_content_without_a_lost_attempt_fails(engine, sqlite_store, standin, x_publisher):
    x_publisher.create_post("Posted by hand on x.com")  # someone already posted this text
    queue(sqlite_store, new_post("p1", "Posted by hand on x.com"))
    outcome = engine.publish("p1", None)
    post = sqlite_store.get("p1")
    assert (outcome.state, post.state, post.last_status) == ("failed", PostState.FAILED, 403)
    assert "duplicate content" in post.last_error
    assert len(standin.timeline()) == 1


def test_too_long_fails_with_the_reason(engine, sqlite_store, standin):
    queue(sqlite_store, new_post("p1", "a" * 300))
    outcome = engine.publish("p1", None)
    post = sqlite_store.get("p1")
    assert (outcome.state, post.state, post.last_status) == ("failed", PostState.FAILED, 400)
    assert "too long" in post.last_error
    assert standin.timeline() == []


# -- lost responses ---------------------------------------------------------------------------------


def test_lost_response_of_a_created_post_is_found_not_reposted(engine, sqlite_store, standin):
    queue(sqlite_store, new_post("p1", "answer lost"))
    standin.inject("tweets", "create_then_drop")
    outcome = engine.publish("p1", None)

    [on_x] = standin.timeline()
    post = sqlite_store.get("p1")
    assert (outcome.state, post.state, post.tweet_id, post.uncertain) == ("sent", PostState.SENT, on_x["id"], False)
    assert outcomes(sqlite_store, "p1") == ["lost", "reconciled"]
    assert sqlite_store.attempts("p1")[-1].tweet_id == on_x["id"]
    assert standin.request_count("tweets") == 1


def test_lost_response_without_read_access_waits_for_a_person(engine, sqlite_store, standin, fake_clock):
    queue(sqlite_store, new_post("p1", "answer lost, cannot look"))
    standin.set_read_access(False)
    standin.inject("tweets", "create_then_drop")
    outcome = engine.publish("p1", None)

    post = sqlite_store.get("p1")
    assert (outcome.state, post.state) == ("unknown", PostState.UNKNOWN)
    assert "scheduler resolve p1" in post.last_error
    assert engine.publish("p1", None).state == "skipped"  # nothing sends it again on its own
    [on_x] = standin.timeline()

    sqlite_store.resolve(ACCOUNT, "p1", sent_tweet_id=on_x["id"], retry=False, now=fake_clock())
    post = sqlite_store.get("p1")
    assert (post.state, post.tweet_id) == (PostState.SENT, on_x["id"])
    assert len(standin.timeline()) == 1


def test_lost_request_that_never_landed_is_looked_up_again_then_sent_once(engine, sqlite_store, standin,
                                                                           fake_clock):
    queue(sqlite_store, new_post("p1", "dropped before creating"))
    standin.inject("tweets", "drop")
    lost_at = fake_clock()
    outcome = engine.publish("p1", None)
    post = sqlite_store.get("p1")
    assert (outcome.state, post.state, post.uncertain) == ("retrying", PostState.RETRYING, True)
    assert lost_at + POLICY.reconcile_delay <= post.next_attempt_at <= lost_at + POLICY.reconcile_delay * 2
    assert post.attempts == 1 and standin.timeline() == []

    fake_clock.advance(POLICY.reconcile_delay / 3)  # too early: look, but do not send
    assert engine.publish("p1", None).state == "retrying"
    assert standin.request_count("tweets") == 1 and sqlite_store.get("p1").next_attempt_at == post.next_attempt_at

    fake_clock.set(post.next_attempt_at)
    final = engine.publish("p1", None)
    [on_x] = standin.timeline()
    assert (final.state, sqlite_store.get("p1").tweet_id) == ("sent", on_x["id"])
    assert standin.request_count("tweets") == 2
    assert standin.request_count("timeline") >= 3  # looked up after the loss, early, and at the delay


class LaggingTimeline:
    """The real XPublisher, but its first ``misses`` timeline reads do not yet show new posts,
    as X's read side may lag its write side by a few seconds."""

    def __init__(self, inner: XPublisher, misses: int) -> None:
        self.inner, self.misses, self.name = inner, misses, inner.name

    def find_post(self, text, **kwargs):
        found = self.inner.find_post(text, **kwargs)
        if self.misses:
            self.misses -= 1
            return None
        return found

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_duplicate_after_a_lost_attempt_is_reconciled_as_sent(sqlite_store, x_publisher, standin, fake_clock):
    engine = make_engine(sqlite_store, LaggingTimeline(x_publisher, misses=2), fake_clock)
    queue(sqlite_store, new_post("p1", "went out, timeline lagging"))
    standin.inject("tweets", "create_then_drop")
    first = engine.publish("p1", None)
    assert first.state == "retrying"  # not found yet: look again after the delay

    fake_clock.advance(POLICY.reconcile_delay)
    outcome = engine.publish("p1", None)  # still not visible: sends, X says duplicate, look again
    [on_x] = standin.timeline()
    post = sqlite_store.get("p1")
    assert (outcome.state, post.state, post.tweet_id) == ("sent", PostState.SENT, on_x["id"])
    assert outcomes(sqlite_store, "p1") == ["lost", "duplicate", "reconciled"]


# -- threads ---------------------------------------------------------------------------------------


THREAD = ("1/3 Start with the basics", "2/3 Then build the habit", "3/3 And keep it up")


def test_thread_goes_out_as_a_reply_chain(engine, sqlite_store, standin):
    queue(sqlite_store, new_post("t", THREAD[0], parts=THREAD))
    outcome = engine.publish("t", None)
    on_x = standin.timeline()
    assert [p["text"] for p in on_x] == list(THREAD)
    assert [p["reply_to"] for p in on_x] == [None, on_x[0]["id"], on_x[1]["id"]]
    post = sqlite_store.get("t")
    assert post.part_ids == tuple(p["id"] for p in on_x) == outcome.tweet_ids
    assert post.tweet_id == on_x[0]["id"]
    assert [a.part for a in sqlite_store.attempts("t")] == [0, 1, 2]


def test_thread_interrupted_by_503_resumes_at_the_next_part(engine, sqlite_store, standin, fake_clock):
    queue(sqlite_store, new_post("t", THREAD[0], parts=THREAD))
    standin.inject("tweets", "slow", seconds=0)  # part 1 answers normally
    standin.inject("tweets", "unavailable")  # part 2 fails
    outcome = engine.publish("t", None)
    post = sqlite_store.get("t")
    [first] = standin.timeline()
    assert (outcome.state, post.state, post.part_ids) == ("retrying", PostState.RETRYING, (first["id"],))
    assert "part 2 of 3" in outcome.detail

    fake_clock.set(post.next_attempt_at)
    assert engine.publish("t", None).state == "sent"
    on_x = standin.timeline()
    assert [p["text"] for p in on_x] == list(THREAD)  # part 1 once, not reposted
    assert [p["reply_to"] for p in on_x] == [None, on_x[0]["id"], on_x[1]["id"]]
    assert sqlite_store.get("t").part_ids == tuple(p["id"] for p in on_x)


def test_thread_with_a_lost_part_finds_it_and_continues(engine, sqlite_store, standin):
    queue(sqlite_store, new_post("t", THREAD[0], parts=THREAD))
    standin.inject("tweets", "slow", seconds=0)
    standin.inject("tweets", "create_then_drop")  # part 2 lands, its answer is lost
    assert engine.publish("t", None).state == "sent"
    on_x = standin.timeline()
    assert [p["text"] for p in on_x] == list(THREAD)
    assert [p["reply_to"] for p in on_x] == [None, on_x[0]["id"], on_x[1]["id"]]
    assert sqlite_store.get("t").part_ids == tuple(p["id"] for p in on_x)
    assert outcomes(sqlite_store, "t") == ["sent", "lost", "reconciled", "sent"]


# -- media ----------------------------------------------------------------------------------------


def test_post_with_an_image_uploads_and_attaches_it(engine, sqlite_store, standin, tmp_path):
    image = tiny_png(tmp_path / "tip.png")
    queue(sqlite_store, new_post("m", "with a picture", media=(str(image),)))
    assert engine.publish("m", None).state == "sent"
    [on_x] = standin.timeline()
    assert len(on_x["media_ids"]) == 1
    assert standin.request_count("media") == 1
    assert sqlite_store.get("m").tweet_id == on_x["id"]


def test_failed_image_upload_sends_nothing(engine, sqlite_store, standin, tmp_path):
    image = tiny_png(tmp_path / "tip.png")
    queue(sqlite_store, new_post("m", "with a picture", media=(str(image),)))
    standin.inject("media", "unavailable")
    assert engine.publish("m", None).state == "retrying"
    assert standin.timeline() == [] and standin.request_count("tweets") == 0


# -- crash recovery --------------------------------------------------------------------------------


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def crashed_mid_call(store: Store, post_id: str, clock, *, register: bool = True) -> None:
    """What a publisher killed during create_post leaves: claimed, one open attempt."""
    if register:
        store.beat("dead", ACCOUNT, dead_pid(), socket.gethostname(), clock())
    assert store.claim(post_id, "dead", clock(), clock())
    store.begin_attempt(post_id, ACCOUNT, 0, "dead", clock())


@pytest.mark.parametrize("register", [True, False], ids=["dead-pid", "no-instance-row"])
def test_recover_reconciles_a_post_a_dead_publisher_sent(engine, sqlite_store, standin, x_publisher, fake_clock,
                                                         register):
    queue(sqlite_store, new_post("p1", "sent just before the crash"))
    crashed_mid_call(sqlite_store, "p1", fake_clock, register=register)
    tweet_id = x_publisher.create_post("sent just before the crash")  # the call reached X

    assert engine.recover(timedelta(minutes=5)) == ["p1"]
    post = sqlite_store.get("p1")
    assert (post.state, post.uncertain, post.claimed_by) == (PostState.RETRYING, True, None)
    assert outcomes(sqlite_store, "p1") == ["lost"]

    assert engine.publish("p1", None).state == "sent"
    assert sqlite_store.get("p1").tweet_id == tweet_id
    assert len(standin.timeline()) == 1 and standin.request_count("tweets") == 1


def test_recover_looks_up_a_post_whose_lost_answer_was_recorded_just_before_the_kill(engine, sqlite_store, standin,
                                                                                    x_publisher, fake_clock):
    """A publisher killed after recording a lost answer but before marking the post uncertain (older versions did
    that in two transactions) left a closed "lost" attempt and no open one: the post is still looked up before
    anything is sent again (found by the SIGKILL soak: it re-sent, and X's duplicate 403 caught it)."""
    queue(sqlite_store, new_post("p1", "its answer was lost, then the process was killed"))
    crashed_mid_call(sqlite_store, "p1", fake_clock)
    attempt = sqlite_store.open_attempts("p1")[0]
    sqlite_store.end_attempt(attempt.id, "lost", fake_clock())
    tweet_id = x_publisher.create_post("its answer was lost, then the process was killed")  # it did go out

    assert engine.recover(timedelta(minutes=5)) == ["p1"]
    assert sqlite_store.get("p1").uncertain
    assert engine.publish("p1", None).state == "sent"
    assert sqlite_store.get("p1").tweet_id == tweet_id
    assert standin.request_count("tweets") == 1  # looked up, never sent again


def test_recover_then_send_when_the_call_never_reached_x(engine, sqlite_store, standin, fake_clock):
    queue(sqlite_store, new_post("p1", "crashed before the request left"))
    crashed_mid_call(sqlite_store, "p1", fake_clock)
    fake_clock.advance(5)
    assert engine.recover(timedelta(minutes=5)) == ["p1"]
    assert engine.publish("p1", None).state == "retrying"  # too soon after the lost call to be sure
    fake_clock.advance(POLICY.reconcile_delay)
    assert engine.publish("p1", None).state == "sent"
    assert len(standin.timeline()) == 1


def test_recover_leaves_a_live_publishers_post_alone(engine, sqlite_store, fake_clock):
    queue(sqlite_store, new_post("p1"))
    sqlite_store.beat("alive", ACCOUNT, os.getpid(), socket.gethostname(), fake_clock())
    sqlite_store.claim("p1", "alive", fake_clock(), fake_clock())
    sqlite_store.begin_attempt("p1", ACCOUNT, 0, "alive", fake_clock())
    assert engine.recover(timedelta(minutes=5)) == []
    assert sqlite_store.get("p1").claimed_by == "alive"
    fake_clock.advance(timedelta(minutes=10))  # its heartbeat is now stale: it is presumed gone
    assert engine.recover(timedelta(minutes=5)) == ["p1"]


def test_recover_without_an_open_attempt_does_not_look_up(engine, sqlite_store, standin, fake_clock):
    queue(sqlite_store, new_post("p1"))
    sqlite_store.claim("p1", "dead", fake_clock(), fake_clock())  # killed before the call was recorded
    assert engine.recover(timedelta(minutes=5)) == ["p1"]
    assert sqlite_store.get("p1").uncertain is False
    assert engine.publish("p1", None).state == "sent"
    assert standin.request_count("timeline") == 0 and len(standin.timeline()) == 1


def test_recover_after_a_kill_between_the_answer_and_the_next_step(engine, sqlite_store, standin, x_publisher,
                                                                     fake_clock):
    """A kill right after X answered: the part's attempt and id are one transaction, so the ledger
    either knows the id or still has the attempt open (and looks it up). Either way: no re-send."""
    queue(sqlite_store, new_post("p1", "killed after the answer came back"))
    sqlite_store.beat("dead", ACCOUNT, dead_pid(), socket.gethostname(), fake_clock())
    sqlite_store.claim("p1", "dead", fake_clock(), fake_clock())
    attempt = sqlite_store.begin_attempt("p1", ACCOUNT, 0, "dead", fake_clock())
    tweet_id = x_publisher.create_post("killed after the answer came back")
    sqlite_store.finish_part(attempt, "p1", "dead", [tweet_id], fake_clock())
    # SIGKILL here: mark_sent never ran

    assert engine.recover(timedelta(minutes=5)) == ["p1"]
    assert engine.publish("p1", None).state == "sent"
    post = sqlite_store.get("p1")
    assert (post.state, post.tweet_id) == (PostState.SENT, tweet_id)
    assert len(standin.timeline()) == 1 and standin.request_count("tweets") == 1


# -- the outbox publisher ---------------------------------------------------------------------------


def test_outbox_publish_and_recover_after_a_crash(sqlite_store, tmp_path, fake_clock):
    outbox = OutboxPublisher(tmp_path / "outbox.jsonl", "tipbot", clock=fake_clock)
    engine = make_engine(sqlite_store, outbox, fake_clock)
    queue(sqlite_store, new_post("p1", "to the outbox"), new_post("p2", "crashed while writing"))
    assert engine.publish("p1", None).state == "sent"
    assert sqlite_store.get("p1").tweet_id == "outbox-1"

    fake_clock.advance(60)
    crashed_mid_call(sqlite_store, "p2", fake_clock)
    OutboxPublisher(tmp_path / "outbox.jsonl", "tipbot", clock=fake_clock).create_post("crashed while writing")

    fake_clock.advance(1)
    assert engine.recover(timedelta(minutes=5)) == ["p2"]
    assert engine.publish("p2", None).state == "sent"
    lines = [json.loads(line) for line in (tmp_path / "outbox.jsonl").read_text().splitlines()]
    assert [line["text"] for line in lines] == ["to the outbox", "crashed while writing"]
    assert sqlite_store.get("p2").tweet_id == lines[1]["id"] == "outbox-2"


# -- two publishers on one ledger ------------------------------------------------------------------


def test_two_publishers_in_threads_publish_each_post_once(ledger_url, standin, oauth1_credentials):
    setup = Store.open(ledger_url)
    for n in range(20):
        setup.add_post(ACCOUNT, new_post(f"c{n}", f"concurrent post {n}"), datetime.now(timezone.utc))
    results: dict[str, list] = {}
    barrier = threading.Barrier(2)

    def run(name: str) -> None:
        store = Store.open(ledger_url)
        publisher = XPublisher(oauth1_credentials, handle="tipbot", api_url=standin.url, timeout=TEST_TIMEOUT)
        engine = PublishingEngine(store, publisher, account=ACCOUNT, instance=name, policy=POLICY,
                                  clock=lambda: datetime.now(timezone.utc))
        barrier.wait()
        results[name] = [engine.publish(f"c{n}", None) for n in range(20)]
        publisher.close()
        store.close()

    threads = [threading.Thread(target=run, args=(name,)) for name in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        on_x = {p["text"]: p["id"] for p in standin.timeline()}
        assert len(standin.timeline()) == 20 == len(on_x)
        for n in range(20):
            states = sorted(results[name][n].state for name in ("a", "b"))
            assert states == ["sent", "skipped"]
            assert setup.get(f"c{n}").tweet_id == on_x[f"concurrent post {n}"]
    finally:
        setup.close()


class BrokenLookUp:
    """The real XPublisher, but its look-ups fail with an error no publisher maps (a bug, a library's surprise)."""

    def __init__(self, inner: XPublisher) -> None:
        self.inner, self.name = inner, inner.name

    def find_post(self, text, **kwargs):
        raise ValueError("year 3170843 is out of range")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_unexpected_error_in_a_look_up_is_counted_as_a_failed_look_up(sqlite_store, x_publisher, standin,
                                                                         fake_clock):
    """It used to fall into the engine's catch-all: retried every 30 s forever, never counted, never ``unknown``."""
    engine = make_engine(sqlite_store, BrokenLookUp(x_publisher), fake_clock)
    queue(sqlite_store, new_post("p1", "went out, look-ups broken"))
    standin.inject("tweets", "create_then_drop")
    engine.publish("p1", None)
    assert sqlite_store.lookup_failures("p1").failures == 1
    assert "ValueError" in sqlite_store.get("p1").last_error
    for _ in range(30):
        if sqlite_store.get("p1").state is not PostState.RETRYING:
            break
        fake_clock.set(sqlite_store.get("p1").next_attempt_at)
        engine.publish("p1", None, source="retry")
    assert sqlite_store.get("p1").state is PostState.UNKNOWN
    assert standin.request_count("tweets") == 1
