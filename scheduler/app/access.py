"""Who may use the dashboard: password hashes, API tokens, sessions, and a limit on failed logins.

- Passwords are stored as scrypt hashes (n=2**14, r=8, p=1, 16-byte random salt): slow and
  memory-hard, so a stolen ledger does not give the password away.
- API tokens and session ids are 256 random bits; the ledger keeps only their SHA-256, and a token is
  shown once, when it is created. The password-less dashboard's sessions are instead cookies signed with the
  ledger's signing key (``local_session``): no row is written for them.
- Sign-in attempts are counted per client address and per user name in the ledger, before the password is
  checked; past a few failures a key waits, with exponential back-off (``LoginLimiter``). A browser that signed in
  as a user before carries a device cookie for that user (OWASP's "device cookies": signed with the ledger's
  signing key, no row); its attempts are counted per device instead, so an attack on the user name from many
  addresses cannot keep that user out.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.domain.errors import AccessError
from scheduler.review import signing_key
from scheduler.domain.roles import ROLES

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10
TOKEN_PREFIX = "tsk_"
SESSION_LIFETIME = timedelta(hours=12)
ADDRESS_FREE = 5  # failed sign-ins from one address before it must wait
ADDRESS_MAX_WAIT = timedelta(hours=1)
USER_FREE = 20  # failed sign-ins for one user name, from all addresses together, before it must wait
USER_MAX_WAIT = timedelta(minutes=1)
FORGET_FAILURES = timedelta(days=1)
DEVICE_LIFETIME = timedelta(days=90)  # a device cookie; each sign-in with it gives a new one
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


LOCAL_COOKIE_PREFIX = "l1."


def _unexpired(expires: str, now: datetime) -> bool:
    """Whether a signed cookie's expiry field (Unix seconds, ASCII digits: "²" passes isdigit() and int() refuses
    it) is a time after ``now``."""
    return expires.isascii() and expires.isdigit() and len(expires) <= 12 and int(expires) > now.timestamp()


def _mac(key: bytes, *fields: str) -> str:
    digest = hmac.new(key, "\n".join(fields).encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def local_session(store, now: datetime) -> NewSession:
    """A session of the password-less dashboard: a cookie signed with the ledger's signing key, its CSRF token
    derived from it, and no row in the ledger (a page load by anyone on this machine writes nothing)."""
    key = signing_key.current(store, now)
    nonce = secrets.token_urlsafe(24)
    expires = int((now + SESSION_LIFETIME).timestamp())
    cookie = f"{LOCAL_COOKIE_PREFIX}{nonce}.{expires}.{_mac(key, 'local session', nonce, str(expires))}"
    return NewSession(cookie, _mac(key, "local csrf", nonce), datetime.fromtimestamp(expires, now.tzinfo))


def is_local_cookie(cookie: str) -> bool:
    return cookie.startswith(LOCAL_COOKIE_PREFIX)


def local_session_csrf(store, cookie: str, now: datetime) -> str | None:
    """The CSRF token of a password-less session's cookie, if the cookie is one, unexpired and signed with the
    current key; else None."""
    pieces = cookie.removeprefix(LOCAL_COOKIE_PREFIX).split(".")
    if len(pieces) != 3 or not _unexpired(pieces[1], now):
        return None
    nonce, expires, mac = pieces
    key = signing_key.current(store, now)
    if not hmac.compare_digest(_mac(key, "local session", nonce, expires).encode(), mac.encode()):
        return None
    return _mac(key, "local csrf", nonce)


DEVICE_COOKIE_PREFIX = "d1."


def device_cookie(store, username: str, now: datetime) -> str:
    """The device cookie a browser gets when it signs in as ``username``: the name, a random device id and an
    expiry, signed with the ledger's signing key (nothing is written)."""
    key = signing_key.current(store, now)
    name = base64.urlsafe_b64encode(username.encode()).rstrip(b"=").decode()
    device = secrets.token_urlsafe(16)
    expires = str(int((now + DEVICE_LIFETIME).timestamp()))
    return f"{DEVICE_COOKIE_PREFIX}{name}.{device}.{expires}.{_mac(key, 'device', username, device, expires)}"


def device_of(store, cookie: str | None, username: str, now: datetime) -> str | None:
    """The device id of ``cookie`` if it is a device cookie for ``username``, unexpired and signed with the current
    key; else None (the sign-in is then an unknown browser's)."""
    if not cookie or not cookie.startswith(DEVICE_COOKIE_PREFIX) or len(cookie) > 600:
        return None
    pieces = cookie.removeprefix(DEVICE_COOKIE_PREFIX).split(".")
    if len(pieces) != 4 or not _unexpired(pieces[2], now):
        return None
    name, device, expires, mac = pieces
    try:
        named = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not hmac.compare_digest(named.encode(), username.encode()):
        return None
    key = signing_key.current(store, now)
    if not hmac.compare_digest(_mac(key, "device", username, device, expires).encode(), mac.encode()):
        return None
    return device


def open_session(store, username: str, now: datetime) -> NewSession:
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    expires = now + SESSION_LIFETIME
    store.create_session(secret_hash(cookie), username, csrf, now, expires)
    return NewSession(cookie, csrf, expires)


def _doubling(first: timedelta, free: int, cap: timedelta, failures: int) -> timedelta:
    """No wait for the first ``free - 1`` failures; then ``first``, doubling with each further one, at most ``cap``."""
    if failures < free:
        return timedelta(0)
    return min(cap, first * 2 ** min(failures - free, 30))


def address_key(address: str) -> str:
    """The limit key of a client address: the address, or for IPv6 its /64 (one host commonly holds a whole /64)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return f"ip:{address[:64]}"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return f"ip:{ip.ipv4_mapped}"
        return f"ip:{ipaddress.ip_network(f'{ip}/64', strict=False)}"
    return f"ip:{ip}"


class LoginLimiter:
    """Sign-in attempts per client address and per user name, counted in the ledger (shared by every dashboard
    process) BEFORE the slow password check, so that concurrent tries cannot all slip under the limit.

    - An address: ``ADDRESS_FREE`` tries, then it waits 30 s, doubling with each further failure up to an hour.
    - A user name, from every address together: ``USER_FREE`` tries, then it waits 1 s, doubling up to a minute.
      An attacker at one address blocks that address, not the user: the real user signs in from another address
      at once.
    - A browser with a valid device cookie for the user name (``device``, from ``device_of``: it signed in as that
      user before) is counted per device instead, as an address is, and never under the user name: an attacker
      with many addresses who keeps the name blocked does not keep out the user's own browsers.
    A success clears the counts it was counted under; counts untouched for a day are forgotten."""

    def __init__(self, store):
        self.store = store

    @staticmethod
    def keys(address: str, username: str, device: str | None = None) -> list[str]:
        if device is not None:
            return [f"device:{device}"]
        return [address_key(address), f"user:{username[:100]}"]

    @staticmethod
    def block_for(key: str, failures: int) -> timedelta:
        if key.startswith("user:"):
            return _doubling(timedelta(seconds=1), USER_FREE, USER_MAX_WAIT, failures)
        return _doubling(timedelta(seconds=30), ADDRESS_FREE, ADDRESS_MAX_WAIT, failures)  # an address, a device

    def reserve(self, address: str, username: str, now: datetime, *, device: str | None = None) -> timedelta | None:
        """Count this attempt before its password is checked: None, it may go ahead; else how long to wait."""
        free_at = self.store.reserve_login(self.keys(address, username, device), now, block_for=self.block_for,
                                           forget=FORGET_FAILURES)
        return None if free_at is None else max(free_at - now, timedelta(seconds=1))

    def succeeded(self, address: str, username: str, *, device: str | None = None) -> None:
        self.store.clear_login(self.keys(address, username, device))


def is_loopback(host: str) -> bool:
    """Whether a host name or address is this machine's (anything else needs a password)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
