"""OAuth 2.0 user context for X: the PKCE login and the single-use refresh-token chain.

X's refresh tokens are single use: each refresh returns a new one and spends the old. The new
tokens are therefore stored (atomically, fsync'd) before the new access token is used, and a file
lock keeps two processes from spending the same refresh token. The token calls are plain form
POSTs with ``requests`` rather than requests-oauthlib's OAuth2Session, which logs token request
and response bodies (refresh and access tokens) at DEBUG.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import secrets
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator
from urllib.parse import parse_qs, urlencode, urlsplit

import requests

from scheduler.networks.x.credentials import OAuth2Tokens, read_tokens, register_secrets, store_tokens
from scheduler.domain.errors import CredentialsError
from scheduler.networks.transport import X_API_URL, is_x_itself

DEFAULT_SCOPES = ("tweet.read", "tweet.write", "users.read", "offline.access", "media.write")
REFRESH_MARGIN = timedelta(minutes=5)
LOCK_TIMEOUT_S = 30.0
HTTP_TIMEOUT = (5.0, 20.0)
RELOGIN = "run `scheduler auth login` again"


class TokenEndpointUnavailable(Exception):
    """The token endpoint could not be reached or answered 5xx. Retry later.

    If the request reached X but the answer was lost, X may have spent the refresh token; the
    next attempt then gets a clear CredentialsError asking for a new login.
    """


@dataclass(frozen=True)
class OAuth2Endpoints:
    authorize_url: str
    token_url: str


def endpoints_for(api_url: str = X_API_URL) -> OAuth2Endpoints:
    """X's consent page lives on x.com and its token endpoint on the API host; a stand-in serves both."""
    if is_x_itself(api_url):
        return OAuth2Endpoints("https://x.com/i/oauth2/authorize", "https://api.x.com/2/oauth2/token")
    base = api_url.rstrip("/")
    return OAuth2Endpoints(f"{base}/i/oauth2/authorize", f"{base}/2/oauth2/token")


# -- login -------------------------------------------------------------------------------------------


def start_login(
    client_id: str,
    redirect_uri: str,
    scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
    auth_base_url: str | None = None,
) -> tuple[str, str, str]:
    """Return (authorize_url, state, code_verifier); the caller keeps the last two for finish_login."""
    code_verifier = secrets.token_urlsafe(64)[:128]  # RFC 7636: 43-128 unreserved characters
    challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
    state = secrets.token_urlsafe(24)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "scope": " ".join(scopes),
            "state": state,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        }
    )
    return f"{auth_base_url or endpoints_for().authorize_url}?{query}", state, code_verifier


def finish_login(
    callback_url_or_code: str,
    *,
    state: str,
    code_verifier: str,
    client_id: str,
    redirect_uri: str,
    token_url: str,
    token_file: Path,
    now: datetime,
    client_secret: str | None = None,
) -> OAuth2Tokens:
    """Trade the authorization code for tokens and store them (0600, atomically)."""
    code = callback_url_or_code.strip()
    if "?" in code or "://" in code:
        params = {k: v[-1] for k, v in parse_qs(urlsplit(code).query).items()}
        if "error" in params:
            raise CredentialsError(f"X refused the authorization: {params['error']}; {RELOGIN}")
        if params.get("state") != state:
            raise CredentialsError(f"the callback's state does not match this login (a stale or forged redirect); {RELOGIN}")
        code = params.get("code", "")
    if not code:
        raise CredentialsError(f"the callback holds no authorization code; {RELOGIN}")
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": redirect_uri,
        "code_verifier": code_verifier,
        "client_id": client_id,
    }
    body = _token_request(token_url, form, client_id, client_secret)
    tokens = _tokens_from(body, client_id, now)
    store_tokens(token_file, tokens)
    return tokens


def run_login(
    client_id: str,
    *,
    token_file: Path,
    api_url: str = X_API_URL,
    port: int = 8976,
    scopes: tuple[str, ...] | list[str] = DEFAULT_SCOPES,
    timeout_s: float = 300.0,
    clock: Callable[[], datetime],
    client_secret: str | None = None,
    show: Callable[[str], None] = print,
) -> OAuth2Tokens:
    """Interactive login: show the consent URL, catch X's redirect on 127.0.0.1:port, store tokens.

    The redirect URI ``http://127.0.0.1:<port>/callback`` must be registered as a callback URL of
    the app in X's developer portal.
    """
    endpoints = endpoints_for(api_url)
    redirect_uri = f"http://127.0.0.1:{port}/callback"
    url, state, verifier = start_login(client_id, redirect_uri, scopes, endpoints.authorize_url)
    with _RedirectCatcher(port) as catcher:
        show(f"Open this URL in a browser and authorize the app:\n{url}")
        callback = catcher.wait(timeout_s)
    if callback is None:
        raise CredentialsError(f"no redirect reached {redirect_uri} within {timeout_s:.0f}s; {RELOGIN}")
    return finish_login(
        callback,
        state=state,
        code_verifier=verifier,
        client_id=client_id,
        redirect_uri=redirect_uri,
        token_url=endpoints.token_url,
        token_file=token_file,
        now=clock(),
        client_secret=client_secret,
    )


class _RedirectCatcher:
    """A one-request HTTP server on the loopback interface that records the callback URL."""

    def __init__(self, port: int) -> None:
        caught: list[str] = []
        done = threading.Event()

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - stdlib name
                if urlsplit(self.path).path != "/callback":
                    self.send_error(404)
                    return
                caught.append(f"http://127.0.0.1:{port}{self.path}")
                body = b"Authorized. You can close this tab and return to the terminal.\n"
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                done.set()

            def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
                """Silent: the request line holds the authorization code."""

        self._caught, self._done = caught, done
        self._server = HTTPServer(("127.0.0.1", port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> _RedirectCatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def wait(self, timeout_s: float) -> str | None:
        return self._caught[0] if self._done.wait(timeout_s) else None


# -- refresh -----------------------------------------------------------------------------------------


def ensure_fresh_access_token(
    path: Path,
    token_url: str,
    now: datetime,
    *,
    client_secret: str | None = None,
    margin: timedelta = REFRESH_MARGIN,
) -> str:
    """The current access token, refreshed first when it expires within ``margin`` of ``now``.

    Raises CredentialsError when the refresh token is spent or revoked (a person must log in
    again) and TokenEndpointUnavailable when the token endpoint cannot be reached.
    """
    tokens = read_tokens(path)
    if not _expiring(tokens, now, margin):
        return tokens.access_token
    with _locked(path):
        # Another process may have refreshed while we waited: its tokens are the live ones.
        tokens = read_tokens(path)
        if not _expiring(tokens, now, margin):
            return tokens.access_token
        if not tokens.refresh_token:
            raise CredentialsError(
                f"the access token in {path} has expired and there is no refresh token "
                f"(the login lacked the offline.access scope); {RELOGIN}"
            )
        form = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token, "client_id": tokens.client_id}
        body = _token_request(token_url, form, tokens.client_id, client_secret, path=path)
        fresh = _tokens_from(body, tokens.client_id, now, previous=tokens)
        store_tokens(path, fresh)  # before anyone uses the new access token: the old refresh token is spent
        return fresh.access_token


def _expiring(tokens: OAuth2Tokens, now: datetime, margin: timedelta) -> bool:
    return tokens.expires_at is not None and tokens.expires_at - margin <= now


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on ``<path>.lock``, waited for at most LOCK_TIMEOUT_S."""
    lock_path = path.with_name(path.name + ".lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise CredentialsError(
                        f"{lock_path} stayed locked for {LOCK_TIMEOUT_S:.0f}s: another scheduler process is "
                        "refreshing the X token and seems stuck"
                    ) from None
                time.sleep(0.05)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _token_request(
    token_url: str, form: dict[str, str], client_id: str, client_secret: str | None, path: Path | None = None
) -> dict[str, Any]:
    auth = (client_id, client_secret) if client_secret else None  # confidential clients use Basic auth
    try:
        response = requests.post(token_url, data=form, auth=auth, timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise TokenEndpointUnavailable(f"the X token endpoint did not answer ({type(exc).__name__})") from None
    if response.status_code >= 500:
        raise TokenEndpointUnavailable(f"the X token endpoint answered {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code != 200 or not isinstance(body, dict) or not body.get("access_token"):
        error = body.get("error", "") if isinstance(body, dict) else ""
        description = body.get("error_description", "") if isinstance(body, dict) else ""
        where = f" in {path}" if path else ""
        if form["grant_type"] == "refresh_token" and response.status_code == 400:
            raise CredentialsError(
                f"X refused the refresh token{where}: it was already spent or has been revoked "
                f"({error}: {description}); {RELOGIN}"
            )
        raise CredentialsError(
            f"X's token endpoint answered {response.status_code} {error} {description}".rstrip() + f"; {RELOGIN}"
        )
    return body


def _tokens_from(
    body: dict[str, Any], client_id: str, now: datetime, previous: OAuth2Tokens | None = None
) -> OAuth2Tokens:
    register_secrets([v for v in (body.get("access_token"), body.get("refresh_token")) if v])
    expires_in = body.get("expires_in")
    return OAuth2Tokens(
        access_token=str(body["access_token"]),
        refresh_token=body.get("refresh_token") or None,
        expires_at=now + timedelta(seconds=int(expires_in)) if expires_in else None,
        client_id=client_id,
        scope=str(body.get("scope") or (previous.scope if previous else "")),
    )
