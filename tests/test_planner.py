from dataclasses import replace
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from scheduler.domain.calendar import Calendar
from scheduler.domain.models import PostState, QueuedPost
from scheduler.domain.planner import PlanEntry, PlanSettings, SentRecord, plan

UTC = timezone.utc
NY = ZoneInfo("America/New_York")
MINUTE = timedelta(minutes=1)

# Monday 2026-03-02, 08:00 in New York (EST, UTC-5); slots at 09:00, 13:00 and 17:30.
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=NY)
CAL = Calendar(NY, ["mon-fri 09:00", "mon-fri 13:00", "daily 17:30"])
DEFAULT = PlanSettings(series_gap=timedelta(0))  # most tests look at one rule at a time


def ny(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A March 2026 New York wall time, as UTC like the planner's output."""
    return datetime(2026, 3, day, hour, minute, second, tzinfo=NY).astimezone(UTC)


def post(
    post_id: str,
    article: str | None = None,
    *,
    parts: int = 1,
    pinned: datetime | None = None,
    retry_at: datetime | None = None,
) -> QueuedPost:
    texts = tuple(f"{post_id} part {i + 1}" for i in range(parts))
    return QueuedPost(
        post_id=post_id,
        account="acct",
        text=texts[0],
        parts=texts,
        weighted_length=len(texts[0]),
        state=PostState.RETRYING if retry_at else PostState.QUEUED,
        position=0.0,
        article_key=article,
        pinned_at=pinned,
        next_attempt_at=retry_at,
    )


def posts(*ids: str) -> list[QueuedPost]:
    return [post(i) for i in ids]


def sent(post_id: str, at: datetime, article: str | None = None, tweets: int = 1) -> SentRecord:
    return SentRecord(post_id, article, at, tweets)


def run(
    queue, *, now=NOW, settings=DEFAULT, count=5, history=(), cal=CAL, **kw
) -> list[PlanEntry]:
    return plan(now, cal, queue, history, settings, count=count, **kw)


def assigned(entries: list[PlanEntry]) -> list[tuple[datetime, str]]:
    return [(e.at, e.post.post_id) for e in entries if e.post]


def shown(entries: list[PlanEntry]) -> list[tuple[datetime, str]]:
    """Each entry as (time, post id or the reason it is empty)."""
    return [(e.at, e.post.post_id if e.post else f"<{e.reason}>") for e in entries]


# --- order -----------------------------------------------------------------------------


def test_queue_order_fills_slots_in_time_order() -> None:
    entries = run(posts("a", "b", "c", "d"), count=4)
    assert assigned(entries) == [
        (ny(2, 9), "a"), (ny(2, 13), "b"), (ny(2, 17, 30), "c"), (ny(3, 9), "d"),
    ]
    assert {e.source for e in entries} == {"slot"}
    assert all(e.at.tzinfo is UTC for e in entries)


def test_reordering_the_queue_changes_who_gets_which_slot() -> None:
    queue = posts("a", "b", "c")
    moved = [queue[2], queue[0], queue[1]]  # "move c to the top"
    assert [p for _, p in assigned(run(moved, count=3))] == ["c", "a", "b"]


def test_pin_goes_at_its_exact_second_without_using_a_slot() -> None:
    pin_at = ny(2, 10, 17, 42)
    entries = run([post("a"), post("pinned", pinned=pin_at), post("b")], count=3)
    assert shown(entries) == [(ny(2, 9), "a"), (pin_at, "pinned"), (ny(2, 13), "b")]
    assert entries[1].source == "pin"


def test_retry_goes_at_next_attempt_at() -> None:
    retry_at = ny(2, 9, 5)
    entries = run([post("r", retry_at=retry_at), post("a")], count=2)
    assert shown(entries) == [(ny(2, 9), "a"), (retry_at, "r")]
    assert entries[1].source == "retry"


def test_states_other_than_pending_are_ignored() -> None:
    done = replace(post("done"), state=PostState.SENT)
    assert assigned(run([done, post("a")], count=1)) == [(ny(2, 9), "a")]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="time zone"):
        run(posts("a"), now=datetime(2026, 3, 2, 8))


# --- paused, blackout ------------------------------------------------------------------------


def test_paused_lists_every_slot_and_pin_as_paused_as_many_as_asked() -> None:
    pin_at = ny(2, 10)
    entries = run([post("a"), post("p", pinned=pin_at)], paused=True, count=3)
    assert shown(entries) == [
        (ny(2, 9), "<paused>"),
        (pin_at, "<paused>"),
        (ny(2, 13), "<paused>"),
    ]
    assert all(e.post is None and e.reason == "paused" for e in entries)
    assert len(run([post("a")], paused=True, count=1)) == 1  # `preview --count 1` while paused: one line


def test_blackout_empties_slots_but_pins_still_go() -> None:
    cal = Calendar(NY, ["daily 09:00"], blackout=["2026-03-03..2026-03-04"])
    entries = run([post("a"), post("b"), post("p", pinned=ny(3, 12))], cal=cal, count=3)
    assert shown(entries) == [
        (ny(2, 9), "a"),
        (ny(3, 9), "<blackout>"),
        (ny(3, 12), "p"),
        (ny(4, 9), "<blackout>"),
        (ny(5, 9), "b"),
    ]


# --- caps --------------------------------------------------------------------------------------


def test_daily_cap_counts_thread_parts_and_resets_on_the_local_day() -> None:
    settings = PlanSettings(series_gap=timedelta(0), daily_cap=3)
    entries = run([post("a"), post("thread", parts=3), post("c")], settings=settings, count=3)
    assert shown(entries) == [
        (ny(2, 9), "a"),
        (ny(2, 13), "<daily cap>"),  # 1 + 3 > 3: the thread waits, keeping its place
        (ny(2, 17, 30), "<daily cap>"),
        (ny(3, 9), "thread"),
        (ny(3, 13), "<daily cap>"),
        (ny(3, 17, 30), "<daily cap>"),
        (ny(4, 9), "c"),
    ]


def test_daily_cap_counts_history_of_the_same_local_day() -> None:
    # 2026-03-02 04:00 UTC is still Sunday in New York: it does not count for Monday.
    history = [sent("x", ny(2, 7, 0), tweets=2), sent("y", datetime(2026, 3, 2, 4, tzinfo=UTC))]
    settings = PlanSettings(series_gap=timedelta(0), daily_cap=3)
    entries = run(posts("a", "b"), settings=settings, history=history, count=2)
    assert shown(entries) == [
        (ny(2, 9), "a"),
        (ny(2, 13), "<daily cap>"),
        (ny(2, 17, 30), "<daily cap>"),
        (ny(3, 9), "b"),
    ]


def test_monthly_cap_holds_until_the_next_local_month() -> None:
    now = datetime(2026, 3, 30, 8, tzinfo=NY)
    history = [sent(f"h{i}", ny(d, 9)) for i, d in enumerate(range(1, 29))]  # 28 this month
    settings = PlanSettings(series_gap=timedelta(0), monthly_cap=30)
    entries = run(posts("a", "b", "c"), now=now, settings=settings, history=history, count=3)
    assert [p for _, p in assigned(entries)] == ["a", "b", "c"]
    assert assigned(entries)[:2] == [(ny(30, 9), "a"), (ny(30, 13), "b")]
    assert assigned(entries)[2][0] == datetime(2026, 4, 1, 9, tzinfo=NY)  # Wednesday, April 1st
    assert {e.reason for e in entries if not e.post} == {"monthly cap"}


def test_pin_over_the_cap_is_shown_there_and_takes_the_next_free_slot() -> None:
    settings = PlanSettings(series_gap=timedelta(0), daily_cap=1)
    history = [sent("x", ny(2, 7))]
    queue = [post("a"), post("p", pinned=ny(2, 11))]
    entries = run(queue, settings=settings, history=history, count=2)
    assert shown(entries)[:2] == [(ny(2, 9), "<daily cap>"), (ny(2, 11), "<daily cap>")]
    assert entries[1].source == "pin"
    # Held back by the cap, the pin goes to the head of the line: before "a".
    assert assigned(entries) == [(ny(3, 9), "p"), (ny(4, 9), "a")]
    assert [e.source for e in entries if e.post] == ["missed pin", "slot"]


def test_slots_leave_room_for_a_pin_later_that_day() -> None:
    settings = PlanSettings(series_gap=timedelta(0), daily_cap=2)
    entries = run([post("a"), post("b"), post("p", pinned=ny(2, 15))], settings=settings, count=3)
    assert shown(entries) == [
        (ny(2, 9), "a"),
        (ny(2, 13), "<daily cap>"),  # the pin at 15:00 keeps the day's second post
        (ny(2, 15), "p"),
        (ny(2, 17, 30), "<daily cap>"),
        (ny(3, 9), "b"),
    ]


# --- spacing -------------------------------------------------------------------------------------


def test_series_spacing_one_tip_of_an_article_per_local_day() -> None:
    queue = [post("a1", "A"), post("a2", "A"), post("b1", "B"), post("a3", "A")]
    entries = run(queue, settings=PlanSettings(), count=4)
    assert shown(entries) == [
        (ny(2, 9), "a1"),
        (ny(2, 13), "b1"),  # a2 is held back; the next eligible post takes the slot
        (ny(2, 17, 30), "<series spacing>"),
        (ny(3, 9), "a2"),  # a2 keeps its place: before a3
        (ny(3, 13), "<series spacing>"),
        (ny(3, 17, 30), "<series spacing>"),
        (ny(4, 9), "a3"),
    ]


def test_series_spacing_counts_history_and_later_pins() -> None:
    history = [sent("a1", ny(2, 7), "A")]
    queue = [post("a2", "A"), post("b1", "B"), post("b9", "B", pinned=ny(3, 20))]
    entries = run(queue, settings=PlanSettings(), history=history, count=3)
    assert assigned(entries) == [
        (ny(2, 9), "b1"),  # a2 waits: A already went out today
        (ny(3, 9), "a2"),
        (ny(3, 20), "b9"),
    ]


def test_series_gap_that_is_not_whole_days_is_elapsed_time() -> None:
    queue = [post("a1", "A"), post("a2", "A"), post("a3", "A")]
    entries = run(queue, settings=PlanSettings(series_gap=timedelta(hours=6)), count=3)
    assert assigned(entries) == [(ny(2, 9), "a1"), (ny(2, 17, 30), "a2"), (ny(3, 9), "a3")]


def test_series_gap_of_two_days_means_two_local_dates_apart() -> None:
    queue = [post("a1", "A"), post("a2", "A")]
    entries = run(queue, settings=PlanSettings(series_gap=timedelta(days=2)), count=2)
    assert assigned(entries) == [(ny(2, 9), "a1"), (ny(4, 9), "a2")]


def test_one_tip_per_article_per_local_day_on_busy_days_across_dst_changes() -> None:
    """A slot every half hour and 30 articles of 5 tips in a row, over the two DST changes of New York
    (a 23-hour and a 25-hour local day): each slot takes the first article not out yet that day, no
    article goes twice on a local date, and a slot stays empty only when every article has had its tip."""
    cal = Calendar(NY, [], ["*/30 * * * *"])
    queue = [post(f"{a}-{t}", f"art{a:02d}") for a in range(30) for t in range(5)]
    for now in (datetime(2026, 3, 7, 8, tzinfo=NY), datetime(2026, 10, 31, 8, tzinfo=NY)):
        entries = plan(now, cal, queue, [], PlanSettings(), count=len(queue))
        out: dict = {}
        for e in entries:
            day = e.at.astimezone(NY).date()
            if e.post is None:
                assert e.reason == "series spacing" and len(out.get(day, [])) == 30, e
            else:
                assert e.post.article_key not in out.setdefault(day, []), e
                out[day].append(e.post.article_key)
        assert len(assigned(entries)) == len(queue)
        order = [p for p, *_ in sorted((e.post.post_id.split("-")[1], e.at) for e in entries if e.post)]
        assert order == sorted(order)  # every article's tips in their order: tip 0 of all first, ...


def test_elapsed_series_gap_holds_an_article_until_the_gap_has_passed() -> None:
    cal = Calendar(NY, [], ["*/30 * * * *"])
    settings = PlanSettings(series_gap=timedelta(minutes=90))
    queue = [post("a1", "A"), post("a2", "A"), post("b1", "B"), post("b2", "B"), post("a3", "A"), post("c1")]
    entries = run(queue, cal=cal, settings=settings, count=6)
    assert shown(entries) == [
        (ny(2, 8), "a1"),
        (ny(2, 8, 30), "b1"),
        (ny(2, 9), "c1"),
        (ny(2, 9, 30), "a2"),  # 90 minutes after a1, not one slot earlier
        (ny(2, 10), "b2"),
        (ny(2, 10, 30), "<series spacing>"),
        (ny(2, 11), "a3"),
    ]


def test_elapsed_series_gap_around_a_pin_of_the_article() -> None:
    cal = Calendar(NY, [], ["0 * * * *"])
    settings = PlanSettings(series_gap=timedelta(hours=2))
    queue = [post("a1", "A"), post("b1", "B"), post("c1", "C"), post("d1", "D"), post("p", "A", pinned=ny(2, 9, 50))]
    entries = run(queue, cal=cal, settings=settings, count=5)
    assert shown(entries) == [
        (ny(2, 8), "b1"),  # a1 would be within 2 hours of the pin
        (ny(2, 9), "c1"),
        (ny(2, 9, 50), "p"),
        (ny(2, 10), "d1"),
        (ny(2, 11), "<series spacing>"),  # 70 minutes after the pin
        (ny(2, 12), "a1"),
    ]


def test_a_pin_put_off_by_a_cap_no_longer_holds_its_article_back_once_past() -> None:
    cal = Calendar(NY, [], ["0 * * * *"])
    settings = PlanSettings(series_gap=timedelta(hours=2), daily_cap=2)
    history = [sent("h1", ny(2, 1), None), sent("h2", ny(2, 2), None)]  # today's cap is used up
    queue = [post("a1", "A"), post("p", "A", pinned=ny(2, 10, 10))]
    entries = run(queue, cal=cal, settings=settings, history=history, count=2)
    assert shown(entries)[:5] == [
        (ny(2, 8), "<daily cap>"),
        (ny(2, 9), "<series spacing>"),  # within 2 hours of the pin
        (ny(2, 10), "<series spacing>"),
        (ny(2, 10, 10), "<daily cap>"),  # the pin does not go: it waits for a slot
        (ny(2, 11), "<daily cap>"),  # not series spacing: the pin did not go out at 10:10
    ]
    assert assigned(entries) == [(ny(3, 0), "p"), (ny(3, 2), "a1")]  # the missed pin first, a1 2 h later


def test_min_spacing_empties_slots_too_close_to_another_post() -> None:
    cal = Calendar(NY, ["daily 09:00", "daily 09:20", "daily 10:00"])
    settings = PlanSettings(series_gap=timedelta(0), min_spacing=timedelta(minutes=30))
    entries = run(posts("a", "b", "c"), cal=cal, settings=settings, count=2)
    assert shown(entries) == [(ny(2, 9), "a"), (ny(2, 9, 20), "<min spacing>"), (ny(2, 10), "b")]


def test_slot_at_the_same_second_as_a_pin_stays_empty() -> None:
    entries = run([post("a"), post("p", pinned=ny(2, 9))], count=2)
    assert shown(entries) == [(ny(2, 9), "p"), (ny(2, 9), "<min spacing>"), (ny(2, 13), "a")]


def test_min_spacing_looks_ahead_to_pins() -> None:
    settings = PlanSettings(series_gap=timedelta(0), min_spacing=timedelta(minutes=30))
    entries = run([post("a"), post("p", pinned=ny(2, 9, 10))], settings=settings, count=2)
    assert shown(entries) == [(ny(2, 9), "<min spacing>"), (ny(2, 9, 10), "p"), (ny(2, 13), "a")]


# --- missed work ---------------------------------------------------------------------------------


def test_slot_missed_within_grace_is_due_at_its_time_older_is_gone() -> None:
    now = datetime(2026, 3, 2, 13, 10, tzinfo=NY)  # the service was down since before 09:00
    entries = run(posts("a", "b"), now=now, count=2)
    assert assigned(entries) == [(ny(2, 13), "a"), (ny(2, 17, 30), "b")]
    assert entries[0].at < now  # due: the service publishes it at once


def test_several_missed_slots_within_grace_give_one_late_post_not_a_burst() -> None:
    every_two_minutes = Calendar(NY, [], cron=["*/2 * * * *"])
    now = datetime(2026, 3, 2, 9, 9, 30, tzinfo=NY)  # 09:00 .. 09:08 passed with nobody running
    entries = plan(now, every_two_minutes, posts("a", "b", "c"), [], DEFAULT, count=3)
    assert assigned(entries) == [(ny(2, 9, 8), "a"), (ny(2, 9, 10), "b"), (ny(2, 9, 12), "c")]


def test_consumed_slot_is_not_planned_again() -> None:
    now = datetime(2026, 3, 2, 13, 5, tzinfo=NY)
    entries = run(posts("b"), now=now, count=1, consumed_slots={ny(2, 13)})
    assert assigned(entries) == [(ny(2, 17, 30), "b")]


def test_missed_pins_go_one_per_slot_oldest_first_recent_one_is_due() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=NY)
    queue = [
        post("a"),
        post("late2", pinned=ny(2, 11)),
        post("late1", pinned=ny(2, 10)),
        post("due", pinned=ny(2, 11, 50)),  # within the 15-minute grace
    ]
    entries = run(queue, now=now, count=4)
    assert shown(entries) == [
        (ny(2, 11, 50), "due"),
        (ny(2, 13), "late1"),
        (ny(2, 17, 30), "late2"),
        (ny(3, 9), "a"),
    ]
    assert [e.source for e in entries] == ["pin", "missed pin", "missed pin", "slot"]


def test_overdue_retry_waits_for_a_slot() -> None:
    now = datetime(2026, 3, 2, 12, 0, tzinfo=NY)
    entries = run([post("a"), post("r", retry_at=ny(2, 9, 5))], now=now, count=2)
    assert assigned(entries) == [(ny(2, 13), "r"), (ny(2, 17, 30), "a")]
    assert entries[0].source == "missed retry"


# --- end of the queue --------------------------------------------------------------------------


def test_queue_empty_is_listed_once_then_planning_stops() -> None:
    entries = run(posts("a"), count=5)
    assert shown(entries) == [(ny(2, 9), "a"), (ny(2, 13), "<queue empty>")]


def test_pins_after_the_queue_runs_out_are_still_planned() -> None:
    entries = run([post("a"), post("p", pinned=ny(10, 12))], count=5)
    assert shown(entries) == [(ny(2, 9), "a"), (ny(2, 13), "<queue empty>"), (ny(10, 12), "p")]


def test_pin_held_back_by_a_cap_brings_the_slots_back() -> None:
    settings = PlanSettings(daily_cap=1)
    history = [sent("x", ny(2, 7))]
    entries = run([post("p", pinned=ny(2, 10))], settings=settings, history=history)
    assert shown(entries) == [
        (ny(2, 9), "<queue empty>"),
        (ny(2, 10), "<daily cap>"),
        (ny(2, 13), "<daily cap>"),
        (ny(2, 17, 30), "<daily cap>"),
        (ny(3, 9), "p"),
    ]


def test_recycle_candidates_fill_slots_once_the_queue_is_used_up() -> None:
    entries = run(posts("a"), recycle=posts("old1", "old2"), count=5)
    assert shown(entries) == [
        (ny(2, 9), "a"), (ny(2, 13), "old1"), (ny(2, 17, 30), "old2"), (ny(3, 9), "<queue empty>"),
    ]
    assert [e.source for e in entries] == ["slot", "recycle", "recycle", "slot"]


def test_recycling_waits_while_queued_posts_are_only_held_back() -> None:
    queue = [post("a1", "A"), post("a2", "A")]
    entries = run(queue, settings=PlanSettings(), recycle=[post("old", "Z")], count=3)
    assert shown(entries)[:4] == [
        (ny(2, 9), "a1"),
        (ny(2, 13), "<series spacing>"),
        (ny(2, 17, 30), "<series spacing>"),
        (ny(3, 9), "a2"),
    ]
    assert assigned(entries)[2] == (ny(3, 13), "old")


def test_horizon_bounds_the_plan() -> None:
    settings = PlanSettings(horizon=timedelta(days=1))
    entries = run(posts(*"abcdefgh"), settings=settings, count=8)
    assert max(e.at for e in entries) <= NOW + timedelta(days=1)
    assert len(entries) == 3  # Monday's three slots; Tuesday 09:00 is past the horizon


# --- stability ---------------------------------------------------------------------------------


def test_planning_again_as_time_passes_keeps_every_remaining_assignment() -> None:
    """Publish the first plan entry by entry, replan each time: nothing may move."""
    cal = Calendar(NY, ["mon-fri 09:00", "mon-fri 13:00", "daily 17:30"], blackout=["2026-03-04"])
    settings = PlanSettings(
        min_spacing=timedelta(hours=1), daily_cap=3, monthly_cap=60, grace=timedelta(minutes=15)
    )
    queue = [
        *(post(f"a{i}", "A") for i in range(1, 5)),
        post("thread", "T", parts=3),
        *(post(f"b{i}", "B") for i in range(1, 4)),
        post("pin-ok", "P", pinned=ny(3, 11, 0, 30)),
        post("pin-first", pinned=ny(5, 8, 30)),
        post("pin-capped", "Q", parts=3, pinned=ny(5, 19, 45)),  # with pin-first, over the cap
        post("pin-near-slot", pinned=ny(6, 13, 20)),
        post("retry", "R", retry_at=ny(2, 9, 7)),
        post("solo"),
        *(post(f"c{i}", "C") for i in range(1, 4)),
    ]
    recycle = [post("old1", "OLD"), post("old2", "OLD"), post("old3", "OLD2")]
    history: list[SentRecord] = []
    consumed: set[datetime] = set()

    def replan(now: datetime) -> list[PlanEntry]:
        return plan(
            now, cal, queue, history, settings, count=100, consumed_slots=consumed, recycle=recycle
        )

    first = replan(NOW)
    assert first[-1].reason == "queue empty" and len(assigned(first)) == len(queue) + len(recycle)
    assert {"pin", "retry", "missed pin", "slot", "recycle"} <= {e.source for e in first if e.post}
    assert {"daily cap", "min spacing", "series spacing", "blackout"} <= {e.reason for e in first}

    for step, entry in enumerate([e for e in first if e.post]):
        now = entry.at + (step % 3) * 7 * MINUTE  # the service is sometimes a little late
        for due in [e for e in first if e.post and e.at <= now]:
            if any(r.post_id == due.post.post_id for r in history):
                continue
            p = due.post
            history.append(SentRecord(p.post_id, p.article_key, due.at, len(p.parts)))
            if due.source not in ("pin", "retry"):
                consumed.add(due.at)
            for pending in (queue, recycle):
                pending[:] = [p for p in pending if p.post_id != due.post.post_id]
        later = replan(now)
        assert shown([e for e in later if e.at > now]) == shown([e for e in first if e.at > now])
