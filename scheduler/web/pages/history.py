"""The history and status pages: what was sent, settling an uncertain post, the service's health and the
live fragment."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from scheduler.app import health, views
from scheduler.domain.errors import SchedulerError
from scheduler.web.context import with_account_query
from scheduler.web.pages.base import _back, _env, _form, render, web_of
from scheduler.web.pages.queue import _not_own
from scheduler.web.handlers import audit_json, domain_status


def _history_context(web) -> dict:
    account = web.config.account
    return {
        "records": [views.post_json(p, web.config) for p in web.store.history(account, limit=100)],
        "audit": [audit_json(r, web.config.tz) for r in web.store.audit(account, limit=100)],
    }


async def history(request: Request, *, error: str | None = None, status: int = 200):
    web = web_of(request)
    context = await run_in_threadpool(_history_context, web)
    return await render(request, "history.html", status, title="History", error=error, **context)


async def resolve(request: Request):
    web = web_of(request)
    form = await _form(request)
    post_id = request.path_params["post_id"]
    missing = await run_in_threadpool(_not_own, web, post_id)
    if missing:  # another account's post, or none: 404 as the API answers, whatever its state
        return await history(request, error=missing, status=404)
    try:
        await run_in_threadpool(lambda: web.actions(request).resolve(
            post_id, tweet_id=form.get("tweet_id", "").strip() or None, retry=form.get("retry") == "1"))
    except SchedulerError as exc:
        return await history(request, error=str(exc), status=domain_status(exc))
    return _back("/history", request)


async def status_page(request: Request):
    web = web_of(request)
    report = await run_in_threadpool(health.status, web.store, web.config, web.clock())
    return await render(request, "status.html", title="Status", report=report)


async def live(request: Request):
    """Polled by every page: 204 while the ledger's revision stands, else a new poller and a
    ``ledger-changed`` event that makes the page's live region reload itself."""
    web = web_of(request)
    current = await run_in_threadpool(web.store.revision, web.config.account)
    if request.query_params.get("rev") == str(current):
        return Response(status_code=204)
    qa = with_account_query("?", web.config.account_name if web.several else None)[1:]
    return HTMLResponse(_env().get_template("_live.html").render(revision=current, qa=qa),
                        headers={"HX-Trigger": "ledger-changed"})
