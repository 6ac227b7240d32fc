"""Publishing to Bluesky exactly once, through the atproto SDK against the stand-in PDS.

The record key is chosen and stored in the ledger before the call, so a lost answer is settled by reading that
very record: these tests lose answers every way the stand-in can (5xx after the write, dropped and reset
connections, a process killed mid-call) and check that exactly one post exists and the ledger names it.
"""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.text import bluesky_length
from scheduler.domain.models import PostState
from scheduler.networks.base import AuthError, OutcomeUnknown, Rejected
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from tests.conftest_networks import bluesky_publisher_for
from tests.helpers_ledger import ACCOUNT, new_post
from tests.network_driver import kill_mid_call
from tests.test_publishing import tiny_png

POLICY = RetryPolicy(max_attempts=3, backoff=timedelta(seconds=10), backoff_max=timedelta(seconds=60),
                     reconcile_delay=timedelta(seconds=30))
TEXT = "Walk after meals & keep moving: https://www.example.com/blog/walking-after-meals/ #BackPain"


def engine_for(store, publisher, clock, instance="me"):
    return PublishingEngine(store, publisher, account=ACCOUNT, instance=instance, policy=POLICY, clock=clock,
                            rng=random.Random(3))


def test_a_post_is_created_under_the_key_stored_before_the_call(sqlite_store, bluesky_publisher, bluesky_standin,
                                                                 fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    outcome = engine_for(sqlite_store, bluesky_publisher, fake_clock).publish("p", None)
    [record] = bluesky_standin.posts()
    key = sqlite_store.publish_keys("p")[0]
    assert (outcome.state, record["rkey"], sqlite_store.get("p").tweet_id) == ("sent", key, key)
    assert outcome.url == f"https://bsky.app/profile/{bluesky_standin.default_account.handle}/post/{key}"
    # The link shows shortened; its facet keeps the whole URL; the tag is a facet too.
    assert record["text"] == "Walk after meals & keep moving: www.example.com/blog/walking... #BackPain"
    features = [f["features"][0] for f in record["facets"]]
    assert features[0]["uri"] == "https://www.example.com/blog/walking-after-meals/"
    assert features[1]["tag"] == "BackPain"
    link = record["facets"][0]["index"]
    assert record["text"].encode()[link["byteStart"]:link["byteEnd"]].decode() == "www.example.com/blog/walking..."


@pytest.mark.parametrize("fault", ["create_then_server_error", "create_then_bad_gateway", "create_then_unavailable",
                                   "create_then_gateway_timeout", "create_then_drop", "create_then_reset"])
def test_created_then_lost_answer_is_settled_by_reading_the_record_never_resent(
        sqlite_store, bluesky_publisher, bluesky_standin, fake_clock, fault):
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    bluesky_standin.inject("createRecord", fault)
    outcome = engine_for(sqlite_store, bluesky_publisher, fake_clock).publish("p", None)
    [record] = bluesky_standin.posts()
    assert (outcome.state, sqlite_store.get("p").tweet_id) == ("sent", record["rkey"])
    assert bluesky_standin.request_count("createRecord") == 1  # settled by getRecord, not by a second create
    assert [a.outcome for a in sqlite_store.attempts("p")] == ["lost", "reconciled"]


def test_a_5xx_before_the_write_is_retried_with_the_same_key_and_ends_in_one_post(
        sqlite_store, bluesky_publisher, bluesky_standin, fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    engine = engine_for(sqlite_store, bluesky_publisher, fake_clock)
    bluesky_standin.inject("createRecord", "unavailable")
    first = engine.publish("p", None)
    key = sqlite_store.publish_keys("p")[0]
    assert (first.state, sqlite_store.get("p").uncertain, bluesky_standin.posts()) == ("retrying", True, [])
    fake_clock.set(sqlite_store.get("p").next_attempt_at)
    final = engine.publish("p", None)
    [record] = bluesky_standin.posts()
    assert (final.state, record["rkey"], sqlite_store.publish_keys("p")) == ("sent", key, {0: key})


def test_a_key_used_already_means_the_post_exists(bluesky_publisher, bluesky_standin):
    key = bluesky_publisher.new_key(datetime.now(timezone.utc))
    assert bluesky_publisher.create_post("first try", key=key) == key
    with pytest.raises(OutcomeUnknown):  # the PDS answers 500: the engine reads the record, finds it
        bluesky_publisher.create_post("first try", key=key)
    assert len(bluesky_standin.posts()) == 1
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    assert bluesky_publisher.find_post("first try", since=since, key=key) == key
    assert bluesky_publisher.find_post("first try", since=since, key=bluesky_publisher.new_key(since)) is None


def test_restart_mid_call_publishes_once(sqlite_url, bluesky_standin, tmp_path, fake_clock):
    from scheduler.ledger.store import Store

    store = Store.open(sqlite_url)
    try:
        store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
        bluesky_standin.inject("createRecord", "slow", seconds=3)
        account = bluesky_standin.default_account
        env = {"BLUESKY_HANDLE": account.handle, "BLUESKY_APP_PASSWORD": account.password,
               "BLUESKY_SESSION_FILE": str(tmp_path / "bluesky-session")}
        kill_mid_call("bluesky", sqlite_url, bluesky_standin.url, env, "p",
                      lambda: bluesky_standin.requests_received("createRecord") > 0,
                      lambda: bool(bluesky_standin.posts()))
        assert store.get("p").state is PostState.SENDING
        publisher = bluesky_publisher_for(bluesky_standin, tmp_path / "bluesky-session")
        engine = engine_for(store, publisher, fake_clock, instance="next")
        assert engine.recover(timedelta(seconds=30)) == ["p"]
        fake_clock.set(store.get("p").next_attempt_at)
        outcome = engine.publish("p", None, source="retry")
        [record] = bluesky_standin.posts()
        assert (outcome.state, store.get("p").tweet_id) == ("sent", record["rkey"])
        assert bluesky_standin.request_count("createRecord") == 1
        assert bluesky_standin.sessions_created() == 1  # the new process reused the dead one's session
    finally:
        store.close()


def test_the_session_is_kept_refreshed_and_reused_not_recreated(bluesky_standin, tmp_path):
    session_file = tmp_path / "bluesky-session"
    first = bluesky_publisher_for(bluesky_standin, session_file)
    first.create_post("one", key=first.new_key(datetime.now(timezone.utc)))
    assert session_file.stat().st_mode & 0o777 == 0o600
    kept = session_file.read_text()
    bluesky_standin.expire_access_tokens()  # the server says ExpiredToken: refreshed, not logged in again
    first.create_post("two", key=first.new_key(datetime.now(timezone.utc)))
    assert session_file.read_text() != kept  # the rotated refresh token is stored at once
    second = bluesky_publisher_for(bluesky_standin, session_file, password="not-needed")
    second.create_post("three", key=second.new_key(datetime.now(timezone.utc)))
    assert bluesky_standin.sessions_created() == 1
    assert [p["text"] for p in bluesky_standin.posts()] == ["one", "two", "three"]


def test_a_refused_app_password_pauses_the_account_and_keeps_the_post(sqlite_store, bluesky_standin, tmp_path,
                                                                       fake_clock):
    password = bluesky_standin.default_account.password
    publisher = bluesky_publisher_for(bluesky_standin, tmp_path / "bluesky-session")
    publisher.create_post("before", key=publisher.new_key(datetime.now(timezone.utc)))
    bluesky_standin.set_password(bluesky_standin.default_account.handle, "revoked-and-replaced")
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    outcome = engine_for(sqlite_store, publisher, fake_clock).publish("p", None)
    state = sqlite_store.account_state(ACCOUNT)
    assert (outcome.state, sqlite_store.get("p").state, state.paused) == ("paused", PostState.QUEUED, True)
    assert "app password" in state.pause_reason
    assert state.pause_reason.startswith("Bluesky refused the credentials")  # not X: the account is on Bluesky
    assert password not in state.pause_reason and password not in outcome.detail
    with pytest.raises(AuthError):
        publisher.create_post("again", key=publisher.new_key(datetime.now(timezone.utc)))


def test_rate_limited_waits_for_ratelimit_reset(sqlite_store, bluesky_publisher, bluesky_standin, fake_clock):
    bluesky_standin.set_write_budget(3, 600)  # one create (3 points) per 10 minutes
    bluesky_publisher.create_post("spends the budget", key=bluesky_publisher.new_key(fake_clock()))
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    outcome = engine_for(sqlite_store, bluesky_publisher, fake_clock).publish("p", None)
    reset = [e for e in bluesky_standin.request_log() if e["endpoint"] == "createRecord"][-1]
    post = sqlite_store.get("p")
    assert (outcome.state, post.state, len(bluesky_standin.posts())) == ("retrying", PostState.RETRYING, 1)
    assert reset["status"] == 429
    # The window opened with the first create and lasts 600 s: the retry waits for its ratelimit-reset.
    assert timedelta(seconds=500) < post.next_attempt_at - fake_clock() <= timedelta(seconds=601)


def test_an_injected_429_uses_its_ratelimit_reset_header(sqlite_store, bluesky_publisher, bluesky_standin,
                                                         fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    bluesky_standin.inject("createRecord", "rate_limited", reset_in=120)
    engine_for(sqlite_store, bluesky_publisher, fake_clock).publish("p", None)
    wait = sqlite_store.get("p").next_attempt_at - fake_clock()
    assert timedelta(seconds=115) <= wait <= timedelta(seconds=122)


def test_random_faults_carry_their_reset_time_and_their_slowness(sqlite_store, bluesky_publisher, bluesky_standin,
                                                                 fake_clock):
    # A soak draws its faults at random: its 429s must reset soon and its slow replies be slow.
    sqlite_store.add_post(ACCOUNT, new_post("p", TEXT), fake_clock())
    bluesky_standin.set_fault_rate(1.0, kinds=["rate_limited"], seed=1, reset_in=120)
    engine_for(sqlite_store, bluesky_publisher, fake_clock).publish("p", None)
    wait = sqlite_store.get("p").next_attempt_at - fake_clock()
    assert timedelta(seconds=115) <= wait <= timedelta(seconds=122)
    bluesky_standin.set_fault_rate(1.0, kinds=["slow"], seed=1, seconds=0.5)
    started = time.monotonic()
    bluesky_publisher.create_post("slow but made", key=bluesky_publisher.new_key(fake_clock()))
    assert time.monotonic() - started >= 0.5
    assert [p["text"] for p in bluesky_standin.posts()] == ["slow but made"]


def test_a_thread_replies_with_root_and_parent_references(sqlite_store, bluesky_publisher, bluesky_standin,
                                                          fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("t", parts=("part one", "part two", "part three")), fake_clock())
    bluesky_standin.inject("createRecord", "create_then_bad_gateway")  # the first part's answer is lost
    assert engine_for(sqlite_store, bluesky_publisher, fake_clock).publish("t", None).state == "sent"
    one, two, three = bluesky_standin.posts()
    assert "reply" not in one
    assert two["reply"]["root"]["uri"] == one["uri"] == two["reply"]["parent"]["uri"]
    assert (three["reply"]["root"]["uri"], three["reply"]["parent"]["uri"]) == (one["uri"], two["uri"])
    assert list(sqlite_store.get("t").part_ids) == [one["rkey"], two["rkey"], three["rkey"]]


def test_mentions_resolve_to_dids_and_unknown_handles_stay_text(bluesky_publisher, bluesky_standin):
    bluesky_standin.add_handle("physio.example.com", "did:plc:physio")
    bluesky_publisher.create_post("Thanks @physio.example.com and @nobody.example.org",
                                  key=bluesky_publisher.new_key(datetime.now(timezone.utc)))
    [record] = bluesky_standin.posts()
    assert [f["features"][0].get("did") for f in record["facets"]] == ["did:plc:physio"]


def test_images_go_up_as_blobs_and_over_a_megabyte_is_refused(bluesky_publisher, bluesky_standin, tmp_path):
    media = bluesky_publisher.upload_media(tiny_png(tmp_path / "a.png"))
    bluesky_publisher.create_post("with a picture", media_ids=(media,),
                                  key=bluesky_publisher.new_key(datetime.now(timezone.utc)))
    [record] = bluesky_standin.posts()
    assert record["embed"]["images"][0]["image"]["mimeType"] == "image/png"
    big = tmp_path / "big.png"
    big.write_bytes(tiny_png(tmp_path / "b.png").read_bytes() + b"\0" * 1_000_001)
    with pytest.raises(Rejected, match="1,000,000 bytes"):
        bluesky_publisher.upload_media(big)


def test_a_text_over_300_graphemes_is_refused_by_the_server_and_fails(sqlite_store, bluesky_publisher,
                                                                      bluesky_standin, fake_clock):
    sqlite_store.add_post(ACCOUNT, new_post("p", "e\u0301" * 301), fake_clock())
    outcome = engine_for(sqlite_store, bluesky_publisher, fake_clock).publish("p", None)
    assert (outcome.state, bluesky_standin.posts()) == ("failed", [])
    assert "300 graphemes" in sqlite_store.get("p").last_error


NEAR_LIMIT = st.builds(
    lambda filler, n, tail: filler * n + tail,
    st.sampled_from(["a", "e\u0301", "\U0001F468\u200D\U0001F469\u200D\U0001F467", "é", "本", "\U0001F1EB\U0001F1F7"]),
    st.integers(min_value=140, max_value=310),
    st.sampled_from(["", " https://www.example.com/blog/a-long-article-about-back-pain/", " #BackPain", " ok"]),
)


def test_what_fits_is_what_the_server_accepts_judged_by_pyuegc(bluesky_standin, tmp_path):
    publisher = bluesky_publisher_for(bluesky_standin, tmp_path / "bluesky-session")

    @settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                     HealthCheck.function_scoped_fixture])
    @given(NEAR_LIMIT)
    def check(text: str) -> None:
        try:
            publisher.create_post(text, key=publisher.new_key(datetime.now(timezone.utc)))
            accepted = True
        except Rejected as exc:  # the PDS: 400 InvalidRequest "Invalid app.bsky.feed.post record: ..."
            assert exc.detail.startswith("400 InvalidRequest: Invalid app.bsky.feed.post record")
            accepted = False
        assert bluesky_length.fits(text) is accepted, repr(text)

    check()
    assert bluesky_standin.stats()["length_judge"] == "pyuegc"


def test_keys_are_tids_that_sort_by_time(bluesky_publisher):
    moments = [datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(microseconds=n * 7919) for n in range(50)]
    keys = [bluesky_publisher.new_key(m) for m in moments]
    assert keys == sorted(keys) and len(set(keys)) == 50
    assert all(len(k) == 13 and k[0] in "234567abcdefghij" for k in keys)
    same = [bluesky_publisher.new_key(moments[0]) for _ in range(3)]
    assert len(set(same)) == 3  # the same instant twice never gives the same key


def test_a_connection_refused_is_a_transient_error_not_an_uncertain_one(closed_port_url, tmp_path):
    from scheduler.networks.base import TransientError
    from scheduler.networks.bluesky.publisher import BlueskyPublisher

    publisher = BlueskyPublisher(handle="tipbot.bsky.social", app_password="x", service_url=closed_port_url,
                                 session_file=tmp_path / "s", timeout=(1, 2))
    with pytest.raises(TransientError, match="not sent"):
        publisher.create_post("hello", key=publisher.new_key(datetime.now(timezone.utc)))


def test_without_a_key_the_look_up_finds_the_post_by_its_text_as_sent_and_its_parent(bluesky_publisher):
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    first = bluesky_publisher.create_post(TEXT, key=bluesky_publisher.new_key(datetime.now(timezone.utc)))
    reply = bluesky_publisher.create_post("more", reply_to=first,
                                          key=bluesky_publisher.new_key(datetime.now(timezone.utc)))
    assert bluesky_publisher.find_post(TEXT, since=since) == first  # compared as sent: the link shortened
    assert bluesky_publisher.find_post("more", since=since, reply_to=first) == reply
    assert bluesky_publisher.find_post("more", since=since, reply_to="3aaaaaaaaaaaa") is None
    assert bluesky_publisher.find_post(TEXT.replace("walking", "running"), since=since) is None


def test_an_unreadable_session_file_means_logging_in_again(bluesky_standin, tmp_path):
    from scheduler.networks.x.credentials import write_private

    write_private(tmp_path / "s", "not a session\n")
    publisher = bluesky_publisher_for(bluesky_standin, tmp_path / "s")
    publisher.create_post("hello", key=publisher.new_key(datetime.now(timezone.utc)))
    assert bluesky_standin.sessions_created() == 1 and len(bluesky_standin.posts()) == 1


# -- the PDS's own answers (packages/pds: auth-verifier.ts, refreshSession.ts, listRecords.ts) ---------------------


def test_a_token_the_server_cannot_verify_is_a_400_and_is_renewed_not_a_paused_account(bluesky_standin, tmp_path):
    # The PDS answers a token it cannot verify with 400 InvalidToken (InvalidRequestError), not 401.
    publisher = bluesky_publisher_for(bluesky_standin, tmp_path / "bluesky-session")
    publisher.create_post("one", key=publisher.new_key(datetime.now(timezone.utc)))
    bluesky_standin.forget_tokens("access")  # the refresh token still works: refreshed, no new login
    publisher.create_post("two", key=publisher.new_key(datetime.now(timezone.utc)))
    assert bluesky_standin.sessions_created() == 1
    refused = [e for e in bluesky_standin.request_log() if e["endpoint"] == "createRecord"]
    assert [e["status"] for e in refused] == [200, 400, 200]
    bluesky_standin.forget_tokens()  # the refresh token is refused too (400 ExpiredToken): logged in again
    publisher.create_post("three", key=publisher.new_key(datetime.now(timezone.utc)))
    assert bluesky_standin.sessions_created() == 2
    assert [p["text"] for p in bluesky_standin.posts()] == ["one", "two", "three"]


def test_a_stored_session_the_server_forgot_means_logging_in_again(bluesky_standin, tmp_path):
    session_file = tmp_path / "bluesky-session"
    first = bluesky_publisher_for(bluesky_standin, session_file)
    first.create_post("one", key=first.new_key(datetime.now(timezone.utc)))
    first.close()
    bluesky_standin.forget_tokens()
    second = bluesky_publisher_for(bluesky_standin, session_file)  # a restart reads the dead session
    key = second.new_key(datetime.now(timezone.utc))
    assert second.find_post("two", since=datetime.now(timezone.utc), key=key) is None  # a read renews too
    assert second.create_post("two", key=key) == key
    assert bluesky_standin.sessions_created() == 2 and len(bluesky_standin.posts()) == 2


def test_a_token_still_refused_after_renewing_pauses_the_account(bluesky_standin, tmp_path):
    publisher = bluesky_publisher_for(bluesky_standin, tmp_path / "bluesky-session")
    publisher.create_post("one", key=publisher.new_key(datetime.now(timezone.utc)))
    bluesky_standin.inject("createRecord", "invalid_token", times=2)
    with pytest.raises(AuthError, match="400 InvalidToken"):
        publisher.create_post("two", key=publisher.new_key(datetime.now(timezone.utc)))
    assert len(bluesky_standin.posts()) == 1


def test_the_look_up_pages_through_list_records_whose_last_page_still_has_a_cursor(bluesky_publisher,
                                                                                    bluesky_standin):
    # listRecords answers a cursor with every non-empty page; only an empty page ends the listing.
    since = datetime.now(timezone.utc) - timedelta(minutes=1)
    oldest = bluesky_publisher.create_post("the oldest", key=bluesky_publisher.new_key(datetime.now(timezone.utc)))
    for n in range(30):  # more than a page (25) of newer posts
        bluesky_publisher.create_post(f"newer {n}", key=bluesky_publisher.new_key(datetime.now(timezone.utc)))
    assert bluesky_publisher.find_post("the oldest", since=since) == oldest
    before = bluesky_standin.request_count("listRecords")
    assert bluesky_publisher.find_post("never posted", since=since) is None
    assert bluesky_standin.request_count("listRecords") - before == 3  # 25, 6, then the empty page


def test_a_blob_is_stored_with_the_type_its_bytes_say_and_the_record_must_name_it_so(bluesky_publisher,
                                                                                    bluesky_standin, tmp_path):
    import json

    media = json.loads(bluesky_publisher.upload_media(tiny_png(tmp_path / "a.png")))
    assert (media["mimeType"], media["size"]) == ("image/png", (tmp_path / "a.png").stat().st_size)
    wrong = dict(media, mimeType="image/jpeg")
    with pytest.raises(Rejected, match="400 InvalidMimeType"):
        bluesky_publisher.create_post("a picture", media_ids=(json.dumps(wrong),),
                                      key=bluesky_publisher.new_key(datetime.now(timezone.utc)))
    assert bluesky_standin.posts() == []
