from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import icalendar
import pytest

from scheduler.planning import ics
from scheduler.domain.errors import OutputError
from scheduler.domain.models import PostState, QueuedPost
from scheduler.domain.planner import PlanEntry

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LONG = "Tip 3: keep your functions small. " * 5


def queued(post_id: str, *parts: str) -> QueuedPost:
    return QueuedPost(
        post_id=post_id,
        account="acct",
        text=parts[0],
        parts=parts,
        weighted_length=len(parts[0]),
        state=PostState.QUEUED,
        position=0.0,
    )


ENTRIES = [
    PlanEntry(
        datetime(2026, 3, 2, 14, tzinfo=UTC), queued("guide-1", "Tip 1: commit small."), None, "slot"
    ),
    PlanEntry(datetime(2026, 3, 2, 18, tzinfo=UTC), None, "daily cap", "slot"),
    PlanEntry(datetime(2026, 3, 3, 15, 17, 42, tzinfo=UTC), queued("guide-3", LONG), None, "pin"),
    PlanEntry(
        datetime(2026, 3, 9, 13, tzinfo=UTC),  # after the DST change: 09:00 EDT
        queued("guide-4", "Tip 4: threads; part one", "part two, with more"),
        None,
        "slot",
    ),
]


def read(path: Path) -> icalendar.Calendar:
    return icalendar.Calendar.from_ical(path.read_bytes())


def test_round_trip_one_event_per_planned_post(tmp_path: Path) -> None:
    path = tmp_path / "plan.ics"
    ics.write_ics(ENTRIES, handle="tipster", tz=NY, path=path, now=NOW)

    cal = read(path)
    assert str(cal["VERSION"]) == "2.0" and "scheduler" in str(cal["PRODID"])
    assert str(cal["X-WR-TIMEZONE"]) == "America/New_York"
    events = cal.walk("VEVENT")
    assert len(events) == 3  # the empty slot is left out
    assert [e.decoded("DTSTART") for e in events] == [e.at for e in ENTRIES if e.post]
    assert {e.decoded("DURATION") for e in events} == {timedelta(minutes=5)}
    assert {e.decoded("DTSTAMP") for e in events} == {NOW}

    first, pinned, thread = events
    assert str(first["SUMMARY"]) == "Tip 1: commit small." == str(first["DESCRIPTION"])
    assert len(str(pinned["SUMMARY"])) <= 60 and str(pinned["SUMMARY"]).endswith("…")
    assert str(pinned["DESCRIPTION"]) == LONG
    assert str(thread["DESCRIPTION"]) == "[1/2] Tip 4: threads; part one\n\n[2/2] part two, with more"


def test_uids_are_unique_and_stable_across_exports(tmp_path: Path) -> None:
    a, b = tmp_path / "a.ics", tmp_path / "b.ics"
    ics.write_ics(ENTRIES, handle="tipster", tz=NY, path=a, now=NOW)
    ics.write_ics(ENTRIES, handle="tipster", tz=NY, path=b, now=NOW + timedelta(hours=1))
    uids = [str(e["UID"]) for e in read(a).walk("VEVENT")]
    assert len(set(uids)) == 3 and all("@" in u for u in uids)
    assert uids == [str(e["UID"]) for e in read(b).walk("VEVENT")]


def test_failed_write_leaves_the_previous_file_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "plan.ics"
    ics.write_ics(ENTRIES[:1], handle="tipster", tz=NY, path=path, now=NOW)
    before = path.read_bytes()

    def disk_full(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(ics.os, "replace", disk_full)
    with pytest.raises(OutputError, match="plan.ics: cannot write the calendar file \\(No space left on device\\)"):
        ics.write_ics(ENTRIES, handle="tipster", tz=NY, path=path, now=NOW)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["plan.ics"]  # no temp file left behind


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="nowhere/plan.ics: cannot write the calendar file"):
        ics.write_ics(ENTRIES, handle="t", tz=NY, path=tmp_path / "nowhere" / "plan.ics", now=NOW)


def test_naive_now_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="time zone"):
        naive = datetime(2026, 3, 1)
        ics.write_ics(ENTRIES, handle="t", tz=NY, path=tmp_path / "x.ics", now=naive)
