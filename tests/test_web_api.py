"""The HTTP JSON API (/api/v1) in-process against a real ledger file: the CLI's field names, its checks,
JSON errors a person can act on, and an audit record for every change."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.helpers_web import NOW, REPO, TIP_IDS, web  # noqa: F401

FROM = "2026-11-30T00:00:00-05:00"


@pytest.fixture
def api(web):  # noqa: F811
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('tests')}"
    return client


def cli_json(web, *args):  # noqa: F811
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
           "SCHEDULER_HOME": str(web.home), "SCHEDULER_CONFIG": str(web.config_path)}
    out = subprocess.run([sys.executable, "-m", "scheduler", *args, "--json"], env=env, capture_output=True,
                         text=True, timeout=60, cwd=REPO, check=True).stdout
    return json.loads(out)


def test_reads_are_the_cli_json_field_for_field(web, api):  # noqa: F811
    preview = api.get("/api/v1/preview", params={"from": FROM, "count": 12})
    assert preview.status_code == 200
    assert preview.json() == cli_json(web, "preview", "--from", FROM, "--count", "12")
    assert [e["post_id"] for e in preview.json() if e["post_id"]][:5] == TIP_IDS

    queue = api.get("/api/v1/queue", params={"limit": 3, "offset": 1})

    def timeless(rows):  # planned_at depends on the clock: the app's is fixed, the CLI's is real
        return [{k: v for k, v in row.items() if k != "planned_at"} for row in rows]

    assert timeless(queue.json()) == timeless(cli_json(web, "queue", "list", "--limit", "3", "--offset", "1"))
    planned = {e["post_id"]: e["at"] for e in api.get("/api/v1/preview", params={"count": 12}).json()}
    assert [p["planned_at"] for p in queue.json()] == [planned[p["post_id"]] for p in queue.json()]
    assert [p["post_id"] for p in queue.json()] == TIP_IDS[1:4]

    assert api.get("/api/v1/history").json() == cli_json(web, "history") == []
    status = api.get("/api/v1/status").json()
    assert set(status) == set(cli_json(web, "status"))
    assert status["queue"]["pending"] == 5


def test_add_checks_the_text_like_the_cli(web, api):  # noqa: F811
    added = api.post("/api/v1/queue", json={"text": "Walk ten minutes after every meal.",
                                            "at": "2026-12-01T12:30:00"})
    assert added.status_code == 201
    body = added.json()
    assert body["state"] == "queued" and body["weighted_length"] == 34
    assert body["pinned_at"] == "2026-12-01T12:30:00-05:00"  # no offset: the account's zone
    assert body["post_id"] in [p["post_id"] for p in api.get("/api/v1/queue").json()]

    too_long = api.post("/api/v1/queue", json={"text": "x" * 281})
    assert too_long.status_code == 422
    assert "shorten it by 1" in too_long.json()["error"]["message"]

    again = api.post("/api/v1/queue", json={"text": "Walk ten minutes after every meal."})
    assert again.status_code == 409
    assert body["post_id"] in again.json()["error"]["message"]

    for bad, status in [({}, 400), ({"text": 5}, 400), ({"text": "x", "at": "tomorrow"}, 400)]:
        response = api.post("/api/v1/queue", json=bad)
        assert response.status_code == status, bad
        assert response.json()["error"]["message"]
    not_json = api.post("/api/v1/queue", content=b"text=hi", headers={"Content-Type": "text/plain"})
    assert not_json.status_code == 400 and "not JSON" in not_json.json()["error"]["message"]


def test_patch_pins_moves_and_refuses_what_it_cannot(web, api):  # noqa: F811
    pinned = api.patch(f"/api/v1/queue/{TIP_IDS[2]}", json={"pinned_at": "2026-12-02T07:15:00-05:00"})
    assert pinned.status_code == 200 and pinned.json()["pinned_at"] == "2026-12-02T07:15:00-05:00"
    plan = api.get("/api/v1/preview", params={"from": FROM, "count": 6}).json()
    assert {"at": "2026-12-02T07:15:00-05:00", "post_id": TIP_IDS[2], "source": "pin"}.items() <= \
        next(e for e in plan if e["post_id"] == TIP_IDS[2]).items()
    assert api.patch(f"/api/v1/queue/{TIP_IDS[2]}", json={"pinned_at": None}).json()["pinned_at"] is None

    moved = api.patch(f"/api/v1/queue/{TIP_IDS[4]}", json={"position": "top"})
    assert moved.status_code == 200
    assert web.queue_ids()[0] == TIP_IDS[4]
    api.patch(f"/api/v1/queue/{TIP_IDS[4]}", json={"position": {"after": TIP_IDS[1]}})
    assert web.queue_ids() == [TIP_IDS[0], TIP_IDS[1], TIP_IDS[4], TIP_IDS[2], TIP_IDS[3]]

    assert api.patch("/api/v1/queue/no-such-post", json={"position": "top"}).status_code == 404
    bad = api.patch(f"/api/v1/queue/{TIP_IDS[0]}", json={"position": "sideways"})
    assert bad.status_code == 400 and '"top"' in bad.json()["error"]["message"]
    assert api.patch(f"/api/v1/queue/{TIP_IDS[0]}", json={"colour": "red"}).status_code == 400
    other = api.patch(f"/api/v1/queue/{TIP_IDS[0]}", json={"position": {"before": "nope"}})
    assert other.status_code == 409 and "nope" in other.json()["error"]["message"]


def test_patch_text_edits_through_the_cli_editing_function(web, api):  # noqa: F811
    response = api.patch(f"/api/v1/queue/{TIP_IDS[0]}", json={"text": "A new wording for tip one."})
    assert response.status_code == 200
    assert response.json()["text"] == "A new wording for tip one."
    assert response.json()["weighted_length"] == len("A new wording for tip one.")


@pytest.mark.parametrize("text", ["y" * 300, "   ", "a\ufffeb"])
def test_a_refused_text_is_422_when_adding_and_when_editing(web, api, text):  # noqa: F811
    """The same validation error gets the same answer whichever endpoint it came through, as OpenAPI says."""
    before = api.get(f"/api/v1/queue/{TIP_IDS[0]}").json()["text"]
    added = api.post("/api/v1/queue", json={"text": text})
    edited = api.patch(f"/api/v1/queue/{TIP_IDS[0]}", json={"text": text})
    assert added.status_code == edited.status_code == 422, (added.text, edited.text)
    assert edited.json()["error"]["message"]
    assert api.get(f"/api/v1/queue/{TIP_IDS[0]}").json()["text"] == before  # nothing half-written
    described = api.get("/api/v1/openapi.json").json()["components"]["responses"]["E422"]["description"]
    assert "PATCH" in described and "POST" in described
    # A state error stays a 409: a removed post cannot be edited, whatever its new text.
    api.delete(f"/api/v1/queue/{TIP_IDS[1]}")
    assert api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"text": "A fine new text."}).status_code == 409


def test_delete_keeps_the_post_as_removed_and_restore_brings_it_back(web, api):  # noqa: F811
    removed = api.delete(f"/api/v1/queue/{TIP_IDS[1]}")
    assert removed.status_code == 200 and removed.json()["state"] == "removed"
    assert TIP_IDS[1] not in web.queue_ids()
    again = api.delete(f"/api/v1/queue/{TIP_IDS[1]}")
    assert again.status_code == 409 and "removed" in again.json()["error"]["message"]
    restored = api.post(f"/api/v1/queue/{TIP_IDS[1]}/restore")
    assert restored.status_code == 200 and restored.json()["state"] == "queued"
    assert web.queue_ids() == TIP_IDS


def test_pause_and_resume(web, api):  # noqa: F811
    assert api.post("/api/v1/pause", json={"reason": "holiday"}).json() == {"paused": True, "paused_reason": "holiday"}
    plan = api.get("/api/v1/preview", params={"from": FROM, "count": 2}).json()
    assert plan[0]["post_id"] is None and plan[0]["reason"] == "paused"
    assert api.post("/api/v1/resume").json()["paused"] is False
    assert api.get("/api/v1/preview", params={"from": FROM, "count": 1}).json()[0]["post_id"] == TIP_IDS[0]


def test_every_change_is_audited_with_who_and_what(web, api):  # noqa: F811
    api.patch(f"/api/v1/queue/{TIP_IDS[3]}", json={"position": "top"})
    api.delete(f"/api/v1/queue/{TIP_IDS[2]}")
    api.post("/api/v1/queue", json={"text": "Stretch before you lift anything heavy."})
    api.get("/api/v1/queue")  # reads are not changes
    audit = api.get("/api/v1/audit").json()
    assert [(a["actor"], a["action"], a["post_id"]) for a in audit][1:] == [
        ("token:tests", "remove", TIP_IDS[2]), ("token:tests", "move", TIP_IDS[3])]
    assert audit[0]["action"] == "add" and audit[0]["detail"].startswith("queued (")
    assert audit[-1]["detail"] == "to the top"
    assert audit[0]["at"] == NOW.astimezone(web.config.tz).isoformat()


def test_errors_are_json_with_an_actionable_message(web, api):  # noqa: F811
    for method, path, status, words in [
        ("get", "/api/v1/nothing", 404, "openapi.json"),
        ("put", "/api/v1/queue", 405, "not allowed"),
        ("get", "/api/v1/preview?count=0", 400, "1 to 10000"),
        ("get", "/api/v1/preview?count=ten", 400, "whole number"),
        ("get", "/api/v1/preview?from=soon", 400, "ISO 8601"),
        ("get", "/api/v1/queue/nope", 404, "no post with id"),
    ]:
        response = getattr(api, method)(path)
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("application/json")
        assert words in response.json()["error"]["message"], path


def test_openapi_documents_every_route(web):  # noqa: F811
    client = web.client()
    spec = client.get("/api/v1/openapi.json").json()  # public: it holds no data
    assert spec["openapi"].startswith("3.")
    documented = {(path, method) for path, item in spec["paths"].items() for method in item if method != "parameters"}
    mount = next(r for r in client.app.routes if getattr(r, "path", None) == "/api/v1")
    served = {(r.path, m.lower()) for r in mount.routes for m in (r.methods or ())
              if m != "HEAD" and r.path != "/openapi.json"}
    assert ("/review/approve", "post") in served
    assert served == documented


def test_a_patch_is_all_or_nothing(web, api):  # noqa: F811
    """A refused field leaves the others unapplied: no text changed behind a 400 or a 409, and no audit row."""
    before = {p: web.store.get(p).text for p in TIP_IDS}
    bad_pin = api.patch(f"/api/v1/queue/{TIP_IDS[0]}", json={"text": "A fresh wording.", "pinned_at": "soon"})
    assert bad_pin.status_code == 400 and "ISO 8601" in bad_pin.json()["error"]["message"]
    bad_position = api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"text": "Another wording.",
                                                                  "pinned_at": "2026-12-03T10:00:00",
                                                                  "position": "sideways"})
    assert bad_position.status_code == 400
    refused_move = api.patch(f"/api/v1/queue/{TIP_IDS[2]}", json={"text": "A third wording.",
                                                                  "pinned_at": "2026-12-03T10:00:00",
                                                                  "position": {"before": "no-such-post"}})
    assert refused_move.status_code == 409 and "no-such-post" in refused_move.json()["error"]["message"]
    assert {p: web.store.get(p).text for p in TIP_IDS} == before
    assert all(web.store.get(p).pinned_at is None for p in TIP_IDS)
    assert web.queue_ids() == TIP_IDS
    assert api.get("/api/v1/audit").json() == []

    ok = api.patch(f"/api/v1/queue/{TIP_IDS[2]}", json={"text": "A third wording.", "position": "top"})
    assert ok.status_code == 200 and ok.json()["text"] == "A third wording."
    assert web.queue_ids()[0] == TIP_IDS[2]
    assert [a["action"] for a in api.get("/api/v1/audit").json()] == ["move", "edit"]


def test_a_pin_in_the_past_is_refused_as_the_cli_refuses_it(web, api):  # noqa: F811
    # The clock is 2026-11-30 00:00 in New York: a year typed wrong would otherwise send the post at once.
    past = api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"pinned_at": "2025-11-30T09:00:00"})
    assert past.status_code == 400
    message = past.json()["error"]["message"]
    assert "pinned_at" in message and "2025-11-30T09:00:00-05:00 is in the past" in message
    assert "--now" not in message  # the CLI's way to say "as soon as possible" means nothing here
    assert web.store.get(TIP_IDS[1]).pinned_at is None
    assert api.get("/api/v1/audit").json() == []
    # Up to a minute ago means now (typing it took that long), as in the CLI.
    recent = api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"pinned_at": "2026-11-29T23:59:30"})
    assert recent.status_code == 200 and recent.json()["pinned_at"] == "2026-11-29T23:59:30-05:00"


def test_a_value_of_the_wrong_type_is_refused_not_read_as_something_else(web, api):  # noqa: F811
    """A pin given as a number was dropped (the post queued unpinned), and "retry": "false" meant retry: a post
    that may have gone out was sent again."""
    from datetime import datetime

    pinned = api.post("/api/v1/queue", json={"text": "Walk ten minutes after every meal.", "at": 1796130000})
    assert pinned.status_code == 400 and "ISO 8601" in pinned.json()["error"]["message"]
    assert len(web.queue_ids()) == 5

    slot = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    web.store.claim(TIP_IDS[0], "gone-instance", slot, web.now)
    web.store.mark_unknown(TIP_IDS[0], "gone-instance", "no answer from X", web.now)
    for body in ({"retry": "false"}, {"retry": 0}, {"tweet_id": True}, {"tweet_id": ["1864000000000000009"]}):
        refused = api.post(f"/api/v1/queue/{TIP_IDS[0]}/resolve", json=body)
        assert refused.status_code == 400, body
        assert web.store.get(TIP_IDS[0]).state.value == "unknown", body
    assert api.get("/api/v1/audit").json() == []
    settled = api.post(f"/api/v1/queue/{TIP_IDS[0]}/resolve", json={"tweet_id": 1864000000000000009,
                                                                     "retry": False})
    assert settled.status_code == 200 and settled.json()["tweet_id"] == "1864000000000000009"


def test_openapi_schemas_name_every_field_the_api_returns(web, api):  # noqa: F811
    """Each response object's fields are the ones its schema documents, no more and no fewer (the schemas
    lacked account, network and the queue's planned_at)."""
    api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"position": "top"})
    spec = api.get("/api/v1/openapi.json").json()
    schemas = spec["components"]["schemas"]

    def item_schema(path: str) -> str:
        schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        return (schema.get("items") or schema)["$ref"].rsplit("/", 1)[1]

    documented_only_for_the_queue = {"planned_at"}
    for path, served in [("/preview", "/preview"), ("/queue", "/queue"), ("/queue/{post_id}", f"/queue/{TIP_IDS[0]}"),
                         ("/audit", "/audit")]:
        body = api.get(f"/api/v1{served}").json()
        rows = body if isinstance(body, list) else [body]
        assert rows, path
        name = item_schema(path)
        documented = set(schemas[name]["properties"])
        for row in rows:
            assert set(row) <= documented, (path, set(row) - documented)
            missing = documented - set(row) - (documented_only_for_the_queue if path != "/queue" else set())
            assert not missing, (path, missing)


def test_patch_warns_when_a_pin_lands_on_a_day_at_its_cap(web):  # noqa: F811
    """As `scheduler queue pin` and the Queue page do: the pin is made, and the answer says the daily cap will hold
    it back; a PATCH with nothing to warn of carries an empty list. Only PATCH answers carry "warnings"."""
    from scheduler.config import load_config

    web.config_path.write_text(web.config_path.read_text().replace("daily = 0", "daily = 1"), encoding="utf-8")
    web.config = load_config(str(web.config_path))
    api = web.client()
    api.headers["Authorization"] = f"Bearer {web.token('tests')}"

    first = api.patch(f"/api/v1/queue/{TIP_IDS[3]}", json={"pinned_at": "2026-12-02T10:00"})
    assert first.status_code == 200 and first.json()["warnings"] == []
    second = api.patch(f"/api/v1/queue/{TIP_IDS[4]}", json={"pinned_at": "2026-12-02T11:00"})
    assert second.status_code == 200, second.text
    body = second.json()
    assert body["pinned_at"] == "2026-12-02T11:00:00-05:00"
    [warning] = body["warnings"]
    assert TIP_IDS[4] in warning and "that day already has its 1 posts ([quota] daily)" in warning
    assert web.store.get(TIP_IDS[4]).pinned_at.isoformat() == "2026-12-02T16:00:00+00:00"
    assert api.patch(f"/api/v1/queue/{TIP_IDS[4]}", json={"position": "top"}).json()["warnings"] == []
    assert api.patch(f"/api/v1/queue/{TIP_IDS[4]}", json={"pinned_at": None}).json()["warnings"] == []
    assert "warnings" not in api.get(f"/api/v1/queue/{TIP_IDS[4]}").json()

    # Documented: the PATCH answer is a Post and its warnings.
    spec = api.get("/api/v1/openapi.json").json()
    post, extra = spec["paths"]["/queue/{post_id}"]["patch"]["responses"]["200"]["content"]["application/json"][
        "schema"]["allOf"]
    assert post == {"$ref": "#/components/schemas/Post"}
    documented = set(spec["components"]["schemas"]["Post"]["properties"]) - {"planned_at"} | set(extra["properties"])
    assert set(body) == documented and extra["required"] == ["warnings"]


def test_two_posts_pinned_to_the_same_second_are_accepted_with_a_warning(web, api):  # noqa: F811
    """As the calendar warns of a full day: the second pin to one second is made, and said, by the API, the Queue
    page and `scheduler queue pin` alike (one check: app.editing.pin_warnings)."""
    at = "2026-12-02T07:15:00-05:00"
    first = api.patch(f"/api/v1/queue/{TIP_IDS[1]}", json={"pinned_at": at})
    assert first.status_code == 200 and first.json()["warnings"] == []
    second = api.patch(f"/api/v1/queue/{TIP_IDS[2]}", json={"pinned_at": at})
    assert second.status_code == 200 and second.json()["pinned_at"] == at
    assert len(second.json()["warnings"]) == 1 and TIP_IDS[1] in second.json()["warnings"][0]
    assert "2026-12-02 07:15:00 EST" in second.json()["warnings"][0]
    a_second_later = api.patch(f"/api/v1/queue/{TIP_IDS[3]}", json={"pinned_at": "2026-12-02T07:15:01-05:00"})
    assert a_second_later.json()["warnings"] == []

    page = web.client()
    form = page.get("/queue")
    csrf = form.text.split('name="csrf" value="')[1].split('"')[0]
    shown = page.post(f"/queue/{TIP_IDS[4]}/pin", data={"csrf": csrf, "at": "2026-12-02T07:15:00"})
    assert shown.status_code == 200 and "the very second" in shown.text
    assert TIP_IDS[1] in shown.text and TIP_IDS[2] in shown.text
    # (`scheduler queue pin` prints the same editing.pin warnings as "warning: ..." on stderr.)
