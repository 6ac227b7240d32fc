"""The calendar's slots around DST changes, against a brute-force enumerator written from the documented rules.

The enumerator shares no code with scheduler/domain/calendar.py and asks neither APScheduler nor fold: it walks local
dates, matches each generated rule's fields by set arithmetic, and turns each local wall-clock time into an
instant by the rules in calendar.py's docstring: the first instant at which the zone's clock shows it (a
repeated time fires once, at its first occurrence); if the clock never shows it (a skipped time), the time
shifted forward by the gap, read after the change (02:30 -> 03:30); coinciding instants once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from functools import lru_cache
from itertools import islice, takewhile
from zoneinfo import ZoneInfo

from hypothesis import example, given, settings
from hypothesis import strategies as st

from scheduler.domain.calendar import Calendar

UTC = timezone.utc
ZONES = (
    "America/New_York",
    "Europe/London",
    "Australia/Lord_Howe",  # a 30-minute change
    "America/Santiago",  # springs forward at midnight (00:00 -> 01:00), falls back at 24:00 -> 23:00
    "America/Havana",  # springs forward at midnight, falls back at 01:00 -> 00:00
    "Asia/Tehran",  # midnight changes until it dropped DST in 2022
    "Pacific/Chatham",  # 02:45 -> 03:45
    "UTC",
)
YEARS = (2019, 2031)
SLOTS = 40  # slots compared per example
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


# --- the oracle ---------------------------------------------------------------------------------------------


@lru_cache(maxsize=None)
def offsets_near(key: str, day: date) -> tuple[timedelta, ...]:
    """Every UTC offset the zone uses from two days before ``day`` to two days after (sampled each quarter hour)."""
    tz = ZoneInfo(key)
    at = datetime.combine(day, time(), UTC) - timedelta(days=2)
    found = set()
    for _ in range(4 * 24 * 5):
        found.add(at.astimezone(tz).utcoffset())
        at += timedelta(minutes=15)
    return tuple(sorted(found))


def wall_clock(at: datetime, key: str) -> datetime:
    return at.astimezone(ZoneInfo(key)).replace(tzinfo=None)


def instant_of(wall: datetime, key: str) -> datetime:
    """The instant a local wall-clock time fires at, by the documented rules."""
    candidates = [(wall - offset).replace(tzinfo=UTC) for offset in offsets_near(key, wall.date())]
    shown = [at for at in candidates if wall_clock(at, key) == wall]
    if shown:
        return min(shown)  # a repeated time: its first occurrence
    # Never shown: the clock jumped over it. Read with the offset from before the jump, the instant shows the
    # time shifted forward by the gap (read with the one after, it would show it shifted backwards).
    forward = [at for at in candidates if wall_clock(at, key) > wall]
    at = min(forward)
    offsets = offsets_near(key, wall.date())
    gap = wall_clock(at, key) - wall
    assert gap in {b - a for a in offsets for b in offsets if b > a}, (wall, key, gap)  # shifted by a gap's length
    return at


@dataclass(frozen=True)
class Rule:
    """A rule as the sets it matches, and its text for the Calendar."""

    text: str
    cron: bool
    seconds: frozenset[int]
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # date.weekday(): Monday = 0

    def on(self, day: date) -> bool:
        return day.day in self.days and day.month in self.months and day.weekday() in self.weekdays

    def walls(self, day: date) -> list[datetime]:
        return [
            datetime.combine(day, time(h, m, s))
            for h in sorted(self.hours) for m in sorted(self.minutes) for s in sorted(self.seconds)
        ]

    def calendar(self, key: str) -> Calendar:
        return Calendar(ZoneInfo(key), [], [self.text]) if self.cron else Calendar(ZoneInfo(key), [self.text])


def oracle(rules: list[Rule], key: str, start: datetime, n: int) -> tuple[list[datetime], datetime]:
    """The first ``n`` slots from ``start`` on, and an instant before which the list is complete (it may hold
    fewer than ``n`` when the rules are rare: the walk stops after three years)."""
    day = wall_clock(start, key).date() - timedelta(days=2)
    last_day = day + timedelta(days=3 * 366)
    found: set[datetime] = set()
    enough_on = None
    while True:
        for rule in rules:
            if rule.on(day):
                found.update(at for at in map(lambda w: instant_of(w, key), rule.walls(day)) if at >= start)
        if enough_on is None and len(found) >= n:
            enough_on = day
        if day == last_day or (enough_on is not None and day >= enough_on + timedelta(days=2)):
            break  # (a shifted time moves by hours, never past the next day)
        day += timedelta(days=1)
    # Times of the dates not walked (after ``day``) are at or after their local midnight, no earlier than
    # 10:00 UTC on ``day`` in any zone (offsets are at most +14:00).
    complete_before = datetime.combine(day, time(), UTC)
    return sorted(at for at in found if at < complete_before)[:n], complete_before


# --- generated rules --------------------------------------------------------------------------------------


def field(lo: int, hi: int, *, star: bool = True, min_step: int = 1, most: int = 4) -> st.SearchStrategy:
    """(crontab text, the set it matches) for values lo..hi: *, a value, a list, a range, */n or a-b/n."""
    value = st.integers(lo, hi)
    value_text = value.map(lambda v: (str(v), {v}))
    listed = st.lists(value, min_size=2, max_size=most, unique=True).map(
        lambda vs: (",".join(map(str, vs)), set(vs))
    )

    def spanned(a, length, step):
        b = min(hi, a + length)
        step = step if step <= b - a else 1  # (APScheduler refuses a step longer than its range)
        return (f"{a}-{b}" if step == 1 else f"{a}-{b}/{step}"), set(range(a, b + 1, step))

    ranges = st.builds(spanned, value, st.integers(0, most * min_step - 1), st.integers(min_step, min_step + 3))
    steps = st.integers(max(min_step, (hi - lo + 1) // most + 1), hi - lo).map(
        lambda n: (f"*/{n}", set(range(lo, hi + 1, n)))
    )
    choices = [value_text, listed, ranges, steps]
    if star:
        choices.append(st.just(("*", set(range(lo, hi + 1)))))
    return st.one_of(*choices)


# Hours and minutes near the changes come up more often than a uniform draw would bring them.
near_change_hours = st.sampled_from([0, 1, 2, 3, 23])
near_change_minutes = st.sampled_from([0, 15, 20, 30, 45, 59])


@st.composite
def cron_rules(draw) -> Rule:
    seconds_text, seconds = draw(st.one_of(st.just(None), field(0, 59, star=False, most=2)).map(
        lambda f: f or ("0", {0})
    ))
    with_seconds = seconds_text != "0" or draw(st.booleans())
    minute_text, minutes = draw(st.one_of(
        near_change_minutes.map(lambda m: (str(m), {m})), field(0, 59, star=False, min_step=10, most=3)
    ))
    hour_text, hours = draw(st.one_of(near_change_hours.map(lambda h: (str(h), {h})), field(0, 23)))
    day_text, days = draw(st.one_of(st.just(("*", set(range(1, 32)))), field(1, 31)))
    month_text, months = draw(st.one_of(st.just(("*", set(range(1, 13)))), field(1, 12)))
    weekday_text, crontab_weekdays = draw(st.one_of(st.just(("*", set(range(7)))), field(0, 7, star=False)))
    weekdays = {(d - 1) % 7 for d in crontab_weekdays}  # crontab: 0 and 7 are Sunday, 1 is Monday
    text = f"{minute_text} {hour_text} {day_text} {month_text} {weekday_text}"
    if with_seconds:
        text = f"{seconds_text} {text}"
    return Rule(text, True, frozenset(seconds), frozenset(minutes), frozenset(hours), frozenset(days),
                frozenset(months), frozenset(weekdays))


@st.composite
def weekly_rules(draw) -> Rule:
    days = draw(st.sets(st.integers(0, 6), min_size=1))
    hour = draw(st.one_of(near_change_hours, st.integers(0, 23)))
    minute = draw(st.one_of(near_change_minutes, st.integers(0, 59)))
    second = draw(st.sampled_from([0, 0, 0, 30]))
    days_text = "daily" if len(days) == 7 else ",".join(WEEKDAY_NAMES[d] for d in sorted(days))
    clock = f"{hour:02d}:{minute:02d}" + (f":{second:02d}" if second else "")
    return Rule(f"{days_text} {clock}", False, frozenset({second}), frozenset({minute}), frozenset({hour}),
                frozenset(range(1, 32)), frozenset(range(1, 13)), frozenset(days))


@lru_cache(maxsize=None)
def changes(key: str) -> tuple[datetime, ...]:
    """The zone's offset changes (UTC, to the minute) in YEARS."""
    tz = ZoneInfo(key)
    at = datetime(YEARS[0], 1, 1, tzinfo=UTC)
    found = []
    while at.year <= YEARS[1]:
        step = at + timedelta(days=1)
        if step.astimezone(tz).utcoffset() != at.astimezone(tz).utcoffset():
            lo, hi = at, step
            while hi - lo > timedelta(minutes=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if mid.astimezone(tz).utcoffset() == lo.astimezone(tz).utcoffset() else (lo, mid)
            found.append(hi)
        at = step
    return tuple(found)


@st.composite
def zone_and_start(draw) -> tuple[str, datetime]:
    key = draw(st.sampled_from(ZONES))
    if changes(key) and draw(st.integers(0, 4)):  # mostly near an offset change (its day, the days around)
        near = draw(st.sampled_from(changes(key)))
        return key, near + timedelta(minutes=draw(st.integers(-3 * 24 * 60, 24 * 60)))
    start = draw(st.datetimes(datetime(YEARS[0], 1, 1), datetime(YEARS[1], 12, 1), timezones=st.just(UTC)))
    return key, start.replace(microsecond=0)


def check(rules: list[Rule], key: str, start: datetime) -> None:
    expected, complete_before = oracle(rules, key, start, SLOTS)
    calendar = Calendar(ZoneInfo(key), [r.text for r in rules if not r.cron], [r.text for r in rules if r.cron])

    def walk(slots):
        return list(islice(takewhile(lambda at: at < complete_before, slots), SLOTS))

    # The calendar remembers each rule's next times between walks: walk from two days earlier first, so the
    # walk compared goes partly over remembered times; then the walk that remembers nothing.
    walk(calendar.slots_after(start - timedelta(days=2)))
    remembered = walk(calendar.slots_after(start))
    assert remembered == expected, (key, start, [r.text for r in rules])
    assert walk(calendar._slots_from(start, remember=False)) == expected
    assert all(a < b for a, b in zip(remembered, remembered[1:]))  # each slot after the one before: no loop


# --- the properties ---------------------------------------------------------------------------------------


@settings(max_examples=120, deadline=None)
@given(rules=st.lists(st.one_of(cron_rules(), weekly_rules()), min_size=1, max_size=3), zone=zone_and_start())
@example(  # main lost Lord Howe's 02:45 on 2026-10-04: 02:20 fired at 02:50 and the walk went on from there
    rules=[Rule("20,45 2 * * *", True, frozenset({0}), frozenset({20, 45}), frozenset({2}),
                frozenset(range(1, 32)), frozenset(range(1, 13)), frozenset(range(7)))],
    zone=("Australia/Lord_Howe", datetime(2026, 10, 3, 12, tzinfo=UTC)),
)
def test_slots_are_the_documented_wall_clock_times_around_dst_changes(
    rules: list[Rule], zone: tuple[str, datetime]
) -> None:
    key, start = zone
    check(rules, key, start)


def test_the_oracle_reads_the_documented_examples() -> None:
    """The oracle itself, on the calendar docstring's examples (New York, 2026)."""
    ny = "America/New_York"
    assert instant_of(datetime(2026, 3, 8, 2, 30), ny) == datetime(2026, 3, 8, 3, 30, tzinfo=ZoneInfo(ny))
    assert instant_of(datetime(2026, 11, 1, 1, 30), ny) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # EDT
    assert instant_of(datetime(2026, 11, 1, 2, 30), ny) == datetime(2026, 11, 1, 7, 30, tzinfo=UTC)  # EST
    assert instant_of(datetime(2026, 10, 4, 2, 15), "Australia/Lord_Howe") == datetime(
        2026, 10, 3, 15, 45, tzinfo=UTC  # 02:45 +11:00, shifted by the 30-minute gap
    )
