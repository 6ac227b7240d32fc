"""The value checkers of scheduler.toml: each turns a raw TOML value into a checked one, or raises
ConfigError saying what is allowed."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.text.x_length import weighted_length


def _duration(value: Any) -> timedelta:
    from scheduler.domain.calendar import parse_duration  # lazy: the calendar costs every command ~0.1 s to import

    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; use e.g. \"90s\", \"15m\", \"2h\", \"1d\" or seconds")
    return parse_duration(value)


def _positive_duration(value: Any) -> timedelta:
    duration = _duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than 0s")
    return duration


def _metric_schedule(value: Any) -> tuple[timedelta, ...]:
    """``[metrics] schedule``: 1 to 20 distinct offsets after sending, each longer than 0s; shortest first."""
    offsets = [_positive_duration(v) for v in _string_list(value)]
    if not 1 <= len(offsets) <= 20:
        raise ValueError(f"{value!r} must list 1 to 20 times after sending, e.g. [\"1h\", \"24h\", \"7d\", \"30d\"]")
    if len(set(offsets)) != len(offsets):
        raise ValueError(f"{value!r} names one time after sending twice")
    return tuple(sorted(offsets))


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{value!r} is not a list of strings, e.g. [\"mon-fri 09:00\"]")
    return tuple(value)


def _disclaimer(value: Any) -> str:
    text = " ".join(_string(value).split())
    if weighted_length(text) > 100:
        raise ValueError(f"{text!r} weighs {weighted_length(text)} of a post's 280; keep a disclaimer under 100 "
                         "(or link to a page that says it)")
    return text


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{value!r} is not a whole number of at least 1")
    return value


def default_workers() -> int:
    """The service's publication workers when ``[service] workers`` is "auto": eight per CPU (a worker mostly waits
    for a network), at most 32."""
    return min(32, (os.cpu_count() or 1) * 8)


def _workers(value: Any) -> int:
    """``[service] workers``: "auto" (from the CPU count) or a whole number from 1 to 256."""
    if value == "auto":
        return default_workers()
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 256:
        raise ValueError(f'{value!r} is not "auto" or a whole number from 1 to 256')
    return value


def _optional_cap(value: Any) -> int | None:
    """A quota cap: a positive number, or 0 for "no cap"."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a whole number (0 means no cap)")
    return value or None


def _handle(value: Any) -> str | None:
    if value is None:
        return None  # no built-in account: Config.handle says how to name one
    value = _string(value).removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", value):
        raise ValueError(f"{value!r} is not an X handle (1-15 letters, digits or _)")
    return value


def _bluesky_handle(value: Any) -> str:
    value = _string(value).removeprefix("@").lower()
    if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]", value):
        raise ValueError(f"{value!r} is not a Bluesky handle, e.g. \"clinic.bsky.social\"")
    return value


def _mastodon_handle(value: Any) -> str:
    value = _string(value).removeprefix("@").split("@")[0]
    if not re.fullmatch(r"[A-Za-z0-9_]{1,30}", value):
        raise ValueError(f"{value!r} is not a Mastodon username (letters, digits or _; the server is `instance`)")
    return value


def _account_name(value: Any) -> str:
    value = _string(value)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", value):
        raise ValueError(f"{value!r} is not an account name (1-32 letters, digits, _ or -, e.g. \"bluesky\")")
    return value


def _timezone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(_string(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone, e.g. \"America/New_York\" or \"Europe/Paris\"") from None


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    return check


def _url(value: Any) -> str:
    value = _string(value).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _optional_url(value: Any) -> str:
    return _url(value) if _string(value) else ""


def _emails(value: Any) -> tuple[str, ...]:
    addresses = _string_list(value)
    for address in addresses:
        if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address):
            raise ValueError(f"{address!r} is not an email address like \"name@example.com\"")
    return addresses


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{value!r} is not a port number (1-65535)")
    return value


def _env_name(value: Any) -> str:
    value = _string(value)
    if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _review_rules(value: Any):
    from scheduler.domain.content_rules import check_rules_value  # lazy: start-up time of every command that reads the config

    return check_rules_value(value)


def _rule_names(value: Any):
    from scheduler.domain.content_rules import check_rule_names  # lazy: start-up time of every command that reads the config

    return check_rule_names(value)


def _optional_money(value: Any) -> int | None:
    """A budget in dollars, in millionths of a dollar; 0 means no budget."""
    from scheduler.domain.pricing import parse_dollars  # lazy: start-up time of every command that reads the config

    return parse_dollars(value) or None


def _pricing(value: Any):
    """[x.pricing]: post, post_with_link, read and user_read prices in dollars; a key left out keeps its default
    (user_read's: read's price)."""
    from scheduler.domain.pricing import DEFAULT_PRICING, Pricing, parse_dollars  # lazy: start-up time, as above

    if isinstance(value, Pricing):
        return value
    if not isinstance(value, dict):
        raise ValueError("must be a table: [x.pricing] with post, post_with_link and read in dollars")
    allowed = ("post", "post_with_link", "read", "user_read")
    unknown = sorted(set(value) - set(allowed))
    if unknown:
        raise ValueError(f"unknown price {unknown[0]!r}; allowed: {', '.join(allowed)}")
    prices = {}
    for key, amount in value.items():
        try:
            prices[key] = parse_dollars(amount)
        except ValueError as exc:
            raise ValueError(f"{key}: {exc}") from None
    return Pricing(**{key: prices.get(key, getattr(DEFAULT_PRICING, key)) for key in allowed})
