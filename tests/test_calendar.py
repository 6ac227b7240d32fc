import re
from datetime import date, datetime, time, timedelta, timezone
from itertools import islice
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.domain.calendar import (
    Calendar,
    DateRange,
    WeeklySlot,
    parse_blackout,
    parse_cron,
    parse_duration,
    parse_slot,
)

UTC = timezone.utc
NEW_YORK = ZoneInfo("America/New_York")
SYDNEY = ZoneInfo("Australia/Sydney")
LORD_HOWE = ZoneInfo("Australia/Lord_Howe")  # a 30-minute DST change: 2026-10-04 02:00 -> 02:30


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def local_times(cal: Calendar, start: datetime, n: int) -> list[datetime]:
    return [cal.local(at) for at in islice(cal.slots_after(start), n)]


# --- parsing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "expr, days, at",
    [
        ("mon-fri 09:00", (0, 1, 2, 3, 4), time(9)),
        ("sat 11:30", (5,), time(11, 30)),
        ("mon,wed,fri 17:00", (0, 2, 4), time(17)),
        ("daily 08:15", tuple(range(7)), time(8, 15)),
        ("SUN 10:00:30", (6,), time(10, 0, 30)),
        ("fri-mon 9:05", (0, 4, 5, 6), time(9, 5)),  # ranges wrap past Sunday
        ("mon,wed-thu 23:59", (0, 2, 3), time(23, 59)),
    ],
)
def test_slot_expressions(expr: str, days: tuple[int, ...], at: time) -> None:
    assert parse_slot(expr) == WeeklySlot(days, at)


@pytest.mark.parametrize(
    "expr",
    ["mon-fry 09:00", "mon 24:00", "mon 09:60", "mon 9", "daily", "", "mon 09:00 extra"],
)
def test_bad_slot_names_the_value_and_the_grammar(expr: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_slot(expr)
    assert repr(expr) in str(err.value)
    assert "mon-fri" in str(err.value) and "HH:MM" in str(err.value)


@pytest.mark.parametrize(
    "expr", ["0 9 * *", "61 9 * * *", "0 9 * * 8", "0 9 * * mon/x", "a b c d e"]
)
def test_bad_cron_names_the_value(expr: str) -> None:
    with pytest.raises(ValueError, match=re.escape(f"'{expr}' is not a cron expression")):
        parse_cron(expr)


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("2026-12-25", DateRange(date(2026, 12, 25), date(2026, 12, 25))),
        ("2026-12-24..2026-12-26", DateRange(date(2026, 12, 24), date(2026, 12, 26))),
    ],
)
def test_blackout_expressions(expr: str, expected: DateRange) -> None:
    assert parse_blackout(expr) == expected


@pytest.mark.parametrize(
    "expr", ["2026-12-26..2026-12-24", "2026-13-01", "christmas", "2026-12-24.."]
)
def test_bad_or_reversed_blackout_is_refused(expr: str) -> None:
    with pytest.raises(ValueError, match=f"'{expr}' is not a blackout"):
        parse_blackout(expr)


@pytest.mark.parametrize(
    "expr, expected",
    [
        ("90s", timedelta(seconds=90)),
        ("15m", timedelta(minutes=15)),
        ("2h", timedelta(hours=2)),
        ("1d", timedelta(days=1)),
        ("1h30m", timedelta(hours=1, minutes=30)),
        (3600, timedelta(hours=1)),
        ("0", timedelta(0)),
    ],
)
def test_durations(expr: str | int, expected: timedelta) -> None:
    assert parse_duration(expr) == expected


@pytest.mark.parametrize("expr", ["", "m", "1.5h", "-5", -5, True, "30m1h", "2 weeks"])
def test_bad_duration_names_the_value(expr: object) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(expr)  # type: ignore[arg-type]


def test_calendar_refuses_a_bad_rule_naming_it() -> None:
    with pytest.raises(ValueError, match="'tue 9am'"):
        Calendar(NEW_YORK, ["mon-fri 09:00", "tue 9am"])
    with pytest.raises(ValueError, match="'0 9 \\* \\*'"):
        Calendar(NEW_YORK, [], cron=["0 9 * *"])
    with pytest.raises(ValueError, match="'2026-02-30'"):
        Calendar(NEW_YORK, [], blackout=["2026-02-30"])


# --- slots -----------------------------------------------------------------------------


def test_weekday_slots_skip_the_weekend_in_local_time() -> None:
    cal = Calendar(NEW_YORK, ["mon-fri 09:00"])
    # Friday 2026-01-09 10:00 local: the next slots are Mon..Fri of the following week.
    got = local_times(cal, datetime(2026, 1, 9, 10, tzinfo=NEW_YORK), 5)
    assert [t.date() for t in got] == [date(2026, 1, d) for d in (12, 13, 14, 15, 16)]
    assert {t.time() for t in got} == {time(9)}


def test_slots_are_utc_and_start_inclusive_or_not() -> None:
    cal = Calendar(NEW_YORK, ["daily 09:00"])
    nine = datetime(2026, 1, 5, 9, tzinfo=NEW_YORK)
    first = next(cal.slots_after(nine))
    assert first == nine and first.tzinfo is UTC
    assert next(cal.slots_after(nine, inclusive=False)) == nine + timedelta(days=1)


def test_naive_start_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        next(Calendar(NEW_YORK, ["daily 09:00"]).slots_after(datetime(2026, 1, 1)))


@pytest.mark.parametrize(
    "tz, before, after",
    [
        (NEW_YORK, date(2026, 3, 6), date(2026, 3, 9)),  # spring forward 2026-03-08
        (NEW_YORK, date(2026, 10, 30), date(2026, 11, 2)),  # fall back 2026-11-01
        (SYDNEY, date(2026, 4, 3), date(2026, 4, 6)),  # DST ends 2026-04-05
        (SYDNEY, date(2026, 10, 2), date(2026, 10, 5)),  # DST starts 2026-10-04
    ],
)
def test_nine_am_stays_nine_am_local_across_dst(tz: ZoneInfo, before: date, after: date) -> None:
    cal = Calendar(tz, ["daily 09:00"])
    got = local_times(cal, datetime.combine(before, time(0), tz), 4)
    assert [t.date() for t in got] == [before + timedelta(days=i) for i in range(4)]
    assert {t.time() for t in got} == {time(9)}
    assert got[0].utcoffset() != got[-1].utcoffset()  # the UTC instant moved, not the wall clock
    assert got[-1].date() == after


@pytest.mark.parametrize(
    "tz, day, slot, fires_at",
    [
        # 02:00 -> 03:00: a 02:30 slot fires once, shifted forward by the gap.
        (NEW_YORK, date(2026, 3, 8), "daily 02:30", datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)),
        (SYDNEY, date(2026, 10, 4), "daily 02:30", datetime(2026, 10, 4, 3, 30, tzinfo=SYDNEY)),
    ],
)
def test_slot_in_skipped_hour_fires_once_after_the_gap(
    tz: ZoneInfo, day: date, slot: str, fires_at: datetime
) -> None:
    cal = Calendar(tz, [slot])
    got = list(islice(cal.slots_after(datetime.combine(day - timedelta(days=1), time(12), tz)), 3))
    assert got[0] == fires_at
    assert [cal.local(t).date() for t in got] == [day + timedelta(days=i) for i in range(3)]


def test_search_starting_inside_the_shifted_window_still_finds_the_skipped_slot() -> None:
    cal = Calendar(NEW_YORK, ["daily 02:30"])
    start = datetime(2026, 3, 8, 3, 15, tzinfo=NEW_YORK)  # after 02:30's wall time, before it fires
    assert next(cal.slots_after(start)) == datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)


@pytest.mark.parametrize(
    "tz, day, slot, first_offset",
    [
        (NEW_YORK, date(2026, 11, 1), "daily 01:30", timedelta(hours=-4)),  # 01:30 EDT, not EST
        (SYDNEY, date(2026, 4, 5), "daily 02:30", timedelta(hours=11)),  # 02:30 AEDT, not AEST
    ],
)
def test_slot_in_repeated_hour_fires_once_at_first_occurrence(
    tz: ZoneInfo, day: date, slot: str, first_offset: timedelta
) -> None:
    cal = Calendar(tz, [slot])
    got = local_times(cal, datetime.combine(day - timedelta(days=1), time(12), tz), 3)
    assert [t.date() for t in got] == [day + timedelta(days=i) for i in range(3)]
    assert got[0].utcoffset() == first_offset
    assert got[0].replace(tzinfo=None) == datetime.combine(day, parse_slot(slot).at)


def test_search_starting_between_the_two_occurrences_does_not_fire_again() -> None:
    cal = Calendar(NEW_YORK, ["daily 01:30"])
    between = utc(2026, 11, 1, 6, 0)  # 01:00 EST, after 01:30 EDT fired
    assert cal.local(next(cal.slots_after(between))).date() == date(2026, 11, 2)


SANTIAGO = ZoneInfo("America/Santiago")  # springs forward at midnight: 2026-09-06 00:00 -> 01:00
HAVANA = ZoneInfo("America/Havana")  # springs forward at midnight: 2026-03-08 00:00 -> 01:00


def test_a_midnight_slot_the_day_after_clocks_go_forward_is_kept() -> None:
    """APScheduler 3.x in the zone lost it: its search from 2026-03-08 00:00 EST overshot the gap by an hour."""
    cal = Calendar(NEW_YORK, ["daily 00:00"])
    got = local_times(cal, datetime(2026, 3, 7, 12, tzinfo=NEW_YORK), 4)
    assert [t.replace(tzinfo=None) for t in got] == [datetime(2026, 3, d) for d in (8, 9, 10, 11)]


def test_the_first_of_the_month_after_clocks_go_forward_is_kept() -> None:
    cal = Calendar(NEW_YORK, [], ["0 0 1 * *"])
    got = local_times(cal, datetime(2026, 3, 2, tzinfo=NEW_YORK), 3)
    assert [t.replace(tzinfo=None) for t in got] == [datetime(2026, m, 1) for m in (4, 5, 6)]


@pytest.mark.parametrize(
    "tz, rules, cron, start, expected",
    [
        # A skipped time after a real one the same night: 02:30 fires at 03:30 EDT.
        (NEW_YORK, [], ["30 1,2 * * *"], datetime(2026, 3, 7, 12, tzinfo=NEW_YORK),
         [datetime(2026, 3, 8, 1, 30, tzinfo=NEW_YORK), datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK),
          datetime(2026, 3, 9, 1, 30, tzinfo=NEW_YORK), datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)]),
        # A skipped midnight fires at 01:00 (Santiago, Havana).
        (SANTIAGO, ["daily 00:00"], [], datetime(2026, 9, 5, 12, tzinfo=SANTIAGO),
         [datetime(2026, 9, 6, 1, tzinfo=SANTIAGO), datetime(2026, 9, 7, tzinfo=SANTIAGO),
          datetime(2026, 9, 8, tzinfo=SANTIAGO), datetime(2026, 9, 9, tzinfo=SANTIAGO)]),
        (HAVANA, ["daily 00:30"], [], datetime(2026, 3, 7, 12, tzinfo=HAVANA),
         [datetime(2026, 3, 8, 1, 30, tzinfo=HAVANA), datetime(2026, 3, 9, 0, 30, tzinfo=HAVANA),
          datetime(2026, 3, 10, 0, 30, tzinfo=HAVANA), datetime(2026, 3, 11, 0, 30, tzinfo=HAVANA)]),
        # 30-minute gap: 02:20 fires at 02:50, after the real 02:45 (which a walk on from 02:50 had lost).
        (LORD_HOWE, [], ["20,45 2 * * *"], datetime(2026, 10, 3, 12, tzinfo=LORD_HOWE),
         [datetime(2026, 10, 4, 2, 45, tzinfo=LORD_HOWE), datetime(2026, 10, 4, 2, 50, tzinfo=LORD_HOWE),
          datetime(2026, 10, 5, 2, 20, tzinfo=LORD_HOWE), datetime(2026, 10, 5, 2, 45, tzinfo=LORD_HOWE)]),
        # Every 10 minutes of 02:xx on that day: the skipped three land on the real three, each fires once.
        (LORD_HOWE, [], ["*/10 2 4 10 *"], datetime(2026, 10, 3, 12, tzinfo=LORD_HOWE),
         [datetime(2026, 10, 4, 2, m, tzinfo=LORD_HOWE) for m in (30, 40, 50)]
         + [datetime(2027, 10, 4, 2, m, tzinfo=LORD_HOWE) for m in (0, 10, 20, 30, 40, 50)]),
    ],
)
def test_skipped_times_fire_shifted_by_the_gap_and_nothing_is_lost(
    tz: ZoneInfo, rules: list[str], cron: list[str], start: datetime, expected: list[datetime]
) -> None:
    cal = Calendar(tz, rules, cron)
    got = list(islice(cal.slots_after(start), len(expected)))
    assert got == [e.astimezone(UTC) for e in expected]
    assert forgetful(cal, start, len(expected)) == got


def test_a_skipped_slot_is_found_from_any_start_before_it_fires() -> None:
    cal = Calendar(NEW_YORK, ["daily 02:30"])
    fires = datetime(2026, 3, 8, 3, 30, tzinfo=NEW_YORK)
    for start in (utc(2026, 3, 8, 6, 59, 59), utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 29, 59), fires):
        assert next(cal.slots_after(start)) == fires
    assert cal.local(next(cal.slots_after(fires, inclusive=False))) == datetime(2026, 3, 9, 2, 30, tzinfo=NEW_YORK)


def test_cron_weekdays_use_crontab_numbering() -> None:
    cal = Calendar(NEW_YORK, [], cron=["0 18 * * 1-5", "30 12 * * 0"])
    got = local_times(cal, datetime(2026, 1, 4, tzinfo=NEW_YORK), 6)  # a Sunday
    assert [(t.strftime("%a %H:%M")) for t in got] == [
        "Sun 12:30", "Mon 18:00", "Tue 18:00", "Wed 18:00", "Thu 18:00", "Fri 18:00",
    ]


def test_cron_with_seconds() -> None:
    cal = Calendar(SYDNEY, [], cron=["15 0 9 1 * *"])  # 09:00:15 on the 1st of each month
    got = local_times(cal, datetime(2026, 1, 2, tzinfo=SYDNEY), 2)
    assert got == [
        datetime(2026, 2, 1, 9, 0, 15, tzinfo=SYDNEY),
        datetime(2026, 3, 1, 9, 0, 15, tzinfo=SYDNEY),
    ]


def test_coinciding_slot_and_cron_fire_once() -> None:
    cal = Calendar(NEW_YORK, ["mon-fri 09:00", "mon 09:00"], cron=["0 9 * * mon"])
    got = local_times(cal, datetime(2026, 1, 5, tzinfo=NEW_YORK), 5)  # Monday
    assert [t.day for t in got] == [5, 6, 7, 8, 9]


def test_slots_from_several_rules_come_in_order() -> None:
    cal = Calendar(NEW_YORK, ["daily 17:00", "mon-fri 09:00", "sat 11:30"])
    got = list(islice(cal.slots_after(utc(2026, 1, 1)), 30))
    assert got == sorted(set(got))


def test_blackout_is_by_local_date() -> None:
    cal = Calendar(SYDNEY, ["daily 09:00"], blackout=["2026-12-25", "2026-12-31..2027-01-01"])
    # 2026-12-24 23:30 UTC is Christmas morning in Sydney.
    assert cal.is_blackout(utc(2026, 12, 24, 23, 30))
    assert not cal.is_blackout(utc(2026, 12, 24, 12, 0))
    assert cal.is_blackout(datetime(2027, 1, 1, 23, 59, tzinfo=SYDNEY))
    assert not cal.is_blackout(datetime(2027, 1, 2, 0, 0, tzinfo=SYDNEY))


def test_describe_names_rules_zone_and_blackouts() -> None:
    cal = Calendar(NEW_YORK, ["mon-fri 09:00"], cron=["0 18 * * 5"], blackout=["2026-12-25"])
    text = cal.describe()
    assert "mon,tue,wed,thu,fri 09:00" in text
    assert "0 18 * * 5" in text and "America/New_York" in text and "2026-12-25" in text


# --- fire times remembered between calls ---------------------------------------------------
# A Calendar remembers each rule's next fire time after a fire time: a plan, a page's slot count and the
# plan cache's expiry each walk the slots from a start of their own (a new `now` each time). Whatever was
# asked before, the slots from a start must be exactly those of a walk that remembers nothing.

BERLIN = ZoneInfo("Europe/Berlin")
REMEMBERING = {
    "every half hour, New York": Calendar(NEW_YORK, [], ["*/30 * * * *"]),
    "weekly slots and a cron line in the repeated hour, Berlin": Calendar(
        BERLIN, ["mon-fri 09:00", "sat 02:30"], ["30 2 * * *"]
    ),
    "skipped and repeated hours, Lord Howe": Calendar(LORD_HOWE, ["daily 01:45", "daily 02:15"], ["0 */5 * * *"]),
    "monthly and once a leap day, New York": Calendar(NEW_YORK, [], ["0 0 1 * *", "0 9 29 2 *"]),
    "every 20 seconds from 1 to 3 am, New York": Calendar(
        NEW_YORK, [], ["*/20 * 1-2 * * *"]  # six fields: seconds first; hours 1-2 cross the DST changes
    ),
}


def forgetful(cal: Calendar, start: datetime, n: int, inclusive: bool = True) -> list[datetime]:
    walk = cal._slots_from(start, remember=False)
    return list(islice((at for at in walk if inclusive or at != start), n))


@settings(max_examples=150, deadline=None)
@given(
    name=st.sampled_from(sorted(REMEMBERING)),
    start=st.datetimes(min_value=datetime(2026, 2, 25), max_value=datetime(2026, 11, 5), timezones=st.just(UTC)),
    n=st.integers(1, 150),
    inclusive=st.booleans(),
)
def test_remembered_fire_times_give_the_slots_of_a_walk_that_remembers_nothing(
    name: str, start: datetime, n: int, inclusive: bool
) -> None:
    cal = REMEMBERING[name]
    assert list(islice(cal.slots_after(start, inclusive=inclusive), n)) == forgetful(cal, start, n, inclusive)


@pytest.mark.parametrize(
    "start",
    [
        utc(2026, 3, 7, 12), utc(2026, 3, 8, 6, 59, 59), utc(2026, 3, 8, 7), utc(2026, 3, 8, 7, 30),  # NY springs
        utc(2026, 11, 1, 5, 30), utc(2026, 11, 1, 6), utc(2026, 11, 1, 6, 1),  # New York falls back
        utc(2026, 3, 29, 0), utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1),  # Berlin, the same
        utc(2026, 4, 4, 14, 59), utc(2026, 10, 3, 15, 30),  # Lord Howe
    ],
)
def test_remembered_fire_times_around_dst_changes(start: datetime) -> None:
    for cal in REMEMBERING.values():
        for inclusive in (True, False):
            assert list(islice(cal.slots_after(start, inclusive=inclusive), 120)) == forgetful(cal, start, 120, inclusive)


def test_slots_are_right_while_fire_times_are_forgotten(monkeypatch: pytest.MonkeyPatch) -> None:
    import scheduler.domain.calendar as calendar_module

    monkeypatch.setattr(calendar_module, "MEMO_FIRES", 50)  # a day of a slot every half hour
    cal = Calendar(NEW_YORK, [], ["*/30 * * * *"])
    start, other = utc(2026, 10, 28, 17, 3), utc(2026, 11, 20, 4, 29)
    walk, interleaved = cal.slots_after(start), cal.slots_after(other)
    got = []
    for _ in range(1000):  # three weeks, across the fall-back day, forgetting along the way
        got.append(next(walk))
        next(interleaved)
    assert got == forgetful(cal, start, 1000)
    assert len(cal._next_fires[0]) <= 50


def test_a_long_walk_goes_on_from_its_last_kept_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    """As plans always were made: a walk's first WALK_SLOTS slots from its start, then a walk from the last."""
    import scheduler.domain.calendar as calendar_module

    monkeypatch.setattr(calendar_module, "WALK_SLOTS", 3)
    cal = Calendar(NEW_YORK, [], ["0 0 1 * *"])
    start = utc(2025, 12, 15)
    first = forgetful(cal, start, 3)
    assert list(islice(cal.slots_after(start), 6)) == first + [at for at in forgetful(cal, first[-1], 4) if at > first[-1]]


def test_a_yearly_slot_is_found_across_a_year_of_days_without_one() -> None:
    cal = Calendar(NEW_YORK, [], ["0 9 1 1 *"])
    assert list(islice(cal.slots_after(utc(2026, 1, 2)), 3)) == [
        datetime(year, 1, 1, 9, tzinfo=NEW_YORK) for year in (2027, 2028, 2029)
    ]
