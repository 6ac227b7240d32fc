"""The HTTP JSON API under /api/v1: the CLI's --json shapes (scheduler.app.views), over HTTP.

Errors are ``{"error": {"status": N, "message": "..."}}`` with a message a person can act on:
400 a bad parameter, 401 no credentials, 403 no CSRF token, 404 no such post, 409 the post's state
does not allow it (a duplicate text; for review: a blocking finding, or a text changed since it was
shown), 422 a text the account's network would refuse. /api/v1/review is in web/review_routes.py.
"""

from __future__ import annotations

import json

from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from scheduler.app import editing, health, views
from scheduler.app import insights as insights_app
from scheduler.app.insights_views import report_json, slots_json
from scheduler.domain.errors import DuplicateError, InputError, QueueError, SchedulerError
from scheduler.planning import agenda
from scheduler.web.openapi import spec
from scheduler.web.pages import error_page
from scheduler.web.security import json_error
from scheduler.web.handlers import BadRequest, web_of, parse_when, int_param, json_body, own_post, domain_status, audit_json
















# -- handlers --------------------------------------------------------------------------------------

async def preview(request: Request):
    web = web_of(request)
    count = int_param(request, "count", 10, 1, 10000)
    raw = request.query_params.get("from")
    now = parse_when(raw, web.config.tz) if raw else web.clock()

    def compute():
        entries = agenda.upcoming(web.store, web.config, now, count=count)
        rows = views.with_account(web.config, [views.entry_json(e, web.config.tz) for e in entries])
        return JSONResponse(rows).body, ()

    # The same list as `preview --json` at this now: cached while neither the ledger nor time changes it.
    body = await run_in_threadpool(web.plan_cache.get, web.store, web.config, now, ("preview", count), compute)
    return Response(body, media_type="application/json")


async def queue_list(request: Request):
    web = web_of(request)
    limit = int_param(request, "limit", 50, 1, 100000)
    offset = int_param(request, "offset", 0, 0, 10**9)
    posts = await run_in_threadpool(web.store.queue_page, web.config.account, offset=offset, limit=limit)
    planned = await run_in_threadpool(agenda.planned_times, web.store, web.config, web.clock(),
                                      count=offset + limit) if posts else {}
    return JSONResponse(views.with_account(web.config, views.queue_json(posts, web.config, planned)))


async def queue_add(request: Request):
    web = web_of(request)
    body = await json_body(request)
    text = body.get("text")
    if not isinstance(text, str):
        raise BadRequest("give the post's text: {\"text\": \"...\"} (and optionally \"at\": an ISO 8601 time)")
    at = body.get("at")
    if at is not None and not isinstance(at, str):
        raise BadRequest("at must be an ISO 8601 time (e.g. \"2026-12-01T09:00:00-05:00\"), or left out to fill "
                         "the next free slot")
    when = parse_when(at, web.config.tz) if at else None
    try:
        record = await run_in_threadpool(web.actions(request).add, text, when)
    except DuplicateError:
        raise
    except QueueError as exc:
        raise BadRequest(str(exc), 422) from None
    return JSONResponse(views.with_account(web.config, views.post_json(record, web.config)), status_code=201)


async def queue_get(request: Request):
    web = web_of(request)
    post = await run_in_threadpool(own_post, web, request.path_params["post_id"])
    return JSONResponse(views.with_account(web.config, views.post_json(post, web.config)))


async def queue_patch(request: Request):
    """Change a post's text, pin (null unpins) and/or position; applied in that order, all or nothing: every
    field is checked before any is applied, and the changes land in one transaction."""
    web = web_of(request)
    post_id = request.path_params["post_id"]
    body = await json_body(request)
    known = {"text", "pinned_at", "position"}
    if not body or set(body) - known:
        raise BadRequest(f"give one or more of {', '.join(sorted(known))}; unknown: "
                         f"{', '.join(sorted(set(body) - known)) or 'none given'}")
    if "text" in body and not isinstance(body["text"], str):
        raise BadRequest("text must be a string")
    at = None
    if "pinned_at" in body:
        value = body["pinned_at"]
        if value is not None and not isinstance(value, str):
            raise BadRequest("pinned_at must be an ISO 8601 time, or null to unpin")
        at = parse_when(value, web.config.tz) if value else None
        try:
            editing.check_pin(web.config, at, web.clock(), asap="the current time")
        except QueueError as exc:
            raise BadRequest(f"pinned_at: {exc}") from None
    where = _position(body["position"]) if "position" in body else None
    await run_in_threadpool(own_post, web, post_id)
    actions = web.actions(request)

    def change():
        with web.store.unit():
            if "text" in body:
                actions.edit(post_id, body["text"])
            if "pinned_at" in body:
                actions.pin(post_id, at, warn=False)
            if where is not None:
                actions.move(post_id, **where)

    await run_in_threadpool(change)
    # As `scheduler queue pin` and the Queue page: a pin the cap will hold back is made, and said (needs a plan:
    # after the transaction).
    warnings = (await run_in_threadpool(editing.pin_warnings, web.store, web.config, post_id, at, web.clock())
                if "pinned_at" in body else [])
    post = await run_in_threadpool(own_post, web, post_id)
    return JSONResponse({**views.with_account(web.config, views.post_json(post, web.config)), "warnings": warnings})


def _position(value) -> dict:
    if value in ("top", "bottom"):
        return {value: True}
    if isinstance(value, dict) and len(value) == 1 and set(value) <= {"before", "after"}:
        (key, other), = value.items()
        if isinstance(other, str) and other:
            return {key: other}
    raise BadRequest('position must be "top", "bottom", {"before": POST_ID} or {"after": POST_ID}')


async def queue_delete(request: Request):
    web = web_of(request)
    post_id = request.path_params["post_id"]
    await run_in_threadpool(own_post, web, post_id)
    await run_in_threadpool(web.actions(request).remove, post_id)
    return JSONResponse(views.with_account(web.config, views.post_json(await run_in_threadpool(own_post, web, post_id), web.config)))


async def queue_restore(request: Request):
    web = web_of(request)
    post_id = request.path_params["post_id"]
    await run_in_threadpool(own_post, web, post_id)
    await run_in_threadpool(web.actions(request).restore, post_id)
    return JSONResponse(views.with_account(web.config, views.post_json(await run_in_threadpool(own_post, web, post_id), web.config)))


async def pause(request: Request):
    web = web_of(request)
    body = await json_body(request)
    await run_in_threadpool(web.actions(request).pause, str(body.get("reason") or ""))
    state = await run_in_threadpool(web.store.account_state, web.config.account)
    return JSONResponse({"paused": state.paused, "paused_reason": state.pause_reason})


async def resume(request: Request):
    web = web_of(request)
    await run_in_threadpool(web.actions(request).resume)
    return JSONResponse({"paused": False, "paused_reason": None})


async def resolve(request: Request):
    web = web_of(request)
    post_id = request.path_params["post_id"]
    body = await json_body(request)
    retry, tweet_id = body.get("retry", False), body.get("tweet_id")
    if not isinstance(retry, bool):  # "false" must not mean "send it again": it may have gone out
        raise BadRequest(f"retry must be true or false, not {json.dumps(retry)}")
    if tweet_id is not None and (isinstance(tweet_id, bool) or not isinstance(tweet_id, (str, int))):
        raise BadRequest("tweet_id must be the post's id or address on its network, as a string")
    await run_in_threadpool(own_post, web, post_id)
    await run_in_threadpool(lambda: web.actions(request).resolve(
        post_id, tweet_id=str(tweet_id or "") or None, retry=retry))
    return JSONResponse(views.with_account(web.config, views.post_json(await run_in_threadpool(own_post, web, post_id), web.config)))


async def history(request: Request):
    web = web_of(request)
    limit = int_param(request, "limit", 50, 1, 100000)
    records = await run_in_threadpool(web.store.history, web.config.account, limit=limit)
    return JSONResponse(views.with_account(web.config, [views.post_json(p, web.config) for p in records]))


async def status(request: Request):
    web = web_of(request)
    return JSONResponse(views.with_account(web.config, await run_in_threadpool(health.status, web.store, web.config, web.clock())))


async def revision(request: Request):
    web = web_of(request)
    return JSONResponse({"revision": await run_in_threadpool(web.store.revision, web.config.account)})


async def audit(request: Request):
    web = web_of(request)
    limit = int_param(request, "limit", 50, 1, 10000)
    records = await run_in_threadpool(web.store.audit, web.config.account, limit=limit)
    return JSONResponse([audit_json(r, web.config.tz) for r in records])




def _since(request: Request, web, now):
    raw = request.query_params.get("since")
    try:
        return insights_app.parse_since(raw, web.config.tz, now) if raw else None
    except InputError as exc:
        raise BadRequest(str(exc).replace("--since", "since=")) from None


async def insights(request: Request):
    """`scheduler insights --json` for the request's account."""
    web = web_of(request)
    now = web.clock()
    since, by = _since(request, web, now), request.query_params.get("by", "post")
    try:
        insights_app.check_by(by)
    except InputError as exc:
        raise BadRequest(str(exc).replace("--by", "by=")) from None
    report = await run_in_threadpool(insights_app.insights, web.store, [web.config], now, since=since, by=by)
    return JSONResponse(report_json(report))


async def insights_slots(request: Request):
    """`scheduler insights suggest-slots --json` for the request's account: evidence only, nothing changes."""
    web = web_of(request)
    now = web.clock()
    since = _since(request, web, now)
    count = int_param(request, "count", 5, 1, 168)
    min_posts = int_param(request, "min_posts", 3, 1, 10000)
    found, measured = await run_in_threadpool(insights_app.suggest_slots, web.store, web.config, now, since=since,
                                              count=count, min_posts=min_posts)
    return JSONResponse(views.with_account(web.config, slots_json(found, measured, web.config.tz)))


async def openapi(request: Request):
    return JSONResponse(spec())


def routes() -> list:
    return [
        Route("/preview", preview),
        Route("/queue", queue_list, methods=["GET"]),
        Route("/queue", queue_add, methods=["POST"]),
        Route("/queue/{post_id}", queue_get, methods=["GET"]),
        Route("/queue/{post_id}", queue_patch, methods=["PATCH"]),
        Route("/queue/{post_id}", queue_delete, methods=["DELETE"]),
        Route("/queue/{post_id}/restore", queue_restore, methods=["POST"]),
        Route("/queue/{post_id}/resolve", resolve, methods=["POST"]),
        Route("/pause", pause, methods=["POST"]),
        Route("/resume", resume, methods=["POST"]),
        Route("/history", history),
        Route("/status", status),
        Route("/revision", revision),
        Route("/audit", audit),
        Route("/insights", insights),
        Route("/insights/slots", insights_slots),
        Route("/openapi.json", openapi),
    ]


# -- errors ------------------------------------------------------------------------------------------

async def _http_error(request: Request, exc: HTTPException):
    if request.url.path.startswith("/api/"):
        message = exc.detail if isinstance(exc.detail, str) else "request failed"
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such endpoint {request.url.path}; GET /api/v1/openapi.json lists them"
        if exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; GET /api/v1/openapi.json lists the methods"
        return json_error(exc.status_code, message)

    return error_page(request, exc.status_code, exc.detail if isinstance(exc.detail, str) else "request failed")


async def _domain_error(request: Request, exc: SchedulerError):
    status = domain_status(exc)
    if request.url.path.startswith("/api/"):
        return json_error(status, str(exc))

    return error_page(request, status, str(exc))


async def _unexpected(request: Request, exc: Exception):
    import logging

    logging.getLogger("scheduler.web").exception("unexpected error on %s %s", request.method, request.url.path)
    message = "the server failed on this request; the log has the details"
    if request.url.path.startswith("/api/"):
        return json_error(500, message)

    return error_page(request, 500, message)


def exception_handlers() -> dict:
    return {HTTPException: _http_error, SchedulerError: _domain_error, Exception: _unexpected}
