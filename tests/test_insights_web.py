"""Insights over HTTP: /api/v1/insights is `scheduler insights --json` field for field, under the API's access
rules; the Insights page draws its charts on the server and says what to do when there is nothing to show."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from xml.etree import ElementTree

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.config import load_config
from scheduler.ledger.metrics import BilledCall
from scheduler.web import charts
from tests.helpers_insights import sent_with_rate
from tests.helpers_web import web  # noqa: F401
from tests.test_web_api import cli_json


def fill(env) -> None:
    """An X account with three weeks of posts on Mondays and Wednesdays at 09:00 New York, and a bill."""
    env.config_path.write_text(env.config_path.read_text().replace('kind = "outbox"', 'kind = "x"'), encoding="utf-8")
    env.config = load_config(str(env.config_path))
    start = datetime(2026, 9, 28, 9, tzinfo=ZoneInfo("America/New_York")).astimezone(UTC)  # a Monday, 09:00 EDT
    for week in range(3):
        at = start + timedelta(weeks=week)
        sent_with_rate(env.store, env.config.account, f"mon{week}", at, 0.02, tip=week, template="tip/1.j2")
        sent_with_rate(env.store, env.config.account, f"wed{week}", at + timedelta(days=2), 0.06, tip=10 + week,
                       template="tip/2.j2")
    env.store.record_billed_call(BilledCall(env.config.account, "x", "post_with_link", 1, 200_000, start))


@pytest.fixture
def filled(web):  # noqa: F811
    fill(web)
    return web


def test_the_api_is_the_cli_json_and_refuses_a_bad_parameter(filled):
    api = filled.client()
    assert api.get("/api/v1/insights").status_code == 401  # an API read needs a token, as every other read
    api.headers["Authorization"] = f"Bearer {filled.token('tests')}"
    got = api.get("/api/v1/insights", params={"by": "weekday-hour", "since": "2026-09-01"})
    assert got.status_code == 200
    cli = cli_json(filled, "insights", "--by", "weekday-hour", "--since", "2026-09-01")
    assert {k: v for k, v in got.json().items() if k != "now"} == {k: v for k, v in cli.items() if k != "now"}
    assert [(g["key"], g["posts"], g["rate_basis"]) for g in got.json()["groups"]] == [
        ("Wed 09:00", 3, "impressions"), ("Mon 09:00", 3, "impressions")]

    slots = api.get("/api/v1/insights/slots").json()
    assert slots == cli_json(filled, "insights", "suggest-slots")
    assert slots["changes_calendar"] is False and slots["slots"][0]["weekday"] == "Wed"

    for params, word in [({"by": "hour"}, "weekday-hour"), ({"since": "soon"}, "30d"), ({"since": "2999-01-01"}, "future")]:
        bad = api.get("/api/v1/insights", params=params)
        assert bad.status_code == 400 and word in bad.json()["error"]["message"], params
    assert api.get("/api/v1/insights/slots", params={"count": "0"}).status_code == 400

    spec = api.get("/api/v1/openapi.json").json()
    fields = spec["components"]["schemas"]["Insights"]["properties"]
    assert set(got.json()) == set(fields)
    assert set(got.json()["posts"][0]) == set(spec["components"]["schemas"]["InsightPost"]["properties"])
    assert "/insights" in spec["paths"] and "/insights/slots" in spec["paths"]


def test_the_page_draws_its_charts_on_the_server(filled):
    page = filled.client().get("/insights")
    assert page.status_code == 200
    html = page.text
    assert '<a href="/insights" aria-current="page">Insights</a>' in html
    assert html.count('<svg class="spark"') == 6  # one sparkline per post
    assert '<svg class="heat"' in html and "Wed 09:00: 3 posts, 6.00%" in html
    assert '<svg class="bars"' in html and "$0.20" in html
    assert "Best and worst posts" in html and "rate per impressions" in html
    assert "<script" not in html.split("</head>", 1)[1]  # no script in the page body: the charts are SVG
    assert "cdn" not in html.lower()
    bad = filled.client().get("/insights", params={"since": "<b>x</b>"})
    assert bad.status_code == 400 and "&lt;b&gt;x&lt;/b&gt;" in bad.text and "<b>x</b>" not in bad.text


def test_the_empty_page_says_what_to_do_and_that_the_outbox_has_no_metrics(web):  # noqa: F811
    html = web.client().get("/insights").text
    assert "No metrics yet" in html and "scheduler serve" in html
    assert "outbox file" in html and "no metrics" in html
    assert "No billed calls" in html


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.text(max_size=30), st.floats(0, 1e6), st.text(max_size=20)), max_size=6),
       st.text(max_size=60))
def test_any_label_gives_well_formed_svg_with_the_label_as_text(rows, title):
    for svg in (charts.bars(rows, title=title, desc=title),
                charts.sparkline([v for _, v, _ in rows], title=title, desc=title),
                charts.heat_map([(d, h, 1, v / 1e6) for (d, h), (_, v, _) in zip([(0, 1), (6, 23)], rows)],
                                title=title, desc=title)):
        try:
            tree = ElementTree.fromstring(str(svg))
        except ElementTree.ParseError as exc:
            if any(_xml_illegal(text) for text in [title, *(r[0] for r in rows), *(r[2] for r in rows)]):
                continue  # control characters XML itself cannot hold (the page is HTML: shown, not parsed)
            raise AssertionError(f"{exc}: {svg}") from None
        shown = tree.find("{http://www.w3.org/2000/svg}title").text or ""
        assert shown == title.replace("\r\n", "\n").replace("\r", "\n")  # XML reads a CR as a line end


def _xml_illegal(text: str) -> bool:
    return any(ord(c) < 32 and c not in "\t\n\r" or 0xD800 <= ord(c) <= 0xDFFF or ord(c) in (0xFFFE, 0xFFFF)
               for c in text)
