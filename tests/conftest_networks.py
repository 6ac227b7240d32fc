"""Pytest fixtures around the Bluesky and Mastodon stand-ins (register with ``pytest_plugins``).

bluesky_standin     a running StandinBluesky (fresh per test)
bluesky_publisher   BlueskyPublisher aimed at it, its session kept in <tmp_path>/bluesky-session, timeouts (1 s, 2 s)
mastodon_standin    a running StandinMastodon (fresh per test)
mastodon_publisher  MastodonPublisher aimed at it with the default account's token, timeouts (1 s, 2 s)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.networks.bluesky.publisher import BlueskyPublisher
from scheduler.standins.bluesky import StandinBluesky
from scheduler.networks.mastodon.publisher import MastodonPublisher
from scheduler.standins.mastodon import StandinMastodon

TEST_TIMEOUT = (1.0, 2.0)


@pytest.fixture
def bluesky_standin() -> Iterator[StandinBluesky]:
    with StandinBluesky() as server:
        yield server


def bluesky_publisher_for(standin: StandinBluesky, session_file: Path | None, password: str | None = None,
                          **kwargs) -> BlueskyPublisher:
    account = standin.default_account
    return BlueskyPublisher(handle=account.handle, app_password=password or account.password,
                            service_url=standin.url, session_file=session_file, timeout=TEST_TIMEOUT, **kwargs)


@pytest.fixture
def bluesky_publisher(bluesky_standin: StandinBluesky, tmp_path: Path) -> Iterator[BlueskyPublisher]:
    publisher = bluesky_publisher_for(bluesky_standin, tmp_path / "bluesky-session")
    yield publisher
    publisher.close()


@pytest.fixture
def mastodon_standin() -> Iterator[StandinMastodon]:
    with StandinMastodon() as server:
        yield server


def mastodon_publisher_for(standin: StandinMastodon, **kwargs) -> MastodonPublisher:
    return MastodonPublisher(access_token=standin.token, instance_url=standin.url,
                             handle=standin.default_account.username, timeout=TEST_TIMEOUT, **kwargs)


@pytest.fixture
def mastodon_publisher(mastodon_standin: StandinMastodon) -> Iterator[MastodonPublisher]:
    publisher = mastodon_publisher_for(mastodon_standin)
    yield publisher
    publisher.close()
