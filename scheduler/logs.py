"""Logging to stderr: readable lines or JSON lines, with every known secret redacted.

Credentials never reach a log line: the filter replaces any occurrence of a configured secret
value (and OAuth header contents) with ``***`` in the message and its arguments, whichever
library logged it (tweepy, requests, urllib3, oauthlib).
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime

from scheduler.networks.private import redact

_AUTH_HEADER = re.compile(r"(Authorization['\"]?\s*[:=]\s*['\"]?)(OAuth|Bearer|Basic)\s[^'\"\n]*", re.IGNORECASE)
_TOKEN_PARAM = re.compile(
    r"((?:access_token|refresh_token|oauth_token|oauth_signature|client_secret|code_verifier)['\"]?\s*[=:]\s*['\"]?)"
    r"[^&'\"\s,}]+",
    re.IGNORECASE,
)


# The attributes every LogRecord has; anything else on a record came from ``extra=`` (structured fields).
_STANDARD_ATTRIBUTES = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class RedactingFilter(logging.Filter):
    """Redacts the secrets registered with scheduler.networks.x.credentials, and anything shaped like a token, from
    the message, the traceback and every structured field (the JSON format writes those out too)."""

    def redact(self, text: str) -> str:
        text = _AUTH_HEADER.sub(r"\1\2 ***", redact(text))
        return _TOKEN_PARAM.sub(r"\1***", text)

    def redact_value(self, value):
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, dict):
            return {self.redact(str(k)): self.redact_value(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self.redact_value(v) for v in value]
        return self.redact(str(value))

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        if record.exc_info:
            record.exc_text = self.redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for name, value in list(vars(record).items()):
            if name not in _STANDARD_ATTRIBUTES:
                setattr(record, name, self.redact_value(value))
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        line.update(getattr(record, "fields", {}))
        if record.exc_text:
            line["error"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, default=str)


class LineFormatter(logging.Formatter):
    def __init__(self):
        super().__init__("%(asctime)s %(levelname)-7s %(message)s", "%Y-%m-%d %H:%M:%S%z")


def setup_logging(*, json_lines: bool = False, level: int = logging.INFO) -> RedactingFilter:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if json_lines else LineFormatter())
    redactor = RedactingFilter()
    handler.addFilter(redactor)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    # APScheduler narrates every job run at INFO; our own lines say what matters.
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return redactor
