"""Review on the dashboard, in-process against a real ledger file with `[review] required = true`: the Review
page and /api/v1/review decide through the same domain functions as `scheduler review` (same JSON, same
refusals, the same append-only log), the calendar, queue and status pages keep what awaits review apart
from what will go out, and a decision made elsewhere reaches an open page through the live poll."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime

import pytest
from bs4 import BeautifulSoup

from tests.helpers_web import REPO, TIP_IDS, WebEnv, web_with_review  # noqa: F401 (a fixture)
from tests.helpers_ledger import approve_shown
from tests.test_web_api import cli_json
from tests.test_web_pages import calendar_cards, preview_between, soup

DOSE = "Take 400 mg of ibuprofen before bed for back pain."  # the shipped `dosage` rule blocks it
CURE = "Massage cures nothing on its own, but it helps many people move again."  # `cure-claim` warns


@pytest.fixture
def web(web_with_review):  # noqa: F811
    return web_with_review


@pytest.fixture
def api(web):
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('tests')}"
    return client


def cli(web, *args: str) -> subprocess.CompletedProcess:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
           "SCHEDULER_HOME": str(web.home), "SCHEDULER_CONFIG": str(web.config_path)}
    return subprocess.run([sys.executable, "-m", "scheduler", *args], env=env, capture_output=True, text=True,
                          timeout=60, cwd=REPO, check=True)


def add(web, text: str) -> str:
    from scheduler.app import queueing

    return queueing.add_text(web.store, web.config, text, web.now).post_id


def shown(api, post_ids) -> dict[str, str]:
    """The content hashes GET /api/v1/review showed for these posts: every approval names them."""
    hashes = {i["post_id"]: i["content_hash"] for i in api.get("/api/v1/review").json()}
    return {p: hashes[p] for p in post_ids}


def status_hash(web, post_id: str) -> str:
    from scheduler.review import policy as review

    return review.item(web.store, web.config, post_id, web.now).content_hash


def status_of(web, post_id: str) -> str:
    from scheduler.review import policy as review

    return review.item(web.store, web.config, post_id, web.now).status


def without_slot(items: list[dict]) -> list[dict]:
    """`would_go_at` depends on the clock: the CLI plans from the real now, the app from the test's."""
    return [{k: v for k, v in item.items() if k != "would_go_at"} for item in items]


def test_the_api_lists_what_review_list_prints(web, api):
    dose = add(web, DOSE)
    listed = api.get("/api/v1/review")
    assert listed.status_code == 200
    assert without_slot(listed.json()) == without_slot(cli_json(web, "review", "list"))
    assert [i["post_id"] for i in listed.json()] == [*TIP_IDS, dose]
    first = listed.json()[0]
    assert first["status"] == "awaiting review" and first["would_go_at"] == "2026-11-30T09:00:00-05:00"
    blocked = listed.json()[-1]
    assert blocked["blocked"] and [f["rule"] for f in blocked["findings"]] == ["dosage"]
    assert api.get("/api/v1/review", params={"limit": 2}).json() == listed.json()[:2]


def test_approve_several_through_the_api_and_they_are_planned(web, api):
    assert [e["reason"] for e in api.get("/api/v1/preview", params={"count": 1}).json()] == ["awaiting review"]
    done = api.post("/api/v1/review/approve", json={"post_ids": TIP_IDS[:2], "comment": "fine",
                                                    "content_hashes": shown(api, TIP_IDS[:2])})
    assert done.status_code == 200
    assert done.json() == {"approved": TIP_IDS[:2], "already_approved": []}
    plan = api.get("/api/v1/preview", params={"count": 2}).json()
    assert [e["post_id"] for e in plan] == TIP_IDS[:2]
    assert [i["post_id"] for i in api.get("/api/v1/review").json()] == TIP_IDS[2:]
    again = api.post("/api/v1/review/approve", json={"post_ids": [TIP_IDS[0]],
                                                     "content_hashes": {TIP_IDS[0]: status_hash(web, TIP_IDS[0])}})
    assert again.json() == {"approved": [], "already_approved": [TIP_IDS[0]]}

    # The review log holds who decided on which exact text; the web's audit trail records it too.
    log = cli_json(web, "review", "log")
    assert [(e["action"], e["actor"], e["post_id"], e["comment"]) for e in log] == [
        ("approved", "token:tests", TIP_IDS[1], "fine"), ("approved", "token:tests", TIP_IDS[0], "fine")]
    assert log[0]["parts"] == [web.store.get(TIP_IDS[1]).text]
    assert api.get("/api/v1/review/log").json() == log
    assert [e["post_id"] for e in api.get("/api/v1/review/log", params={"post": TIP_IDS[1]}).json()] == [TIP_IDS[1]]
    assert [(a.action, a.post_id) for a in reversed(web.store.audit(web.config.account))] == [
        ("approve", TIP_IDS[0]), ("approve", TIP_IDS[1])]


def test_a_blocked_post_cannot_be_approved_and_nothing_else_is_either(web, api):
    dose = add(web, DOSE)
    refused = api.post("/api/v1/review/approve", json={"post_ids": [TIP_IDS[0], dose],
                                                       "content_hashes": shown(api, [TIP_IDS[0], dose])})
    assert refused.status_code == 409
    message = refused.json()["error"]["message"]
    assert f"{dose}: [block] dosage" in message and "change the text" in message
    assert status_of(web, TIP_IDS[0]) == status_of(web, dose) == "awaiting review"  # all or none
    assert web.store.review_log(web.config.account) == []


def test_request_changes_needs_a_comment_and_keeps_the_post_out_of_the_plan(web, api):
    no_comment = api.post("/api/v1/review/reject", json={"post_ids": [TIP_IDS[0]]})
    assert no_comment.status_code == 400 and "what has to change" in no_comment.json()["error"]["message"]
    sent_back = api.post("/api/v1/review/reject", json={"post_ids": [TIP_IDS[0]], "comment": "Cite the study."})
    assert sent_back.json() == {"changes_requested": [TIP_IDS[0]]}
    item = api.get("/api/v1/review").json()[0]
    assert (item["status"], item["changes_requested_by"], item["comment"]) == (
        "changes requested", "token:tests", "Cite the study.")
    assert TIP_IDS[0] not in [e["post_id"] for e in api.get("/api/v1/preview", params={"count": 5}).json()]


def test_a_decision_about_a_text_that_changed_since_it_was_read_is_refused(web, api):
    import sqlalchemy as sa

    shown = {i["post_id"]: i["content_hash"] for i in api.get("/api/v1/review").json()}
    with web.store.engine.begin() as conn:  # another program changes the text meanwhile
        conn.execute(sa.text("UPDATE posts SET parts = '[\"Other words.\"]' WHERE post_id = :p"), {"p": TIP_IDS[0]})
    refused = api.post("/api/v1/review/approve", json={"post_ids": [TIP_IDS[0]], "content_hashes": shown})
    assert refused.status_code == 409 and "changed since it was shown" in refused.json()["error"]["message"]
    assert status_of(web, TIP_IDS[0]) == "awaiting review"
    ok = api.post("/api/v1/review/approve", json={"post_ids": [TIP_IDS[1]], "content_hashes": shown})
    assert ok.json()["approved"] == [TIP_IDS[1]]


@pytest.mark.parametrize("body, status, words", [
    ({}, 400, "post_ids"),
    ({"post_ids": "one"}, 400, "post_ids"),
    ({"post_ids": [TIP_IDS[0]], "why": "x"}, 400, "unknown field"),
    ({"post_ids": [TIP_IDS[0]], "content_hashes": ["x"]}, 400, "content_hashes"),
    ({"post_ids": ["no-such-post"]}, 404, "no post with id 'no-such-post'"),
])
def test_bad_decisions_are_refused_with_a_message(web, api, body, status, words):
    answer = api.post("/api/v1/review/approve", json=body)
    assert answer.status_code == status and words in answer.json()["error"]["message"]
    assert web.store.review_log(web.config.account) == []


def test_review_api_needs_a_token_or_a_session_with_csrf(web):
    client = web.client()
    assert client.get("/api/v1/review").status_code == 401
    assert client.post("/api/v1/review/approve", json={"post_ids": [TIP_IDS[0]]}).status_code == 401
    client.get("/review")  # a session (open mode), but no CSRF token sent
    assert client.post("/api/v1/review/approve", json={"post_ids": [TIP_IDS[0]]}).status_code == 403
    assert client.post("/review", data={"post": TIP_IDS[0], "action": "approve"}).status_code == 403
    assert status_of(web, TIP_IDS[0]) == "awaiting review"


def test_the_review_page_shows_cards_findings_slots_and_the_log(web):
    cure, dose = add(web, CURE), add(web, DOSE)
    client = web.client()
    page = soup(client.get("/review"))
    items = page.select("li.review-item")
    assert [li["data-post-id"] for li in items] == [*TIP_IDS, cure, dose]
    first = items[0]
    assert first.select_one(".tweet .text").get_text() == web.store.get(TIP_IDS[0]).text
    assert first.select_one(".would time")["datetime"] == "2026-11-30T09:00:00-05:00"
    warned = page.select_one(f'li[data-post-id="{cure}"]')
    assert "blocked" not in warned["class"]
    assert [f["data-rule"] for f in warned.select(".finding.warn")] == ["cure-claim"]
    blocked = page.select_one(f'li[data-post-id="{dose}"]')
    assert "blocked" in blocked["class"] and "cannot be approved" in blocked.get_text()
    assert "Blocks approval" in blocked.select_one(".finding.block").get_text()
    # Every field is labelled; each box carries the hash of the text it was shown with.
    for field in page.select("input:not([type=hidden]), textarea"):
        assert page.find("label", attrs={"for": field["id"]}), field
    assert page.find("input", attrs={"name": f"hash-{dose}"})["value"] == blocked["data-hash"]
    assert "No decisions yet." in page.get_text()


def form_for(page, post_ids: list[str], **fields) -> dict:
    data = {"csrf": page.find("meta", attrs={"name": "csrf-token"})["content"], "post": post_ids, **fields}
    for post_id in post_ids:
        data[f"hash-{post_id}"] = page.find("input", attrs={"name": f"hash-{post_id}"})["value"]
    return data


def test_approve_several_from_the_page_then_they_are_on_the_calendar(web):
    client = web.client()
    page = soup(client.get("/review"))
    done = client.post("/review", data=form_for(page, TIP_IDS[:3], action="approve"), follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == "/review?approved=3"
    after = soup(client.get(done.headers["location"]))
    assert "Approved 3 post(s)" in after.select_one(".notice").get_text()
    assert [li["data-post-id"] for li in after.select("li.review-item")] == TIP_IDS[3:]
    rows = after.select("table.review-log tbody tr")
    assert [r["data-action"] for r in rows] == ["approved"] * 3 and "local" in rows[0].get_text()
    assert all(status_of(web, p) == "approved" for p in TIP_IDS[:3])

    calendar = soup(client.get("/calendar?view=week&date=2026-11-30"))
    planned = [c["post_id"] for c in calendar_cards(calendar) if c["post_id"]]
    assert planned == TIP_IDS[:3]
    assert [d["data-post-id"] for d in calendar.select(".card.draft")] == TIP_IDS[3:]


def test_refusals_on_the_page_record_nothing(web):
    dose = add(web, DOSE)
    client = web.client()
    page = soup(client.get("/review"))
    blocked = client.post("/review", data=form_for(page, [TIP_IDS[0], dose], action="approve"))
    assert blocked.status_code == 409
    assert "cannot approve" in BeautifulSoup(blocked.text, "html.parser").select_one(".error").get_text()
    no_comment = client.post("/review", data=form_for(page, [dose], action="reject"))
    assert no_comment.status_code == 400 and "comment box" in no_comment.text
    nothing = client.post("/review", data=form_for(page, [], action="approve"))
    assert nothing.status_code == 400 and "select at least one post" in nothing.text
    assert web.store.review_log(web.config.account) == []

    sent_back = client.post("/review", data=form_for(page, [dose], action="reject", comment="No doses, please."),
                            follow_redirects=False)
    assert sent_back.headers["location"] == "/review?changes_requested=1"
    card = soup(client.get("/review")).select_one(f'li[data-post-id="{dose}"]')
    assert card["data-status"] == "changes requested" and "No doses, please." in card.select_one(".comment").get_text()


def test_the_calendar_keeps_drafts_apart_from_the_plan(web):
    from scheduler.review import policy as review

    approve_shown(web.store, web.config, [TIP_IDS[1]], who="Dr G", now=web.now)
    page = soup(web.client().get("/calendar?view=week&date=2026-11-30"))
    # What will go out is still exactly the preview...
    expected = preview_between(web, "2026-11-30T00:00:00-05:00", "2026-12-07T00:00:00-05:00")
    assert calendar_cards(page) == expected
    assert [e["post_id"] for e in expected if e["post_id"]] == [TIP_IDS[1]]
    # ...and the drafts are apart, each on the day of the slot `review list` says it would get.
    drafts = page.select(".card.draft")
    assert [d["data-post-id"] for d in drafts] == [TIP_IDS[0], *TIP_IDS[2:]]
    listed = {i.post.post_id: i.would_go_at.isoformat() for i in review.waiting(web.store, web.config, web.now)
              if i.would_go_at}
    for draft in drafts:
        at = draft["data-would-go-at"]
        assert at == datetime.fromisoformat(listed[draft["data-post-id"]]).astimezone(web.config.tz).isoformat()
        assert draft.find_parent("section")["aria-label"] == datetime.fromisoformat(at).strftime("%A %d %B %Y")
        assert "not going out" in draft.get_text()
    note = page.select_one(".drafts-note").get_text(" ", strip=True)
    assert "4 post(s) await review" in note and "nothing unapproved goes out" in note


def test_status_and_queue_say_what_awaits_review(web):

    approve_shown(web.store, web.config, [TIP_IDS[0]], who="Dr G", now=web.now)
    add(web, DOSE)
    status = soup(web.client().get("/status"))
    summary = status.select_one(".review-summary")
    assert summary["data-awaiting"] == "5" and "1 blocked" in summary.get_text()
    assert summary.find("a")["href"] == "/review"
    queue = soup(web.client().get("/queue"))
    badges = {li["data-post-id"]: li.select_one("[data-review]")["data-review"] for li in queue.select("#queue-list > li")}
    assert badges[TIP_IDS[0]] == "approved" and badges[TIP_IDS[1]] == "awaiting review"


def test_a_decision_from_the_cli_reaches_an_open_page_through_the_live_poll(web):
    client = web.client()
    page = soup(client.get("/calendar?view=week&date=2026-11-30"))
    revision = page.select_one("#live")["data-revision"]
    assert client.get(f"/live?rev={revision}").status_code == 204
    cli(web, "review", "approve", TIP_IDS[0], "--hash", status_hash(web, TIP_IDS[0]))
    changed = client.get(f"/live?rev={revision}")
    assert changed.status_code == 200 and changed.headers["hx-trigger"] == "ledger-changed"
    # What the live region then fetches shows the post planned, no longer a draft.
    region = soup(client.get(page.select_one("#live-region")["hx-get"]))
    assert TIP_IDS[0] in [c["post_id"] for c in calendar_cards(region)]
    assert TIP_IDS[0] not in [d["data-post-id"] for d in region.select(".card.draft")]


def test_every_path_under_review_slash_is_the_reviewer_link(web):
    """The Guard lets /review/... through without a session: nothing but the link page may live there."""
    from scheduler.web.review_routes import link_page

    app = web.client().app
    under = [r for r in app.routes if getattr(r, "path", "").startswith("/review/")]
    assert [r.endpoint for r in under] == [link_page]
    answer = web.client().get("/review/approve")
    assert answer.status_code == 404 and "not a reviewer link" in answer.text and "set-cookie" not in answer.headers


def test_review_link_prints_a_url_the_dashboard_serves(web):
    from scheduler.web.server import DEFAULT_HOST, DEFAULT_PORT

    made = cli(web, "review", "link", "--for", "Dr Gleiber", "--expires", "1h")
    web.now = datetime.now(UTC)  # the CLI signed it with the real clock
    url = made.stdout.strip()
    assert url.startswith(f"http://{DEFAULT_HOST}:{DEFAULT_PORT}/review/")  # [review] link_base not set
    assert "opens only on this machine" in made.stderr and "link_base" in made.stderr
    page = web.client().get(url.split(str(DEFAULT_PORT), 1)[1])
    assert page.status_code == 200 and web.store.get(TIP_IDS[0]).text.split("\n")[0][:40] in page.text
