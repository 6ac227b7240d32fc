"""Review before publishing on the dashboard (issue 12): the Review page and /api/v1/review for signed-in
users, and the reviewer link's page at /review/<token> for reviewers without an account.

The Review page and the API call the same domain functions as `scheduler review` (scheduler.review.policy,
through web.actions for the audit record) and show the same JSON shapes (scheduler.app.review_views).

/review/<token> is the only path under /review/. The Guard lets it through without a session or a
CSRF token: the token in the path is its one credential (signed, single purpose, expiring,
revocable, spent by the form it opens; review_link.py), and the page (review_page.py) shows the
waiting posts and nothing else, sets no cookie and runs no script.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Route

from scheduler.app import review_views, views
from scheduler.domain.errors import SchedulerError
from scheduler.review import policy as review
from scheduler.web import review_page as link_form  # the module; review_page below is the route
from scheduler.web.handlers import BadRequest, domain_status, int_param, json_body, own_post
from scheduler.web.context import account_link, account_web
from scheduler.web.pages import render
from scheduler.web.security import REVIEW_LINK_PREFIX

MAX_LINK_FORM_BYTES = 1_000_000
LOG_SHOWN = 50


def web_of(request: Request):
    """The request's account's view of the dashboard (``?account=NAME``; scheduler.web.app)."""
    return account_web(request)


# -- the reviewer link ------------------------------------------------------------------------------

async def link_page(request: Request):
    """GET shows the waiting posts as cards; POST records every decision at once and spends the link."""
    web = await run_in_threadpool(_link_web, request)
    form: dict[str, str] = {}
    if request.method == "POST":
        body = bytearray()
        async for chunk in request.stream():
            body += chunk
            if len(body) > MAX_LINK_FORM_BYTES:
                return Response("the form is too large", 413, media_type="text/plain",
                                headers={k: v for k, v in link_form.HEADERS.items() if k != "Content-Type"})
        form = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    answer = await run_in_threadpool(link_form.handle, web.store, web.config, request.path_params["token"],
                                     request.method, form, web.clock())
    return Response(answer.body, answer.status, headers=answer.headers)


def _link_web(request: Request):
    """The account a reviewer link was made for (the link names it in the ledger; its signature is checked
    against that account), whatever ``?account=`` says: the link is its own credential."""
    web = request.app.state.web
    record = web.store.link(str(request.path_params["token"]).split(".")[0])
    if record is not None:
        for account in web.config.accounts:
            if account.handle is not None and account.key == record.account:
                return web.for_account(account.name, api=False)
    return web if web.config.selected is not None else web.for_account(None, api=False)


# -- the Review page ----------------------------------------------------------------------------------

def _review_context(web) -> dict:
    now = web.clock()
    items = review.waiting(web.store, web.config, now)
    return {
        "required": review.required(web.config),
        "items": [review_views.item_json(i, web.config) for i in items],
        "held": [review_views.item_json(i, web.config) for i in review.held(web.store, web.config)],
        "release": review.RELEASE,
        "log": [review_views.log_json(e, web.config) for e in review.log(web.store, web.config, limit=LOG_SHOWN)],
    }


async def review_page(request: Request, *, error: str | None = None, status: int = 200):
    web = web_of(request)
    notice = None
    done = {key: request.query_params.get(key, "") for key in ("approved", "changes_requested")}
    if done["approved"].isdigit():
        notice = f"Approved {done['approved']} post(s) exactly as shown; they take their place in the plan."
    elif done["changes_requested"].isdigit():
        notice = f"Sent {done['changes_requested']} post(s) back to their author with your comment."
    context = await run_in_threadpool(_review_context, web)
    return await render(request, "review.html", status, title="Review", error=error, notice=notice, **context)


async def review_decide(request: Request):
    """The Review page's form: the selected posts, each with the hash of the text shown, approved or sent back."""
    web = web_of(request)
    async with request.form() as form:
        chosen = [v for v in form.getlist("post") if isinstance(v, str)]
        fields = {k: v for k, v in form.items() if isinstance(v, str)}
    action = fields.get("action")
    comment = (fields.get("comment") or "").strip()
    expected = {post_id: fields.get(f"hash-{post_id}", "") for post_id in chosen}
    if not chosen or action not in ("approve", "reject"):
        return await review_page(request, status=400, error="select at least one post (the box beside its name), "
                                 "then choose Approve selected or Request changes")
    if action == "reject" and not comment:
        return await review_page(request, status=400, error="write in the comment box what has to change: it goes "
                                 "to the author with the posts")
    actions = web.actions(request)
    try:
        if action == "approve":
            outcome = await run_in_threadpool(lambda: actions.approve(chosen, comment=comment or None,
                                                                      expected=expected))
            done = f"approved={len(outcome.decided) + len(outcome.already)}"
        elif action == "reject":
            outcome = await run_in_threadpool(lambda: actions.request_changes(chosen, comment=comment,
                                                                              expected=expected))
            done = f"changes_requested={len(outcome.decided)}"
    except SchedulerError as exc:
        return await review_page(request, error=str(exc), status=domain_status(exc))

    return RedirectResponse(account_link(request, f"/review?{done}"), status_code=303)


# -- /api/v1/review -------------------------------------------------------------------------------------

async def api_list(request: Request):
    """`scheduler review list --json`."""
    web = web_of(request)
    limit = int_param(request, "limit", 200, 1, 100000)
    items = await run_in_threadpool(review.waiting, web.store, web.config, web.clock(), limit=limit)
    return JSONResponse(views.with_account(web.config, [review_views.item_json(i, web.config) for i in items]))


async def api_log(request: Request):
    """`scheduler review log --json`."""
    web = web_of(request)
    limit = int_param(request, "limit", 100, 1, 100000)
    post_id = request.query_params.get("post") or None
    entries = await run_in_threadpool(lambda: review.log(web.store, web.config, limit=limit, post_id=post_id))
    return JSONResponse(views.with_account(web.config, [review_views.log_json(e, web.config) for e in entries]))


async def _decision_body(request: Request, web) -> tuple[list[str], str | None, dict[str, str] | None]:
    body = await json_body(request)
    known = {"post_ids", "comment", "content_hashes"}
    if set(body) - known:
        raise BadRequest(f"unknown field(s) {', '.join(sorted(set(body) - known))}; give {', '.join(sorted(known))}")
    ids = body.get("post_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i for i in ids):
        raise BadRequest('give the posts as {"post_ids": ["ID", ...]}; GET /api/v1/review lists them')
    comment = body.get("comment")
    if comment is not None and not isinstance(comment, str):
        raise BadRequest("comment must be a string")
    hashes = body.get("content_hashes")
    if hashes is not None and not (isinstance(hashes, dict) and all(isinstance(v, str) for v in hashes.values())):
        raise BadRequest('content_hashes must map post ids to the content_hash you reviewed: {"ID": "HASH"}')
    for post_id in ids:
        await run_in_threadpool(own_post, web, post_id)
    return ids, comment, ({post_id: hashes.get(post_id, "") for post_id in ids} if hashes is not None else None)


async def api_approve(request: Request):
    """`scheduler review approve ID... --hash H... [--comment]`: all or none, exactly as shown."""
    web = web_of(request)
    ids, comment, expected = await _decision_body(request, web)
    if expected is None or not all(expected.get(i) for i in ids):
        raise BadRequest('name the content hash you reviewed for every post: {"post_ids": ["ID"], '
                         '"content_hashes": {"ID": "HASH"}} (GET /api/v1/review gives each post\'s content_hash)')
    outcome = await run_in_threadpool(lambda: web.actions(request).approve(ids, comment=comment, expected=expected))
    return JSONResponse({"approved": list(outcome.decided), "already_approved": list(outcome.already)})


async def api_reject(request: Request):
    """`scheduler review reject ID... --comment TEXT`."""
    web = web_of(request)
    ids, comment, expected = await _decision_body(request, web)
    if not comment or not comment.strip():
        raise BadRequest('say what has to change: {"post_ids": [...], "comment": "..."} (it goes to the author)')
    outcome = await run_in_threadpool(lambda: web.actions(request).request_changes(ids, comment=comment,
                                                                                   expected=expected))
    return JSONResponse({"changes_requested": list(outcome.decided)})


def routes() -> list:
    return [
        Route("/review", review_page, methods=["GET"]),
        Route("/review", review_decide, methods=["POST"]),
        # Everything under /review/ is the reviewer link (see the module docstring and security.Guard).
        Route(REVIEW_LINK_PREFIX + "{token:path}", link_page, methods=["GET", "POST"]),
    ]


def api_routes() -> list:
    return [
        Route("/review", api_list, methods=["GET"]),
        Route("/review/log", api_log, methods=["GET"]),
        Route("/review/approve", api_approve, methods=["POST"]),
        Route("/review/reject", api_reject, methods=["POST"]),
    ]
