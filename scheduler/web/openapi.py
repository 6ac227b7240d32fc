"""The API's OpenAPI 3.1 description, served at /api/v1/openapi.json."""

from __future__ import annotations

from scheduler.web import openapi_insights


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: dict, description: str = "OK") -> dict:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


ERRORS = {str(code): {"$ref": f"#/components/responses/E{code}"} for code in (400, 401, 403, 404, 409, 422)}
POST_ID = {"name": "post_id", "in": "path", "required": True, "schema": {"type": "string"}}
NULLABLE_STRING = {"type": ["string", "null"]}
# What the CLI's --json adds to each object, as the API does (scheduler.app.views.with_account).
ACCOUNT_FIELDS = {"account": {"type": "string", "description": "the account's name"},
                  "network": {"enum": ["x", "bluesky", "mastodon"]}}


def spec() -> dict:
    entry = {
        "type": "object",
        "description": "One entry of the plan: the same object as `scheduler preview --json` prints.",
        "properties": {
            "at": {"type": "string", "format": "date-time", "description": "slot time with the account's offset"},
            "at_utc": {"type": "string", "format": "date-time"},
            "post_id": NULLABLE_STRING,
            "text": NULLABLE_STRING,
            "weighted_length": {"type": ["integer", "null"]},
            "thread": {"type": ["array", "null"], "items": {"type": "string"}},
            "source": {"enum": ["slot", "pin", "retry", "missed pin", "missed retry", "recycle"]},
            "reason": {"type": ["string", "null"], "description": "why the slot is empty"},
            "article": NULLABLE_STRING,
            "tip": {"type": ["integer", "null"]},
            "why": {"type": ["string", "null"], "description": "a recycled post: why its tip and wording were chosen "
                                                               "(their engagement scores, docs/insights.md)"},
            **ACCOUNT_FIELDS,
        },
    }
    post = {
        "type": "object",
        "description": "A post in the ledger: the same object as `scheduler queue list --json` and `history --json`.",
        "properties": {
            "post_id": {"type": "string"},
            "state": {"enum": ["queued", "retrying", "sending", "sent", "failed", "unknown", "removed"]},
            "text": {"type": "string"},
            "weighted_length": {"type": "integer"},
            "thread": {"type": ["array", "null"], "items": {"type": "string"}},
            "article": NULLABLE_STRING, "tip": {"type": ["integer", "null"]},
            "position": {"type": "number"},
            "pinned_at": NULLABLE_STRING, "next_attempt_at": NULLABLE_STRING,
            "attempts": {"type": "integer"},
            "slot_at": NULLABLE_STRING, "sent_at": NULLABLE_STRING,
            "tweet_id": NULLABLE_STRING, "tweet_ids": {"type": "array", "items": {"type": "string"}},
            "url": {"type": ["string", "null"], "description": "where the post is on its network: https://x.com/<handle>/status/<id>, https://bsky.app/profile/<handle>/post/<key>, <server>/@<user>/<id>; outbox:<id> for the outbox"},
            "error": NULLABLE_STRING, "http_status": {"type": ["integer", "null"]},
            "planned_at": {"type": ["string", "null"], "format": "date-time",
                           "description": "GET /queue only: its time in the plan (null: not within it)"},
            **ACCOUNT_FIELDS,
        },
    }
    audit_entry = {
        "type": "object",
        "description": "One change made through the dashboard or the API, as the History page shows it.",
        "properties": {
            "at": {"type": "string", "format": "date-time", "description": "in the account's time zone"},
            "actor": {"type": "string", "description": "user:NAME, token:NAME or local"},
            "action": {"type": "string"}, "post_id": NULLABLE_STRING, "detail": NULLABLE_STRING,
        },
    }
    finding = {
        "type": "object",
        "description": "A content rule's finding (docs/commands.md, Content rules): `block` prevents approval, `warn` is shown.",
        "properties": {"rule": {"type": "string"}, "severity": {"enum": ["warn", "block"]}, "message": {"type": "string"},
                       "part": {"type": "integer"}, "start": {"type": "integer"}, "end": {"type": "integer"},
                       "match": {"type": "string"}},
    }
    review_item = {
        "type": "object",
        "description": "A post not approved as it is now: the same object as `scheduler review list --json`.",
        "properties": {
            "post_id": {"type": "string"},
            "status": {"enum": ["awaiting review", "changes requested", "approved"]},
            "state": {"type": "string"},
            "text": {"type": "string"},
            "thread": {"type": ["array", "null"], "items": {"type": "string"}},
            "media": {"type": "array", "items": {"type": "string"}},
            "weighted_length": {"type": "integer"},
            "article": NULLABLE_STRING, "tip": {"type": ["integer", "null"]},
            "content_hash": {"type": "string", "description": "hash of exactly what would be sent; an approval is bound to it"},
            "would_go_at": {"type": ["string", "null"], "format": "date-time",
                            "description": "the slot it would get if approved now (null: not within the plan)"},
            "findings": {"type": "array", "items": _ref("Finding")},
            "blocked": {"type": "boolean", "description": "a `block` finding: cannot be approved until the text changes"},
            "approved_by": NULLABLE_STRING, "approved_at": NULLABLE_STRING,
            "changes_requested_by": NULLABLE_STRING, "comment": NULLABLE_STRING,
        },
    }
    review_log_entry = {
        "type": "object",
        "description": "One decision of the append-only review log (`scheduler review log --json`).",
        "properties": {
            "id": {"type": "integer"}, "at": {"type": "string", "format": "date-time"}, "actor": {"type": "string"},
            "action": {"enum": ["approved", "changes requested", "link created", "link used", "link revoked"]},
            "post_id": NULLABLE_STRING, "content_hash": NULLABLE_STRING,
            "parts": {"type": ["array", "null"], "items": {"type": "string"}},
            "media": {"type": ["array", "null"], "items": {"type": "string"}},
            "comment": NULLABLE_STRING, "findings": {"type": "array", "items": _ref("Finding")},
        },
    }
    decision = {
        "type": "object", "required": ["post_ids"],
        "properties": {
            "post_ids": {"type": "array", "items": {"type": "string"}, "minItems": 1},
            "comment": {"type": "string", "description": "kept in the review log; required to request changes"},
            "content_hashes": {"type": "object", "additionalProperties": {"type": "string"},
                               "description": "post id -> the content_hash you reviewed (required to approve: every "
                                              "post's): a post that changed since is refused (409) instead of being "
                                              "decided on its new text"},
        },
    }
    error = {"type": "object", "properties": {"error": {"type": "object", "properties": {
        "status": {"type": "integer"}, "message": {"type": "string", "description": "what went wrong and how to fix it"}}}}}
    responses = {
        f"E{code}": _ok(_ref("Error"), text) for code, text in [
            (400, "a bad parameter or body"), (401, "no API token or session"),
            (403, "a session request without its CSRF token: nothing changed"), (404, "no such post"),
            (409, "the post's state does not allow this, or the text is a duplicate; for review: a blocking "
                  "finding, a post not waiting to be sent, or a text changed since it was shown"),
            (422, "a text the account's network would refuse (empty, over its limit: X 280, Bluesky 300, Mastodon the "
                  "server's, or a character it refuses): the same answer when adding (POST) and editing (PATCH)")]
    }
    limit = {"name": "limit", "in": "query", "schema": {"type": "integer", "default": 50, "minimum": 1}}
    document = {
        "openapi": "3.1.0",
        "info": {
            "title": "tip-scheduler API",
            "version": "1",
            "description": "The CLI's --json output over HTTP. Authenticate with `Authorization: Bearer <token>` "
                           "(`scheduler web token create NAME`). Times without an offset are read in the "
                           "account's time zone.",
        },
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": {"PlanEntry": entry, "Post": post, "Error": error, "Finding": finding,
                        "ReviewItem": review_item, "ReviewLogEntry": review_log_entry, "Decision": decision,
                        "AuditEntry": audit_entry, **openapi_insights.SCHEMAS},
            "responses": responses,
        },
        "paths": {
            "/preview": {"get": {
                "summary": "The next posts exactly as they will be sent (`scheduler preview --json`)",
                "parameters": [
                    {"name": "count", "in": "query", "schema": {"type": "integer", "default": 10, "minimum": 1,
                                                                 "maximum": 10000}},
                    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date-time"},
                     "description": "plan from this time instead of now"}],
                "responses": {"200": _ok({"type": "array", "items": _ref("PlanEntry")}), **ERRORS}}},
            "/queue": {
                "get": {"summary": "Pending posts in queue order (`scheduler queue list --json`)",
                        "parameters": [limit, {"name": "offset", "in": "query", "schema": {"type": "integer"}}],
                        "responses": {"200": _ok({"type": "array", "items": _ref("Post")}), **ERRORS}},
                "post": {"summary": "Queue a post by its text (`scheduler queue add`)",
                         "requestBody": {"required": True, "content": {"application/json": {"schema": {
                             "type": "object", "required": ["text"], "properties": {
                                 "text": {"type": "string"},
                                 "at": {"type": "string", "format": "date-time", "description": "pin it to this time"}}}}}},
                         "responses": {"201": _ok(_ref("Post"), "queued"), **ERRORS}}},
            "/queue/{post_id}": {
                "parameters": [POST_ID],
                "get": {"summary": "One post", "responses": {"200": _ok(_ref("Post")), **ERRORS}},
                "patch": {"summary": "Change text, pin and/or position (applied in that order, all or nothing)",
                          "requestBody": {"required": True, "content": {"application/json": {"schema": {
                              "type": "object", "properties": {
                                  "text": {"type": "string", "description": "checked as `scheduler queue edit` and POST /queue check it: "
                                                                          "a text the network would refuse is a 422"},
                                  "pinned_at": {"type": ["string", "null"], "format": "date-time",
                                                "description": "null unpins"},
                                  "position": {"oneOf": [{"enum": ["top", "bottom"]},
                                                         {"type": "object", "properties": {"before": {"type": "string"}}},
                                                         {"type": "object", "properties": {"after": {"type": "string"}}}]}}}}}},
                          "responses": {"200": _ok({"allOf": [_ref("Post"), {
                              "type": "object", "required": ["warnings"], "properties": {"warnings": {
                                  "type": "array", "items": {"type": "string"},
                                  "description": "what the change will not do as asked, as `scheduler queue pin` "
                                                 "warns: a pin on a day or month already at its [quota] cap is made "
                                                 "but waits for the next free slot; empty when none"}}}]}), **ERRORS}},
                "delete": {"summary": "Remove from the queue (kept in the ledger as removed)",
                           "responses": {"200": _ok(_ref("Post")), **ERRORS}}},
            "/queue/{post_id}/restore": {"parameters": [POST_ID], "post": {
                "summary": "Put a removed post back in its place", "responses": {"200": _ok(_ref("Post")), **ERRORS}}},
            "/queue/{post_id}/resolve": {"parameters": [POST_ID], "post": {
                "summary": "Settle an unknown or failed post (`scheduler resolve`)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": {
                    "type": "object", "properties": {"tweet_id": {"type": "string", "description": "it went out: its id or address on the account's network"}, "retry": {"type": "boolean"}}}}}},
                "responses": {"200": _ok(_ref("Post")), **ERRORS}}},
            "/pause": {"post": {"summary": "Pause publishing (`scheduler queue pause`)",
                                "requestBody": {"content": {"application/json": {"schema": {
                                    "type": "object", "properties": {"reason": {"type": "string"}}}}}},
                                "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
            "/resume": {"post": {"summary": "Resume publishing", "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
            "/history": {"get": {"summary": "Sent, failed and unknown posts, newest first (`scheduler history --json`)",
                                 "parameters": [limit],
                                 "responses": {"200": _ok({"type": "array", "items": _ref("Post")}), **ERRORS}}},
            "/status": {"get": {"summary": "Service, queue, quota, X spend this month and its forecast against the "
                                           "budget (`spend`: null off X), where metric collection stands "
                                           "(`metrics`), what needs a person (`scheduler status --json`)",
                                "responses": {"200": _ok({"type": "object"}), **ERRORS}}},
            "/revision": {"get": {"summary": "The ledger's revision: it moves on every change to the account",
                                  "responses": {"200": _ok({"type": "object", "properties": {
                                      "revision": {"type": "integer"}}}), **ERRORS}}},
            "/review": {"get": {
                "summary": "Posts not approved as they are now, in queue order, with findings and the slot each "
                           "would get (`scheduler review list --json`)",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "default": 200,
                                                                            "minimum": 1}}],
                "responses": {"200": _ok({"type": "array", "items": _ref("ReviewItem")}), **ERRORS}}},
            "/review/approve": {"post": {
                "summary": "Approve posts exactly as shown (content_hashes required), all or none, as a reviewer or "
                           "admin; not one's own last edit (`scheduler review approve --hash`); 403 when not allowed",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Decision")}}},
                "responses": {"200": _ok({"type": "object", "properties": {
                    "approved": {"type": "array", "items": {"type": "string"}},
                    "already_approved": {"type": "array", "items": {"type": "string"}}}}), **ERRORS}}},
            "/review/reject": {"post": {
                "summary": "Send posts back to their author with a comment (`scheduler review reject --comment`)",
                "requestBody": {"required": True, "content": {"application/json": {"schema": _ref("Decision")}}},
                "responses": {"200": _ok({"type": "object", "properties": {
                    "changes_requested": {"type": "array", "items": {"type": "string"}}}}), **ERRORS}}},
            "/review/log": {"get": {
                "summary": "The review log, newest first (`scheduler review log --json`)",
                "parameters": [{"name": "limit", "in": "query", "schema": {"type": "integer", "default": 100,
                                                                            "minimum": 1}},
                               {"name": "post", "in": "query", "schema": {"type": "string"},
                                "description": "only this post's decisions"}],
                "responses": {"200": _ok({"type": "array", "items": _ref("ReviewLogEntry")}), **ERRORS}}},
            "/audit": {"get": {"summary": "Changes made through the web and the API (who, when, what)",
                               "parameters": [limit],
                               "responses": {"200": _ok({"type": "array", "items": _ref("AuditEntry")}), **ERRORS}}},
        },
    }
    account = {"name": "account", "in": "query", "schema": {"type": "string"},
               "description": "the account (a name from [[accounts]], or its handle); default: default_account or "
                              "the only one. Unknown: 404 listing the accounts; several and none chosen: 400"}
    document["paths"].update(openapi_insights.paths(_ok, ERRORS))
    for item in document["paths"].values():
        item["parameters"] = [account, *item.get("parameters", [])]
    return document
