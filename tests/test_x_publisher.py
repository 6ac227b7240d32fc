"""XPublisher drives real tweepy through the transport adapter against the stand-in."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scheduler.networks.x.credentials import OAuth1Credentials, OAuth2Credentials, read_tokens
from scheduler.networks.base import (
    AuthError,
    DuplicateContent,
    LookupUnavailable,
    OutcomeUnknown,
    RateLimited,
    Rejected,
    TransientError,
)
from scheduler.networks.transport import XTransportAdapter
from scheduler.networks.x.publisher import XPublisher
from tests.conftest_standin import TEST_TIMEOUT

PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 64


def read_tokens_credentials(path: Path) -> OAuth2Credentials:
    return OAuth2Credentials(path, read_tokens(path))


def an_hour_ago() -> datetime:
    return datetime.now(timezone.utc) - timedelta(hours=1)


def test_success_returns_id_and_url(x_publisher, standin):
    post_id = x_publisher.create_post("Tip 1: hello")
    assert [p["id"] for p in standin.timeline()] == [post_id]
    assert x_publisher.post_url(post_id) == f"https://x.com/tipbot/status/{post_id}"


def test_oauth1_signature_was_computed_for_xs_url(standin, x_publisher):
    """The stand-in only accepts HMAC signatures over https://api.twitter.com/... or its own URL;
    a request the adapter rewrote after signing passes, so it was signed for X's URL."""
    x_publisher.create_post("signed")
    assert standin.request_log()[-1]["status"] == 201


def test_reply_chain(x_publisher, standin):
    first = x_publisher.create_post("1/2 thread")
    second = x_publisher.create_post("2/2 thread", reply_to=first)
    assert standin.timeline()[1]["reply_to"] == first
    assert x_publisher.find_post("2/2 thread", since=an_hour_ago(), reply_to=first) == second
    assert x_publisher.find_post("2/2 thread", since=an_hour_ago(), reply_to="12345") is None


def test_rate_limited_carries_reset_at(x_publisher, standin):
    standin.inject("tweets", "rate_limited", reset_in=120)
    with pytest.raises(RateLimited) as caught:
        x_publisher.create_post("x")
    expected = datetime.now(timezone.utc) + timedelta(seconds=120)
    assert caught.value.reset_at.tzinfo is not None
    assert abs((caught.value.reset_at - expected).total_seconds()) < 5
    assert caught.value.status == 429


def test_usage_cap_is_rate_limited_with_24h_reset(x_publisher, standin):
    standin.inject("tweets", "usage_capped", reset_in=3600)
    with pytest.raises(RateLimited) as caught:
        x_publisher.create_post("x")
    assert "UsageCapExceeded" in caught.value.detail and caught.value.reset_at is not None


@pytest.mark.parametrize(
    ("kind", "error", "status"),
    [
        ("unauthorized", AuthError, 401),
        ("permission", AuthError, 403),
        ("client_forbidden", AuthError, 403),
        ("payment_required", AuthError, 402),
        # X's gateways may answer 5xx after creating the post: never a plain failure
        ("server_error", OutcomeUnknown, 500),
        ("bad_gateway", OutcomeUnknown, 502),
        ("unavailable", OutcomeUnknown, 503),
    ],
)
def test_http_errors_map_to_publish_errors(x_publisher, standin, kind, error, status):
    standin.inject("tweets", kind)
    with pytest.raises(error) as caught:
        x_publisher.create_post("x")
    assert type(caught.value) is error and caught.value.status == status
    assert caught.value.detail.startswith(str(status))


def test_duplicate_content(x_publisher):
    x_publisher.create_post("same text")
    with pytest.raises(DuplicateContent) as caught:
        x_publisher.create_post("same text")
    assert "duplicate content" in caught.value.detail


def test_too_long_is_rejected(x_publisher):
    with pytest.raises(Rejected) as caught:
        x_publisher.create_post("a" * 300)
    assert "too long" in caught.value.detail and caught.value.status == 400


def test_wrong_credentials_are_auth_error(standin):
    bad = OAuth1Credentials(standin.consumer_key, standin.consumer_secret, "1-nobody", "nothing")
    publisher = XPublisher(bad, handle="tipbot", api_url=standin.url, timeout=TEST_TIMEOUT)
    with pytest.raises(AuthError):
        publisher.create_post("x")


def test_connection_refused_is_transient(oauth1_credentials, closed_port_url):
    publisher = XPublisher(oauth1_credentials, handle="tipbot", api_url=closed_port_url, timeout=TEST_TIMEOUT)
    with pytest.raises(TransientError) as caught:
        publisher.create_post("x")
    assert "not sent" in caught.value.detail


def test_create_then_drop_is_outcome_unknown_and_the_post_exists(x_publisher, standin):
    standin.inject("tweets", "create_then_drop")
    with pytest.raises(OutcomeUnknown):
        x_publisher.create_post("answer lost")
    # Reconciliation finds it; a blind retry would have hit the duplicate 403.
    [on_x] = standin.timeline()
    assert x_publisher.find_post("answer lost", since=an_hour_ago()) == on_x["id"]
    with pytest.raises(DuplicateContent):
        x_publisher.create_post("answer lost")


def test_slow_reply_beyond_read_timeout_is_outcome_unknown(x_publisher, standin):
    standin.inject("tweets", "slow", seconds=TEST_TIMEOUT[1] + 0.5)
    with pytest.raises(OutcomeUnknown) as caught:
        x_publisher.create_post("slow one")
    assert "ReadTimeout" in caught.value.detail


def test_no_automatic_retry_of_a_post(x_publisher, standin):
    standin.inject("tweets", "unavailable")
    with pytest.raises(OutcomeUnknown):
        x_publisher.create_post("once")
    assert standin.request_count("tweets") == 1


def test_media_upload_and_attach(x_publisher, standin, tmp_path):
    image = tmp_path / "tip.png"
    image.write_bytes(PNG)
    media_id = x_publisher.upload_media(image)
    post_id = x_publisher.create_post("with a picture", media_ids=(media_id,))
    [stored] = standin.timeline()
    assert (stored["id"], stored["media_ids"]) == (post_id, [media_id])


def test_media_upload_errors_map(x_publisher, standin, tmp_path):
    image = tmp_path / "tip.png"
    image.write_bytes(PNG)
    standin.inject("media", "unavailable")
    with pytest.raises(TransientError):
        x_publisher.upload_media(image)
    standin.inject("media", "create_then_drop")
    with pytest.raises(TransientError):  # an orphan upload publishes nothing: safe to retry
        x_publisher.upload_media(image)
    standin.inject("media", "rate_limited")
    with pytest.raises(RateLimited):
        x_publisher.upload_media(image)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.png", None, "no such image file"),
        ("notes.txt", b"hello", "not a supported image"),
        ("fake.png", b"GIF89a" + b"\0" * 10, "image/gif, not the image/png"),
        ("empty.jpg", b"", "empty"),
        ("huge.png", b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024), "over X's 5 MB limit"),
    ],
)
def test_bad_images_are_rejected_naming_the_file(x_publisher, standin, tmp_path, name, content, message):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(Rejected) as caught:
        x_publisher.upload_media(path)
    assert str(path) in caught.value.detail and message in caught.value.detail
    assert standin.request_count("media") == 0


def test_find_post_reads_only_posts_since_in_small_pages_and_stops_when_found(x_publisher, standin):
    ids = [x_publisher.create_post(f"many {n}") for n in range(12)]
    assert x_publisher.find_post("many 11", since=an_hour_ago()) == ids[11]  # the newest: one page
    assert standin.request_count("timeline") == 1
    assert x_publisher.find_post("many 3", since=an_hour_ago()) == ids[3]  # ninth newest: second page
    assert standin.request_count("timeline") == 3
    assert standin.request_count("me") == 1  # the user id is cached
    assert x_publisher.find_post("many 0", since=datetime.now(timezone.utc) + timedelta(minutes=5)) is None
    assert x_publisher.find_post("not posted", since=an_hour_ago()) is None


def test_find_post_without_read_access_is_lookup_unavailable(x_publisher, standin):
    standin.set_read_access(False)
    with pytest.raises(LookupUnavailable) as caught:
        x_publisher.find_post("x", since=an_hour_ago())
    assert caught.value.status == 403


def test_find_post_on_server_error_is_transient(x_publisher, standin):
    standin.inject("timeline", "unavailable")
    with pytest.raises(TransientError):
        x_publisher.find_post("x", since=an_hour_ago())


def test_oauth2_bearer_path(standin, oauth2_token_file):
    publisher = XPublisher(read_tokens_credentials(oauth2_token_file), handle="tipbot", api_url=standin.url,
                           timeout=TEST_TIMEOUT)
    post_id = publisher.create_post("via oauth2")
    assert publisher.find_post("via oauth2", since=an_hour_ago()) == post_id
    image = oauth2_token_file.parent / "a.png"
    image.write_bytes(PNG)
    assert publisher.create_post("pic", media_ids=(publisher.upload_media(image),))


def test_oauth2_expiring_token_is_refreshed_before_posting(standin, oauth2_token_file):
    before = read_tokens(oauth2_token_file)
    # A clock just short of the expiry: within the 5-minute margin, so the publisher refreshes first.
    later = lambda: before.expires_at - timedelta(minutes=1)  # noqa: E731
    publisher = XPublisher(read_tokens_credentials(oauth2_token_file), handle="tipbot", api_url=standin.url,
                           timeout=TEST_TIMEOUT, clock=later)
    publisher.create_post("after refresh")
    after = read_tokens(oauth2_token_file)
    assert after.refresh_token != before.refresh_token and after.access_token != before.access_token


def test_oauth2_access_token_provider(standin):
    token = standin.issue_oauth2_tokens()["access_token"]
    publisher = XPublisher(lambda: token, handle="tipbot", api_url=standin.url, timeout=TEST_TIMEOUT)
    assert publisher.create_post("provided token")


def test_adapter_rewrites_only_scheme_host_and_base_path():
    adapter = XTransportAdapter("http://127.0.0.1:9/prefix/")
    assert adapter.rewrite("https://api.twitter.com/2/users/1/tweets?max_results=5") == (
        "http://127.0.0.1:9/prefix/2/users/1/tweets?max_results=5"
    )
    assert XTransportAdapter(None).rewrite("https://api.twitter.com/2/tweets") == "https://api.twitter.com/2/tweets"

