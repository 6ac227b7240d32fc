"""The plan as an iCalendar file, so users see their posting calendar in their calendar app.

One event per planned post (empty slots are left out), five minutes long, at the post's
UTC instant; calendar apps show it in the viewer's zone, and X-WR-TIMEZONE names the
account's. An event's UID is stable for a post at a time, so re-exporting an unchanged
plan changes nothing a subscribed calendar can see but DTSTAMP.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar

from scheduler import __version__
from scheduler.domain.errors import OutputError
from scheduler.domain.models import QueuedPost
from scheduler.domain.planner import PlanEntry

UTC = timezone.utc
EVENT_LENGTH = timedelta(minutes=5)
SUMMARY_CHARS = 60
PRODID = f"-//tip-scheduler//scheduler {__version__}//EN"


def write_ics(
    entries: Sequence[PlanEntry], *, handle: str, tz: ZoneInfo, path: Path, now: datetime
) -> None:
    if now.tzinfo is None:
        raise ValueError(f"{now!r} has no time zone; pass an aware datetime")
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("x-wr-calname", f"@{handle} posts")
    calendar.add("x-wr-timezone", tz.key)
    for entry in entries:
        if entry.post is not None:
            calendar.add_component(_event(entry, entry.post, handle, now.astimezone(UTC)))
    try:
        _write_atomically(Path(path), calendar.to_ical())
    except OSError as exc:
        raise OutputError(f"{path}: cannot write the calendar file ({exc.strerror}); choose a writable path") from None


def _event(entry: PlanEntry, post: QueuedPost, handle: str, stamp: datetime) -> icalendar.Event:
    at = entry.at.astimezone(UTC)
    event = icalendar.Event()
    event.add("uid", f"{post.post_id}-{at:%Y%m%dT%H%M%SZ}-{handle}@scheduler")
    event.add("dtstamp", stamp)
    event.add("dtstart", at)
    event.add("duration", EVENT_LENGTH)
    event.add("summary", _summary(post.text))
    event.add("description", _description(post.parts or (post.text,)))
    event.add("categories", [entry.source])
    return event


def _summary(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= SUMMARY_CHARS else line[: SUMMARY_CHARS - 1].rstrip() + "…"


def _description(parts: Sequence[str]) -> str:
    if len(parts) == 1:
        return parts[0]
    return "\n\n".join(f"[{i}/{len(parts)}] {part}" for i, part in enumerate(parts, 1))


def _write_atomically(path: Path, data: bytes) -> None:
    """Readers see the old file or the new one, never half of one."""
    # A replaced file keeps its permissions; a new one is readable like any export.
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o644
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        os.unlink(temp)
        raise
