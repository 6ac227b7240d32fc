"""A create answered with a redirect after the network made the post is an answer, never "not sent" (review of
issue 18, item 1).

A front on 127.0.0.1 passes the create request to each network's stand-in (the post is made), then answers 307
with a Location that cannot be reached: a refused port, an ftp:// address, an unparseable URL. The HTTP clients
used to follow it, fail to connect, and call the create "not sent": X's retry then met its duplicate 403 and the
live post ended ``failed``; Mastodon, past its idempotency window, posted twice; an unparseable Location let a bare
ValueError escape ``create_post``. Now no publisher follows a redirect: the create is uncertain, looked up, found.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.networks.x.credentials import OAuth1Credentials
from scheduler.domain.models import PostState
from scheduler.networks.base import OutcomeUnknown
from scheduler.networks.bluesky.publisher import BlueskyPublisher
from scheduler.standins.bluesky import StandinBluesky
from scheduler.networks.mastodon.publisher import MastodonPublisher
from scheduler.standins.mastodon import StandinMastodon
from scheduler.networks.x.publisher import XPublisher
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.standins.x import StandinX

from tests.front_proxy import Front
from tests.helpers_ledger import ACCOUNT, new_post

TIMEOUT = (2.0, 5.0)
CREATE_PATHS = {"x": "/2/tweets", "mastodon": "/api/v1/statuses", "bluesky": "createRecord"}


def _refused_port() -> int:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return port


LOCATIONS = {
    "refused port": lambda path: f"http://127.0.0.1:{_refused_port()}{path}",
    "ftp": lambda path: f"ftp://127.0.0.1:{_refused_port()}{path}",
    "unparseable": lambda path: "http://[::1/x",
}


def _standin(name: str):
    if name == "x":
        return StandinX()
    if name == "mastodon":
        standin = StandinMastodon()
        return standin
    return StandinBluesky()


def _publisher(name: str, standin, url: str, tmp_path: Path):
    if name == "x":
        account = standin.default_account
        credentials = OAuth1Credentials(standin.consumer_key, standin.consumer_secret, account.access_token,
                                        account.access_token_secret)
        return XPublisher(credentials, handle=account.username, api_url=url, timeout=TIMEOUT)
    if name == "mastodon":
        return MastodonPublisher(access_token=standin.token, instance_url=url, handle=standin.default_account.username,
                                 timeout=TIMEOUT)
    account = standin.default_account
    return BlueskyPublisher(handle=account.handle, app_password=account.password, service_url=url,
                            session_file=tmp_path / "bluesky-session", timeout=TIMEOUT)


def _made(name: str, standin) -> list:
    return standin.timeline() if name == "x" else standin.statuses() if name == "mastodon" else standin.posts()


@pytest.fixture(params=["bluesky", "mastodon", "x"])
def behind_front(request, tmp_path) -> Iterator[tuple[str, object, Front, dict, object]]:
    name = request.param
    standin = _standin(name)
    standin.start()
    if name == "mastodon":
        standin.set_idempotency_window(0)  # the key cannot save a second status
    redirect = {"location": None}

    def override(method: str, path: str):
        if method == "POST" and CREATE_PATHS[name] in path and redirect["location"] is not None:
            location, redirect["location"] = redirect["location"](path), None
            return ("after", 307, {"Location": location}, b"")
        return None

    front = Front(standin.url, override)
    publisher = _publisher(name, standin, front.url, tmp_path)
    try:
        yield name, standin, front, redirect, publisher
    finally:
        publisher.close()
        front.stop()
        standin.stop()


@pytest.mark.parametrize("where", sorted(LOCATIONS))
def test_a_create_redirected_after_the_post_was_made_is_uncertain_never_unsent(behind_front, where):
    name, standin, front, redirect, publisher = behind_front
    redirect["location"] = LOCATIONS[where]
    with pytest.raises(OutcomeUnknown) as caught:
        publisher.create_post("Drink a glass of water when you wake up")
    assert "not sent" not in caught.value.detail
    assert len(_made(name, standin)) == 1  # it did go out
    assert [m for m, _ in front.log].count("POST") >= 1 and not any("ftp" in p for _, p in front.log)


@pytest.mark.parametrize("where", sorted(LOCATIONS))
def test_the_engine_looks_a_redirected_create_up_and_sends_it_exactly_once(behind_front, where, sqlite_store,
                                                                           fake_clock):
    name, standin, front, redirect, publisher = behind_front
    sqlite_store.add_post(ACCOUNT, new_post("p", "Stretch your calves after a long walk"), fake_clock())
    engine = PublishingEngine(sqlite_store, publisher, account=ACCOUNT, instance="me",
                              policy=RetryPolicy(reconcile_delay=timedelta(seconds=30)), clock=fake_clock,
                              rng=random.Random(1))
    redirect["location"] = LOCATIONS[where]
    first = engine.publish("p", None)
    assert (first.state, sqlite_store.get("p").uncertain) in (("retrying", True), ("sent", False)), first.detail
    for _ in range(10):
        if sqlite_store.get("p").state is not PostState.RETRYING:
            break
        fake_clock.set(sqlite_store.get("p").next_attempt_at)
        engine.publish("p", None, source="retry")
    post = sqlite_store.get("p")
    assert post.state is PostState.SENT, post.last_error
    assert len(_made(name, standin)) == 1
