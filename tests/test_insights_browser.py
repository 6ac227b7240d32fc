"""The Insights page in a real headless browser (Chromium via Playwright, as tests/test_web_browser.py): at a
phone's 375 px nothing scrolls sideways or is cut off, every control is reached by Tab, axe-core finds nothing,
the console stays clean (the charts are SVG from the server: no script, no CSP violation), with figures and empty.

With SCHEDULER_SCREENSHOTS=DIR it saves the README's screenshot insights.png there.
"""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.config import load_config
from scheduler.ledger.metrics import BilledCall
from scheduler.ledger.store import Store
from tests.helpers_insights import sent_with_rate
from tests.test_cli import CLI
from tests.test_web_browser import (AXE, AXE_RUN, PASSWORD, browser, dashboard, shot, tab_through,  # noqa: F401
                                    watch_problems)
from tests.test_web_cli import free_port, wait_for

pytestmark = pytest.mark.slow

TIPS = ["Walk ten minutes after every meal: it blunts the sugar spike.",
        "Heat for stiffness, ice for a fresh strain: twenty minutes, then a break.",
        "Stand up every half hour; your lower back will thank you.",
        "Drink a glass of water before each coffee.",
        "A firm pillow between the knees eases back pain at night.",
        "Stretch your calves before bed to prevent night cramps."]


def _fill(cli: CLI) -> None:
    """Two months of an X account's posts at three slots a week, each read as the collector reads them."""
    config = load_config(str(cli.config), env=cli.env)
    store = Store.open(config.database_url)
    ny = ZoneInfo("America/New_York")
    try:
        start = datetime(2026, 9, 7, tzinfo=ny)  # a Monday
        n = 0
        for week in range(8):
            for day, hour, rate in ((0, 9, 0.018), (2, 12, 0.041), (4, 17, 0.027)):
                at = (start + timedelta(weeks=week, days=day, hours=hour)).astimezone(UTC)
                wobble = ((n * 7) % 5 - 2) / 1000
                sent_with_rate(store, config.account, f"tip-{n}", at, rate + wobble, article="back-pain",
                               tip=n % 6 + 1, template=f"tip/{n % 3 + 1}.j2", variant=n % 3,
                               text=f"{TIPS[n % 6]} (#{n + 1})")
                store.record_billed_call(BilledCall(config.account, "x", "post_with_link" if n % 2 else "post", 1,
                                                    200_000 if n % 2 else 15_000, at))
                n += 1
    finally:
        store.close()


@pytest.fixture
def insights_dashboard(tmp_path):
    """`scheduler web` for an X account whose ledger holds readings (no service: nothing is published)."""
    cli, port = CLI(tmp_path), free_port()
    cli.write_config(kind="x")
    cli.run("queue", "list")  # creates the ledger
    _fill(cli)
    subprocess.run([sys.executable, "-m", "scheduler", "web", "passwd", "--password-stdin"], input=PASSWORD + "\n",
                   env=cli.env, cwd=cli.tmp, check=True, capture_output=True, text=True)
    token = cli.run("web", "token", "create", "browser-test").stdout.strip()
    proc = subprocess.Popen([sys.executable, "-m", "scheduler", "web", "--host", "127.0.0.1", "--port", str(port)],
                            env=cli.env, cwd=cli.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(port, token, proc)
        yield port
    finally:
        proc.terminate()
        proc.communicate(timeout=60)


def _signed_in(browser, port, width, height=900):  # noqa: F811
    page = browser.new_context(viewport={"width": width, "height": height}).new_page()
    problems = watch_problems(page)
    page.goto(f"http://127.0.0.1:{port}/insights")
    if "/login" in page.url:
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        page.wait_for_url(lambda url: "/login" not in url)
        page.goto(f"http://127.0.0.1:{port}/insights")
    return page, problems


def _check(page) -> list[str]:
    wide = page.evaluate("document.scrollingElement.scrollWidth")
    cut = page.evaluate("""[...document.querySelectorAll('main *, header *')].filter(e => {
        const r = e.getBoundingClientRect(); return r.width && (r.right > innerWidth + 1 || r.left < -1)
          && !e.closest('.skip, .scroll');}).map(e => e.tagName + '.' + e.className).slice(0, 5)""")
    page.evaluate(AXE.read_text(encoding="utf-8"))
    issues = ([f"scrolls sideways: {wide}px"] if wide > 375 else []) + ([f"cut off: {cut}"] if cut else [])
    return issues + page.evaluate(AXE_RUN) + tab_through(page)


def test_the_insights_page_at_375_px_is_accessible_and_draws_its_charts(insights_dashboard, browser):  # noqa: F811
    port = insights_dashboard
    page, problems = _signed_in(browser, port, 375)
    assert page.locator("svg.spark").count() == 24 and page.locator("svg.heat rect").count() == 7 * 24
    assert page.locator("svg.bars rect").count() == 2  # September and October
    assert "Wed 12:00: 8 posts" in page.locator("svg.heat").inner_html()
    assert page.get_by_role("img", name="Mean engagement rate by weekday and hour sent (America/New_York)").count() == 1
    assert _check(page) == []
    page.get_by_label("Group by").select_option("weekday-hour")
    page.get_by_role("button", name="Show").click()
    page.wait_for_url("**by=weekday-hour**")
    assert page.locator("table.insights tbody tr").first.locator("td").first.inner_text() == "Wed 12:00"
    assert not problems, problems
    desk, desk_problems = _signed_in(browser, port, 1280, 1000)
    shot(desk, "insights")  # the README's screenshot, with SCHEDULER_SCREENSHOTS=DIR
    assert not desk_problems, desk_problems


def test_the_empty_insights_page_is_accessible_and_says_what_to_do(dashboard, browser):  # noqa: F811
    cli, port, token = dashboard
    page, problems = _signed_in(browser, port, 375)
    assert page.get_by_role("heading", name="No metrics yet").count() == 1
    assert "outbox file" in page.locator("main").inner_text()
    assert _check(page) == []
    assert not problems, problems
