"""X credentials: where they come from, how they are stored, and how they stay out of logs.

Sources, in order: OAuth 1.0a values from the environment (``X_API_KEY``, ``X_API_SECRET``,
``X_ACCESS_TOKEN``, ``X_ACCESS_TOKEN_SECRET``) merged over a file named by ``X_CREDENTIALS_FILE``;
else OAuth 2.0 tokens from the token file written by ``scheduler auth login``; else none, and the
app publishes to the outbox. Files holding secrets must be private to their owner (mode 0600).

Credential objects print as ``OAuth1Credentials(api_key='***', ...)``. Some libraries log secrets
at DEBUG (tweepy logs request headers, oauthlib logs the OAuth parameters), so every value loaded
here is also registered with a redacting filter on those libraries' loggers.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from scheduler.domain.errors import CredentialsError
from scheduler.networks.private import (  # noqa: F401 (re-exported)
    REDACTED, check_private, read_private, redact, register_secrets, write_private,
)

OAUTH1_ENV = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
CREDENTIALS_FILE_ENV = "X_CREDENTIALS_FILE"


@dataclass(frozen=True, repr=False)
class OAuth1Credentials:
    api_key: str
    api_secret: str
    access_token: str
    access_token_secret: str

    def __repr__(self) -> str:
        return _redacted_repr(self)

    __str__ = __repr__


@dataclass(frozen=True, repr=False)
class OAuth2Tokens:
    """The token file's content. ``expires_at``: aware UTC; None when the server gave no lifetime."""

    access_token: str
    refresh_token: str | None
    expires_at: datetime | None
    client_id: str
    scope: str

    def __repr__(self) -> str:
        return _redacted_repr(self, public=("expires_at", "client_id", "scope"))

    __str__ = __repr__

    def to_json(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "expires_at": self.expires_at.timestamp() if self.expires_at else None,
            "client_id": self.client_id,
            "scope": self.scope,
        }


@dataclass(frozen=True, repr=False)
class OAuth2Credentials:
    """OAuth 2.0 user context: the token file is the truth (refresh rewrites it); ``tokens`` as loaded."""

    token_file: Path
    tokens: OAuth2Tokens

    def __repr__(self) -> str:
        return f"OAuth2Credentials(token_file={str(self.token_file)!r}, tokens={self.tokens!r})"

    __str__ = __repr__


Credentials = OAuth1Credentials | OAuth2Credentials


def _redacted_repr(obj: Any, public: tuple[str, ...] = ()) -> str:
    parts = []
    for f in fields(obj):
        value = getattr(obj, f.name)
        shown = repr(value) if f.name in public or value is None else repr(REDACTED)
        parts.append(f"{f.name}={shown}")
    return f"{type(obj).__name__}({', '.join(parts)})"


def secret_values(creds: Credentials | OAuth2Tokens | None) -> list[str]:
    """Every secret string in ``creds``, for log filters that redact them wherever they appear."""
    if creds is None:
        return []
    if isinstance(creds, OAuth1Credentials):
        values = [creds.api_key, creds.api_secret, creds.access_token, creds.access_token_secret]
    elif isinstance(creds, OAuth2Credentials):
        values = secret_values(creds.tokens)
    else:
        values = [creds.access_token, creds.refresh_token or ""]
    return [v for v in values if v]


# -- loading -----------------------------------------------------------------------------------------


def load_credentials(env: Mapping[str, str], token_file: Path) -> Credentials | None:
    values = _credentials_file_values(env)
    values.update({name: env[name] for name in OAUTH1_ENV if env.get(name)})
    if any(values.get(name) for name in OAUTH1_ENV):
        missing = [name for name in OAUTH1_ENV if not values.get(name)]
        if missing:
            raise CredentialsError(
                f"OAuth 1.0a credentials are incomplete: {', '.join(missing)} not set "
                f"(set all four of {', '.join(OAUTH1_ENV)} in the environment or in {CREDENTIALS_FILE_ENV})"
            )
        creds = OAuth1Credentials(*(values[name].strip() for name in OAUTH1_ENV))
        register_secrets(secret_values(creds))
        return creds
    if token_file.exists():
        return OAuth2Credentials(token_file, read_tokens(token_file))
    return None


def _credentials_file_values(env: Mapping[str, str]) -> dict[str, str]:
    """The four OAuth 1.0a values from ``$X_CREDENTIALS_FILE`` (TOML, or KEY=VALUE lines)."""
    name = env.get(CREDENTIALS_FILE_ENV)
    if not name:
        return {}
    path = Path(name).expanduser()
    text = read_private(path)
    try:
        raw: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        raw = _key_value_lines(text)
    # Accept X_API_KEY or api_key spellings, any case.
    values: dict[str, str] = {}
    for key, value in raw.items():
        canonical = key.upper() if key.upper().startswith("X_") else "X_" + key.upper()
        if canonical in OAUTH1_ENV and isinstance(value, str):
            values[canonical] = value
    if not values:
        raise CredentialsError(f"{path} holds none of {', '.join(OAUTH1_ENV)} (named by {CREDENTIALS_FILE_ENV})")
    return values


def _key_value_lines(text: str) -> dict[str, str]:
    values = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = value.strip().strip("'\"")
    return values






# -- the OAuth 2.0 token file ------------------------------------------------------------------------


def read_tokens(path: Path) -> OAuth2Tokens:
    text = read_private(path)
    try:
        data = json.loads(text)
    except ValueError:
        raise CredentialsError(f"{path} is not valid JSON; run `scheduler auth login` to write it again") from None
    if not isinstance(data, dict) or not data.get("access_token") or not data.get("client_id"):
        raise CredentialsError(
            f"{path} lacks access_token or client_id; run `scheduler auth login` to write it again"
        )
    tokens = OAuth2Tokens(
        access_token=str(data["access_token"]),
        refresh_token=data.get("refresh_token") or None,
        expires_at=_parse_expiry(data.get("expires_at"), path),
        client_id=str(data["client_id"]),
        scope=str(data.get("scope", "")),
    )
    register_secrets(secret_values(tokens))
    return tokens


def _parse_expiry(value: Any, path: Path) -> datetime | None:
    if value is None:
        return None
    try:
        if isinstance(value, (int, float)):
            return datetime.fromtimestamp(value, timezone.utc)
        parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except (ValueError, OverflowError, OSError):
        raise CredentialsError(f"{path}: expires_at {value!r} is neither epoch seconds nor an ISO time") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def store_tokens(path: Path, tokens: OAuth2Tokens) -> None:
    """Replace the token file atomically: a crash leaves the old file or the new one, never half.

    This matters more than usual: refresh tokens are single use, so losing the new one (or
    keeping a torn file) loses the account's authorization.
    """
    register_secrets(secret_values(tokens))
    write_private(path, json.dumps(tokens.to_json(), indent=2) + "\n")




# -- keeping secrets out of library logs -------------------------------------------------------------
