"""Preview and the calendar say why a slot stays empty (issue 23): pinning one tip at noon empties that morning's
09:00 slot (one tip of an article per day), and both name the pinned post and the rule instead of a bare reason."""

from __future__ import annotations

from tests.helpers_web import TIP_IDS, web  # noqa: F401 (a fixture)
from tests.test_web_api import api  # noqa: F401 (a fixture)
from tests.test_web_pages import soup
from tests.test_web_review import cli

FROM = "2026-11-30T00:00:00-05:00"


def test_an_empty_morning_slot_names_the_tip_pinned_at_noon(web, api):  # noqa: F811
    pinned = api.patch(f"/api/v1/queue/{TIP_IDS[2]}", json={"pinned_at": "2026-12-01T12:00:00-05:00"})
    assert pinned.status_code == 200
    plan = api.get("/api/v1/preview", params={"from": FROM, "count": 6}).json()
    morning = next(e for e in plan if e["at"] == "2026-12-01T09:00:00-05:00")
    assert morning["post_id"] is None and morning["reason"] == "series spacing"  # the machine-readable reason stays

    printed = cli(web, "preview", "--from", FROM, "--count", "6").stdout
    line = next(ln for ln in printed.splitlines() if ln.startswith("Tue 2026-12-01 09:00"))
    assert "empty: series spacing" in line
    assert TIP_IDS[2] in line and "pinned at Tue 1 Dec, 12:00" in line and "one tip of an article per local day" in line

    week = soup(web.client().get("/calendar", params={"view": "week", "date": "2026-11-30"}))
    slot = week.select_one('.slot.empty[data-at="2026-12-01T09:00:00-05:00"]')
    assert slot is not None and slot["data-reason"] == "series spacing"
    assert TIP_IDS[2] in slot.get_text() and "series_gap = 1d" in slot.get_text()


def test_other_reasons_are_shown_as_they_are(web, api):  # noqa: F811
    """A reason that needs no post named (the queue ran out) keeps its words."""
    plan = api.get("/api/v1/preview", params={"from": FROM, "count": 7}).json()
    assert plan[-1]["reason"] == "queue empty"
    assert "empty: queue empty" in cli(web, "preview", "--from", FROM, "--count", "7").stdout
