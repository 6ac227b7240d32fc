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


DOSE = "Take 400 mg of ibuprofen before bed for back pain."  # the shipped `dosage` rule blocks it


def test_review_off_a_blocking_finding_holds_the_post_until_its_text_changes(web, api):  # noqa: F811
    """A marketer reads [block] as "will not be published": with review off nothing else stops it, so the plan
    leaves it out, every view says it is held and how to release it, and an edit releases it."""
    added = api.post("/api/v1/queue", json={"text": DOSE, "at": "2026-12-01T12:00:00-05:00"})
    assert added.status_code == 201
    post_id = added.json()["post_id"]
    plan = api.get("/api/v1/preview", params={"count": 12}).json()
    assert post_id not in [e["post_id"] for e in plan]  # not even at its pin
    assert set(TIP_IDS) <= {e["post_id"] for e in plan}  # the others go out as before

    page = soup(web.client().get("/review"))
    held = page.select("li.review-item.blocked")
    assert [li["data-post-id"] for li in held] == [post_id]
    text = " ".join(page.get_text(" ").split())
    assert "held: not going out" in text and "400 mg" in text and "scheduler queue edit ID" in text
    status = api.get("/api/v1/status").json()
    assert any(post_id in a and "held by a content rule" in a for a in status["attention"])
    printed = cli(web, "review", "list").stdout
    assert post_id in printed and "NOT going out" in printed and "To release one" in printed

    # The only post left in the queue is held: the slot says why instead of "queue empty".
    for tip in TIP_IDS:
        api.delete(f"/api/v1/queue/{tip}")
    empty = [e for e in api.get("/api/v1/preview", params={"count": 3}).json() if e["post_id"] is None]
    assert empty and empty[0]["reason"] == "held by a content rule"

    edited = api.patch(f"/api/v1/queue/{post_id}", json={"text": "Ask your doctor which pain relief suits you."})
    assert edited.status_code == 200
    plan = api.get("/api/v1/preview", params={"count": 3}).json()
    assert {"post_id": post_id, "source": "pin", "at": "2026-12-01T12:00:00-05:00"}.items() <= \
        next(e for e in plan if e["post_id"]).items()
    assert not soup(web.client().get("/review")).select("li.review-item.blocked")
