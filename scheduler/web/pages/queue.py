"""The queue pages: the list of queued posts with their review status, and the changes made from it (add,
move, pin, remove, restore, edit, pause, resume), the live length count and approved media."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, Response

from scheduler.app import views
from scheduler.app.editing import check_pin
from scheduler.domain.content_hash import hash_of
from scheduler.domain.errors import QueueError, SchedulerError
from scheduler.planning import agenda
from scheduler.review import policy as review
from scheduler.text.limits import rule_for
from scheduler.web.handlers import BadRequest, domain_status, own_post, parse_when
from scheduler.web.pages.base import (
    _back,
    _form,
    error_page,
    render,
    thread_parts,
    web_of,
)

QUEUE_PAGE = 50


def _queue_context(web, offset: int) -> dict:
    account = web.config.account
    posts = web.store.queue_page(account, offset=offset, limit=QUEUE_PAGE + 1)
    removed = web.store.queue_page(account, limit=20, states=("removed",))
    # When each post goes out: the plan `preview` and `queue list` show (the same function).
    planned = agenda.planned_times(web.store, web.config, web.clock(), count=offset + QUEUE_PAGE) if posts else {}
    return {
        "posts": [row | {"media": list(p.media)}
                  for p, row in zip(posts[:QUEUE_PAGE], views.queue_json(posts[:QUEUE_PAGE], web.config, planned))],
        "review_status": _review_status(web, posts[:QUEUE_PAGE]),
        "more": len(posts) > QUEUE_PAGE,
        "offset": offset,
        "page_size": QUEUE_PAGE,
        "removed": [views.post_json(p, web.config) for p in removed],
        "account_state": web.store.account_state(account),
    }


def _review_status(web, posts) -> dict[str, str]:
    """With review on, each post's review status (approved, awaiting review, changes requested)."""
    if not review.required(web.config):
        return {}
    reviews = web.store.reviews(p.post_id for p in posts)
    return {p.post_id: review.status_of(hash_of(p), reviews.get(p.post_id)) for p in posts}


async def queue(request: Request, *, error: str | None = None, status: int = 200, form: dict | None = None,
                notice: str | None = None, failed: dict | None = None):
    """The queue page; with ``failed`` ({"post_id", "field", "message", "value"}: a refused form), the refusal is
    shown next to its field, which keeps what was typed and takes the focus."""
    web = web_of(request)
    try:
        offset = max(0, int(request.query_params.get("offset", "0")))
    except ValueError:
        offset = 0
    context = await run_in_threadpool(_queue_context, web, offset)
    if failed and failed.get("post_id") and failed["post_id"] not in [p["post_id"] for p in context["posts"]]:
        error, failed = failed["message"], None  # its post is not on this page (sent, or further down): say it on top
    return await render(request, "queue.html", status, title="Queue", error=error, form=form or {}, notice=notice,
                        failed=failed or {}, **context)


def _not_own(web, post_id: str) -> str | None:
    """Why ``post_id`` is no post of this page's account (unknown, or another account's), as the API's 404; else None."""
    try:
        own_post(web, post_id)
    except BadRequest:
        return f"no post {post_id!r} for the account {web.config.account_name!r}; its Queue page lists its posts"
    return None


async def _queue_change(request: Request, change, *, back: str = "/queue", post_id: str | None = None,
                        field: dict | None = None):
    """Run a change; htmx callers get 204 (the page refreshes itself), forms a redirect or the page with the error
    (next to ``field``, {"post_id", "field", "value"}, when the change came from one). ``post_id``: the post
    changed, which must be the account's own (else 404, as the API answers)."""
    missing = post_id is not None and await run_in_threadpool(_not_own, web_of(request), post_id)
    if missing:
        if request.headers.get("hx-request"):
            return Response(missing, status_code=404, media_type="text/plain")
        return await queue(request, error=missing, status=404)
    try:
        await run_in_threadpool(change)
    except SchedulerError as exc:
        if request.headers.get("hx-request"):
            return Response(str(exc), status_code=domain_status(exc), media_type="text/plain")
        if field is not None:
            return await queue(request, status=domain_status(exc), failed={**field, "message": str(exc)})
        return await queue(request, error=str(exc), status=domain_status(exc))
    if request.headers.get("hx-request"):
        return Response(status_code=204, headers={"HX-Trigger": "ledger-changed"})
    return _back(back, request)


def _when(web, value: str):
    try:
        return parse_when(value, web.config.tz)
    except BadRequest as exc:
        raise QueueError(exc.detail) from None


async def queue_add(request: Request):
    web = web_of(request)
    form = await _form(request)
    actions = web.actions(request)

    field = "text"

    def change():
        nonlocal field
        at = None
        if form.get("at"):
            field = "at"  # a time that does not parse, or is past, is the pin field's fault
            at = _when(web, form["at"])
            check_pin(web.config, at, web.clock(), asap="the current time")
            field = "text"
        actions.add(form.get("text", ""), at)

    try:
        await run_in_threadpool(change)
    except SchedulerError as exc:
        return await queue(request, status=domain_status(exc), form=form,
                           failed={"post_id": None, "field": field, "message": str(exc), "value": form.get(field, "")})
    return _back("/queue", request)


async def queue_move(request: Request):
    web = web_of(request)
    form = await _form(request)
    post_id = request.path_params["post_id"]
    where = {k: form[k] for k in ("before", "after") if form.get(k)}
    where |= {k: True for k in ("top", "bottom") if form.get("to") == k}
    said: list[str] = []
    response = await _queue_change(request, lambda: said.append(web.actions(request).move(post_id, **where)),
                                   post_id=post_id)
    if said and request.headers.get("hx-request"):  # the page's script says it in its live region
        return Response(f"Moved {post_id} {said[0]}.", media_type="text/plain", headers={"HX-Trigger": "ledger-changed"})
    return response


async def queue_pin(request: Request):
    web = web_of(request)
    form = await _form(request)
    post_id = request.path_params["post_id"]

    warnings: list[str] = []

    def change():
        at = None if form.get("clear") else _when(web, form.get("at", ""))
        warnings.extend(web.actions(request).pin(post_id, at))

    response = await _queue_change(request, change, post_id=post_id,
                                   field={"post_id": post_id, "field": "pin", "value": form.get("at", "")})
    if warnings and response.status_code == 303:  # pinned, but a cap will hold it back: say so now
        return await queue(request, notice=" ".join(warnings))
    return response


async def queue_remove(request: Request):
    web = web_of(request)
    post_id = request.path_params["post_id"]
    return await _queue_change(request, lambda: web.actions(request).remove(post_id), post_id=post_id)


async def queue_restore(request: Request):
    web = web_of(request)
    post_id = request.path_params["post_id"]
    return await _queue_change(request, lambda: web.actions(request).restore(post_id), post_id=post_id)


async def queue_edit(request: Request):
    web = web_of(request)
    form = await _form(request)
    post_id = request.path_params["post_id"]
    parts = thread_parts(form.get("text", ""))
    return await _queue_change(request, lambda: web.actions(request).edit(post_id, parts), post_id=post_id,
                               field={"post_id": post_id, "field": "edit", "value": form.get("text", "")})


async def queue_pause(request: Request):
    web = web_of(request)
    form = await _form(request)
    return await _queue_change(request, lambda: web.actions(request).pause(form.get("reason", "")))


async def queue_resume(request: Request):
    web = web_of(request)
    return await _queue_change(request, lambda: web.actions(request).resume())


async def count(request: Request):
    """The live length counter: the text as the account's network counts it (the CLI's own rule)."""
    web = web_of(request)
    form = await _form(request)
    text = form.get("text", "")
    # ?parts=1: an edit box, where a line "---" starts the thread's next part; each part is counted alone.
    parts = thread_parts(text) if request.query_params.get("parts") else [text]
    rule = await run_in_threadpool(rule_for, web.config)
    counts = [(rule.measure(part.strip()), not rule.fits(part.strip()) and bool(part.strip())) for part in parts]
    return await render(request, "_count.html", counts=counts, limit=rule.limit)


async def media(request: Request):
    """An image of a post, by its place in the post's media list (only files the ledger names)."""
    web = web_of(request)
    post = await run_in_threadpool(own_post, web, request.path_params["post_id"])
    index = request.path_params["index"]
    if index >= len(post.media):
        return error_page(request, 404, "no such image")
    return FileResponse(post.media[index])
