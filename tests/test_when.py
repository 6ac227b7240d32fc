"""Every date-time a person can type gets a clear answer: read (in UTC), or refused with a reason, never a crash;
and a pin must fall between a minute ago and two years ahead. One parser and one pin check serve the CLI, the
API and the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.app.editing import PIN_HORIZON, check_pin
from scheduler.config import parse_config
from scheduler.domain.errors import InputError, QueueError
from scheduler.domain.when import parse_when
from tests.helpers_web import NOW, TIP_IDS, web  # noqa: F401

NEW_YORK = ZoneInfo("America/New_York")
CONFIG = parse_config('[account]\nhandle = "GleiberMD"\ntimezone = "America/New_York"\n', source=None)

offsets = st.one_of(st.none(), st.timedeltas(min_value=timedelta(hours=-23, minutes=-59),
                                             max_value=timedelta(hours=23, minutes=59)).map(timezone))


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)), offsets)
def test_any_date_time_in_iso_8601_is_read_or_refused_with_its_value_never_a_crash(moment, offset):
    text = moment.replace(microsecond=0, tzinfo=offset).isoformat()
    try:
        read = parse_when(text, NEW_YORK)
    except InputError as exc:
        assert repr(text) in str(exc)
        return
    assert read.tzinfo is UTC


@given(st.text(max_size=40))
def test_any_text_is_read_or_refused_with_its_value(text):
    try:
        parse_when(text, NEW_YORK)
    except InputError as exc:
        assert repr(text) in str(exc)


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30), timezones=st.just(UTC)))
def test_a_pin_is_taken_only_between_a_minute_ago_and_two_years_ahead(at):
    now = datetime(2026, 12, 4, 14, 0, tzinfo=UTC)
    if now - timedelta(minutes=1) <= at <= now + PIN_HORIZON:
        check_pin(CONFIG, at, now)
    else:
        with pytest.raises(QueueError, match="in the past|more than two years ahead"):
            check_pin(CONFIG, at, now)


@pytest.mark.parametrize("at, status, says", [
    ("9999-12-31T23:59:59", 400, "out of range"),
    ("2100-01-04T09:00:00", 400, "more than two years ahead"),
    ("2026-12-08T09:00:00", 200, None),
])
def test_the_api_refuses_a_pin_it_cannot_take_with_a_reason_not_a_500(web, at, status, says):  # noqa: F811
    api = web.client()
    api.headers["Authorization"] = f"Bearer {web.token('tests')}"
    answer = api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"pinned_at": at})
    assert answer.status_code == status, answer.text
    if says:
        assert says in answer.json()["error"]["message"]
        assert web.store.get(TIP_IDS[1]).pinned_at is None
