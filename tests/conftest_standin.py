"""Pytest fixtures around the stand-in X API (register with ``pytest_plugins``).

standin             a running StandinX (fresh per test), stopped afterwards
standin_url         its base URL, http://127.0.0.1:PORT
oauth1_credentials  OAuth1Credentials valid for the stand-in's default account
x_publisher         XPublisher (OAuth 1.0a) aimed at the stand-in, with short timeouts (1 s, 2 s)
oauth2_token_file   a 0600 token file holding OAuth 2.0 tokens issued by the stand-in
closed_port_url     a loopback URL where nothing listens (connection refused)
outbox_publisher    OutboxPublisher writing <tmp_path>/outbox.jsonl
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from scheduler.networks.x.credentials import OAuth1Credentials, OAuth2Tokens, store_tokens
from scheduler.networks.outbox.publisher import OutboxPublisher
from scheduler.networks.x.publisher import XPublisher
from scheduler.standins.x import StandinX

TEST_TIMEOUT = (1.0, 2.0)  # (connect, read): slow-reply faults longer than 2 s become OutcomeUnknown


@pytest.fixture
def standin() -> Iterator[StandinX]:
    with StandinX() as server:
        yield server


@pytest.fixture
def standin_url(standin: StandinX) -> str:
    return standin.url


@pytest.fixture
def oauth1_credentials(standin: StandinX) -> OAuth1Credentials:
    account = standin.default_account
    return OAuth1Credentials(
        standin.consumer_key, standin.consumer_secret, account.access_token, account.access_token_secret
    )


@pytest.fixture
def x_publisher(standin: StandinX, oauth1_credentials: OAuth1Credentials) -> Iterator[XPublisher]:
    publisher = XPublisher(
        oauth1_credentials, handle=standin.default_account.username, api_url=standin.url, timeout=TEST_TIMEOUT
    )
    yield publisher
    publisher.close()


@pytest.fixture
def oauth2_token_file(standin: StandinX, tmp_path: Path) -> Path:
    issued = standin.issue_oauth2_tokens()
    path = tmp_path / "tokens.json"
    now = datetime.now(timezone.utc)
    store_tokens(
        path,
        OAuth2Tokens(
            access_token=issued["access_token"],
            refresh_token=issued["refresh_token"],
            expires_at=datetime.fromtimestamp(now.timestamp() + issued["expires_in"], timezone.utc),
            client_id=standin.oauth2_client_id,
            scope=issued["scope"],
        ),
    )
    return path


@pytest.fixture
def closed_port_url() -> str:
    # Bind, read the port, close: nothing listens there for the rest of the test (the kernel does
    # not hand a just-freed ephemeral port straight back out).
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}"


@pytest.fixture
def outbox_publisher(tmp_path: Path) -> OutboxPublisher:
    return OutboxPublisher(tmp_path / "outbox.jsonl", "tipbot")
