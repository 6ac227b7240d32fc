"""What every dashboard page shares: the Jinja2 environment (and its thread_parts filter), the context each
page gets (account switcher, look, section), rendering, error pages, the request's AccountWeb, form reading
and redirects back."""

from __future__ import annotations

import functools
import re

import jinja2
from markupsafe import escape
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse

from scheduler.app.health import outbox_warning
from scheduler.web.context import HERE, account_link, account_web, with_account_query
from scheduler.web.render import Look, code_spans, post_html, when_html


@functools.cache
def _env():
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["post_html"] = post_html
    env.filters["code_spans"] = code_spans
    env.filters["when"] = jinja2.pass_context(lambda context, value: when_html(value, context.get("zone", "")))
    env.globals["thread_parts"] = thread_parts
    return env


def _page_context(request: Request) -> dict:
    root = request.app.state.web
    try:
        web = web_of(request)
    except HTTPException:  # an unknown ?account= : its error page has no account, and offers the known ones
        web = None

    principal = request.scope.get("state", {}).get("principal")
    chosen = web.config.account_name if web is not None and web.several else None
    return {
        "request": request,
        "handle": web.config.handle if web is not None else "",
        "network": web.config.network if web is not None else "",
        "net": Look(web.config) if web is not None else None,  # posts as the account's network shows them
        "zone": web.config.tz.key if web is not None else "",
        "csrf": principal.csrf if principal and principal.csrf else "",
        "actor": principal.actor if principal else None,
        "revision": web.store.revision(web.config.account) if web is not None else 0,
        "error": None,
        "notice": None,
        "outbox": outbox_warning(web.config) if web is not None else None,  # while true, on every page
        "path": request.url.path,
        "live_url": request.url.path + (f"?{request.url.query}" if request.url.query else ""),
        # With several accounts: the switcher, and every link and form on the page names the chosen account.
        "accounts": root.config.accounts if root.several else (),
        "account_name": chosen or "",
        "section": _section(request.url.path),
        "q": with_account_query("", chosen),  # "?account=NAME" to end a site path with, or ""
        "qa": with_account_query("?", chosen)[1:],  # "&account=NAME" after a path's own query, or ""
    }


def _section(path: str) -> str:
    """Where the account switcher goes: the same page for the other account (a post or an article is the
    chosen account's own, so its list)."""
    first = path.strip("/").split("/")[0]
    return f"/{first}" if first in ("calendar", "queue", "articles", "review", "history", "status", "insights") else "/calendar"


def render_sync(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    html = _env().get_template(template).render(**{**_page_context(request), **context})
    return HTMLResponse(html, status_code=status)


async def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    return await run_in_threadpool(render_sync, request, template, status, **context)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    try:
        return render_sync(request, "error.html", status, error=message, title=str(status))
    except Exception:
        return HTMLResponse(f"<!doctype html><title>{status}</title><p role=alert>{escape(message)}</p>", status)


def web_of(request: Request):
    """The request's account's view of the dashboard (``?account=NAME``; scheduler.web.app)."""
    return account_web(request)


async def _form(request: Request) -> dict:
    async with request.form() as form:
        return {k: v for k, v in form.items() if isinstance(v, str)}


def _back(to: str, request: Request | None = None) -> RedirectResponse:
    """A 303 to ``to``; with ``request``, to ``to`` for the request's account."""
    if request is not None:
        to = account_link(request, to)
    return RedirectResponse(to, status_code=303)


# Between a thread's parts in an edit box: a line "---", as `scheduler queue edit --editor` shows them.
THREAD_BREAK = "\n---\n"


_THREAD_BREAK = re.compile(r"\n[ \t]*---[ \t]*\n")


def thread_parts(text: str) -> list[str]:
    """An edit box's text as the post's parts (one part: a single post). Browsers send lines ending CRLF."""
    return _THREAD_BREAK.split(text.replace("\r\n", "\n").replace("\r", "\n"))
