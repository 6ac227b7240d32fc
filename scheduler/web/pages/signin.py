"""The sign-in pages: the login form, signing in (a session cookie) and signing out."""

from __future__ import annotations

import math
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from scheduler.app.access import (
    DEFAULT_USER,
    DEVICE_LIFETIME,
    device_cookie,
    device_of,
    verify_password,
)
from scheduler.web.pages.base import _back, _form, render, web_of
from scheduler.web.security import (
    DEVICE_COOKIE,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    cookie_header,
)


async def login_page(request: Request, *, error: str | None = None, status: int = 200, next_: str | None = None):
    """The form; ``next_`` is the page asked for, kept from the form that failed (else ``?next=``)."""
    web = web_of(request)
    # Keep the token a login page already gave this browser: a second tab (or the browser's favicon
    # request, redirected here) must not invalidate the first form.
    token = request.cookies.get(LOGIN_COOKIE, "")
    if len(token) < 32:
        token = secrets.token_urlsafe(32)
    response = await render(request, "login.html", status, title="Sign in", login_csrf=token, error=error,
                            open_mode=await run_in_threadpool(web.open_mode),
                            next=_safe_next(next_ if next_ is not None else request.query_params.get("next")))
    response.headers.append("set-cookie", cookie_header(request, LOGIN_COOKIE, token, 3600))
    return response


def _safe_next(value: str | None) -> str:
    """Only a path on this site: never an open redirect to another."""
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return "/calendar"


async def login(request: Request):
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
                                    f"{after}", next_=form.get("next"))
        response.headers["retry-after"] = str(seconds)
        return response
    stored = await run_in_threadpool(web.store.password_hash, username)
    if not await run_in_threadpool(verify_password, password, stored):
        return await login_page(request, error="wrong user name or password", status=401, next_=form.get("next"))
    await run_in_threadpool(lambda: web.limiter.succeeded(client, username, device=device))
    session = await run_in_threadpool(web.open_session, username)
    known = await run_in_threadpool(device_cookie, web.store, username, web.clock())
    response = _back(_safe_next(form.get("next")))
    response.headers.append("set-cookie", cookie_header(request, SESSION_COOKIE, session.cookie, web.session_seconds))
    response.headers.append("set-cookie", cookie_header(request, DEVICE_COOKIE, known,
                                                        int(DEVICE_LIFETIME.total_seconds()), path="/login"))
    return response


async def logout(request: Request):
    web = web_of(request)
    principal = request.state.principal
    if principal.session_hash:
        await run_in_threadpool(web.store.end_session, principal.session_hash)
    response = _back("/login")
    response.headers.append("set-cookie", cookie_header(request, SESSION_COOKIE, "", 0))
    return response
