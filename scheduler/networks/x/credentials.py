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
import logging
import os
import secrets
import stat
import tomllib
from dataclasses import dataclass, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import quote

from scheduler.domain.errors import CredentialsError

OAUTH1_ENV = ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")
CREDENTIALS_FILE_ENV = "X_CREDENTIALS_FILE"
REDACTED = "***"


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


def check_private(path: Path) -> None:
    """Refuse a secrets file that group or others can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        how = "readable" if mode & 0o044 else "writable"
        raise CredentialsError(f"{path} is {how} by other users (mode {mode:04o}); run: chmod 600 {path}")


def read_private(path: Path) -> str:
    try:
        check_private(path)
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise CredentialsError(f"{path}: no such file") from None
    except OSError as exc:
        raise CredentialsError(f"{path}: cannot be read ({exc.strerror})") from None


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


def write_private(path: Path, text: str) -> None:
    """Replace ``path`` (mode 0600) with ``text`` atomically and durably."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)  # make the rename itself durable
    finally:
        os.close(dir_fd)


# -- keeping secrets out of library logs -------------------------------------------------------------

# Loggers that format credentials into DEBUG messages: tweepy.client logs request headers (the
# OAuth 2.0 bearer token); requests_oauthlib and oauthlib log the OAuth 1.0a parameters
# (consumer key, access token) and the signature base string.
LEAKY_LOGGERS = (
    "tweepy.client",
    "requests_oauthlib.oauth1_auth",
    "requests_oauthlib.oauth2_session",
    "oauthlib.oauth1.rfc5849",
    "oauthlib.oauth1.rfc5849.signature",
    "oauthlib.oauth2.rfc6749",
    "oauthlib.oauth2.rfc6749.parameters",
)


class SecretRedactor(logging.Filter):
    """Replaces every registered secret (raw and percent-encoded) in a record's message."""

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()

    def add(self, values: list[str]) -> None:
        for value in values:
            if len(value) >= 4:  # shorter strings would mangle ordinary text
                self._secrets.update({value, quote(value, safe="")})

    def redact(self, text: str) -> str:
        for value in sorted(self._secrets, key=len, reverse=True):
            text = text.replace(value, REDACTED)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        if self._secrets:
            try:
                message = record.getMessage()
            except Exception:  # a broken record is the logging system's problem, not ours
                return True
            record.msg, record.args = self.redact(message), None
        return True


_REDACTOR = SecretRedactor()
for _name in LEAKY_LOGGERS:
    logging.getLogger(_name).addFilter(_REDACTOR)


def register_secrets(values: list[str]) -> None:
    """Redact these values from the leaky libraries' logs from now on."""
    _REDACTOR.add(values)


def redact(text: str) -> str:
    """``text`` with every secret seen by this process replaced by ``***``."""
    return _REDACTOR.redact(text)
