"""Reconciliation against X as it really behaves (issue 9, holes 1 and 2).

X returns a post's text rewritten: ``&``, ``<``, ``>`` escaped, links as t.co links (the original in
``entities.urls``), a media link appended. Its gateways may answer 5xx after creating the post, and
its timelines lag. Every read is billed. The stand-in does all of that; these tests check that the
publisher finds exactly the post it sent, never a look-alike, and that the engine never posts twice.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from scheduler.domain.models import PostState
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from tests.helpers_ledger import ACCOUNT, new_post
from tests.test_publishing import tiny_png

POLICY = RetryPolicy(max_attempts=3, backoff=timedelta(seconds=10), backoff_max=timedelta(seconds=60),
                     reconcile_delay=timedelta(seconds=30))

REWRITTEN = [
    "Back pain & sitting: stand up every 30 min. https://example.com/blog/sitting?src=x&utm=1",
    "Heat < ice for stiff backs > 48 h after injury; see www.nhs.uk/conditions/back-pain/",
    "Two links: https://a.example.org/x and example.com/y & more",
    "Plain <b>tags</b> are text, not markup &amp; stay as typed",
]


def since() -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=5)


@pytest.mark.parametrize("text", REWRITTEN)
def test_find_post_sees_through_escaping_and_t_co(x_publisher, standin, text):
    post_id = x_publisher.create_post(text)
    [on_x] = standin.timeline()
    assert on_x["rendered_text"] != text  # X really did rewrite it
    assert x_publisher.find_post(text, since=since()) == post_id


def test_find_post_sees_through_the_appended_media_link(x_publisher, standin, tmp_path):
    text = "Stretch your hamstrings daily & gently https://example.com/stretch"
    media = x_publisher.upload_media(tiny_png(tmp_path / "a.png"))
    post_id = x_publisher.create_post(text, media_ids=(media,))
    assert "https://t.co/" in standin.timeline()[0]["rendered_text"].rsplit(" ", 1)[-1]
    assert x_publisher.find_post(text, since=since(), with_media=True) == post_id


def test_a_post_whose_links_differ_is_never_taken_for_ours(x_publisher, standin):
    other = x_publisher.create_post("New guide on lifting: https://example.com/guide-a")
    ours = "New guide on lifting: https://example.com/guide-b"
    assert x_publisher.find_post(ours, since=since()) is None
    mine = x_publisher.create_post(ours)
    assert x_publisher.find_post(ours, since=since()) == mine != other


def test_a_look_up_reads_one_small_page_not_the_timeline(sqlite_store, x_publisher, standin, fake_clock):
    for n in range(40):
        x_publisher.create_post(f"earlier post {n}")
    text = "The one we look for & its link example.com/x"
    sqlite_store.add_post(ACCOUNT, new_post("p", text), fake_clock())
    billed = standin.reads_billed()
    standin.inject("tweets", "create_then_unavailable")
    assert make_engine(sqlite_store, x_publisher, fake_clock).publish("p", None).state == "sent"
    assert standin.reads_billed() - billed <= 5  # X's smallest page, newest first: ours is on it


def make_engine(store, publisher, clock):
    return PublishingEngine(store, publisher, account=ACCOUNT, instance="me", policy=POLICY, clock=clock,
                            rng=random.Random(3))


@pytest.mark.parametrize("fault", ["create_then_unavailable", "create_then_bad_gateway",
                                   "create_then_gateway_timeout", "create_then_reset", "create_then_drop"])
def test_created_then_failed_post_ends_sent_once(sqlite_store, x_publisher, standin, fake_clock, fault):
    text = "Walk after meals & keep moving: https://example.com/walk?x=1&y=2"
    sqlite_store.add_post(ACCOUNT, new_post("p", text), fake_clock())
    engine = make_engine(sqlite_store, x_publisher, fake_clock)
    standin.inject("tweets", fault)
    outcome = engine.publish("p", None)
    [on_x] = standin.timeline()
    post = sqlite_store.get("p")
    assert (outcome.state, post.state, post.tweet_id) == ("sent", PostState.SENT, on_x["id"])
    assert standin.request_count("tweets") == 1


def test_created_then_503_with_a_lagging_timeline_is_looked_up_again_not_resent(sqlite_store, x_publisher, standin,
                                                                                fake_clock):
    text = "Sleep on your side with a pillow between the knees & see https://example.com/sleep"
    sqlite_store.add_post(ACCOUNT, new_post("p", text), fake_clock())
    engine = make_engine(sqlite_store, x_publisher, fake_clock)
    standin.set_read_lag(3600)  # not visible to reads yet
    standin.inject("tweets", "create_then_unavailable")
    first = engine.publish("p", None)
    assert (first.state, sqlite_store.get("p").uncertain) == ("retrying", True)
    standin.set_read_lag(0)
    fake_clock.set(sqlite_store.get("p").next_attempt_at)
    final = engine.publish("p", None)
    [on_x] = standin.timeline()
    assert (final.state, sqlite_store.get("p").tweet_id) == ("sent", on_x["id"])
    assert standin.request_count("tweets") == 1  # looked up, never re-sent


def test_duplicate_403_after_an_uncertain_attempt_means_it_was_sent(sqlite_store, x_publisher, standin,
                                                                    fake_clock):
    text = "Core work: planks beat crunches & protect the spine example.com/core"
    sqlite_store.add_post(ACCOUNT, new_post("p", text), fake_clock())
    engine = make_engine(sqlite_store, x_publisher, fake_clock)
    standin.set_read_lag(3600)
    standin.inject("tweets", "create_then_unavailable")
    assert engine.publish("p", None).state == "retrying"
    fake_clock.set(sqlite_store.get("p").next_attempt_at)
    assert engine.publish("p", None).state == "retrying"  # still unseen: sent again, X says duplicate
    assert [a.outcome for a in sqlite_store.attempts("p")] == ["lost", "duplicate"]
    standin.set_read_lag(0)
    fake_clock.set(sqlite_store.get("p").next_attempt_at)
    final = engine.publish("p", None)
    [on_x] = standin.timeline()
    assert (final.state, sqlite_store.get("p").tweet_id) == ("sent", on_x["id"])


# -- a post being retried keeps its slot (hole 3) ---------------------------------------------------------

CALENDAR = """\
[account]
handle = "tipbot"
timezone = "America/New_York"

[calendar]
slots = []
cron = ["* * * * *"]
series_gap = "0s"

[quota]
daily = 0
monthly = 0
"""


def test_a_503_does_not_let_the_next_post_take_the_slot_seconds_before_the_retry(sqlite_store, x_publisher,
                                                                                   standin, tmp_path):
    from scheduler.config import parse_config
    from scheduler.publishing.engine import publish_due
    from tests.helpers_ledger import FakeClock

    config = parse_config(CALENDAR, source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    now = datetime.now(timezone.utc)
    slot = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
    clock = FakeClock(slot)
    for n in (1, 2):
        sqlite_store.add_post(ACCOUNT, new_post(f"p{n}", f"Post {n} & its link https://example.com/{n}"), now)
    engine = make_engine(sqlite_store, x_publisher, clock)
    standin.inject("tweets", "unavailable")

    [(entry, outcome)] = publish_due(engine, config)  # the service's own loop, at the slot
    assert (entry.post.post_id, outcome.state) == ("p1", "retrying")
    assert sqlite_store.get("p2").state is PostState.QUEUED  # p2 waits: the slot is still p1's

    clock.set(sqlite_store.get("p1").next_attempt_at)
    assert [(e.post.post_id, o.state) for e, o in publish_due(engine, config)] == [("p1", "sent")]
    clock.set(slot + timedelta(minutes=1))
    assert [(e.post.post_id, o.state) for e, o in publish_due(engine, config)] == [("p2", "sent")]
    assert (sqlite_store.get("p1").slot_at, sqlite_store.get("p2").slot_at) == (slot, slot + timedelta(minutes=1))
    assert [t["text"] for t in standin.timeline()] == [f"Post {n} & its link https://example.com/{n}" for n in (1, 2)]


# -- an unexpected error between claim and call (hole 5) ----------------------------------------------------


class BrokenUpload:
    """The real publisher, but its media upload hits a bug (not a PublishError)."""

    def __init__(self, inner) -> None:
        self.inner, self.name = inner, inner.name

    def upload_media(self, path):
        raise RuntimeError("bug in the image code")

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_unexpected_error_after_the_claim_never_leaves_the_post_sending(sqlite_store, x_publisher, standin,
                                                                           fake_clock, tmp_path):
    image = tiny_png(tmp_path / "a.png")
    sqlite_store.add_post(ACCOUNT, new_post("p", "With a picture", media=(str(image),)), fake_clock())
    outcome = make_engine(sqlite_store, BrokenUpload(x_publisher), fake_clock).publish("p", None)
    post = sqlite_store.get("p")
    assert (outcome.state, post.state) == ("retrying", PostState.RETRYING)
    assert "bug in the image code" in post.last_error
    fake_clock.set(post.next_attempt_at)
    assert make_engine(sqlite_store, x_publisher, fake_clock).publish("p", None).state == "sent"
    assert len(standin.timeline()) == 1


def test_a_process_killed_after_recording_the_part_it_found_leaves_a_post_the_next_one_marks_sent(
        sqlite_store, x_publisher, standin, fake_clock):
    """The look-up found the post on X and recorded its id; the process died before marking it sent (its
    "reconciled" attempt still open). The next process recovers it as uncertain with every part known: it marks
    it sent with that id, calls nothing (found by the SIGKILL soak: it used to look up a part past the last)."""
    text = "Stand up and stretch every hour & walk: https://example.com/move"
    sqlite_store.add_post(ACCOUNT, new_post("p", text), fake_clock())
    assert sqlite_store.claim("p", "dead", fake_clock(), fake_clock())
    sqlite_store.record_part("p", "dead", ["1234567890"], fake_clock(), uncertain=False)
    sqlite_store.begin_attempt("p", ACCOUNT, 0, "dead", fake_clock())  # the reconciled attempt, never ended
    engine = make_engine(sqlite_store, x_publisher, fake_clock)
    assert engine.recover(timedelta(seconds=30)) == ["p"]
    assert sqlite_store.get("p").uncertain
    outcome = engine.publish("p", None)
    post = sqlite_store.get("p")
    assert (outcome.state, post.state, post.tweet_id) == ("sent", PostState.SENT, "1234567890")
    assert standin.request_count() == 0  # nothing looked up, nothing sent again
