"""What a new user trips over on the dashboard (issue 23), in Chromium at 1280 and 375 px against `scheduler serve
--web`: moments written as people write them ("Fri 4 Dec, 09:00") with the ISO value in <time datetime>, the Queue
saying when each post goes out, History's audit table readable on a phone (no column off-screen) and no empty table
when there is nothing, the Review page's decision panel not covering a phone's screen, hashtags never broken
mid-word, and "Needs you" showing commands as code instead of Markdown backticks."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.test_web_browser import (  # noqa: F401 (fixtures)
    AXE,
    AXE_RUN,
    browser,
    dashboard,
    open_signed_in,
    reviewed_dashboard,
)
from tests.helpers_web import web  # noqa: F401 (a fixture)
from tests.test_web_cli import call
from tests.test_web_pages import soup

pytestmark = pytest.mark.slow

LOCAL = re.compile(r"^(Mon|Tue|Wed|Thu|Fri|Sat|Sun) \d{1,2} (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec), \d\d:\d\d$")
RAW = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d|:\d\d\.\d{6}")  # an ISO stamp or microseconds shown as text
ZONE = ZoneInfo("America/New_York")  # the tests' account (tests/test_cli.py CONFIG)
TIMES = """[...document.querySelectorAll('main time')].map(t => ({text: t.textContent.trim(),
    iso: t.getAttribute('datetime'), lines: t.getClientRects().length}))"""


def visible_text(page) -> str:
    return page.evaluate("document.querySelector('main').innerText")


def pin_far_from_now(port, token, post_id: str) -> datetime:
    """Pin a post 40 days ahead at 09:00 local (far from now, whatever the hour the suite runs)."""
    day = (datetime.now(UTC) + timedelta(days=40)).astimezone(ZONE).date()
    at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=ZONE)
    status, body = call(port, f"/api/v1/queue/{post_id}", token, method="PATCH", body={"pinned_at": at.isoformat()})
    assert status == 200, body
    return at


@pytest.mark.parametrize("width", [1280, 375])
def test_times_read_as_people_write_them_and_the_queue_says_when(dashboard, browser, width):
    cli, port, token = dashboard
    page, problems = open_signed_in(browser, port, width=width)

    queued = [p["post_id"] for p in call(port, "/api/v1/queue", token)[1]]
    at = pin_far_from_now(port, token, queued[-1])
    planned = {p["post_id"]: p["planned_at"] for p in call(port, "/api/v1/queue", token)[1]}

    page.goto(f"http://127.0.0.1:{port}/queue")
    for post_id in queued:
        goes = page.locator(f"#post-{post_id} .goes-out")
        assert goes.get_attribute("data-planned") == (planned[post_id] or "")
        if planned[post_id]:  # the time `queue list` gives, written for people
            stamp = goes.locator("time")
            assert datetime.fromisoformat(stamp.get_attribute("datetime")) == datetime.fromisoformat(planned[post_id])
            assert LOCAL.match(stamp.inner_text().strip()), stamp.inner_text()
    assert sum(1 for p in planned.values() if p) >= 3
    badge = page.locator(f"#post-{queued[-1]} .badge.pin time")
    assert badge.inner_text().strip() == f"{at:%a} {at.day} {at:%b}, 09:00"
    assert datetime.fromisoformat(badge.get_attribute("datetime")) == at

    for path in ("/queue", "/history", "/status"):
        page.goto(f"http://127.0.0.1:{port}{path}")
        times = page.evaluate(TIMES)
        assert times, path
        for t in times:
            assert LOCAL.match(t["text"]), (path, t)
            assert datetime.fromisoformat(t["iso"]).tzinfo is not None, (path, t)
            assert t["lines"] == 1, (path, t)  # never wrapped over two lines
        assert not RAW.search(visible_text(page)), (path, RAW.search(visible_text(page)).group(0))
    assert not problems, problems


def test_the_history_audit_table_shows_every_column_on_a_phone(dashboard, browser):
    cli, port, token = dashboard
    queued = [p["post_id"] for p in call(port, "/api/v1/queue", token)[1]]
    pin_far_from_now(port, token, queued[0])  # an audit row with a post and a detail
    page, problems = open_signed_in(browser, port, width=375)
    page.goto(f"http://127.0.0.1:{port}/history")
    cells = page.evaluate("""[...document.querySelectorAll('table.audit tbody td')].map(td => {
        const r = td.getBoundingClientRect();
        return {label: td.dataset.label, text: td.innerText, left: r.left, right: r.right, width: r.width}; })""")
    assert {c["label"] for c in cells} >= {"When", "Who", "What", "Post", "Detail"}
    for cell in cells:
        assert cell["width"] > 0 and cell["left"] >= 0 and cell["right"] <= 375 + 1, cell
    post = next(c for c in cells if c["label"] == "Post")
    assert queued[0] in post["text"]
    page.evaluate(AXE.read_text(encoding="utf-8"))
    assert page.evaluate(AXE_RUN) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= 375
    assert not problems, problems


def test_the_review_panel_does_not_cover_a_phone_and_stays_at_hand_on_a_desktop(reviewed_dashboard, browser):
    cli, port, token = reviewed_dashboard
    for width, sticky in ((375, False), (1280, True)):
        page, problems = open_signed_in(browser, port, width=width)
        page.goto(f"http://127.0.0.1:{port}/review")
        assert page.locator("li.review-item").count() >= 5
        page.evaluate("window.scrollTo(0, 0)")
        panel = page.locator("#review-form").bounding_box()
        covering = page.evaluate("""() => { const h = innerHeight;
            return [h - 10, Math.round(h * 2 / 3)].some(y => !!document.elementFromPoint(innerWidth / 2, y)
                .closest('#review-form')); }""")
        if sticky:
            assert covering and panel["height"] < 900 / 3  # at hand, and small on a desktop
        else:
            assert not covering, panel  # the list is what a phone shows; the panel comes after it
        assert not problems, problems


def test_hashtags_are_never_broken_mid_word_in_the_week_view(dashboard, browser):
    cli, port, token = dashboard
    page, problems = open_signed_in(browser, port, width=1280)
    first = next(p["planned_at"] for p in call(port, "/api/v1/queue", token)[1] if p["planned_at"])
    page.goto(f"http://127.0.0.1:{port}/calendar?view=week&date={first[:10]}")
    tags = page.evaluate("""[...document.querySelectorAll('.calendar .hashtag')].map(e => {
        const line = parseFloat(getComputedStyle(e).lineHeight) || 20, height = e.getBoundingClientRect().height;
        const box = e.parentElement, pad = parseFloat(getComputedStyle(box).paddingLeft)
            + parseFloat(getComputedStyle(box).paddingRight);
        e.style.whiteSpace = 'nowrap'; e.style.maxWidth = 'none';
        const natural = e.getBoundingClientRect().width;
        e.style.whiteSpace = ''; e.style.maxWidth = '';
        return {text: e.textContent, height, line, natural, room: box.clientWidth - pad}; })""")
    assert {t["text"] for t in tags} >= {"#BackPain", "#MassageTherapy"}, "the week shows the seed's hashtags"
    for tag in tags:
        assert tag["natural"] <= tag["room"], tag  # a 1280 px week has room for each whole
        assert tag["height"] < tag["line"] * 1.5, tag  # and it is on one line, whole
    assert not problems, problems


def test_needs_you_shows_commands_as_code_not_backticks(dashboard, browser):
    cli, port, token = dashboard
    status, body = call(port, "/api/v1/pause", token, method="POST", body={"reason": "holiday"})
    assert status == 200, body
    page, problems = open_signed_in(browser, port, width=375)
    page.goto(f"http://127.0.0.1:{port}/status")
    attention = page.locator("ul.attention")
    assert "`" not in attention.inner_text()
    assert "scheduler queue resume" in attention.locator("code").all_inner_texts()
    assert not problems, problems


def test_an_empty_history_says_so_without_an_empty_table(web):  # noqa: F811
    """A ledger no one has changed through the dashboard: "None yet." alone, no table header over nothing (a
    running service records a row at its start, so this one is served in-process)."""
    page = soup(web.client().get("/history"))
    section = page.select_one("section[aria-labelledby=audit-h]")
    assert "None yet." in section.get_text() and section.select("table") == []
    web.store.set_review_requirement(web.config.account, False, actor="tests", now=web.now)
    filled = soup(web.client().get("/history")).select_one("section[aria-labelledby=audit-h]")
    assert "None yet." not in filled.get_text() and len(filled.select("table.audit tbody tr")) == 1
