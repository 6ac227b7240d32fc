"""Who may use the dashboard: password hashes, API tokens, sessions, and a limit on failed logins.

- Passwords are stored as scrypt hashes (n=2**14, r=8, p=1, 16-byte random salt): slow and
  memory-hard, so a stolen ledger does not give the password away.
- API tokens and session ids are 256 random bits; the ledger keeps only their SHA-256, and a token is
  shown once, when it is created.
- Failed logins are counted per client address and per user name; past ``MAX_FAILURES`` within
  ``FAILURE_WINDOW`` further tries are refused until the window has passed.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
from collections import defaultdict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.errors import AccessError

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "tsk_"
SESSION_LIFETIME = timedelta(hours=12)
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
DEFAULT_USER = "admin"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccessError(f"the password is {len(password)} characters; use at least {MIN_PASSWORD_LENGTH}")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    """Whether ``password`` matches ``stored``; with no stored hash, spends the same time and says no."""
    if stored is None:
        hash_password("x" * MIN_PASSWORD_LENGTH)  # as slow as a real check: no user-name probing by timing
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                                dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True)
class NewToken:
    token_id: str
    name: str
    secret: str  # shown once
    role: str = "admin"


def check_role(role: str) -> str:
    from scheduler.review import ROLES

    if role not in ROLES:
        raise AccessError(f"role {role!r} is not one of {', '.join(ROLES)}: an editor writes and edits, a reviewer "
                          "also approves, an admin does everything")
    return role


def create_token(store, name: str, now: datetime, *, role: str = "admin") -> NewToken:
    name = name.strip()
    if not name or len(name) > 100:
        raise AccessError("give the token a name of 1 to 100 characters (what will use it, e.g. 'ci-bot')")
    check_role(role)
    token_id = secrets.token_hex(4)
    secret = f"{TOKEN_PREFIX}{token_id}_{secrets.token_urlsafe(32)}"
    store.add_token(token_id, name, secret_hash(secret), now, role=role)
    return NewToken(token_id, name, secret, role)


@dataclass(frozen=True)
class NewSession:
    cookie: str  # the session id, sent to the browser only
    csrf: str
    expires_at: datetime


def open_session(store, username: str, now: datetime) -> NewSession:
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    store.create_session(secret_hash(cookie), username, csrf, now, expires)
    return NewSession(cookie, csrf, expires)


class LoginLimiter:
    """Failed logins per key (client address, user name) in a sliding window; in memory, per process."""

    def __init__(self, max_failures: int = MAX_FAILURES, window: timedelta = FAILURE_WINDOW):
        self.max_failures = max_failures
        self.window = window
        self._failures: dict[str, deque[datetime]] = defaultdict(deque)
        self._lock = threading.Lock()

    def _recent(self, key: str, now: datetime) -> deque[datetime]:
        failures = self._failures[key]
        while failures and now - failures[0] >= self.window:
            failures.popleft()
        return failures

    def retry_after(self, keys: list[str], now: datetime) -> timedelta | None:
        """How long until another try is allowed, or None when one is allowed now."""
        with self._lock:
            waits = []
            for key in keys:
                failures = self._recent(key, now)
                if len(failures) >= self.max_failures:
                    waits.append(failures[0] + self.window - now)
            return max(waits) if waits else None

    def failed(self, keys: list[str], now: datetime) -> None:
        with self._lock:
            for key in keys:
                self._recent(key, now).append(now)

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for key in keys:
                self._failures.pop(key, None)
