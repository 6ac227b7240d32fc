"""The calendar page: the month, week or day of planned and sent posts."""

from __future__ import annotations

from datetime import date, datetime, time

from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse

from scheduler.web.calendar_view import calendar_page
from scheduler.web.pages.base import _env, _page_context, error_page, web_of


async def calendar(request: Request):
    web = web_of(request)
    view = request.query_params.get("view", "week")
    if view not in ("week", "month"):
        return error_page(request, 400, f"view={view!r}: use week or month")
    raw = request.query_params.get("date")
    try:
        around = date.fromisoformat(raw) if raw else None
    except ValueError:
        return error_page(request, 400, f"date={raw!r} is not a date; use YYYY-MM-DD")
    now = web.clock()
    return await run_in_threadpool(_calendar_response, request, web, now, view, around)


def _calendar_response(request: Request, web, now, view: str, around: date | None) -> HTMLResponse:
    """The page around its calendar part, which is computed once per ledger revision while time leaves it
    as it is (scheduler.planning.plan_cache: the same plan as `preview --json` for the same ``now``), and shared by
    every request and session; the layout around it (CSRF token, user) is rendered for each request."""
    context = _page_context(request)
    tz = web.config.tz
    today = now.astimezone(tz).date()
    around = around or today
    shared = {name: context[name] for name in ("handle", "network", "zone", "q", "qa", "live_url")}

    def compute():
        page = calendar_page(web.store, web.config, now, view=view, around=around)
        html = _env().get_template("_calendar_body.html").render(page=page, today=today, net=context["net"],
                                                                 **shared)
        # The plan is cut at the page's end: once that is past (and its grace), the page has no plan.
        return Markup(html), [datetime.combine(page.end, time(0), tz) + web.config["calendar"]["grace"]]

    key = ("calendar", view, around, today, tuple(sorted(shared.items())))
    body = web.plan_cache.get(web.store, web.config, now, key, compute)
    html = _env().get_template("calendar.html").render(**{**context, "title": "Calendar", "body": body})
    return HTMLResponse(html)
