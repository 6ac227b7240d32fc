"""The dashboard's pages: server-rendered HTML (Jinja2, autoescaped), refreshed by htmx.

Each handler reads through the same functions as the CLI and changes the ledger only through
scheduler.web.actions. Forms post back and redirect (303); a refused change shows the page again
with the domain's own message and a 4xx status.
"""

from __future__ import annotations

import functools
import math
import re
from datetime import date

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Route

from scheduler.domain.errors import SchedulerError
from scheduler.web.app import HERE

QUEUE_PAGE = 50


@functools.cache
def _env():
    import jinja2

    from scheduler.web.render import post_html

    env = jinja2.Environment(loader=jinja2.FileSystemLoader(HERE / "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters["post_html"] = post_html
    env.globals["thread_parts"] = thread_parts
    return env


def _page_context(request: Request) -> dict:
    from starlette.exceptions import HTTPException

    from scheduler.web.app import with_account_query

    root = request.app.state.web
    try:
        web = web_of(request)
    except HTTPException:  # an unknown ?account= : its error page has no account, and offers the known ones
        web = None
    from scheduler.web.render import Look

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
    return f"/{first}" if first in ("calendar", "queue", "articles", "review", "history", "status") else "/calendar"


def render_sync(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    html = _env().get_template(template).render(**{**_page_context(request), **context})
    return HTMLResponse(html, status_code=status)


async def render(request: Request, template: str, status: int = 200, **context) -> HTMLResponse:
    return await run_in_threadpool(render_sync, request, template, status, **context)


def error_page(request: Request, status: int, message: str) -> HTMLResponse:
    try:
        return render_sync(request, "error.html", status, error=message, title=str(status))
    except Exception:
        from markupsafe import escape

        return HTMLResponse(f"<!doctype html><title>{status}</title><p role=alert>{escape(message)}</p>", status)


def web_of(request: Request):
    """The request's account's view of the dashboard (``?account=NAME``; scheduler.web.app)."""
    from scheduler.web.app import account_web

    return account_web(request)


async def _form(request: Request) -> dict:
    async with request.form() as form:
        return {k: v for k, v in form.items() if isinstance(v, str)}


def _back(to: str, request: Request | None = None) -> RedirectResponse:
    """A 303 to ``to``; with ``request``, to ``to`` for the request's account."""
    if request is not None:
        from scheduler.web.app import account_link

        to = account_link(request, to)
    return RedirectResponse(to, status_code=303)


# -- sign in -------------------------------------------------------------------------------------

async def login_page(request: Request, *, error: str | None = None, status: int = 200):
    import secrets

    from scheduler.web.security import LOGIN_COOKIE, cookie_header

    web = web_of(request)
    # Keep the token a login page already gave this browser: a second tab (or the browser's favicon
    # request, redirected here) must not invalidate the first form.
    token = request.cookies.get(LOGIN_COOKIE, "")
    if len(token) < 32:
        token = secrets.token_urlsafe(32)
    response = await render(request, "login.html", status, title="Sign in", login_csrf=token, error=error,
                            open_mode=await run_in_threadpool(web.open_mode),
                            next=_safe_next(request.query_params.get("next")))
    response.headers.append("set-cookie", cookie_header(request, LOGIN_COOKIE, token, 3600))
    return response


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect to another."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/calendar"


async def login(request: Request):
    from scheduler.app.access import DEFAULT_USER, DEVICE_LIFETIME, device_cookie, device_of, verify_password
    from scheduler.web.security import DEVICE_COOKIE, SESSION_COOKIE, cookie_header

    web = web_of(request)
    form = await _form(request)
    username = (form.get("username") or DEFAULT_USER).strip()
    password = form.get("password", "")
    client = request.client.host if request.client else "unknown"
    # A browser that signed in as this user before is counted on its own (scheduler.app.access.LoginLimiter).
    device = await run_in_threadpool(device_of, web.store, request.cookies.get(DEVICE_COOKIE), username, web.clock())
    # The attempt is counted before the slow check: concurrent tries cannot all slip under the limit.
    wait = await run_in_threadpool(lambda: web.limiter.reserve(client, username, web.clock(), device=device))
    if wait is not None:
        seconds = math.ceil(wait.total_seconds())
        after = f"{seconds} seconds" if seconds < 120 else f"{math.ceil(seconds / 60)} minutes"
        where = "from this browser" if device else "from this address or for this user name"
        response = await login_page(request, status=429, error=f"too many failed sign-ins {where}; try again in "
                                    f"{after}")
        response.headers["retry-after"] = str(seconds)
        return response
    stored = await run_in_threadpool(web.store.password_hash, username)
    if not await run_in_threadpool(verify_password, password, stored):
        return await login_page(request, error="wrong user name or password", status=401)
    await run_in_threadpool(lambda: web.limiter.succeeded(client, username, device=device))
    session = await run_in_threadpool(web.open_session, username)
    known = await run_in_threadpool(device_cookie, web.store, username, web.clock())
    response = _back(_safe_next(form.get("next")))
    response.headers.append("set-cookie", cookie_header(request, SESSION_COOKIE, session.cookie, web.session_seconds))
    response.headers.append("set-cookie", cookie_header(request, DEVICE_COOKIE, known,
                                                        int(DEVICE_LIFETIME.total_seconds()), path="/login"))
    return response


async def logout(request: Request):
    from scheduler.web.security import SESSION_COOKIE, cookie_header

    web = web_of(request)
    principal = request.state.principal
    if principal.session_hash:
        await run_in_threadpool(web.store.end_session, principal.session_hash)
    response = _back("/login")
    response.headers.append("set-cookie", cookie_header(request, SESSION_COOKIE, "", 0))
    return response


# -- calendar ------------------------------------------------------------------------------------

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
    from datetime import datetime, time

    from markupsafe import Markup

    from scheduler.web.calendar_view import calendar_page

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


# -- queue ---------------------------------------------------------------------------------------

def _queue_context(web, offset: int) -> dict:
    from scheduler.app import views

    account = web.config.account
    posts = web.store.queue_page(account, offset=offset, limit=QUEUE_PAGE + 1)
    removed = web.store.queue_page(account, limit=20, states=("removed",))
    return {
        "posts": [views.post_json(p, web.config) | {"media": list(p.media)} for p in posts[:QUEUE_PAGE]],
        "review_status": _review_status(web, posts[:QUEUE_PAGE]),
        "more": len(posts) > QUEUE_PAGE,
        "offset": offset,
        "page_size": QUEUE_PAGE,
        "removed": [views.post_json(p, web.config) for p in removed],
        "account_state": web.store.account_state(account),
    }


def _review_status(web, posts) -> dict[str, str]:
    """With review on, each post's review status (approved, awaiting review, changes requested)."""
    from scheduler.review import policy as review
    from scheduler.domain.content_hash import hash_of

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
    from scheduler.web.api import BadRequest, own_post

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
    from scheduler.web.api import domain_status

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
    from scheduler.domain.errors import QueueError
    from scheduler.web.api import BadRequest, parse_when

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
        from scheduler.app.editing import check_pin

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
        from scheduler.web.api import domain_status

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


# Between a thread's parts in an edit box: a line "---", as `scheduler queue edit --editor` shows them.
THREAD_BREAK = "\n---\n"
_THREAD_BREAK = re.compile(r"\n[ \t]*---[ \t]*\n")


def thread_parts(text: str) -> list[str]:
    """An edit box's text as the post's parts (one part: a single post). Browsers send lines ending CRLF."""
    return _THREAD_BREAK.split(text.replace("\r\n", "\n").replace("\r", "\n"))


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
    from scheduler.text.limits import rule_for

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
    from starlette.responses import FileResponse

    from scheduler.web.api import own_post

    web = web_of(request)
    post = await run_in_threadpool(own_post, web, request.path_params["post_id"])
    index = request.path_params["index"]
    if index >= len(post.media):
        return error_page(request, 404, "no such image")
    return FileResponse(post.media[index])


# -- articles ------------------------------------------------------------------------------------

async def articles(request: Request, *, error: str | None = None, status: int = 200, notice: str | None = None):
    web = web_of(request)
    summaries = await run_in_threadpool(web.store.article_summaries, web.config.account)
    return await render(request, "articles.html", status, title="Articles", articles=summaries, error=error,
                        notice=notice)


async def articles_upload(request: Request):
    from scheduler.web.api import domain_status

    web = web_of(request)
    async with request.form(max_part_size=3 * 1024 * 1024) as form:
        upload = form.get("file")
        if upload is None or isinstance(upload, str) or not upload.filename:
            return await articles(request, error="choose an article file to upload (.md, .txt or .html)", status=400)
        data = await upload.read()
        filename = upload.filename
    try:
        results = await run_in_threadpool(web.actions(request).import_upload, filename, data)
    except SchedulerError as exc:
        return await articles(request, error=str(exc), status=domain_status(exc))
    first = results[0]
    from scheduler.app import views

    kept = [line.strip() for r in results for line in views.kept_live_lines(r.report)]
    if kept:
        # Posts that may be live kept their text: say so here rather than on a page that does not mention it.
        return await article(request, key=first.article.key, notice=" ".join(kept))
    return _back(f"/articles/{first.article.key}", request)


def _article_detail(web, key: str):
    from scheduler.compose.composer import compose_tip
    from scheduler.planning.evergreen import _article
    from scheduler.text.limits import rule_for
    from scheduler.compose.templates import TIP, templates_for

    article = _article(web.store, web.config, key)
    if article is None:
        return None
    # The variants as this account's network would get them: its templates, its length rule, the disclaimer.
    env, rule = templates_for(web.config), rule_for(web.config)
    hashtags = article.hashtags or web.config["compose"]["hashtags"]
    tips = []
    for tip in article.tips:
        variants, seen = [], set()
        for n in range(len(env.variants(TIP))):
            post = compose_tip(article, tip, handle=web.config.handle, hashtags=hashtags, variant=n, env=env,
                               rule=rule, disclaimer=web.config["review"]["disclaimer"])
            if post.text not in seen:
                seen.add(post.text)
                variants.append(post)
        tips.append((tip, variants))
    return article, tips


async def article(request: Request, *, key: str | None = None, notice: str | None = None):
    web = web_of(request)
    key = key or request.path_params["key"]
    try:
        found = await run_in_threadpool(_article_detail, web, key)
    except SchedulerError as exc:
        return error_page(request, 422, str(exc))
    if found is None:
        return error_page(request, 404, f"no article {key!r}; the Articles page lists them")
    art, tips = found
    return await render(request, "article.html", title=art.title, article=art, key=key, tips=tips, notice=notice)


# -- history and status ----------------------------------------------------------------------------

def _history_context(web) -> dict:
    from scheduler.app import views
    from scheduler.web.api import audit_json

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
    from scheduler.web.api import domain_status

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
    from scheduler.app import health

    web = web_of(request)
    report = await run_in_threadpool(health.status, web.store, web.config, web.clock())
    return await render(request, "status.html", title="Status", report=report)


async def live(request: Request):
    """Polled by every page: 204 while the ledger's revision stands, else a new poller and a
    ``ledger-changed`` event that makes the page's live region reload itself."""
    from scheduler.web.app import with_account_query

    web = web_of(request)
    current = await run_in_threadpool(web.store.revision, web.config.account)
    if request.query_params.get("rev") == str(current):
        return Response(status_code=204)
    qa = with_account_query("?", web.config.account_name if web.several else None)[1:]
    return HTMLResponse(_env().get_template("_live.html").render(revision=current, qa=qa),
                        headers={"HX-Trigger": "ledger-changed"})


async def home(request: Request):
    return _back("/calendar", request)


def routes() -> list:
    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/calendar", calendar),
        Route("/queue", queue, methods=["GET"]),
        Route("/queue", queue_add, methods=["POST"]),
        Route("/queue/pause", queue_pause, methods=["POST"]),
        Route("/queue/resume", queue_resume, methods=["POST"]),
        Route("/queue/{post_id}/move", queue_move, methods=["POST"]),
        Route("/queue/{post_id}/pin", queue_pin, methods=["POST"]),
        Route("/queue/{post_id}/remove", queue_remove, methods=["POST"]),
        Route("/queue/{post_id}/restore", queue_restore, methods=["POST"]),
        Route("/queue/{post_id}/edit", queue_edit, methods=["POST"]),
        Route("/compose/count", count, methods=["POST"]),
        Route("/media/{post_id}/{index:int}", media),
        Route("/articles", articles, methods=["GET"]),
        Route("/articles", articles_upload, methods=["POST"]),
        Route("/articles/{key}", article),
        Route("/history", history, methods=["GET"]),
        Route("/history/{post_id}/resolve", resolve, methods=["POST"]),
        Route("/status", status_page),
        Route("/live", live),
    ]
