"""Who goes out when: one pure function that both the preview and the service call.

``plan`` reads the calendar, the pending queue and what has been sent, and returns the
coming publications (and the empty slots before them, with the reason each is empty).
The service publishes the entries whose time has come, records them, and plans again;
because the same inputs always give the same plan, the preview is the truth.

The contract
------------
Order
  ``queue`` holds pending posts (queued or retrying) in queue order; other states are
  ignored. A pinned post goes at its exact second (source "pin"); a retrying post goes at
  its ``next_attempt_at`` (source "retry"). The rest fill calendar slots in queue order
  (source "slot"). Pins and retries are extra posts: they never use up a slot.

Missed work (grace)
  Planning starts at ``now - grace``. The latest slot in ``[now - grace, now]``, if it is
  not in ``consumed_slots``, is still due: it is listed at its own (past) time and the
  service publishes it at once. Earlier slots are gone: several missed slots never turn
  into a burst of posts. A pin or retry within the grace window is
  due the same way; one older than that loses its moment and goes to the head of the
  slot-filling order (sources "missed pin" / "missed retry", oldest first), so a backlog
  after downtime goes out one post per slot, never in a burst.

Series spacing
  ``series_gap`` keeps tips of one article apart. A whole number of days N means local
  calendar days: two posts of an article are at least N local dates apart (1 day = at
  most one tip of an article per local day). Any other gap is elapsed time between the
  two posts. 0 turns it off. When the next post in order is too close to another post of
  its article (sent, planned earlier, or a pin/retry of that article later on), the next
  eligible post in queue order takes the slot and the skipped one keeps its place; with
  none eligible the slot stays empty ("series spacing"). Posts without an article are
  never held back.

Min spacing
  Two publications never share a second, and a slot closer than ``min_spacing`` to
  another publication (sent, planned, or a pin/retry on either side of it) stays empty
  ("min spacing"). Pins and retries are never moved by spacing: they are explicit.

Caps
  ``daily_cap`` (local day) and ``monthly_cap`` (local calendar month) count X posts,
  each thread part counting one, sent plus planned. They apply to everything, because X
  refuses posts beyond them. A slot leaves room for the pins and retries later in its
  day and month; a slot whose post would not fit stays empty ("daily cap" / "monthly
  cap") and the post keeps its place in line. A pin or retry that does not fit is listed
  empty at its time with that reason and goes to the head of the slot-filling order, as a
  missed one would.

Budget
  With a ``budget`` (X's ``[x] monthly_budget``, counted per UTC calendar month as X bills), a post is planned
  only if what the month has spent, plus the posts planned before it that month, plus its own cost stays within
  the budget (``domain/budget.py``'s ``may_post``). A slot leaves room for the pins and retries later in its
  month; a slot whose post would not fit stays empty ("budget") and the post keeps its place in line; a pin or
  retry that does not fit is listed empty ("budget") and goes to the head of the slot-filling order, as with caps.

Blackouts
  Slots on blackout dates stay empty ("blackout"). Pins and retries inside a blackout
  still go: the user chose that moment (or the post already started going out).

Paused
  Every slot, pin and retry is listed empty with reason "paused".

Queue empty
  When no post waits for a slot, ``recycle`` posts (evergreen mode; the caller chooses
  them) fill slots in the given order (source "recycle"). With none left the next slot
  is listed once as "queue empty" and slots stop; pins and retries still to come are
  still planned (and a pin pushed out by a cap brings the slots back).

Length
  Planning stops after ``count`` entries that carry a post, after ``count * 10 + 50``
  empty entries (``count`` while paused), or at ``now + horizon``, whichever comes first.

Stability
  An entry's time is its slot's (or pin's) time, never ``now``, so planning again later
  with what was published in between added to ``history`` and ``consumed_slots`` gives
  the same assignments for the slots that remain.
"""

from __future__ import annotations

import heapq
from bisect import bisect_left, bisect_right, insort
from collections import Counter, defaultdict, deque
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import NamedTuple

from scheduler.domain.budget import billing_month, may_post
from scheduler.domain.calendar import Calendar
from scheduler.domain.models import PostState, QueuedPost

UTC = timezone.utc
ONE_DAY = timedelta(days=1)
SAME_SECOND = timedelta(seconds=1)  # publications closer than this would share a second


@dataclass(frozen=True)
class PlanSettings:
    min_spacing: timedelta = timedelta(0)
    series_gap: timedelta = ONE_DAY
    daily_cap: int | None = None
    monthly_cap: int | None = None
    grace: timedelta = timedelta(minutes=15)
    horizon: timedelta = timedelta(days=400)


@dataclass(frozen=True)
class Budget:
    """Money a month may spend (millionths of a dollar): ``limit`` per UTC month, ``spent`` already in the month
    of ``now``, and what one post costs."""

    limit: int
    spent: int
    cost: Callable[[QueuedPost], int]


@dataclass(frozen=True)
class SentRecord:
    post_id: str
    article_key: str | None
    at: datetime  # the slot (or pin) time it was published for, UTC
    tweets: int = 1  # X posts it used: each thread part counts


@dataclass(frozen=True)
class PlanEntry:
    at: datetime  # UTC
    post: QueuedPost | None  # None: the slot stays empty, see reason
    reason: str | None
    source: str  # "slot", "pin", "retry", "missed pin", "missed retry", "recycle"


def plan(
    now: datetime,
    calendar: Calendar,
    queue: Iterable[QueuedPost],
    history: Sequence[SentRecord],
    settings: PlanSettings,
    *,
    count: int,
    paused: bool = False,
    consumed_slots: Collection[datetime] = (),
    recycle: Sequence[QueuedPost] = (),
    own_time: Sequence[QueuedPost] | None = None,
    budget: Budget | None = None,
) -> list[PlanEntry]:
    """The plan (see the module's note). ``own_time``: the posts of ``queue`` that carry a pin or retry
    time, in queue order, when the caller has them apart; then ``queue`` may be read lazily (an iterator),
    and only as far as the plan needs. Without it ``queue`` is read whole to find them."""
    return _Planner(now, calendar, queue, history, settings, paused, consumed_slots, recycle, own_time,
                    budget).run(count)


def _latest_missed_then_future(slots: Iterator[datetime], now: datetime) -> Iterator[datetime]:
    """Of the slots already past (within grace), only the latest may still be filled.

    One post may go out late; a run of missed slots must not become a burst of posts.
    """
    latest_past = None
    for at in slots:
        if at <= now:
            latest_past = at
            continue
        if latest_past is not None:
            yield latest_past
        yield at
        break
    else:
        if latest_past is not None:
            yield latest_past
    yield from slots


def tweets_of(post: QueuedPost) -> int:
    return len(post.parts) or 1


class _Timed(NamedTuple):
    """A pending post with its own moment: a pin or a retry."""

    at: datetime
    index: int  # queue order breaks ties between equal times
    source: str
    post: QueuedPost


def _own_moment(post: QueuedPost) -> tuple[datetime, str] | None:
    if post.state is PostState.RETRYING and post.next_attempt_at is not None:
        return _utc(post.next_attempt_at), "retry"
    if post.pinned_at is not None:
        return _utc(post.pinned_at), "pin"
    return None


class _Candidate(NamedTuple):
    rank: tuple  # (0, time, n) missed pin/retry; (1, index) queue; (2, index) recycle
    source: str
    post: QueuedPost


class _Hold(NamedTuple):
    """How long a post held back by series spacing surely stays held back, as slots go on: until the slot at
    ``until`` (if given), or, if ``period`` is given, while slots stay in that local day (date, UTC offset)."""

    until: datetime | None
    period: tuple | None


class _FillOrder:
    """Posts waiting for a slot, in the order they take one.

    Missed pins and retries come first, then the queue; recycle posts only once nothing
    else waits. Of each article only its first waiting post is a candidate; the others
    queue behind it, so a long series held back by spacing is stepped over once, not
    once per slot, and a 100,000-post queue is read only as far as needed.

    A candidate held back by spacing for a while (a ``_Hold``) is set aside until then instead of being
    looked at again for every slot: with a slot every 30 minutes and one tip per article a day, each slot
    would otherwise step over every article that already had its tip that day. Only the time a slot takes
    changes; a candidate set aside could not have taken any slot meanwhile.
    """

    def __init__(self, queue: Iterator[tuple[int, QueuedPost]], recycle: Sequence[QueuedPost]):
        self._candidates: list[_Candidate] = []  # a heap by rank
        # Per article with a candidate out: its later posts as (index, post). A recycle
        # post never waits behind a queue post: recycling starts when nothing waits.
        self._behind: dict[str, deque[tuple[int, QueuedPost]]] = {}
        self._sources: list[tuple[int, str, Iterator[tuple[int, QueuedPost]]]] = [
            (1, "slot", queue),
            (2, "recycle", enumerate(recycle)),
        ]
        self._missed = 0
        # Candidates set aside: until a time (a heap by it), and for the rest of one local day.
        self._held_until: list[tuple[datetime, tuple, _Candidate]] = []
        self._held_period: tuple | None = None
        self._held_in_period: list[_Candidate] = []

    def add_missed(self, at: datetime, source: str, post: QueuedPost) -> None:
        self._missed += 1
        heapq.heappush(self._candidates, _Candidate((0, at, self._missed), source, post))

    def take(
        self, at: datetime, period: tuple | None, held: Callable[[str | None], _Hold | bool]
    ) -> _Candidate | None:
        """The first candidate for the slot at ``at`` (in local day ``period``) whose article is eligible:
        ``held(key)`` is False; True or a ``_Hold`` when it is not. ``commit`` or ``put_back`` it.

        Slots must be asked for in time order (a hold speaks of the slots after the one that gave it)."""
        self._release(at, period)
        passed: list[_Candidate] = []
        found = None
        while self._candidates and found is None:
            candidate = heapq.heappop(self._candidates)
            if not self._set_aside(candidate, held(candidate.post.article_key), passed):
                found = candidate
        if found is None:
            found = self._read_more(held, passed)
        for candidate in passed:
            heapq.heappush(self._candidates, candidate)
        return found

    def _release(self, at: datetime, period: tuple | None) -> None:
        while self._held_until and self._held_until[0][0] <= at:
            heapq.heappush(self._candidates, heapq.heappop(self._held_until)[2])
        if self._held_in_period and period != self._held_period:
            for candidate in self._held_in_period:
                heapq.heappush(self._candidates, candidate)
            self._held_in_period = []
        self._held_period = period

    def _set_aside(self, candidate: _Candidate, hold: _Hold | bool, passed: list[_Candidate]) -> bool:
        """Whether the candidate is held back (then kept aside, in ``passed`` or until its hold ends)."""
        if hold is False:
            return False
        if hold is True:
            passed.append(candidate)
        elif hold.until is not None:
            heapq.heappush(self._held_until, (hold.until, candidate.rank, candidate))
        elif hold.period == self._held_period:
            self._held_in_period.append(candidate)
        else:
            passed.append(candidate)
        return True

    def _read_more(
        self, held: Callable[[str | None], _Hold | bool], passed: list[_Candidate]
    ) -> _Candidate | None:
        while self._sources:
            kind, source, posts = self._sources[0]
            if kind == 2 and self._waiting(passed):  # recycling waits until the queue is used up
                return None
            for index, post in posts:
                key = post.article_key
                if key in self._behind:
                    self._behind[key].append((index, post))
                    continue
                if key is not None:
                    self._behind[key] = deque()
                candidate = _Candidate((kind, index), source, post)
                if not self._set_aside(candidate, held(key), passed):
                    return candidate
            self._sources.pop(0)
        return None

    def _waiting(self, passed: list[_Candidate]) -> bool:
        return bool(passed or self._held_until or self._held_in_period)

    def commit(self, candidate: _Candidate) -> None:
        key = candidate.post.article_key
        if candidate.rank[0] == 0 or key is None:
            return
        waiting = self._behind[key]
        if waiting:
            index, post = waiting.popleft()
            successor = _Candidate((candidate.rank[0], index), candidate.source, post)
            heapq.heappush(self._candidates, successor)
        else:
            del self._behind[key]

    def put_back(self, candidate: _Candidate) -> None:
        heapq.heappush(self._candidates, candidate)

    @property
    def exhausted(self) -> bool:
        """Nothing waits (meaningful after ``take`` returned None)."""
        return not self._candidates and not self._sources and not self._waiting([])


class _Publications:
    """What has been sent or is planned, indexed for the spacing and cap rules."""

    def __init__(self, calendar: Calendar, history: Sequence[SentRecord]) -> None:
        self._local = calendar.local
        self.times: list[datetime] = []
        self.by_article: defaultdict[str, list[datetime]] = defaultdict(list)
        self.per_day: Counter[date] = Counter()
        self.per_month: Counter[tuple[int, int]] = Counter()
        for record in history:
            self.add(record.article_key, _utc(record.at), record.tweets)

    def add(self, article_key: str | None, at: datetime, tweets: int) -> None:
        insort(self.times, at)
        if article_key is not None:
            insort(self.by_article[article_key], at)
        local = self._local(at)
        self.per_day[local.date()] += tweets
        self.per_month[local.year, local.month] += tweets


class _Planner:
    def __init__(
        self,
        now: datetime,
        calendar: Calendar,
        queue: Iterable[QueuedPost],
        history: Sequence[SentRecord],
        settings: PlanSettings,
        paused: bool,
        consumed_slots: Collection[datetime],
        recycle: Sequence[QueuedPost],
        own_time: Sequence[QueuedPost] | None,
        budget: Budget | None = None,
    ) -> None:
        now = _utc(now)
        self.budget = budget
        self.this_month = billing_month(now)[0]
        self.committed: Counter[datetime] = Counter()  # cost planned per UTC billing month (its start)
        self.calendar = calendar
        self.settings = settings
        self.paused = paused
        self.start = now - settings.grace
        self.end = now + settings.horizon
        self.consumed = {_utc(at) for at in consumed_slots}
        self._dates: dict[datetime, date] = {}
        # A series gap of whole days counts local dates; any other, elapsed time.
        self._by_days = bool(settings.series_gap) and not settings.series_gap % ONE_DAY

        # The few posts with their own moment (found in one pass unless the caller has them apart); the rest
        # is read lazily. Among pins and retries at the same second, queue order goes first.
        if own_time is None:
            queue = list(queue)
            own_time = [p for p in queue if p.pinned_at or p.next_attempt_at]
        timed = []
        for order, post in enumerate(own_time):
            moment = _own_moment(post) if post.state.is_pending else None
            if moment:
                timed.append(_Timed(moment[0], order, moment[1], post))
        timed.sort()
        has_moment = {id(t.post) for t in timed}
        waiting = (
            (i, p)
            for i, p in enumerate(queue)
            if (p.state is PostState.QUEUED or p.state is PostState.RETRYING)
            and id(p) not in has_moment
        )
        self.fill = _FillOrder(waiting, recycle)
        for t in timed:
            if t.at < self.start:
                self.fill.add_missed(t.at, "missed " + t.source, t.post)
        self.timed = [t for t in timed if t.at >= self.start]
        self.next_timed = 0  # self.timed[:next_timed] have been planned
        self.timed_by_article: defaultdict[str, list[datetime]] = defaultdict(list)
        for t in self.timed:
            if t.post.article_key is not None:
                self.timed_by_article[t.post.article_key].append(t.at)

        # Older records cannot bear on a slot from self.start on.
        reach = max(timedelta(days=32), settings.series_gap + ONE_DAY, settings.min_spacing)
        self.published = _Publications(
            calendar, [r for r in history if _utc(r.at) >= self.start - reach]
        )
        # The calendar's slots still to plan; None while stopped for an empty queue.
        self.slots: Iterator[datetime] | None = _latest_missed_then_future(calendar.slots_after(self.start), now)
        self.slot: datetime | None = next(self.slots, None)

    def run(self, count: int) -> list[PlanEntry]:
        entries: list[PlanEntry] = []
        posts = empties = 0
        queue_empty_shown = False
        # Paused, every entry is empty: listing more of them than asked for says nothing more.
        most_empties = count if self.paused else count * 10 + 50
        while posts < count and empties < most_empties:
            timed = self.timed[self.next_timed] if self.next_timed < len(self.timed) else None
            # At the same second the pin goes first and the slot yields to it.
            if timed and (self.slot is None or timed.at <= self.slot):
                if timed.at > self.end:
                    break
                self.next_timed += 1
                entry = self._timed_entry(timed)
            elif self.slots is not None and self.slot is not None:
                at, self.slot = self.slot, next(self.slots, None)
                if at > self.end:
                    break
                if at in self.consumed:
                    continue
                entry = self._slot_entry(at)
                if entry.reason == "queue empty":
                    self.slots, self.slot = None, None
                    if queue_empty_shown:
                        continue
                    queue_empty_shown = True
            else:
                break
            entries.append(entry)
            if entry.post is None:
                empties += 1
            else:
                posts += 1
        return entries

    def _timed_entry(self, timed: _Timed) -> PlanEntry:
        if self.paused:
            return PlanEntry(timed.at, None, "paused", timed.source)
        tweets = tweets_of(timed.post)
        over_cap = self._over_cap(timed.at, tweets, leave_room=False) or self._over_budget(timed.at, timed.post,
                                                                                            leave_room=False)
        if over_cap:
            self.fill.add_missed(timed.at, "missed " + timed.source, timed.post)
            if self.slots is None:  # slots had stopped for an empty queue: resume
                self.slots = self.calendar.slots_after(timed.at, inclusive=False)
                self.slot = next(self.slots, None)
            return PlanEntry(timed.at, None, over_cap, timed.source)
        self._spend(timed.at, timed.post)
        self.published.add(timed.post.article_key, timed.at, tweets)
        return PlanEntry(timed.at, timed.post, None, timed.source)

    def _slot_entry(self, at: datetime) -> PlanEntry:
        def empty(reason: str) -> PlanEntry:
            return PlanEntry(at, None, reason, "slot")

        if self.paused:
            return empty("paused")
        if self.calendar.is_blackout(at):
            return empty("blackout")
        if self._too_close(at):
            return empty("min spacing")
        period = self._period(at) if self._by_days else None
        candidate = self.fill.take(at, period, lambda key: self._series_hold(key, at, period))
        if candidate is None:
            return empty("queue empty" if self.fill.exhausted else "series spacing")
        tweets = tweets_of(candidate.post)
        over_cap = self._over_cap(at, tweets, leave_room=True) or self._over_budget(at, candidate.post,
                                                                                   leave_room=True)
        if over_cap:
            self.fill.put_back(candidate)
            return empty(over_cap)
        self._spend(at, candidate.post)
        self.fill.commit(candidate)
        self.published.add(candidate.post.article_key, at, tweets)
        return PlanEntry(at, candidate.post, None, candidate.source)

    def _too_close(self, at: datetime) -> bool:
        gap = max(self.settings.min_spacing, SAME_SECOND)
        times = self.published.times
        i = bisect_right(times, at - gap)
        if i < len(times) and times[i] < at + gap:
            return True
        # Pins and retries still to come are later than any slot being planned.
        upcoming = self.timed[self.next_timed].at if self.next_timed < len(self.timed) else None
        return upcoming is not None and upcoming - at < gap

    def _series_hold(self, article_key: str | None, at: datetime, period: tuple | None) -> _Hold | bool:
        """False when series spacing lets a post of this article go at ``at``; else how long it surely stays
        held back (a ``_Hold``), or True. Only the nearest posts of the article on either side matter: a
        farther one is farther in time and in local dates.

        A hold stays true as slots go on, because posts are only ever added, and only after ``at``:
        - elapsed gap: a post at ``x`` holds back every slot before ``x + gap``; a pin or retry not yet
          planned (it may not be: a cap) every slot before itself;
        - a gap in days: a post at ``x`` holds back the rest of ``at``'s local day (the nearest posts of
          a later slot that day are ``x`` or posts on that very day). A day is its local date and UTC
          offset: with no change of offset in between, local dates cannot go back.
        """
        if article_key is None or not self.settings.series_gap:
            return False
        sent = self.published.by_article.get(article_key, ())
        i = bisect_left(sent, at)
        for other in (sent[i - 1] if i else None, sent[i] if i < len(sent) else None):
            if other is not None and self._same_series_window(at, other):
                if self._by_days:
                    return _Hold(None, period)
                return _Hold(other + self.settings.series_gap, None)
        pinned = self.timed_by_article.get(article_key, ())
        j = bisect_right(pinned, at)  # later pins/retries of the article, not yet planned
        if j < len(pinned) and self._same_series_window(at, pinned[j]):
            return True if self._by_days else _Hold(pinned[j], None)
        return False

    def _period(self, at: datetime) -> tuple:
        local = self.calendar.local(at)
        self._dates.setdefault(at, local.date())
        return local.date(), local.utcoffset()

    def _same_series_window(self, a: datetime, b: datetime) -> bool:
        gap = self.settings.series_gap
        if gap % ONE_DAY:
            return abs(a - b) < gap
        days_apart = abs((self._local_date(a) - self._local_date(b)).days)
        return days_apart < gap.days

    def _local_date(self, at: datetime) -> date:
        """The local date of an instant, remembered: spacing asks it of the same few instants thousands of
        times in a long plan."""
        found = self._dates.get(at)
        if found is None:
            found = self._dates[at] = self.calendar.local(at).date()
        return found

    def _over_cap(self, at: datetime, tweets: int, *, leave_room: bool) -> str | None:
        """The cap that ``tweets`` more X posts at ``at`` would exceed, if any."""
        local = self.calendar.local(at)
        day, month = local.date(), (local.year, local.month)
        settings, published = self.settings, self.published
        if settings.daily_cap is not None:
            room = self._pins_later_in(lambda t: t.date() == day) if leave_room else 0
            if published.per_day[day] + room + tweets > settings.daily_cap:
                return "daily cap"
        if settings.monthly_cap is not None:
            room = self._pins_later_in(lambda t: (t.year, t.month) == month) if leave_room else 0
            if published.per_month[month] + room + tweets > settings.monthly_cap:
                return "monthly cap"
        return None

    def _over_budget(self, at: datetime, post: QueuedPost, *, leave_room: bool) -> str | None:
        """"budget" when planning ``post`` at ``at`` would spend more than its UTC month's budget allows."""
        if self.budget is None:
            return None
        month = billing_month(at)[0]
        spent = self.budget.spent if month == self.this_month else 0
        room = 0
        if leave_room:
            for i in range(self.next_timed, len(self.timed)):
                if billing_month(self.timed[i].at)[0] != month:
                    break
                room += self.budget.cost(self.timed[i].post)
        cost = self.budget.cost(post)
        return None if may_post(self.budget.limit, spent, self.committed[month] + room, cost) else "budget"

    def _spend(self, at: datetime, post: QueuedPost) -> None:
        if self.budget is not None:
            self.committed[billing_month(at)[0]] += self.budget.cost(post)

    def _pins_later_in(self, same_period: Callable[[datetime], bool]) -> int:
        """X posts of the pins and retries still to come in the current day or month."""
        total = 0
        for i in range(self.next_timed, len(self.timed)):
            if not same_period(self.calendar.local(self.timed[i].at)):
                break
            total += tweets_of(self.timed[i].post)
        return total


def _utc(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{at!r} has no time zone; pass an aware datetime")
    return at.astimezone(UTC)
