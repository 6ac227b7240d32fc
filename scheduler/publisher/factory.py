"""Which publisher a configuration gets: X when credentials exist (or are required), else the outbox."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from scheduler.config import Config
from scheduler.errors import CredentialsError
from scheduler.publisher.base import Publisher

OUTBOX_NAME = "outbox.jsonl"
TOKENS_NAME = "x-tokens.json"


def token_file(config: Config) -> Path:
    return config.data_dir / TOKENS_NAME


def outbox_path(config: Config) -> Path:
    return config.data_dir / OUTBOX_NAME


def make_publisher(config: Config, *, clock: Callable[[], datetime], env: Mapping[str, str] | None = None) -> Publisher:
    from scheduler.credentials import load_credentials

    env = os.environ if env is None else env
    kind = config["publisher"]["kind"]
    credentials = None if kind == "outbox" else load_credentials(env, token_file(config))
    if credentials is None:
        if kind == "x":
            raise CredentialsError(
                "[publisher] kind is \"x\" but no X credentials were found: set X_API_KEY, X_API_SECRET, "
                "X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET, or run `scheduler auth login`"
            )
        from scheduler.publisher.outbox import OutboxPublisher

        return OutboxPublisher(outbox_path(config), config.handle, clock=clock)
    from scheduler.publisher.x import XPublisher

    timeout = config["publisher"]["timeout"].total_seconds()
    return XPublisher(credentials, handle=config.handle, api_url=config.api_url,
                      timeout=(min(5.0, timeout), timeout), clock=clock)
