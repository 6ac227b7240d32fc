"""A small HTTP front on 127.0.0.1 that forwards every request to a stand-in, unless ``override`` answers it.

``override(method, path) -> None | (status, headers, body) | ("after", status, headers, body)``: None forwards; a
reply answers instead of the stand-in; an ``"after"`` reply forwards first (the stand-in acts on the request, e.g.
creates the post) and then answers this instead of what the stand-in said. ``log``: (method, path) of each request.
"""

from __future__ import annotations

import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

HOP_BY_HOP = ("content-length", "connection", "transfer-encoding", "date", "server", "keep-alive")


class Front:
    def __init__(self, upstream_url: str, override: Callable[[str, str], Any]) -> None:
        self.log: list[tuple[str, str]] = []
        front = self

        class Handler(BaseHTTPRequestHandler):
            def _forward(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                front.log.append((self.command, self.path))
                reply = override(self.command, self.path)
                if reply is not None and reply[0] != "after":
                    return self._answer(*reply)
                headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", *HOP_BY_HOP)}
                request = urllib.request.Request(upstream_url + self.path, data=body, method=self.command,
                                                 headers=headers)
                try:
                    with urllib.request.urlopen(request, timeout=10) as answer:
                        status, data, answer_headers = answer.status, answer.read(), dict(answer.headers)
                except urllib.error.HTTPError as exc:
                    status, data, answer_headers = exc.code, exc.read(), dict(exc.headers)
                if reply is not None:
                    return self._answer(*reply[1:])
                self._answer(status, {k: v for k, v in answer_headers.items() if k.lower() not in HOP_BY_HOP}, data)

            def _answer(self, status: int, headers: dict[str, str], data: bytes) -> None:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_DELETE = _forward

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
