"""Reading a date-time a person typed, the same way in the CLI, the API and the dashboard."""

from __future__ import annotations

from datetime import UTC, date, datetime, tzinfo

from scheduler.domain.errors import InputError


def parse_when(value: str, tz: tzinfo) -> datetime:
    """ISO 8601 with seconds; without an offset it is the account's local time (``tz``). Returns UTC.

    A date alone (``2026-12-08``) is refused: read as midnight, it would pin a post to a time nobody typed."""
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        day = None
    if day is not None:
        raise InputError(f"{value!r} is a date without a time of day: add the time, like "
                         f"{day.isoformat()}T09:00:00 (the account's local time) or {day.isoformat()}T09:00:00+00:00")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{value!r} is not a date-time; use ISO 8601 like 2026-12-01T09:00:00-05:00 (or without offset: local)"
        ) from None
    if parsed.microsecond:
        raise InputError(f"{value!r}: times have second precision; drop the fraction of a second")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    try:
        return parsed.astimezone(UTC)
    except (OverflowError, ValueError):  # 9999-12-31T23:59:59-05:00 is in the year 10000 in UTC
        raise InputError(f"{value!r} is out of range: in UTC it falls outside the years 1 to 9999 (and a pin may be "
                         "at most two years ahead)") from None
