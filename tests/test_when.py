"""Every date-time a person can type gets a clear answer: read (in UTC), or refused with a reason, never a crash;
and a pin must fall between a minute ago and two years ahead. One parser and one pin check serve the CLI, the
API and the dashboard."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from bs4 import BeautifulSoup
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from scheduler.app.editing import PIN_HORIZON, check_pin
from scheduler.config import parse_config
from scheduler.domain.errors import InputError, QueueError
from scheduler.domain.when import parse_when
from tests.helpers_web import NOW, TIP_IDS, csrf_of, web  # noqa: F401
from tests.test_cli import CLI, POSTS

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


# A date alone means midnight to Python; to a person who typed it, it means "that day, at some time". Refused,
# asking for the time, in every form ISO 8601 writes a date.
@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)),
       st.sampled_from(["{}", " {} ", "basic"]))
def test_a_date_without_a_time_is_refused_asking_for_the_time(day, form):
    text = day.isoformat().replace("-", "") if form == "basic" else form.format(day.isoformat())
    with pytest.raises(InputError, match="date without a time of day") as refused:
        parse_when(text, NEW_YORK)
    assert repr(text) in str(refused.value) and f"{day.isoformat()}T09:00:00" in str(refused.value)


@given(st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)))
def test_a_week_date_alone_is_refused_too(day):
    year, week, weekday = day.isocalendar()
    with pytest.raises(InputError, match="date without a time of day"):
        parse_when(f"{year:04d}-W{week:02d}-{weekday}", NEW_YORK)


# What a person can type in the pin field of the API and the dashboard: any date-time (local or with an offset,
# from the year 1 to 9999), a date alone, or any text. The answer is the post pinned, or a refusal with a reason
# (400), never a server error.
typed = st.one_of(
    st.builds(lambda moment, offset: moment.replace(microsecond=0, tzinfo=offset).isoformat(),
              st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)), offsets),
    st.dates(min_value=date(1, 1, 1), max_value=date(9999, 12, 31)).map(date.isoformat),
    st.text(max_size=30),
)
INTERFACE = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])



def _expected(web, at: str, asap: str = "the current time") -> str | None:
    """The refusal the one parser and the one pin check give for ``at``, or None when the pin is taken."""
    try:
        check_pin(web.config, parse_when(at, web.config.tz), web.now, asap=asap)
    except (InputError, QueueError) as exc:
        return str(exc)
    return None


@INTERFACE
@given(at=typed)
def test_the_api_answers_any_typed_pin_with_the_pin_or_a_reason_never_a_500(web, at):  # noqa: F811
    api = web.client()
    if not hasattr(web, "api_secret"):  # one token for every example of this test's ledger
        web.api_secret = web.token("tests")
    api.headers["Authorization"] = f"Bearer {web.api_secret}"
    web.store.pin(web.config.account, TIP_IDS[1], None, web.now)
    answer = api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"pinned_at": at})
    refusal = _expected(web, at) if at else None
    if refusal is None:
        assert answer.status_code == 200, (at, answer.text)
        assert web.store.get(TIP_IDS[1]).pinned_at == (parse_when(at, web.config.tz) if at else None)
    else:
        assert answer.status_code == 400, (at, answer.status_code, answer.text)
        assert refusal in answer.json()["error"]["message"]
        assert web.store.get(TIP_IDS[1]).pinned_at is None


@INTERFACE
@given(at=typed)
def test_the_queue_page_answers_any_typed_pin_with_the_pin_or_a_reason_never_a_500(web, at):  # noqa: F811
    client = web.client()
    token = csrf_of(client.get("/queue").text)
    web.store.pin(web.config.account, TIP_IDS[2], None, web.now)
    answer = client.post(f"/queue/{TIP_IDS[2]}/pin", data={"csrf": token, "at": at}, follow_redirects=False)
    refusal = _expected(web, at)
    if refusal is None:
        assert answer.status_code == 303, (at, answer.status_code)
        assert web.store.get(TIP_IDS[2]).pinned_at == parse_when(at, web.config.tz)
    else:
        assert 400 <= answer.status_code < 500, (at, answer.status_code)
        shown = BeautifulSoup(answer.text, "html.parser").get_text(" ", strip=True)
        assert " ".join(refusal.split()) in " ".join(shown.split()), at
        assert web.store.get(TIP_IDS[2]).pinned_at is None



@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(at=typed.filter(lambda text: "\x00" not in text))
@example(at="")  # an empty --at= (found by a run under a faked clock): a usage error, not a traceback
@example(at="2026-12-08")
def test_queue_pin_in_the_cli_answers_any_typed_date_time_without_a_traceback(cli_with_posts, at):
    """The command as a user runs it (a subprocess each time, hence few examples): pinned, or refused with the
    value typed or the reason (past, beyond two years, a date alone), a non-zero exit, never a traceback."""
    result = subprocess.run([sys.executable, "-m", "scheduler", "queue", "pin", TIP_IDS[3], f"--at={at}"],
                            env=cli_with_posts.env, capture_output=True, text=True, timeout=60, cwd=cli_with_posts.tmp)
    assert "Traceback" not in result.stderr, (at, result.stderr)
    if result.returncode == 0:
        assert f"{TIP_IDS[3]}" in result.stdout, at
        return
    assert result.returncode in (1, 2), (at, result.returncode, result.stderr)  # 2: unreadable, 1: refused
    said = " ".join(result.stderr.split())
    assert (repr(at) in result.stderr or "in the past" in said or "more than two years ahead" in said
            or "Invalid value for '--at'" in said
            or (at == "" and "give --at DATETIME, --now or --clear" in said)), (at, result.stderr)


@pytest.fixture
def cli_with_posts(tmp_path):
    cli = CLI(tmp_path)
    cli.run("import", str(POSTS))
    return cli
