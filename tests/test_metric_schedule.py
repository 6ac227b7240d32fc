"""The decaying schedule of metric readings (domain/metric_schedule.py) and its configuration: a reading falls due at
each offset after sending, one reading covers every offset it is at or after (missed ones are made up once), and
posts past ``max_age`` are left alone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.config.loading import parse_config
from scheduler.domain.errors import ConfigError
from scheduler.domain.metric_schedule import due_since, is_due, next_due, read_age, windows

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)
DEFAULT = (H, 24 * H, 7 * D, 30 * D)
MAX_AGE = 45 * D


def brute_due(sent_at, readings, offsets, now, max_age) -> bool:
    """The rule as the issue states it, from the whole history: an offset passed with no reading at or after it."""
    if now - sent_at >= max_age:
        return False
    return any(sent_at + o <= now and not any(r >= sent_at + o for r in readings) for o in offsets)


def test_the_default_schedule_reads_at_one_hour_a_day_a_week_and_a_month():
    assert not is_due(T0, None, DEFAULT, T0 + 59 * timedelta(minutes=1), MAX_AGE)
    assert is_due(T0, None, DEFAULT, T0 + H, MAX_AGE)
    assert due_since(T0, None, DEFAULT, T0 + H, MAX_AGE) == T0 + H
    age = read_age(T0, T0 + H + timedelta(seconds=30))
    assert not is_due(T0, age, DEFAULT, T0 + 23 * H, MAX_AGE)
    assert is_due(T0, age, DEFAULT, T0 + 24 * H, MAX_AGE)
    assert next_due(T0, age, DEFAULT, MAX_AGE) == T0 + 24 * H
    assert next_due(T0, read_age(T0, T0 + 31 * D), DEFAULT, MAX_AGE) is None


def test_readings_missed_while_down_are_made_up_by_one_reading():
    # The service was down from before the 1 h reading until day 10: one reading then covers 1 h, 24 h and 7 d.
    now = T0 + 10 * D
    assert due_since(T0, None, DEFAULT, now, MAX_AGE) == T0 + 7 * D
    age = read_age(T0, now)
    assert not is_due(T0, age, DEFAULT, now, MAX_AGE)
    assert not is_due(T0, age, DEFAULT, T0 + 29 * D, MAX_AGE)
    assert is_due(T0, age, DEFAULT, T0 + 30 * D, MAX_AGE)


def test_a_post_past_max_age_is_not_read_even_if_never_read():
    assert is_due(T0, None, DEFAULT, T0 + 44 * D, MAX_AGE)
    assert not is_due(T0, None, DEFAULT, T0 + 45 * D, MAX_AGE)
    assert next_due(T0, None, (H, 50 * D), 45 * D) == T0 + H
    assert next_due(T0, read_age(T0, T0 + 2 * H), (H, 50 * D), 45 * D) is None


def test_windows_are_the_offsets_in_whole_seconds_shortest_first():
    got = windows((24 * H, H, H), T0)
    assert [(w.sent_before, w.age_s) for w in got] == [(T0 - H, 3600), (T0 - 24 * H, 86400)]
    assert read_age(T0, T0 - timedelta(seconds=5)) == 0  # a clock stepped back: read at once, never negative


offsets_st = st.lists(st.integers(min_value=1, max_value=40 * 86400), min_size=1, max_size=6, unique=True).map(
    lambda xs: tuple(timedelta(seconds=x) for x in xs))


@settings(max_examples=300, deadline=None)
@given(offsets=offsets_st,
       max_age_s=st.integers(min_value=1, max_value=60 * 86400),
       checks=st.lists(st.integers(min_value=0, max_value=70 * 86400), min_size=1, max_size=40))
def test_a_collector_checking_at_any_times_reads_exactly_as_the_rule_says(offsets, max_age_s, checks):
    """Whenever a collector looks (service up or down, often or rarely), ``is_due`` agrees with the rule stated over
    the whole history; every reading it takes covers at least one offset no earlier reading covered (a missed one is
    taken once, not once per missed offset); and by the last check every offset passed within max_age is covered."""
    max_age = timedelta(seconds=max_age_s)
    readings: list[datetime] = []
    for second in sorted(checks):
        now = T0 + timedelta(seconds=second)
        age = read_age(T0, readings[-1]) if readings else None
        due = is_due(T0, age, offsets, now, max_age)
        assert due == brute_due(T0, readings, offsets, now, max_age)
        if due:
            covered_before = {o for o in offsets if any(r >= T0 + o for r in readings)}
            readings.append(now)
            covered_after = {o for o in offsets if T0 + o <= now}
            assert covered_after - covered_before, "a reading that covers no new offset is a wasted read"
            assert not is_due(T0, read_age(T0, now), offsets, now, max_age)
    assert len(readings) <= len(offsets)
    last = T0 + timedelta(seconds=max(checks))
    if last - T0 < max_age:
        assert all(any(r >= T0 + o for r in readings) for o in offsets if T0 + o <= last)


@settings(max_examples=200, deadline=None)
@given(offsets=offsets_st, age=st.one_of(st.none(), st.integers(min_value=0, max_value=50 * 86400)),
       max_age_s=st.integers(min_value=1, max_value=60 * 86400))
def test_next_due_is_the_first_moment_is_due_turns_true(offsets, age, max_age_s):
    max_age = timedelta(seconds=max_age_s)
    at = next_due(T0, age, offsets, max_age)
    if at is None:
        # Nothing left: no moment makes it due (checked at each offset and just before max_age).
        for moment in [T0 + o for o in offsets] + [T0 + max_age - timedelta(seconds=1)]:
            assert not is_due(T0, age, offsets, moment, max_age)
        return
    assert is_due(T0, age, offsets, at, max_age)
    assert not is_due(T0, age, offsets, at - timedelta(seconds=1), max_age)


def _config(text: str):
    return parse_config(text, source=None, env={"SCHEDULER_HOME": "/nonexistent"})


def test_the_schedule_is_configured_once_and_overridden_per_account():
    config = _config('[metrics]\nschedule = ["24h", "1h"]\nmax_age = "10d"\n[service]\nmetrics_interval = "30s"\n'
                     '[[accounts]]\nname = "a"\nhandle = "A"\n[accounts.metrics]\nenabled = false\n'
                     '[[accounts]]\nname = "b"\nhandle = "B"\ncredentials_env = "B"\n'
                     '[accounts.metrics]\nschedule = ["2h"]\n')
    a, b = config.each_account()
    assert a["metrics"] == {"enabled": False, "schedule": (H, 24 * H), "max_age": 10 * D}
    assert b["metrics"]["schedule"] == (2 * H,) and b["metrics"]["enabled"] is True
    assert a["service"]["metrics_interval"] == timedelta(seconds=30)
    assert _config("")["metrics"] == {"enabled": True, "schedule": DEFAULT, "max_age": MAX_AGE}


@pytest.mark.parametrize("text, says", [
    ('[metrics]\nschedule = []\n', "1 to 20"),
    ('[metrics]\nschedule = ["1h", "60m"]\n', "twice"),
    ('[metrics]\nschedule = ["0s"]\n', "longer than 0s"),
    ('[metrics]\nschedule = "1h"\n', "list of strings"),
    ('[metrics]\nmax_age = "0s"\n', "longer than 0s"),
    ('[[accounts]]\nname = "a"\nhandle = "A"\n[accounts.metrics]\nevery = "1h"\n', "unknown key 'every'"),
])
def test_a_bad_schedule_is_refused_naming_the_key(text, says):
    with pytest.raises(ConfigError) as err:
        _config(text)
    assert says in str(err.value)
    assert "metrics" in str(err.value)
