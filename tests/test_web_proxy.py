"""A reverse proxy in front of the dashboard: without a password it must not open the dashboard to the proxy's
visitors. A real proxy (a threading http.server) in front of a real `scheduler web` subprocess, forwarding either
as a stock nginx `location / { proxy_pass http://127.0.0.1:PORT; }` does (HTTP/1.0, Host 127.0.0.1:PORT,
Connection: close, no forwarding header at all) or as a proxy configured to add X-Forwarded-For.

A proxy that speaks HTTP/1.1 and adds no header cannot be told from a browser on this machine; the README says so
and never to put one in front of a dashboard without a password."""

from __future__ import annotations

import http.client
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from bs4 import BeautifulSoup

from tests.helpers_web import POSTS, TIP_IDS, serving, web  # noqa: F401
from tests.test_cli import CLI
from tests.test_web_cli import free_port

PASSWORD = "correct horse battery"
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
              "content-length", "host"}


class _HTTP10(http.client.HTTPConnection):
    """Speaks HTTP/1.0 upstream, as nginx's proxy_pass does unless told `proxy_http_version 1.1`."""

    _http_vsn, _http_vsn_str = 10, "HTTP/1.0"


@contextmanager
def reverse_proxy(port: int, *, forwarding: dict[str, str] | None = None, stock_nginx: bool = False):
    """A proxy on a free 127.0.0.1 port forwarding everything to the dashboard on ``port`` with ``Host:
    127.0.0.1:PORT`` and ``X-Forwarded-For: <visitor>`` (or the ``forwarding`` headers given), yielding its URL.
    ``stock_nginx``: as nginx's default proxy_pass, HTTP/1.0 with ``Connection: close`` and no forwarding header."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def _forward(self):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            headers["Host"] = f"127.0.0.1:{port}"
            if stock_nginx:
                headers["Connection"] = "close"
            else:
                headers.update(forwarding if forwarding is not None else {"X-Forwarded-For": self.client_address[0]})
            upstream = (_HTTP10 if stock_nginx else http.client.HTTPConnection)("127.0.0.1", port, timeout=30)
            try:
                upstream.request(self.command, self.path, body=body, headers=headers)
                answer = upstream.getresponse()
                data = answer.read()
                self.send_response(answer.status)
                for name, value in answer.getheaders():
                    if name.lower() not in HOP_BY_HOP:
                        self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            finally:
                upstream.close()

        do_GET = do_POST = do_PATCH = do_DELETE = _forward

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@contextmanager
def running_dashboard(cli: CLI):
    """A real `scheduler web` on a free port of 127.0.0.1 for ``cli``'s ledger, once it answers; yields the port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "scheduler", "web", "--port", str(port)], env=cli.env,
                            cwd=cli.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read()
            try:
                if requests.get(f"http://127.0.0.1:{port}/login", timeout=5).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert time.monotonic() < deadline, "the dashboard did not answer"
            time.sleep(0.2)
        yield port
    finally:
        proc.terminate()
        proc.wait(30)


@pytest.fixture
def dashboard(tmp_path):
    """A real `scheduler web` with the seed's posts, no password; yields (CLI, port)."""
    cli = CLI(tmp_path)
    cli.run("import", str(POSTS))
    with running_dashboard(cli) as port:
        yield cli, port


def sign_in(session: requests.Session, base: str) -> requests.Response:
    page = session.get(f"{base}/login", timeout=30)
    assert page.status_code == 200, page.text
    token = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
    return session.post(f"{base}/login", data={"csrf": token, "username": "admin", "password": PASSWORD,
                                               "next": "/queue"}, allow_redirects=False, timeout=30)


@pytest.mark.parametrize("proxy", ["stock nginx", "X-Forwarded-For"])
def test_a_proxy_in_front_of_the_password_less_dashboard_is_refused_until_a_password_is_set(dashboard, proxy):
    cli, port = dashboard
    token = cli.run("web", "token", "create", "ci-bot").stdout.strip()
    direct = f"http://127.0.0.1:{port}"
    assert requests.get(f"{direct}/queue", timeout=30).status_code == 200  # on this machine: open, as before
    # A session and its CSRF token taken on this machine, replayed through the proxy: refused too.
    local = requests.Session()
    csrf = BeautifulSoup(local.get(f"{direct}/queue", timeout=30).text, "html.parser").find(
        "meta", attrs={"name": "csrf-token"})["content"]
    sign = "HTTP/1.0" if proxy == "stock nginx" else "X-Forwarded-For"

    with reverse_proxy(port, stock_nginx=proxy == "stock nginx") as proxied:
        for path in ("/queue", "/calendar", "/login", f"/queue/{TIP_IDS[0]}"):
            page = requests.get(f"{proxied}{path}", timeout=30, allow_redirects=False)
            assert page.status_code == 403, (path, page.status_code)
            assert "through a proxy" in page.text and "scheduler web passwd" in page.text and sign in page.text
            assert "tsid" not in page.cookies  # no session handed out through the proxy
        paused = requests.post(f"{proxied}/queue/pause", data={"csrf": csrf, "reason": "from outside"},
                               cookies=local.cookies, allow_redirects=False, timeout=30)
        assert paused.status_code == 403 and cli.json("status")["paused"] is False
        api = requests.get(f"{proxied}/api/v1/queue", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert api.status_code == 403 and sign in api.json()["error"]["message"]
        removed = requests.delete(f"{proxied}/api/v1/queue/{TIP_IDS[0]}", timeout=30,
                                  headers={"Authorization": f"Bearer {token}"})
        assert removed.status_code == 403
        assert TIP_IDS[0] in cli.queue_ids()

        done = subprocess.run([sys.executable, "-m", "scheduler", "web", "passwd", "--password-stdin"],
                              input=PASSWORD + "\n", env=cli.env, capture_output=True, text=True, cwd=cli.tmp)
        assert done.returncode == 0, done.stderr

        # With a password the proxy may serve it: pages ask for the sign-in, and the sign-in works through it.
        visitor = requests.Session()
        assert visitor.get(f"{proxied}/queue", allow_redirects=False, timeout=30).status_code == 303
        signed_in = sign_in(visitor, proxied)
        assert signed_in.status_code == 303 and signed_in.headers["location"] == "/queue"
        queue = visitor.get(f"{proxied}/queue", timeout=30)
        assert queue.status_code == 200 and "Sign out (admin)" in queue.text
        api = requests.get(f"{proxied}/api/v1/queue", headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert api.status_code == 200


@pytest.mark.parametrize("header", [
    {"X-Forwarded-For": "203.0.113.9"}, {"Forwarded": "for=203.0.113.9"}, {"X-Real-IP": "203.0.113.9"},
    {"X-Forwarded-Host": "dash.example.com"}, {"X-Forwarded-Proto": "https"}, {"Via": "1.1 proxy"},
    {"X-Client-IP": "203.0.113.9"}, {"X-Original-Forwarded-For": "203.0.113.9"}, {"True-Client-IP": "203.0.113.9"},
    {"CF-Connecting-IP": "203.0.113.9"}, {"X-Cluster-Client-IP": "203.0.113.9"}, {"X-Forwarded-For": ""},
])
def test_each_forwarding_header_is_refused_without_a_password(web, header):  # noqa: F811
    client = web.client()
    page = client.get("/queue", headers=header)
    assert page.status_code == 403 and "scheduler web passwd" in page.text
    assert "tsid" not in client.cookies
    assert client.get("/queue").status_code == 200
    web.set_password(PASSWORD)
    assert client.get("/login", headers=header).status_code == 200


def test_a_peer_that_is_not_loopback_is_refused_without_a_password(web):  # noqa: F811
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from starlette.testclient import TestClient

    outsider = TestClient(web.app(), base_url="http://127.0.0.1", client=("192.0.2.44", 40000))
    page = outsider.get("/queue")
    assert page.status_code == 403 and "192.0.2.44" in page.text and "scheduler web passwd" in page.text
    web.set_password(PASSWORD)
    assert outsider.get("/login").status_code == 200


def raw_request(base: str, request: bytes) -> bytes:
    """``request`` sent as written over one connection to ``base``; the answer's status line."""
    import socket

    host, port = base.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(request)
        answer = b""
        while b"\r\n" not in answer and (chunk := sock.recv(65536)):
            answer += chunk
    return answer.split(b"\r\n", 1)[0]


def test_signs_of_a_proxy_as_uvicorn_passes_them_are_refused_without_a_password(web):  # noqa: F811
    """On the wire, through uvicorn: HTTP/1.0 (with or without Host), and forwarding headers spelled as uvicorn
    passes them on (X_Forwarded_For with underscores); a browser's plain HTTP/1.1 request still gets in."""
    with serving(web.app()) as base:
        assert raw_request(base, b"GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                           ).endswith(b" 200 OK")
        for request in (b"GET /queue HTTP/1.0\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
                        b"GET /queue HTTP/1.0\r\n\r\n",
                        b"POST /queue/pause HTTP/1.0\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n",
                        b"GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\nX_Forwarded_For: 203.0.113.9\r\n"
                        b"Connection: close\r\n\r\n",
                        b"GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Client-IP: 203.0.113.9\r\n"
                        b"Connection: close\r\n\r\n",
                        b"GET /queue HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Original-Forwarded-For: 203.0.113.9\r\n"
                        b"Connection: close\r\n\r\n"):
            assert raw_request(base, request).endswith(b" 403 Forbidden"), request
        web.set_password(PASSWORD)  # with a password, HTTP/1.0 is served (the sign-in page)
        assert raw_request(base, b"GET /login HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").endswith(b" 200 OK")


def test_the_bind_refusal_says_a_proxy_needs_a_password(web):  # noqa: F811
    from scheduler.domain.errors import AccessError
    from scheduler.web.server import check_bind

    with pytest.raises(AccessError) as refused:
        check_bind(web.store, "0.0.0.0")
    message = str(refused.value)
    assert "scheduler web passwd" in message and "proxy" in message
    assert "through an SSH tunnel or a proxy" not in message  # no longer suggests a proxy as the way around
    # Honest: a proxy that shows no sign of itself cannot be refused, so it is not claimed to be.
    assert "refuses every proxied request" not in message
    assert "never put a reverse proxy in front of a dashboard without a password" in message.lower()
