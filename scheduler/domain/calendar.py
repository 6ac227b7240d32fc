"""The posting calendar: when an account's slots fall, in its own time zone.

Users think "one tip every weekday at 9 am, my time", so slots are kept as local
wall-clock rules and turned into UTC instants one at a time; a 09:00 slot stays 09:00
local when daylight saving time starts or ends (its UTC offset changes instead).

Rules
-----
* Weekly slots (``parse_slot``): ``DAYS HH:MM[:SS]``. DAYS is ``daily``, a day
  (``mon`` .. ``sun``, any case), a range (``mon-fri``; a range wraps past Sunday, so
  ``fri-mon`` is fri,sat,sun,mon) or a comma list of those (``mon,wed-fri``).
* Cron rules (``parse_cron``): standard 5-field crontab ``minute hour day month
  weekday``, or 6 fields with leading seconds. Weekday numbers follow crontab, not
  APScheduler 3.x: 0 and 7 are Sunday, 1 is Monday (names work too). When both day of
  month and weekday are restricted a day must match both (APScheduler semantics;
  classic cron fires when either matches).
* Blackouts (``parse_blackout``): a local date ``2026-12-25`` or an inclusive range
  ``2026-12-24..2026-12-26``. ``slots_after`` still yields slots on those dates;
  ``is_blackout`` says which, so a preview can show why a slot stays empty.

Daylight saving time
--------------------
Every rule yields local wall-clock times which are read with ``fold=0`` (PEP 495):

* a time in the repeated hour (01:30 on a fall-back day in New York) fires once, at its
  first occurrence (01:30 EDT); the second 01:30 (EST) is dropped;
* a time in the skipped hour (02:30 on a spring-forward day in New York) fires once,
  shifted forward by the length of the gap: 02:30 -> 03:30 EDT. If that lands on the
  same instant as another slot the two fire once.

How: APScheduler 3.x's ``CronTrigger`` in the account's zone breaks these rules (it adds
wall-clock differences in UTC, so a search across a spring-forward gap overshoots: ``daily
00:00`` had no 2026-03-09 slot in New York, a skipped midnight in Santiago was lost, and a
walk on from a shifted slot missed the real ones the shift jumped over). So each rule's
trigger is in UTC, where it just lists the rule's local wall-clock times in order, and
``_fires`` reads each in the zone with ``fold=0`` (which is exactly the rules above),
holding an instant back while a later wall-clock time may still map before it (around a
gap). tests/test_calendar_oracle.py checks this against a brute-force enumerator.
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger

UTC = timezone.utc
WALK_SLOTS = 2000  # a walk from a start goes on as a new walk from its 2000th slot (see slots_after)
MEMO_FIRES = 5000  # wall-clock times whose next one a Calendar remembers, per rule (~1.2 MB each at most)
_TICK = timedelta(microseconds=1)
_Step = tuple[datetime, datetime, "datetime | None"]  # see Calendar._next_fires
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")  # APScheduler's order, Monday = 0

_SLOT_HELP = (
    "day must be one of mon,tue,wed,thu,fri,sat,sun, a range like mon-fri "
    "(fri-mon wraps), a list like mon,wed,fri, or daily; time HH:MM[:SS] 24h"
)
_TIME_RE = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")


@dataclass(frozen=True)
class WeeklySlot:
    """Days of the week (0 = Monday) and a local wall-clock time."""

    days: tuple[int, ...]
    at: time

    def trigger(self, tz: tzinfo) -> CronTrigger:
        return CronTrigger(
            day_of_week=",".join(WEEKDAYS[d] for d in self.days),
            hour=self.at.hour,
            minute=self.at.minute,
            second=self.at.second,
            timezone=tz,
        )

    def __str__(self) -> str:
        days = "daily" if len(self.days) == 7 else ",".join(WEEKDAYS[d] for d in self.days)
        clock = self.at.strftime("%H:%M:%S" if self.at.second else "%H:%M")
        return f"{days} {clock}"


@dataclass(frozen=True)
class DateRange:
    """Local dates, both ends included."""

    first: date
    last: date

    def __contains__(self, day: date) -> bool:
        return self.first <= day <= self.last

    def __str__(self) -> str:
        return str(self.first) if self.first == self.last else f"{self.first}..{self.last}"


def parse_slot(expr: str) -> WeeklySlot:
    def bad(problem: str) -> ValueError:
        return ValueError(f"{expr!r} is not a slot ({problem}): {_SLOT_HELP}")

    words = expr.split() if isinstance(expr, str) else []
    if len(words) != 2:
        raise bad("expected days then a time, e.g. 'mon-fri 09:00'")
    days_text, time_text = words
    try:
        days = _parse_days(days_text.lower())
    except ValueError as e:
        raise bad(str(e)) from None
    match = _TIME_RE.fullmatch(time_text)
    if not match:
        raise bad(f"bad time {time_text!r}")
    hour, minute, second = (int(g) if g else 0 for g in match.groups())
    if hour > 23 or minute > 59 or second > 59:
        raise bad(f"bad time {time_text!r}")
    return WeeklySlot(days, time(hour, minute, second))


def _parse_days(text: str) -> tuple[int, ...]:
    """``daily``, ``mon``, ``mon-fri``, ``fri-mon`` (wraps), or a comma list of those."""
    if text == "daily":
        return tuple(range(7))
    days: set[int] = set()
    for item in text.split(","):
        first, sep, last = item.partition("-")
        if first not in WEEKDAYS or (sep and last not in WEEKDAYS):
            raise ValueError(f"unknown day {item!r}")
        start = WEEKDAYS.index(first)
        length = (WEEKDAYS.index(last) - start) % 7 + 1 if sep else 1
        days.update((start + i) % 7 for i in range(length))
    return tuple(sorted(days))


def parse_cron(expr: str, tz: tzinfo = UTC) -> CronTrigger:
    """A crontab line (5 fields, or 6 with leading seconds) as a trigger in ``tz``."""
    fields = expr.split() if isinstance(expr, str) else []
    try:
        if len(fields) not in (5, 6):
            raise ValueError(f"expected 5 or 6 fields, got {len(fields)}")
        second = fields.pop(0) if len(fields) == 6 else "0"
        minute, hour, day, month, weekday = fields
        # Built field by field rather than with from_crontab, whose weekday numbers
        # start at Monday = 0 and would shift a crontab's "1-5" to Tuesday..Saturday.
        return CronTrigger(
            second=second,
            minute=minute,
            hour=hour,
            day=day,
            month=month,
            day_of_week=_crontab_weekdays(weekday),
            timezone=tz,
        )
    except ValueError as e:
        raise ValueError(
            f"{expr!r} is not a cron expression ({e}): expected 'minute hour day month "
            "weekday', optionally with seconds first; weekday 0-7 (0 and 7 = Sunday) or sun-sat"
        ) from None


_CRONTAB_DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _crontab_weekdays(field: str) -> str:
    """A crontab weekday field (Sunday = 0 or 7) as APScheduler weekday names."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()  # crontab numbering, Sunday = 0
    for item in field.lower().split(","):
        span, _, step_text = item.partition("/")
        if span == "*":
            first, last = 0, 6
        else:
            first_text, sep, last_text = span.partition("-")
            first = _crontab_day(first_text)
            # "5/2" means from Friday to the end of the week, as in classic cron.
            last = _crontab_day(last_text) if sep else (6 if step_text else first)
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else None
        if step_text and step is None:
            raise ValueError(f"bad weekday step {item!r}")
        length = (last - first) % 7 + 1
        if last == first + 7:  # "0-7": the whole week
            length = 7
        days.update((first + i) % 7 for i in range(0, length, step or 1))
    return ",".join(WEEKDAYS[(d - 1) % 7] for d in sorted(days))


def _crontab_day(text: str) -> int:
    if text.isdigit() and int(text) <= 7:
        return int(text)
    if text in _CRONTAB_DAY_NAMES:
        return _CRONTAB_DAY_NAMES.index(text)
    raise ValueError(f"bad weekday {text!r}")


def parse_blackout(expr: str) -> DateRange:
    def bad(problem: str) -> ValueError:
        return ValueError(
            f"{expr!r} is not a blackout ({problem}): write a date YYYY-MM-DD "
            "or an inclusive range YYYY-MM-DD..YYYY-MM-DD"
        )

    text = expr.strip() if isinstance(expr, str) else ""
    first_text, sep, last_text = text.partition("..")
    try:
        first = date.fromisoformat(first_text.strip())
        last = date.fromisoformat(last_text.strip()) if sep else first
    except ValueError:
        raise bad("not a date") from None
    if last < first:
        raise bad("the range ends before it starts")
    return DateRange(first, last)


_DURATION_RE = re.compile(r"(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")


def parse_duration(expr: str | int) -> timedelta:
    """``"90s"``, ``"15m"``, ``"2h"``, ``"1d"``, ``"1h30m"``, or whole seconds."""
    if isinstance(expr, int) and not isinstance(expr, bool) and expr >= 0:
        return timedelta(seconds=expr)
    text = expr.strip().lower() if isinstance(expr, str) else ""
    if text.isdigit():
        return timedelta(seconds=int(text))
    match = _DURATION_RE.fullmatch(text)
    if not text or not match:
        raise ValueError(
            f"{expr!r} is not a duration: write e.g. 90s, 15m, 2h, 1d, 1h30m, "
            "or a whole number of seconds"
        )
    days, hours, minutes, seconds = (int(g) if g else 0 for g in match.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


class Calendar:
    """An account's slots and blackout dates in its time zone."""

    def __init__(
        self,
        tz: ZoneInfo,
        slots: Sequence[str],
        cron: Sequence[str] = (),
        blackout: Sequence[str] = (),
    ) -> None:
        self.tz = tz
        self.slots = tuple(parse_slot(s) for s in slots)
        self.cron = tuple(cron)
        self.blackouts = tuple(parse_blackout(b) for b in blackout)
        # In UTC: a trigger there lists the rule's local wall-clock times (no DST to trip over).
        self._triggers = tuple(s.trigger(UTC) for s in self.slots) + tuple(
            parse_cron(c, UTC) for c in cron
        )
        # Each rule's next wall-clock time after one (APScheduler takes ~70-200 us to find one), kept
        # across calls: every plan, page count and cache expiry walks the same slots again, each from a start
        # of its own (a new ``now`` each time), and a walk's times after its first are each found from the
        # previous one alone. Per rule: {naive wall-clock time: (its instant, the earliest instant a later
        # wall-clock time can have, the next wall-clock time or None)} (see ``_fires``).
        self._next_fires: list[dict[datetime, _Step]] = [{} for _ in self._triggers]

    def slots_after(self, start: datetime, *, inclusive: bool = True) -> Iterator[datetime]:
        """Slot instants (aware, UTC) from ``start`` on, in order, each instant once.

        Blackout dates are not skipped here: callers ask ``is_blackout``.
        """
        start = _utc(start)
        # Past its WALK_SLOTS-th slot a walk goes on as a walk from that slot, as plans have always been made
        # (the slots after a start were kept only that far). A walk's slots no longer depend on where it
        # starts, so this yields the same slots as walking on.
        last = None
        for i, at in enumerate(self._slots_from(start)):
            if i == WALK_SLOTS:
                yield from (at for at in self._slots_from(last) if at > last)
                return
            last = at
            if inclusive or at != start:
                yield at

    def _slots_from(self, start: datetime, *, remember: bool = True) -> Iterator[datetime]:
        # A skipped-hour slot fires after its wall-clock time (02:30 -> 03:30), so the wall-clock times
        # searched start at ``start`` read with the offset from before a gap in the last day, if any.
        offset = min(_offset(start, self.tz), _offset(start - timedelta(days=1), self.tz))
        search_from = start.replace(tzinfo=None) + offset
        merged = heapq.merge(
            *(
                self._fires(t, self.tz, search_from, next_fires if remember else None)
                for t, next_fires in zip(self._triggers, self._next_fires)
            )
        )
        last: datetime | None = None
        for at in merged:
            # Drops coinciding slots (a shifted skipped time on a real one; two rules) and the look-back.
            if (last is not None and at <= last) or at < start:
                continue
            last = at
            yield at

    @staticmethod
    def _fires(
        trigger: CronTrigger,
        tz: tzinfo,
        search_from: datetime,
        next_fires: dict[datetime, _Step] | None = None,
    ) -> Iterator[datetime]:
        """The rule's instants (UTC, in order, possibly repeated) of its wall-clock times from the naive
        ``search_from`` on. ``trigger`` (in UTC) lists the wall-clock times: the first found from
        ``search_from``, each next one from the one before it alone (so it is remembered in ``next_fires``).

        Each wall-clock time is read with fold=0. Around a gap that is out of order: 02:45 -> 03:45 comes
        before 03:15. An instant is held back until a wall-clock time comes whose fold=1 reading is at or
        after it: every later wall-clock time reads at or after that (after a real time, later; after a
        skipped one, from the gap's end, and its fold=1 reading is before the gap's end).
        """
        held: list[datetime] = []
        found = trigger.get_next_fire_time(None, search_from.replace(tzinfo=UTC))
        wall = None if found is None else found.replace(tzinfo=None)
        while wall is not None:
            step = None if next_fires is None else next_fires.get(wall)
            if step is None:
                first = wall.replace(tzinfo=tz).astimezone(UTC)
                floor = min(first, wall.replace(tzinfo=tz, fold=1).astimezone(UTC))
                found = trigger.get_next_fire_time(None, wall.replace(tzinfo=UTC) + _TICK)
                step = (first, floor, None if found is None else found.replace(tzinfo=None))
                if next_fires is not None:
                    if len(next_fires) >= MEMO_FIRES:
                        next_fires.clear()  # (dicts are safe to share between threads; a lost entry is found again)
                    next_fires[wall] = step
            first, floor, wall = step
            if not held and first == floor:
                yield first  # (a real wall-clock time with nothing held back: the usual case)
                continue
            heapq.heappush(held, first)
            while held and held[0] <= floor:
                yield heapq.heappop(held)
        while held:
            yield heapq.heappop(held)

    def is_blackout(self, at_utc: datetime) -> bool:
        day = self.local(at_utc).date()
        return any(day in b for b in self.blackouts)

    def local(self, at_utc: datetime) -> datetime:
        return _utc(at_utc).astimezone(self.tz)

    def describe(self) -> str:
        rules = [str(s) for s in self.slots] + [f"cron '{c}'" for c in self.cron]
        text = f"{'; '.join(rules) or 'no slots'} ({self.tz.key})"
        if self.blackouts:
            text += "; no slot posts on " + ", ".join(str(b) for b in self.blackouts)
        return text


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone; pass an aware datetime")
    return at.astimezone(UTC)


def _offset(at: datetime, tz: tzinfo) -> timedelta:
    return at.astimezone(tz).utcoffset() or timedelta(0)
