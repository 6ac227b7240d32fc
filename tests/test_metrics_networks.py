"""Each network's metrics read, through its publisher against its stand-in on 127.0.0.1 (real HTTP, the real SDKs):
the counters are exactly what the stand-in's growth rule gives for the post's age, ids go in batches of the
network's limit, a deleted post is reported as deleted (never as a failed read), and faults become the errors the
collector acts on (429 with its reset, 5xx, a refused token). The outbox has no metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.networks.base import AuthError, MetricsUnavailable, RateLimited, TransientError
from scheduler.standins.metrics import counts, followers

HOUR, DAY = 3600.0, 86400.0


def at_age(standin, created: datetime, seconds: float) -> None:
    """Freeze the stand-in's metrics clock so the post created at ``created`` is ``seconds`` old."""
    moment = created.timestamp() + seconds
    standin.set_metrics_clock(lambda: moment)


def expected(key: str, seconds: float, *, x: bool = False) -> tuple:
    c = counts(key, seconds)
    return (c.likes, c.reposts, c.replies, c.quotes) + ((c.impressions, c.bookmarks) if x else (None, None))


def got(reading) -> tuple:
    return (reading.likes, reading.reposts, reading.replies, reading.quotes, reading.impressions, reading.bookmarks)


# -- X ----------------------------------------------------------------------------------------------


def test_x_reads_public_metrics_that_grow_and_bills_only_posts_found(standin, x_publisher):
    ids = [x_publisher.create_post(f"tip number {n} for the metrics read") for n in range(3)]
    created = {p["id"]: p["created_at"] for p in standin.timeline()}
    standin.delete_post(ids[1])
    at_age(standin, created[ids[0]], HOUR)
    billed = standin.reads_billed()
    first = x_publisher.read_metrics(ids)
    assert first.deleted == {ids[1]}  # "Not Found Error" under errors: the call itself succeeded
    readings = {r.remote_id: r for r in first.readings}
    assert set(readings) == {ids[0], ids[2]}
    assert got(readings[ids[0]]) == expected(ids[0], HOUR, x=True)
    assert standin.reads_billed() - billed == 2  # X bills the posts a read returns
    at_age(standin, created[ids[0]], DAY)
    later = {r.remote_id: r for r in x_publisher.read_metrics([ids[0]]).readings}[ids[0]]
    assert got(later) == expected(ids[0], DAY, x=True)
    assert later.likes > readings[ids[0]].likes and later.impressions > readings[ids[0]].impressions


def test_x_reads_100_ids_a_call_and_the_followers_from_users_me(standin, x_publisher):
    ids = [x_publisher.create_post(f"post {n} of a long history") for n in range(3)]
    wanted = ids + [str(10**15 + n) for n in range(117)]  # 120 ids: 3 posts and 117 never made
    before = standin.request_count("lookup")
    result = x_publisher.read_metrics(wanted)
    # The 3 young posts in one call with non-public metrics; the 117 ids whose snowflakes date them to 2010 in
    # calls of 100 with public metrics alone.
    assert standin.request_count("lookup") - before == 3
    assert {r.remote_id for r in result.readings} == set(ids) and len(result.deleted) == 117
    standin.set_metrics_clock(lambda: standin.started_at + 4 * HOUR)
    assert x_publisher.read_followers() == followers(standin.default_account.username, 4 * HOUR)


@pytest.mark.parametrize("kind, error", [("rate_limited", RateLimited), ("unavailable", TransientError),
                                         ("server_error", TransientError), ("unauthorized", AuthError),
                                         ("client_forbidden", AuthError)])
def test_x_read_faults_become_the_collectors_errors(standin, x_publisher, kind, error):
    post = x_publisher.create_post("a post to read under faults")
    standin.inject("lookup", kind, reset_in=120)
    with pytest.raises(error) as raised:
        x_publisher.read_metrics([post])
    if error is RateLimited:
        assert raised.value.reset_at is not None
        assert abs((raised.value.reset_at - datetime.now(UTC)).total_seconds() - 120) < 30
    assert x_publisher.read_metrics([post]).readings  # the next read goes through


def test_x_reads_clicks_of_young_posts_only_and_public_metrics_of_the_rest(standin, x_publisher):
    from scheduler.networks.x.publisher import XPublisher
    from scheduler.standins.metrics import clicks

    young, old = (x_publisher.create_post(f"a post for its clicks, {n}") for n in range(2))
    created = {p["id"]: p["created_at"] for p in standin.timeline()}
    next(p for p in standin._state.posts if p.id == old).created_at -= timedelta(days=40)  # X dates it 40 days back
    at_age(standin, created[young], DAY)
    before = standin.request_count("lookup")
    readings = {r.remote_id: r for r in x_publisher.read_metrics([young, old]).readings}
    assert (readings[young].url_link_clicks, readings[young].user_profile_clicks) == clicks(young, DAY)
    assert readings[young].url_link_clicks > 0
    # X refused the old one's non-public metrics (under errors): read again with the public ones, the read succeeds.
    assert (readings[old].url_link_clicks, readings[old].user_profile_clicks) == (None, None)
    assert got(readings[old]) == expected(old, DAY + 40 * DAY, x=True)
    assert standin.request_count("lookup") - before == 2
    # A publisher whose clock says the posts are 40 days old never asks X for what X would refuse: one public call.
    later = XPublisher(_oauth1(standin), handle="tipbot", api_url=standin.url,
                       clock=lambda: datetime.now(UTC) + timedelta(days=40))
    before = standin.request_count("lookup")
    assert all(r.url_link_clicks is None for r in later.read_metrics([young, old]).readings)
    assert standin.request_count("lookup") - before == 1
    later.close()


def test_x_app_only_auth_gets_public_metrics_only(standin, x_publisher):
    from scheduler.networks.x.publisher import XPublisher

    post = x_publisher.create_post("a post read with an app-only token")
    at_age(standin, standin.timeline()[0]["created_at"], HOUR)
    app_only = XPublisher(lambda: standin.app_token, handle="tipbot", api_url=standin.url)
    before = standin.request_count("lookup")
    (reading,) = app_only.read_metrics([post]).readings  # X's 403 "Unsupported Authentication", then public
    assert got(reading) == expected(post, HOUR, x=True) and reading.url_link_clicks is None
    assert standin.request_count("lookup") - before == 2
    app_only.read_metrics([post])  # refused once: the publisher asks for public metrics alone from then on
    assert standin.request_count("lookup") - before == 3
    app_only.close()


def _oauth1(standin):
    from scheduler.networks.x.credentials import OAuth1Credentials

    account = standin.default_account
    return OAuth1Credentials(standin.consumer_key, standin.consumer_secret, account.access_token,
                             account.access_token_secret)


# -- Bluesky ----------------------------------------------------------------------------------------


def test_bluesky_reads_25_uris_a_call_and_a_missing_post_is_deleted_once_the_pds_confirms(bluesky_standin,
                                                                                           bluesky_publisher):
    keys = [bluesky_publisher.create_post(f"bluesky tip {n}") for n in range(30)]
    # The stand-in ages a post from when it indexed the record.
    indexed = {key[2]: record.indexed_at for key, record in bluesky_standin._state.records.items()}
    bluesky_standin.delete_post(keys[3])
    at_age(bluesky_standin, indexed[keys[0]], 7 * DAY)
    before = bluesky_standin.request_count("getPosts")
    result = bluesky_publisher.read_metrics(keys)
    assert bluesky_standin.request_count("getPosts") - before == 2
    assert result.deleted == {keys[3]}
    readings = {r.remote_id: r for r in result.readings}
    assert len(readings) == 29 and got(readings[keys[0]]) == expected(keys[0], 7 * DAY)
    assert readings[keys[0]].likes > 0  # a week old: it has engagement
    bluesky_standin.set_metrics_clock(lambda: bluesky_standin.started_at + 10 * HOUR)
    assert bluesky_publisher.read_followers() == followers(bluesky_standin.default_account.handle, 10 * HOUR)


@pytest.mark.parametrize("kind, error", [("rate_limited", RateLimited), ("bad_gateway", TransientError),
                                         ("unauthorized", AuthError)])
def test_bluesky_read_faults_become_the_collectors_errors(bluesky_standin, bluesky_publisher, kind, error):
    key = bluesky_publisher.create_post("a post to read under faults")
    bluesky_standin.inject("getPosts", kind, reset_in=300)
    with pytest.raises(error) as raised:
        bluesky_publisher.read_metrics([key])
    if error is RateLimited:
        assert raised.value.reset_at is not None and raised.value.reset_at > datetime.now(UTC) + timedelta(minutes=4)
    assert bluesky_publisher.read_metrics([key]).readings


# -- Mastodon ---------------------------------------------------------------------------------------


def test_mastodon_reads_20_ids_a_call_and_a_404_status_is_deleted(mastodon_standin, mastodon_publisher):
    ids = [mastodon_publisher.create_post(f"mastodon tip {n}") for n in range(25)]
    created = {s["id"]: s["created_at"] for s in mastodon_standin.statuses()}
    mastodon_standin.delete_post(ids[7])
    at_age(mastodon_standin, created[ids[0]], 30 * DAY)
    before = mastodon_standin.request_count("status_list")
    result = mastodon_publisher.read_metrics(ids)
    assert mastodon_standin.request_count("status_list") - before == 2
    assert mastodon_standin.request_count("status") == 1  # only the one left out is asked about, and it is 404
    assert result.deleted == {ids[7]}
    readings = {r.remote_id: r for r in result.readings}
    assert len(readings) == 24 and got(readings[ids[0]]) == expected(ids[0], 30 * DAY)[:3] + (0, None, None)
    mastodon_standin.set_metrics_clock(lambda: mastodon_standin.started_at + 20 * HOUR)
    assert mastodon_publisher.read_followers() == followers("tipbot", 20 * HOUR)


def test_mastodon_before_4_3_reads_each_status_on_its_own(mastodon_standin, mastodon_publisher):
    ids = [mastodon_publisher.create_post(f"old server tip {n}") for n in range(3)]
    mastodon_standin.set_status_list_endpoint(False)
    mastodon_standin.delete_post(ids[0])
    result = mastodon_publisher.read_metrics(ids)
    assert result.deleted == {ids[0]} and {r.remote_id for r in result.readings} == set(ids[1:])
    mastodon_publisher.read_metrics(ids[1:])
    assert mastodon_standin.request_count("status_list") == 1  # learned once: not asked again


@pytest.mark.parametrize("kind, error", [("rate_limited", RateLimited), ("unavailable", TransientError),
                                         ("unauthorized", AuthError)])
def test_mastodon_read_faults_become_the_collectors_errors(mastodon_standin, mastodon_publisher, kind, error):
    status = mastodon_publisher.create_post("a status to read under faults")
    mastodon_standin.inject("status_list", kind, reset_in=200)
    with pytest.raises(error) as raised:
        mastodon_publisher.read_metrics([status])
    if error is RateLimited:
        assert raised.value.reset_at is not None and raised.value.reset_at > datetime.now(UTC) + timedelta(minutes=2)
    assert mastodon_publisher.read_metrics([status]).readings


def test_a_revoked_mastodon_token_is_refused_on_reads(mastodon_standin, mastodon_publisher):
    status = mastodon_publisher.create_post("read me")
    mastodon_standin.revoke_token(mastodon_standin.token)
    with pytest.raises(AuthError):
        mastodon_publisher.read_metrics([status])


# -- the outbox and the growth rule -----------------------------------------------------------------


def test_the_outbox_has_no_metrics(outbox_publisher):
    post = outbox_publisher.create_post("dry run")
    with pytest.raises(MetricsUnavailable):
        outbox_publisher.read_metrics([post])
    assert outbox_publisher.read_followers() is None


def test_counters_only_grow_and_are_the_same_for_the_same_post_and_age():
    ages = [0, 60, HOUR, 6 * HOUR, DAY, 7 * DAY, 30 * DAY, 400 * DAY]
    series = [counts("2129124946041896961", a) for a in ages]
    for earlier, later in zip(series, series[1:]):
        assert all(getattr(later, f) >= getattr(earlier, f) for f in vars(earlier))
    assert series[0] == counts("2129124946041896961", 0) and sum(vars(series[0]).values()) == 0
    assert counts("a", DAY) != counts("b", DAY)  # each post its own curve
    assert followers("tipbot", 0) == followers("tipbot", 7199) < followers("tipbot", 7200)
