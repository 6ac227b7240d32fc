"""`scheduler auth`: log in with OAuth 2.0 and say which credentials are in use (never their values)."""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from scheduler.config import Config
from scheduler.publisher.factory import outbox_path, token_file


def login(config: Config, *, client_id: str, port: int, echo: Callable[[str], None]) -> Path:
    from scheduler.oauth2 import run_login

    path = token_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    run_login(client_id, token_file=path, api_url=config.api_url, port=port,
              clock=lambda: datetime.now(UTC), show=echo,
              client_secret=os.environ.get("X_CLIENT_SECRET") or None)
    return path


def describe(config: Config) -> str:
    from scheduler.credentials import OAuth1Credentials, load_credentials

    if config["publisher"]["kind"] == "outbox":
        return f"publisher: outbox ({outbox_path(config)}); X credentials are not used"
    credentials = load_credentials(os.environ, token_file(config))
    if credentials is None:
        return (f"no X credentials: posts go to the outbox ({outbox_path(config)}). Set X_API_KEY, X_API_SECRET, "
                "X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET or run `scheduler auth login`.")
    if isinstance(credentials, OAuth1Credentials):
        return f"OAuth 1.0a user context from the environment; API {config.api_url}"
    return f"OAuth 2.0 user tokens from {token_file(config)}; API {config.api_url}"
