"""Publishing to Mastodon exactly once, through Mastodon.py against the stand-in server.

Every attempt of a part carries the Idempotency-Key stored in the ledger before the first call: within the
server's window a repeated post answers the status already made. After the window, a lost answer is settled by
reading the account's own statuses and comparing their source text (``content`` is HTML). These tests lose
answers every way the stand-in can and check that exactly one status exists and the ledger names it.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.text import mastodon_length
from scheduler.domain.models import PostState
from scheduler.networks.base import AuthError, RateLimited, Rejected, TransientError
from scheduler.networks.mastodon.publisher import html_to_text
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from tests.conftest_networks import mastodon_publisher_for
from tests.helpers_ledger import ACCOUNT, new_post
from tests.network_driver import kill_mid_call
from tests.test_publishing import tiny_png

POLICY = RetryPolicy(max_attempts=3, backoff=timedelta(seconds=10), backoff_max=timedelta(seconds=60),
                     reconcile_delay=timedelta(seconds=30))
TEXT = "Heat < ice for stiff backs > 48 h & more:\n\nhttps://www.example.com/blog/heat-or-ice-for-back-pain/ #BackPain"


def engine_for(store, publisher, clock, instance="me"):
    return PublishingEngine(store, publisher, account=ACCOUNT, instance=instance, policy=POLICY, clock=clock,
                            rng=random.Random(3))


def since() -> datetime:
    return datetime.now(timezone.utc) - timedelta(minutes=5)


def test_a_post_goes_out_with_the_idempotency_key_stored_before_the_call(sqlite_store, mastodon_publisher,
                                                                         mastodon_standin, fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    outcome = engine_for(sqlite_store, mastodon_publisher, fake_clock).publish("p", None)
    [status] = mastodon_standin.statuses()
    assert (outcome.state, sqlite_store.get("p").tweet_id) == ("sent", status["id"])
    assert status["idempotency_key"] == sqlite_store.publish_keys("p")[0]
    assert outcome.url == f"{mastodon_standin.url}/@tipbot/{status['id']}"
    assert status["content"].startswith("<p>Heat &lt; ice") and status["text"] == TEXT


def test_the_same_key_within_the_window_answers_the_same_status(mastodon_publisher, mastodon_standin):
    first = mastodon_publisher.create_post("Stretch gently", key="key-1")
    assert mastodon_publisher.create_post("Stretch gently", key="key-1") == first
    assert len(mastodon_standin.statuses()) == 1
    mastodon_standin.set_idempotency_window(0)  # the server forgot the key: only a look-up can tell now
    assert mastodon_publisher.create_post("Stretch gently", key="key-1") != first
    assert len(mastodon_standin.statuses()) == 2


@pytest.mark.parametrize("fault", ["create_then_server_error", "create_then_bad_gateway", "create_then_unavailable",
                                   "create_then_gateway_timeout", "create_then_drop", "create_then_reset"])
@pytest.mark.parametrize("window", [3600, 0], ids=["key-remembered", "key-forgotten"])
def test_created_then_lost_answer_ends_as_one_status(sqlite_store, mastodon_publisher, mastodon_standin,
                                                     fake_clock, fault, window):
    mastodon_standin.set_idempotency_window(window)
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    mastodon_standin.inject("statuses", fault)
    outcome = engine_for(sqlite_store, mastodon_publisher, fake_clock).publish("p", None)
    [status] = mastodon_standin.statuses()
    assert (outcome.state, sqlite_store.get("p").tweet_id) == ("sent", status["id"])
    assert mastodon_standin.request_count("statuses") == 1  # found by its source text, not posted again


def test_a_5xx_before_the_post_is_retried_with_the_same_key(sqlite_store, mastodon_publisher, mastodon_standin,
                                                            fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    engine = engine_for(sqlite_store, mastodon_publisher, fake_clock)
    mastodon_standin.inject("statuses", "bad_gateway")
    assert engine.publish("p", None).state == "retrying"
    fake_clock.set(sqlite_store.get("p").next_attempt_at)
    assert engine.publish("p", None).state == "sent"
    [status] = mastodon_standin.statuses()
    assert status["idempotency_key"] == sqlite_store.publish_keys("p")[0]


def test_restart_mid_call_publishes_once(sqlite_url, mastodon_standin, fake_clock):
    from scheduler.ledger.store import Store

    store = Store.open(sqlite_url)
    try:
        store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
        mastodon_standin.inject("statuses", "slow", seconds=3)
        env = {"MASTODON_ACCESS_TOKEN": mastodon_standin.token, "MASTODON_HANDLE": "tipbot"}
        kill_mid_call("mastodon", sqlite_url, mastodon_standin.url, env, "p",
                      lambda: mastodon_standin.requests_received("statuses") > 0,
                      lambda: bool(mastodon_standin.statuses()))
        engine = engine_for(store, mastodon_publisher_for(mastodon_standin), fake_clock, instance="next")
        assert engine.recover(timedelta(seconds=30)) == ["p"]
        fake_clock.set(store.get("p").next_attempt_at)
        outcome = engine.publish("p", None, source="retry")
        [status] = mastodon_standin.statuses()
        assert (outcome.state, store.get("p").tweet_id) == ("sent", status["id"])
        assert mastodon_standin.request_count("statuses") == 1
    finally:
        store.close()


def test_the_look_up_compares_source_text_not_html_and_never_takes_a_look_alike(mastodon_publisher,
                                                                                mastodon_standin):
    other = mastodon_publisher.create_post(TEXT.replace("heat-or-ice", "ice-or-heat"), key="a")
    assert mastodon_publisher.find_post(TEXT, since=since()) is None
    mine = mastodon_publisher.create_post(TEXT, key="b")
    reply = mastodon_publisher.create_post("and rest", reply_to=mine, key="c")
    assert mastodon_publisher.find_post(TEXT, since=since()) == mine != other
    assert mastodon_publisher.find_post("and rest", since=since(), reply_to=mine) == reply
    assert mastodon_publisher.find_post("and rest", since=since(), reply_to=other) is None
    assert mastodon_publisher.find_post(TEXT, since=datetime.now(timezone.utc) + timedelta(minutes=1)) is None


def test_html_gives_back_the_text_with_whole_links(mastodon_standin, mastodon_publisher):
    mastodon_publisher.create_post(TEXT, key="k")
    [status] = mastodon_standin.statuses()
    assert "ellipsis" in status["content"]  # the link is split into spans as Mastodon renders it
    assert html_to_text(status["content"]) == TEXT


def test_rate_limits_wait_for_the_iso_reset_time(sqlite_store, mastodon_publisher, mastodon_standin, fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    mastodon_standin.inject("statuses", "rate_limited", reset_in=300)
    assert engine_for(sqlite_store, mastodon_publisher, fake_clock).publish("p", None).state == "retrying"
    wait = sqlite_store.get("p").next_attempt_at - fake_clock()
    assert timedelta(seconds=290) <= wait <= timedelta(seconds=305)
    mastodon_standin.set_status_budget(1, 3600)
    mastodon_publisher.create_post("spends it", key="x")
    with pytest.raises(RateLimited) as caught:
        mastodon_publisher.create_post("one too many", key="y")
    assert timedelta(seconds=3500) < caught.value.reset_at - datetime.now(timezone.utc) <= timedelta(seconds=3601)


@pytest.mark.parametrize("how", ["revoked", "forbidden"])
def test_a_refused_token_pauses_the_account(sqlite_store, mastodon_publisher, mastodon_standin, fake_clock, how):
    if how == "revoked":
        mastodon_standin.revoke_token(mastodon_standin.token)
    else:
        mastodon_standin.inject("statuses", "forbidden")
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    outcome = engine_for(sqlite_store, mastodon_publisher, fake_clock).publish("p", None)
    assert (outcome.state, sqlite_store.get("p").state) == ("paused", PostState.QUEUED)
    assert sqlite_store.account_state(ACCOUNT).paused
    assert sqlite_store.account_state(ACCOUNT).pause_reason.startswith("Mastodon refused the credentials")
    assert mastodon_standin.token not in sqlite_store.account_state(ACCOUNT).pause_reason


def test_a_thread_and_an_image(sqlite_store, mastodon_publisher, mastodon_standin, fake_clock, tmp_path):
    image = tiny_png(tmp_path / "a.png")
    sqlite_store.add_post(ACCOUNT, new_post("t", parts=("one", "two"), media=(str(image),)), fake_clock())
    mastodon_standin.inject("statuses", "create_then_drop")
    assert engine_for(sqlite_store, mastodon_publisher, fake_clock).publish("t", None).state == "sent"
    one, two = mastodon_standin.statuses()
    assert (len(one["media_ids"]), two["in_reply_to_id"]) == (1, one["id"])
    assert list(sqlite_store.get("t").part_ids) == [one["id"], two["id"]]


def test_the_limits_come_from_the_instance_and_the_server_refuses_more(sqlite_store, mastodon_standin, fake_clock):
    mastodon_standin.set_limits(100)
    publisher = mastodon_publisher_for(mastodon_standin)
    assert publisher.limits() == mastodon_length.Limits(100, 23)
    sqlite_store.add_post(ACCOUNT, new_post("p", "x" * 101), fake_clock())
    outcome = engine_for(sqlite_store, publisher, fake_clock).publish("p", None)
    assert (outcome.state, mastodon_standin.statuses()) == ("failed", [])
    assert "character limit of 100" in sqlite_store.get("p").last_error


NEAR_LIMIT = st.builds(
    lambda filler, n, links: filler * n + "".join(links),
    st.sampled_from(["a", "e\u0301", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "本", " "]),
    st.integers(min_value=40, max_value=110),
    st.lists(st.sampled_from([" https://www.example.com/a-very-long-article-path/", " http://a.co", " example.com",
                              " @alice@mastodon.social", " #BackPain"]), max_size=3),
)


def test_what_fits_is_what_the_server_accepts_judged_by_twitter_text_and_pyuegc(mastodon_standin):
    mastodon_standin.set_limits(100, 23)
    publisher = mastodon_publisher_for(mastodon_standin)
    limits = publisher.limits()
    keys = iter(range(10**6))

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(NEAR_LIMIT)
    def check(text: str) -> None:
        try:
            publisher.create_post(text, key=f"k{next(keys)}")
            accepted = True
        except Rejected as exc:
            assert exc.status == 422
            accepted = False
        if mastodon_length.fits(text, limits):
            assert accepted, f"{text!r}: we say it fits, the server refused it"
        elif text.strip() and "@alice@" not in text:
            assert not accepted, f"{text!r}: the server took it, we would have refused it"

    check()
    assert mastodon_standin.stats()["length_judge"] == "twitter-text + pyuegc"


def test_a_connection_refused_is_a_transient_error_not_an_uncertain_one(closed_port_url):
    from scheduler.networks.base import TransientError
    from scheduler.networks.mastodon.publisher import MastodonPublisher

    publisher = MastodonPublisher(access_token="t", instance_url=closed_port_url, handle="tipbot", timeout=(1, 2))
    with pytest.raises(TransientError, match="not sent"):
        publisher.create_post("hello", key="k")


def test_an_unknown_token_is_an_auth_error(mastodon_standin):
    from scheduler.networks.mastodon.publisher import MastodonPublisher

    publisher = MastodonPublisher(access_token="wrong", instance_url=mastodon_standin.url, handle="tipbot")
    with pytest.raises(AuthError):
        publisher.create_post("hello", key="k")


# -- Mastodon's own answers (PostStatusService, TextFormatter, Api::V1/V2::MediaController, require_user!) ---------

MENTIONS = "Thanks @alice@example.social and @tipbot for the #BackPain tips: https://www.example.com/blog/heat/"


def tiny_gif(path):
    path.write_bytes(b"GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00"
                     b",\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;")
    return path


def test_a_listed_status_shows_mentions_by_username_and_has_no_text(mastodon_publisher, mastodon_standin):
    mastodon_standin.add_remote_account("alice@example.social")
    status_id = mastodon_publisher.create_post(MENTIONS + " cc @nobody@unknown.example", key="k")
    listed = mastodon_publisher._api.account_statuses(mastodon_publisher._me(mastodon_publisher._api))
    [status] = [s for s in listed if str(s["id"]) == status_id]
    assert "text" not in status  # only the answer to a delete carries it
    shown = html_to_text(status["content"])
    assert shown.startswith("Thanks @alice and @tipbot for the #BackPain tips: https://www.example.com/blog/heat/")
    assert shown.endswith("cc @nobody@unknown.example")  # an account the server does not know stays text
    assert [m["acct"] for m in status["mentions"]] == ["alice@example.social", "tipbot"]


def test_a_lost_post_with_mentions_is_found_from_its_html_and_its_source_only_when_needed(mastodon_publisher,
                                                                                        mastodon_standin):
    mastodon_standin.add_remote_account("alice@example.social")
    mastodon_standin.add_remote_account("alice@other.example")
    mastodon_standin.set_idempotency_window(0)
    lookalike = mastodon_publisher.create_post(MENTIONS.replace("example.social", "other.example"), key="a")
    mine = mastodon_publisher.create_post(MENTIONS, key="b")
    for n in range(10):
        mastodon_publisher.create_post(f"unrelated tip {n} #BackPain https://www.example.com/{n}", key=f"u{n}")
    assert mastodon_publisher.find_post(MENTIONS, since=since()) == mine != lookalike
    assert mastodon_standin.request_count("source") == 1  # the one candidate whose HTML hides its mentions
    plain = mastodon_publisher.create_post(TEXT, key="c")
    assert mastodon_publisher.find_post(TEXT, since=since()) == plain
    assert mastodon_standin.request_count("source") == 1  # no mention: the HTML settles it


def test_a_lost_post_with_mentions_ends_as_one_status_after_the_key_is_forgotten(sqlite_store, mastodon_publisher,
                                                                                 mastodon_standin, fake_clock):
    mastodon_standin.add_remote_account("alice@example.social")
    mastodon_standin.set_idempotency_window(0)
    sqlite_store.add_post(ACCOUNT, new_post("p", MENTIONS), fake_clock())
    mastodon_standin.inject("statuses", "create_then_gateway_timeout")
    outcome = engine_for(sqlite_store, mastodon_publisher, fake_clock).publish("p", None)
    [status] = mastodon_standin.statuses()
    assert (outcome.state, sqlite_store.get("p").tweet_id) == ("sent", status["id"])


def test_a_gif_is_processed_in_the_background_and_the_post_waits_for_it(sqlite_store, mastodon_standin, fake_clock,
                                                                       tmp_path):
    waits = []
    publisher = mastodon_publisher_for(mastodon_standin, sleep=lambda s: (waits.append(s), time.sleep(s)))
    mastodon_standin.set_media_processing(1.0)
    sqlite_store.add_post(ACCOUNT, new_post("p", "A gif", media=(str(tiny_gif(tmp_path / "a.gif")),)), fake_clock())
    outcome = engine_for(sqlite_store, publisher, fake_clock).publish("p", None)
    [status] = mastodon_standin.statuses()
    assert (outcome.state, len(status["media_ids"])) == ("sent", 1)
    statuses = [e["status"] for e in mastodon_standin.request_log() if e["endpoint"] in ("media", "media_status")]
    assert statuses[0] == 202 and statuses[-1] == 200 and set(statuses[1:-1]) <= {206}
    assert waits and sum(waits) >= 1.0


def test_media_still_processing_or_used_already_is_refused_as_mastodon_does(mastodon_publisher, mastodon_standin,
                                                                            tmp_path):
    mastodon_standin.set_media_processing(30)
    impatient = mastodon_publisher_for(mastodon_standin, media_wait=0, sleep=lambda s: None)
    with pytest.raises(TransientError, match="still processing"):  # retried later, not failed
        impatient.upload_media(tiny_gif(tmp_path / "a.gif"))
    [gif_id] = [s for s in mastodon_standin._state.media]
    with pytest.raises(Rejected, match="422.*not finished processing"):
        mastodon_publisher.create_post("too soon", media_ids=(gif_id,), key="g")
    png = mastodon_publisher.upload_media(tiny_png(tmp_path / "a.png"))
    mastodon_publisher.create_post("with it", media_ids=(png,), key="p1")
    with pytest.raises(Rejected, match=f"422.*Media {png} not found or already attached"):
        mastodon_publisher.create_post("again", media_ids=(png,), key="p2")


def test_a_token_without_a_user_pauses_the_account_not_fails_the_post(sqlite_store, mastodon_standin, fake_clock):
    from scheduler.networks.mastodon.publisher import MastodonPublisher

    publisher = MastodonPublisher(access_token=mastodon_standin.app_token(), instance_url=mastodon_standin.url,
                                  handle="tipbot")
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    outcome = engine_for(sqlite_store, publisher, fake_clock).publish("p", None)
    assert (outcome.state, sqlite_store.get("p").state) == ("paused", PostState.QUEUED)
    assert "requires an authenticated user" in sqlite_store.account_state(ACCOUNT).pause_reason


def test_a_reply_to_a_missing_status_is_refused_with_mastodons_404(mastodon_publisher):
    with pytest.raises(Rejected, match="404.*does not appear to exist"):
        mastodon_publisher.create_post("a reply", reply_to="1", key="r")


# -- issue 18: look-ups that cannot tell, and look-ups far back ------------------------------------------------------


def test_a_status_differing_only_in_a_mention_domain_is_never_taken_for_ours_without_its_source(
        sqlite_store, mastodon_publisher, mastodon_standin, fake_clock):
    """A server without the source endpoint shows @alice@other.example as @alice, as it shows ours: the candidate
    cannot be told apart, so it is not a match; the post is left unknown, never marked sent with its id."""
    from scheduler.networks.base import LookupUnavailable

    mastodon_standin.add_remote_account("alice@example.social")
    mastodon_standin.add_remote_account("alice@other.example")
    mastodon_standin.set_idempotency_window(0)
    mastodon_standin.set_source_endpoint(False)
    lookalike = mastodon_publisher.create_post(MENTIONS.replace("example.social", "other.example"), key="a")
    with pytest.raises(LookupUnavailable, match=lookalike):
        mastodon_publisher.find_post(MENTIONS, since=since())
    mastodon_standin.add_account("bob")  # a local @bob, shown as @bob; so is the remote @bob@other.example
    mastodon_standin.add_remote_account("bob@other.example")
    remote_bob = mastodon_publisher.create_post("Ask @bob@other.example about posture", key="r")
    with pytest.raises(LookupUnavailable, match=remote_bob):
        mastodon_publisher.find_post("Ask @bob about posture", since=since())
    plain = mastodon_publisher.create_post("Ask @carol@unknown.example about posture", key="u")  # stays text
    assert mastodon_publisher.find_post("Ask @carol@unknown.example about posture", since=since()) == plain

    sqlite_store.add_post(ACCOUNT, new_post("p", MENTIONS), fake_clock())
    before = [s["id"] for s in mastodon_standin.statuses()]
    mastodon_standin.inject("statuses", "drop")  # the connection closes unanswered: uncertain
    outcome = engine_for(sqlite_store, mastodon_publisher, fake_clock).publish("p", None)
    post = sqlite_store.get("p")
    assert (outcome.state, post.state, post.tweet_id) == ("unknown", PostState.UNKNOWN, None)
    assert "scheduler resolve p" in post.last_error
    assert [s["id"] for s in mastodon_standin.statuses()] == before  # nothing sent again either


def test_past_the_idempotency_window_a_look_up_pages_back_to_the_attempt(mastodon_publisher, mastodon_standin):
    mastodon_standin.set_idempotency_window(0)
    mine = mastodon_publisher.create_post(TEXT, key="mine")
    for n in range(230):  # more than the five pages of 40 a look-up used to stop at
        mastodon_publisher.create_post(f"later tip {n}", key=f"later-{n}")
    assert mastodon_publisher.find_post(TEXT, since=since()) == mine


@pytest.mark.parametrize("ahead", [120, 3600])
def test_a_machine_clock_ahead_of_the_server_still_finds_the_lost_status(sqlite_store, mastodon_standin, ahead):
    """This machine's clock ``ahead`` seconds fast, the key forgotten at once: the look-up used to start at the
    attempt (our clock) minus a minute, after the status's time on the server's clock, skip it and post it again.
    It is bounded by the server's clock (its Date header) instead: one status."""
    from tests.helpers_ledger import FakeClock

    clock = FakeClock(datetime.now(timezone.utc) + timedelta(seconds=ahead))
    publisher = mastodon_publisher_for(mastodon_standin, clock=clock)
    try:
        mastodon_standin.set_idempotency_window(0)
        sqlite_store.add_post(ACCOUNT, new_post("p", "Stretch your calves after a long walk"), clock())
        mastodon_standin.inject("statuses", "create_then_drop")
        engine = engine_for(sqlite_store, publisher, clock)
        engine.publish("p", None)
        for _ in range(8):
            if sqlite_store.get("p").state is not PostState.RETRYING:
                break
            clock.set(sqlite_store.get("p").next_attempt_at)
            engine.publish("p", None, source="retry")
        [status] = mastodon_standin.statuses()
        assert (sqlite_store.get("p").state, sqlite_store.get("p").tweet_id) == (PostState.SENT, status["id"])
    finally:
        publisher.close()
