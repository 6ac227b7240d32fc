"""With review off, every view agrees that nothing waits for a reviewer (issue 23): the Review page, `review list`
(text and --json), /api/v1/review, /api/v1/status and `preview` all read review.policy.waits_for_reviewer; none
says "not going out until approved" about a post the plan sends."""

from __future__ import annotations

import json

from tests.helpers_web import NOW, TIP_IDS, web  # noqa: F401 (a fixture)
from tests.test_web_api import api, cli_json  # noqa: F401 (a fixture)
from tests.test_web_review import cli
from tests.test_web_pages import soup


def test_review_off_every_view_says_the_same(web, api):  # noqa: F811
    planned = [e["post_id"] for e in api.get("/api/v1/preview", params={"count": 12}).json() if e["post_id"]]
    assert set(TIP_IDS) <= set(planned)  # the plan sends them without anyone's approval

    page = web.client().get("/review")
    assert page.status_code == 200
    text = " ".join(soup(page).get_text(" ", strip=True).split())
    assert "not going out" not in text and "Awaiting review" not in text
    assert "Review is off" in text and "no post waits for a reviewer" in text
    assert not soup(page).select(".review-item")  # no post listed as held
    assert not soup(page).select("form#review-form")  # nothing to approve

    assert api.get("/api/v1/review").json() == [] == cli_json(web, "review", "list")
    assert api.get("/api/v1/status").json()["review"]["awaiting"] == 0
    printed = cli(web, "review", "list").stdout
    assert "Review is off" in printed and "would go out: not within the plan" not in printed

    calendar = soup(web.client().get("/calendar", params={"view": "week", "from": "2026-11-30"}))
    assert not calendar.select(".drafts-note")


def test_review_on_still_lists_what_waits(web, api):  # noqa: F811
    """The same function with review on: the posts not approved wait, and every view counts them alike."""
    web.config_path.write_text(web.config_path.read_text() + "\n[review]\nrequired = true\n", encoding="utf-8")
    from scheduler.config import load_config

    web.config = load_config(str(web.config_path))
    client = web.client()
    client.headers["Authorization"] = api.headers["Authorization"]
    listed = [i["post_id"] for i in client.get("/api/v1/review").json()]
    assert listed == TIP_IDS
    assert client.get("/api/v1/status").json()["review"]["awaiting"] == len(TIP_IDS)
    assert [i["post_id"] for i in json.loads(json.dumps(cli_json(web, "review", "list")))] == TIP_IDS
    assert len(soup(web.client().get("/review")).select(".review-item")) == len(TIP_IDS)
