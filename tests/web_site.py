"""A real web site on 127.0.0.1 for the fetch, URL import and feed tests: pages, feeds, robots.txt.

    with WebSite() as site:
        site.page("/blog/tips/", html)                               # 200 text/html
        site.page("/feed.xml", rss, content_type="application/rss+xml", etag='"v1"')
        site.redirect("/old", "/blog/tips/")                          # 301
        site.page("/slow", html, delay=5)                             # waits before answering
        site.page("/drip", html, trickle=1.0)                         # sends a byte a second
        site.page("/big", html, hide_length=True)                     # no Content-Length header
        site.page("/gone", b"", status=404)
        site.url("/blog/tips/"), site.requests                        # what was asked, with headers
    WebSite(protocol="HTTP/1.0")                                      # answers HTTP/1.0, closing each connection

A path with an ``etag`` (or ``last_modified``) answers 304 to a request whose If-None-Match (or
If-Modified-Since) matches it. Paths nobody set answer 404, robots.txt included.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    body: bytes
    status: int = 200
    content_type: str = "text/html; charset=utf-8"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    trickle: float = 0.0  # seconds between single bytes of the body
    hide_length: bool = False  # no Content-Length: the body ends when the connection closes
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Request:
    path: str
    headers: dict[str, str]


class WebSite:
    def __init__(self, protocol: str = "HTTP/1.1") -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = protocol

            def do_GET(self):  # noqa: N802 (http.server's name)
                site._serve(self)

            def log_message(self, *args):
                pass

        class Server(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client that hung up (timeouts and size limits under test) is not news

        self._server = Server(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> WebSite:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def base(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def url(self, path: str) -> str:
        return self.base + path

    def page(self, path: str, body: bytes | str, **options) -> str:
        with self._lock:
            self.routes[path] = Route(body.encode() if isinstance(body, str) else body, **options)
        return self.url(path)

    def redirect(self, path: str, to: str, status: int = 301) -> str:
        return self.page(path, b"", status=status, headers={"Location": to})

    def requested(self, path: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.path == path]

    def _serve(self, handler: BaseHTTPRequestHandler) -> None:
        with self._lock:
            self.requests.append(Request(handler.path, dict(handler.headers.items())))
            route = self.routes.get(handler.path)
        if route is None:
            route = Route(b"not here", status=404, content_type="text/plain")
        if route.delay:
            time.sleep(route.delay)
        unchanged = (route.etag and handler.headers.get("If-None-Match") == route.etag) or (
            route.last_modified and handler.headers.get("If-Modified-Since") == route.last_modified
        )
        status, body = (304, b"") if unchanged else (route.status, route.body)
        try:
            handler.send_response(status)
            if status != 304:
                handler.send_header("Content-Type", route.content_type)
                if route.hide_length:
                    handler.send_header("Connection", "close")
                    handler.close_connection = True
                else:
                    handler.send_header("Content-Length", str(len(body)))
            if route.etag:
                handler.send_header("ETag", route.etag)
            if route.last_modified:
                handler.send_header("Last-Modified", route.last_modified)
            for name, value in route.headers.items():
                handler.send_header(name, value)
            handler.end_headers()
            if route.trickle:
                for byte in body:
                    handler.wfile.write(bytes([byte]))
                    handler.wfile.flush()
                    time.sleep(route.trickle)
            else:
                handler.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout or size limit under test)
