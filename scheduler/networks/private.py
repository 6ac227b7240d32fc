"""Private files and redaction, for every network: secrets files only their owner may read (mode 0600), written
atomically, and every known secret value redacted from log lines."""

from __future__ import annotations


import logging
import threading
import os
import secrets
import stat
from pathlib import Path
from urllib.parse import quote

from scheduler.domain.errors import CredentialsError

REDACTED = "***"


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
    """Replaces every registered secret (raw and percent-encoded) in a record's message.

    A service of a thousand accounts holds thousands of secrets: a text is scanned once, position by position,
    looking its next four characters up in an index of the secrets' first four (longest secret first), so the
    cost of a log line does not grow with the number of accounts."""

    PREFIX = 4  # the shortest secret redacted: shorter strings would mangle ordinary text

    def __init__(self) -> None:
        super().__init__()
        self._secrets: set[str] = set()
        self._index: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def add(self, values: list[str]) -> None:
        with self._lock:
            secrets = set(self._secrets)
            for value in values:
                if len(value) >= self.PREFIX:
                    secrets.update({value, quote(value, safe="")})
            index: dict[str, list[str]] = {}
            for value in sorted(secrets, key=len, reverse=True):
                index.setdefault(value[:self.PREFIX], []).append(value)
            self._secrets, self._index = secrets, index  # replaced whole: readers never see half an index

    def redact(self, text: str) -> str:
        index = self._index
        if not index or len(text) < self.PREFIX:
            return text
        out: list[str] = []
        last = i = 0
        end = len(text) - self.PREFIX
        while i <= end:
            for value in index.get(text[i:i + self.PREFIX], ()):
                if text.startswith(value, i):
                    out += (text[last:i], REDACTED)
                    i = last = i + len(value)
                    break
            else:
                i += 1
        if not out:
            return text
        out.append(text[last:])
        return "".join(out)

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
