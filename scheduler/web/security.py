"""All of the dashboard's access rules, in one ASGI middleware.

- Who: a Bearer API token (`scheduler web token create`), else a session cookie from /login. With no
  password set (allowed only when bound to a loopback address) a visitor of a page gets a session as
  "local" (a cookie signed with the ledger's signing key; no row is written for it), and requests must
  name a loopback host (no DNS rebinding from a web page), come from a loopback peer, carry no
  forwarding header and not be HTTP/1.0 (signs of a reverse proxy: it would open the dashboard to
  everyone it reaches; one that shows no sign cannot be told from a local browser, ``open_mode_refusal``).
- Pages without a session redirect to /login; the API without a token or session answers 401.
- Every state-changing request (POST, PATCH, PUT, DELETE) made with a session carries the session's
  CSRF token (header X-CSRF-Token, or form field ``csrf``); without it: 403 and nothing runs. Token
  requests need no CSRF token: a browser never adds a Bearer header by itself. The login form is
  protected the same way by a token in a SameSite=Strict cookie (double submit).
- The reviewer link's page, the one path under /review/, needs neither a session nor a CSRF token:
  the signed, single-purpose, expiring, revocable token in its path is its only credential, and the
  page shows the waiting posts and nothing else (web/review_routes.py, review_link.py). It keeps its
  own, stricter Content-Security-Policy (no script at all).
- Every response carries a Content-Security-Policy that allows scripts only from this server's
  /static/ files (no inline script, no eval), and forbids framing.
- Cookies: HttpOnly, SameSite=Strict, Path=/, and Secure when the request came over HTTPS (uvicorn
  takes X-Forwarded-Proto from a proxy on 127.0.0.1 only).
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from urllib.parse import parse_qs, quote

import anyio.to_thread
from markupsafe import escape
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from scheduler.app.access import (
    is_local_cookie,
    is_loopback,
    local_session_csrf,
    secret_hash,
)

SESSION_COOKIE = "tsid"
LOGIN_COOKIE = "tlogin"
DEVICE_COOKIE = "tdevice"  # a browser that signed in before (scheduler.app.access.device_cookie); sent to /login only
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
PUBLIC_PATHS = {"/login", "/api/v1/openapi.json", "/favicon.ico"}
REVIEW_LINK_PREFIX = "/review/"  # the reviewer link's page: its token is its credential
MAX_FORM_BYTES = 3 * 1024 * 1024

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"same-origin"),
]


@dataclass(frozen=True)
class Principal:
    actor: str  # for the audit trail: "user:NAME", "token:NAME", "local"
    kind: str  # session | token
    csrf: str | None = None  # sessions only
    session_hash: str | None = None
    role: str = "admin"  # editor | reviewer | admin (the user's or token's; "local", no password: admin)


def cookie_header(request: Request, name: str, value: str, max_age: int, *, path: str = "/") -> str:
    secure = "; Secure" if request.url.scheme == "https" else ""
    return f"{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Strict{secure}"


# Worker threads for the handlers' ledger work (Starlette's run_in_threadpool; anyio's default is 40). The work
# is Python holding the GIL: more threads add no speed, and 20 month pages planned at once held 20 plans in
# memory together (RSS 50 -> 140 MB, kept afterwards). Requests beyond these wait for a free thread.
WORKER_THREADS = 4


class Guard:
    def __init__(self, app, web):
        self.app = app
        self.web = web
        self._threads_set = False

    async def __call__(self, scope, receive, send):
        if not self._threads_set:
            anyio.to_thread.current_default_thread_limiter().total_tokens = WORKER_THREADS
            self._threads_set = True
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        extra_headers: list[tuple[bytes, bytes]] = []

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                headers += [h for h in HEADERS if h[0] not in names]
                if b"cache-control" not in names and not scope["path"].startswith("/static/"):
                    headers.append((b"cache-control", b"no-store"))
                headers += extra_headers
                message = {**message, "headers": headers}
            await send(message)

        request = Request(scope)
        path, method = scope["path"], scope["method"]
        api = path.startswith("/api/")
        open_mode = await run_in_threadpool(self.web.open_mode)
        if open_mode:
            refusal = open_mode_refusal(scope)
            if refusal is not None:
                return await _deny(request, *refusal, send_with_headers, receive)
        if not path.startswith("/static/"):
            await run_in_threadpool(self.web.prune_if_due)  # expired sessions leave the ledger (every 10 minutes)
        if path.startswith("/static/") or (path in PUBLIC_PATHS and method not in UNSAFE):
            return await self.app(scope, receive, send_with_headers)
        if path.startswith(REVIEW_LINK_PREFIX):
            return await self.app(scope, receive, send_with_headers)

        if path == "/login" and method == "POST":
            receive, form = await _buffered_form(scope, receive)
            expected = request.cookies.get(LOGIN_COOKIE, "")
            if not expected or not hmac.compare_digest(expected, form.get("csrf", "")):
                return await _deny(request, 403, "the login form expired or did not come from this site; "
                                   "reload the login page and try again", send_with_headers, receive)
            return await self.app(scope, receive, send_with_headers)
        principal = await run_in_threadpool(self._identify, request, open_mode)
        if principal is None and open_mode and not api and method == "GET":
            session = await run_in_threadpool(self.web.local_session)
            extra_headers.append((b"set-cookie", cookie_header(request, SESSION_COOKIE, session.cookie,
                                                               self.web.session_seconds).encode()))
            principal = Principal("local", "session", session.csrf)
        if principal is None:
            if open_mode and not api and method in UNSAFE:
                return await _deny(request, 403, "this page's session has ended (it expired, or the signing key was "
                                   "rotated), so nothing was changed; reload the page and try again",
                                   send_with_headers, receive)
            if api or method != "GET":
                status = 401
                message = ("sign in first, or send an API token: `Authorization: Bearer <token>` "
                           "(create one with `scheduler web token create NAME`)")
                return await _deny(request, status, message, send_with_headers, receive)
            target = path + (f"?{scope['query_string'].decode()}" if scope.get("query_string") else "")
            response = RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            return await response(scope, receive, send_with_headers)

        if method in UNSAFE and principal.kind == "session":
            given = request.headers.get("x-csrf-token")
            if given is None and _is_form(request):
                receive, form = await _buffered_form(scope, receive)
                given = form.get("csrf")
            if not given or not hmac.compare_digest(given, principal.csrf or ""):
                return await _deny(request, 403, "this request lacks the page's CSRF token, so nothing was changed; "
                                   "reload the page and try again", send_with_headers, receive)
        scope.setdefault("state", {})["principal"] = principal
        return await self.app(scope, receive, send_with_headers)

    def _identify(self, request: Request, open_mode: bool) -> Principal | None:
        now = self.web.clock()
        auth = request.headers.get("authorization", "")
        if auth:
            scheme, _, value = auth.partition(" ")
            if scheme.lower() != "bearer" or not value.strip():
                return None
            token = self.web.store.token_by_hash(secret_hash(value.strip()), now)
            return Principal(f"token:{token.name}", "token", role=token.role) if token else None
        cookie = request.cookies.get(SESSION_COOKIE)
        if not cookie:
            return None
        if is_local_cookie(cookie):  # the password-less dashboard's signed cookie: no row
            csrf = local_session_csrf(self.web.store, cookie, now) if open_mode else None
            return Principal("local", "session", csrf) if csrf else None
        hashed = secret_hash(cookie)
        session = self.web.store.session(hashed, now)
        if session is None:
            return None
        if session.username == "local" and not open_mode:
            return None  # a password was set since: the open session no longer counts
        actor = "local" if session.username == "local" else f"user:{session.username}"
        return Principal(actor, "session", session.csrf, hashed, role=session.role)


# Headers a proxy adds. uvicorn trusts X-Forwarded-For and X-Forwarded-Proto from a proxy on 127.0.0.1 (it then
# takes the client address and scheme from them); without a password any of these means "came through a proxy".
# Names are compared with "_" read as "-" (uvicorn passes `X_Forwarded_For` on as written).
FORWARDING_HEADERS = {"forwarded": "Forwarded", "via": "Via", "x-real-ip": "X-Real-IP",
                      "true-client-ip": "True-Client-IP", "cf-connecting-ip": "CF-Connecting-IP",
                      "x-client-ip": "X-Client-IP", "x-cluster-client-ip": "X-Cluster-Client-IP",
                      "fastly-client-ip": "Fastly-Client-IP", "x-proxyuser-ip": "X-ProxyUser-IP",
                      "forwarded-for": "Forwarded-For", "x-forwarded": "X-Forwarded", "x-host": "X-Host"}
FORWARDING_PREFIXES = ("x-forwarded-", "x-original-forwarded", "x-original-host", "x-envoy-")  # X-Forwarded-For...


def forwarding_headers(scope) -> list[str]:
    """The forwarding headers a request carries, as written in ``FORWARDING_HEADERS`` (others title-cased)."""
    found = []
    for name, _ in scope.get("headers") or []:
        plain = name.decode("latin-1").lower().replace("_", "-")
        if plain in FORWARDING_HEADERS or plain.startswith(FORWARDING_PREFIXES):
            shown = FORWARDING_HEADERS.get(plain) or "-".join(p.capitalize() for p in plain.split("-"))
            if shown not in found:
                found.append(shown)
    return found


_PROXY_NEEDS_A_PASSWORD = ("a proxy would open the dashboard to everyone who reaches the proxy, so it answers no "
                           "proxied request. A proxy in front needs a password: set one first (`scheduler web "
                           "passwd`), then sign in through the proxy; or open it on this machine at http://127.0.0.1 "
                           "(from elsewhere, through an SSH tunnel)")


def open_mode_refusal(scope) -> tuple[int, str] | None:
    """Why a request may not use the password-less dashboard (status, message), or None when it may.

    Without a password the dashboard is for whoever is on this machine, nobody else: a request must be addressed to
    a loopback name (no DNS rebinding), come from a loopback peer, and show no sign of a reverse proxy: no forwarding
    header, and not HTTP/1.0 (nginx's default ``proxy_pass`` speaks HTTP/1.0 with ``Host: 127.0.0.1`` and no
    forwarding header; every browser speaks HTTP/1.1 or 2). A proxy that speaks HTTP/1.1 and adds no header cannot
    be told from a browser on this machine: the README says never to put one in front without a password."""

    host = Request(scope).url.hostname or ""
    if host not in LOCAL_HOSTS:
        return 400, ("this dashboard has no password and answers only to 127.0.0.1 or localhost; open it by that "
                     "address (or set a password: `scheduler web passwd`)")
    forwarded = forwarding_headers(scope)
    if forwarded:
        return 403, (f"this dashboard has no password, and this request came through a proxy (it carries "
                     f"{', '.join(forwarded)}): {_PROXY_NEEDS_A_PASSWORD}")
    if scope.get("http_version") == "1.0":
        return 403, ("this dashboard has no password, and this request came over HTTP/1.0, as a reverse proxy's "
                     "(nginx's default `proxy_pass`) does; browsers speak HTTP/1.1 or 2, so it is taken to have come "
                     f"through a proxy: {_PROXY_NEEDS_A_PASSWORD}. A script on this machine: use HTTP/1.1")
    client = scope.get("client")
    if client is not None and (client[0] == "localhost" or not is_loopback(client[0])):
        return 403, ("this dashboard has no password and answers only to this machine, and this request came from "
                     f"{client[0]}. Set a password (`scheduler web passwd`) to use it from elsewhere, or open it "
                     "through an SSH tunnel")
    return None


def _is_form(request: Request) -> bool:
    kind = request.headers.get("content-type", "")
    return kind.startswith(("application/x-www-form-urlencoded", "multipart/form-data"))


async def _buffered_form(scope, receive):
    """Read the body once, take its fields, and hand the app a receive that replays the same body."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        size += len(chunks[-1])
        if size > MAX_FORM_BYTES or not message.get("more_body"):
            break
    body = b"".join(chunks)
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    fields: dict[str, str] = {}
    kind = dict(scope.get("headers") or []).get(b"content-type", b"").decode()
    if kind.startswith("application/x-www-form-urlencoded"):
        fields = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    elif kind.startswith("multipart/form-data"):
        probe_sent = False

        async def probe():
            nonlocal probe_sent
            if not probe_sent:
                probe_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return {"type": "http.disconnect"}

        try:
            async with Request(scope, probe).form(max_part_size=MAX_FORM_BYTES) as form:
                fields = {k: v for k, v in form.items() if isinstance(v, str)}
        except Exception:
            fields = {}
    return replay, fields


async def _deny(request: Request, status: int, message: str, send, receive) -> None:
    if request.url.path.startswith("/api/"):
        response: Response = JSONResponse({"error": {"status": status, "message": message}}, status_code=status)
    else:
        response = HTMLResponse(
            f"<!doctype html><html lang=en><title>{status}</title><link rel=stylesheet href=/static/app.css>"
            f"<main class=denied><h1>{status}</h1><p role=alert>{escape(message)}</p>"
            f"<p><a href=/login>Sign in</a></p></main>", status_code=status)
    await response(request.scope, receive, send)


def json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": {"status": status, "message": message}}, status_code=status)



