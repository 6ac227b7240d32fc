"""What every network stand-in shares: a real HTTP server on 127.0.0.1 with fault injection.

The X, Bluesky and Mastodon stand-ins (``scheduler.standins.x``, ``bluesky_standin``, ``mastodon_standin``) subclass
``StandinServer`` and supply their routes, their error bodies and their rate-limit headers. The faults and the
control API are the same for all three, so a test or a soak run steers every network alike:

- ``inject(endpoint, kind, times=1, seconds=0, reset_in=900)`` answers the next requests to an endpoint with a
  fault; ``set_fault_rate(p, kinds, seed, endpoints, seconds, reset_in)`` draws faults at random (each drawn
  ``slow`` sleeps ``seconds``, each drawn ``rate_limited`` resets ``reset_in`` from then); ``set_latency(ms)``
  delays every request.
- Kinds: the network's 401 (``unauthorized``), its 429 with its rate-limit headers (``rate_limited``), 500, 502,
  503 and 504 before any work (``server_error``, ``bad_gateway``, ``unavailable``, ``gateway_timeout``), a slow
  reply (``slow``, then the work is done), a connection closed unanswered before the work (``drop``), and the
  dangerous ones where the work is done and the client never learns it: the connection closed unanswered
  (``create_then_drop``), reset with a TCP RST (``create_then_reset``), or a 500/502/503/504 after the fact
  (``create_then_server_error``, ``create_then_bad_gateway``, ``create_then_unavailable``,
  ``create_then_gateway_timeout``), the answer's head sent but its body cut short (``create_then_truncate``), bytes
  that are no answer written straight onto the connection (``create_then_garbage``: under TLS they bypass the
  session, so the client's TLS layer breaks mid-answer), or the answer held back ``seconds`` so the client's read
  times out (``create_then_stall``). A subclass adds its own kinds (``EXTRA_FAULTS``).
- ``use_tls(context)`` before ``start()`` serves HTTPS with that server context (``url`` is then https).
- Metrics: each stand-in serves counters for its posts that grow with their age (``scheduler.standins.metrics``),
  ages measured on ``metrics_clock`` times ``metrics_speed`` (``set_metrics_clock``, ``set_metrics_speed``), and
  ``delete_post(id)`` makes a post gone as its author deleting it would.
- ``/_standin/fault``, ``/_standin/fault_rate``, ``/_standin/latency``, ``/_standin/reset`` (POST, JSON) and
  ``/_standin/stats`` (GET), ``/_standin/metrics_speed`` and ``/_standin/delete`` (POST, ``{"id": ...}``) do the same
from another process; a subclass adds more.
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

MAX_SLEEP_S = 60.0  # no fault or latency may hold a request thread longer than this

COMMON_FAULTS = (
    "unauthorized",
    "rate_limited",
    "server_error",
    "bad_gateway",
    "unavailable",
    "gateway_timeout",
    "slow",
    "drop",
    "create_then_drop",
    "create_then_reset",
    "create_then_server_error",
    "create_then_bad_gateway",
    "create_then_unavailable",
    "create_then_gateway_timeout",
    "create_then_truncate",
    "create_then_garbage",
    "create_then_stall",
)
GATEWAY_STATUS = {"server_error": 500, "bad_gateway": 502, "unavailable": 503, "gateway_timeout": 504}
DEFAULT_RANDOM_KINDS = ("unavailable", "rate_limited", "create_then_drop")


@dataclass
class Fault:
    kind: str
    seconds: float = 0.0  # "slow"
    reset_in: float = 900.0  # "rate_limited": the window resets this long from now


@dataclass
class Request:
    method: str
    path: str
    query: str
    headers: Any  # email.message.Message-like, case-insensitive
    body: bytes

    def params(self) -> dict[str, Any]:
        """Query and body parameters: a form, a JSON object, or the query string. Repeated names
        (``media_ids[]``) give lists."""
        content_type = self.headers.get("Content-Type", "")
        if content_type.startswith("application/json"):
            try:
                body = json.loads(self.body or b"{}")
            except ValueError:
                return {}
            return body if isinstance(body, dict) else {}
        source = self.body.decode("utf-8", "replace") if self.method == "POST" and self.body else self.query
        if content_type.startswith("multipart/form-data"):
            return {k: v for k, v in multipart_fields(content_type, self.body).items()}
        params: dict[str, Any] = {}
        for name, value in parse_qsl(source, keep_blank_values=True):
            if name.endswith("[]"):
                params.setdefault(name[:-2], []).append(value)
            else:
                params[name] = value
        return params

    @property
    def is_form(self) -> bool:
        return self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")

    def query_params(self) -> dict[str, str]:
        return {k: v[-1] for k, v in parse_qs(self.query).items()}


@dataclass
class Reply:
    status: int
    body: Any  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False  # close the connection unanswered (FIN)
    reset: bool = False  # abort the connection unanswered (RST)
    truncate: bool = False  # send the head and half the body, then close the connection
    garbage: bool = False  # write bytes that are no answer under any TLS session, then abort the connection


@dataclass
class _LogEntry:
    method: str
    path: str
    endpoint: str | None
    status: int | None  # None: the connection was dropped


class StandinServer:
    """A stand-in network on 127.0.0.1. Subclasses set NAME, ENDPOINTS, EXTRA_FAULTS and implement
    ``route``, ``dispatch`` and ``fault_reply``; every public method is thread-safe."""

    NAME = "standin"
    ENDPOINTS: tuple[str, ...] = ()
    WRITE_ENDPOINTS: tuple[str, ...] = ()  # where random faults strike by default
    EXTRA_FAULTS: tuple[str, ...] = ()

    def __init__(self, *, port: int = 0, latency_ms: float = 0.0) -> None:
        self._port = port
        self._lock = threading.RLock()
        self._stopping = threading.Event()  # wakes sleeping request threads on stop()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._faults: dict[str, deque[Fault]] = {}
        self._log: list[_LogEntry] = []
        self._received: dict[str, int] = {}
        self._latency_s = latency_ms / 1000.0
        self._fault_rate = 0.0
        self._fault_rate_kinds: tuple[str, ...] = ()
        self._fault_rate_endpoints: tuple[str, ...] = ()
        self._fault_rate_seconds = 0.0
        self._fault_rate_reset_in = 900.0
        self._rng = random.Random()
        self._tls: Any = None  # an ssl.SSLContext (server side), or None for plain HTTP
        self._metrics_clock = time.time
        self._metrics_speed = 1.0
        self.started_at = time.time()

    def use_tls(self, context: Any) -> None:
        """Serve HTTPS with ``context`` (an ``ssl.SSLContext`` holding the server's certificate); before start()."""
        self._tls = context

    @property
    def fault_kinds(self) -> tuple[str, ...]:
        return COMMON_FAULTS + self.EXTRA_FAULTS

    # -- lifecycle ---------------------------------------------------------------------------------

    def start(self) -> str:
        handler = type("_BoundHandler", (_Handler,), {"standin": self})
        self._server = _Server(("127.0.0.1", self._port), handler)
        if self._tls is not None:
            self._server.socket = self._tls.wrap_socket(self._server.socket, server_side=True)
        self._stopping.clear()
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"standin-{self.NAME}", daemon=True
        )
        self._thread.start()
        return self.url

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self):  # noqa: ANN204 - returns the subclass
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("the stand-in is not running; call start()")
        scheme = "https" if self._tls is not None else "http"
        return f"{scheme}://127.0.0.1:{self._server.server_address[1]}"

    # -- faults ------------------------------------------------------------------------------------

    def inject(self, endpoint: str, kind: str, *, times: int = 1, seconds: float = 0.0, reset_in: float = 900.0) -> None:
        """Answer the next ``times`` requests to ``endpoint`` with fault ``kind``."""
        if endpoint not in self.ENDPOINTS:
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {self.ENDPOINTS}")
        if kind not in self.fault_kinds:
            raise ValueError(f"unknown fault kind {kind!r}; one of {self.fault_kinds}")
        fault = Fault(kind, seconds=min(float(seconds), MAX_SLEEP_S), reset_in=reset_in)
        with self._lock:
            self._faults.setdefault(endpoint, deque()).extend([fault] * times)

    def set_fault_rate(self, p: float, kinds: tuple[str, ...] | list[str] = DEFAULT_RANDOM_KINDS,
                       seed: int | None = None, endpoints: tuple[str, ...] | list[str] | None = None,
                       seconds: float = 0.0, reset_in: float = 900.0) -> None:
        """Each request to ``endpoints`` (default: the ones that create) fails with probability ``p``; a drawn
        ``slow`` sleeps ``seconds``, a drawn ``rate_limited`` says the window resets ``reset_in`` from then."""
        unknown = [k for k in kinds if k not in self.fault_kinds]
        if unknown or not 0.0 <= p <= 1.0:
            raise ValueError(f"bad fault rate {p!r} or kinds {unknown}")
        with self._lock:
            self._fault_rate = p
            self._fault_rate_kinds = tuple(kinds)
            self._fault_rate_endpoints = tuple(endpoints or self.WRITE_ENDPOINTS)
            self._fault_rate_seconds = min(float(seconds), MAX_SLEEP_S)
            self._fault_rate_reset_in = float(reset_in)
            self._rng = random.Random(seed)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()
            self._fault_rate = 0.0

    def set_latency(self, ms: float) -> None:
        with self._lock:
            self._latency_s = max(0.0, min(float(ms) / 1000.0, MAX_SLEEP_S))

    # -- metrics -----------------------------------------------------------------------------------

    def set_metrics_clock(self, clock) -> None:
        """The clock (epoch seconds) that posts' ages are measured on; ``time.time`` by default."""
        with self._lock:
            self._metrics_clock = clock

    def set_metrics_speed(self, speed: float) -> None:
        """How fast posts age: 1 is real time, 3600 an hour a second."""
        if not 0.0 < float(speed) < float("inf"):
            raise ValueError(f"metrics speed must be a number above 0, not {speed!r}")
        with self._lock:
            self._metrics_speed = float(speed)

    def age_of(self, created: float) -> float:
        """The age in seconds, on the metrics clock and speed, of what was created at epoch ``created``."""
        with self._lock:
            return (self._metrics_clock() - created) * self._metrics_speed

    def delete_post(self, post_id: str) -> None:
        """The post is gone, as when its author deletes it (a subclass says what that means on its network)."""
        raise NotImplementedError

    def _next_fault(self, endpoint: str) -> Fault | None:
        with self._lock:
            queue = self._faults.get(endpoint)
            if queue:
                return queue.popleft()
            if self._fault_rate and endpoint in self._fault_rate_endpoints and self._rng.random() < self._fault_rate:
                return Fault(self._rng.choice(self._fault_rate_kinds), seconds=self._fault_rate_seconds,
                             reset_in=self._fault_rate_reset_in)
            return None

    # -- inspection --------------------------------------------------------------------------------

    def request_count(self, endpoint: str | None = None) -> int:
        with self._lock:
            return sum(1 for e in self._log if endpoint is None or e.endpoint == endpoint)

    def requests_received(self, endpoint: str) -> int:
        """Requests to ``endpoint`` that arrived, answered or not yet (the log has only answered ones)."""
        with self._lock:
            return self._received.get(endpoint, 0)

    def request_log(self) -> list[dict[str, Any]]:
        with self._lock:
            return [vars(e).copy() for e in self._log]

    def reset(self) -> None:
        """Forget faults and the request log (a subclass also forgets what was posted)."""
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self._received.clear()
            self._fault_rate = 0.0

    # -- what a subclass supplies ------------------------------------------------------------------

    def route(self, method: str, path: str) -> str | None:
        """The endpoint name a request is for, or None (404)."""
        raise NotImplementedError

    def dispatch(self, endpoint: str, req: Request) -> Reply:
        """Do the work of a request and answer it."""
        raise NotImplementedError

    def fault_reply(self, fault: Fault, endpoint: str, req: Request) -> Reply:
        """The network's answer for an injected fault that is an error reply."""
        raise NotImplementedError

    def not_found(self) -> Reply:
        return Reply(404, {"error": "Not Found"})

    def control(self, action: str, req: Request, args: dict[str, Any]) -> Reply | None:
        """A network's own ``/_standin/`` actions; None: unknown."""
        return None

    def stats(self) -> dict[str, Any]:
        return {"requests": self.request_count(), "by_endpoint": {e: self.request_count(e) for e in self.ENDPOINTS}}

    # -- request handling (called from handler threads) --------------------------------------------

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(min(seconds, MAX_SLEEP_S))

    def _record(self, method: str, path: str, endpoint: str | None, status: int | None) -> None:
        with self._lock:
            self._log.append(_LogEntry(method, path, endpoint, status))

    def _control(self, req: Request) -> Reply:
        action = req.path[len("/_standin/"):]
        try:
            args = json.loads(req.body or b"{}") if req.method == "POST" else dict(parse_qsl(req.query))
            if action == "fault" and req.method == "POST":
                self.inject(args["endpoint"], args["kind"], times=int(args.get("times", 1)),
                            seconds=float(args.get("seconds", 0)), reset_in=float(args.get("reset_in", 900)))
            elif action == "fault_rate" and req.method == "POST":
                self.set_fault_rate(float(args["p"]), args.get("kinds", DEFAULT_RANDOM_KINDS), args.get("seed"),
                                    args.get("endpoints"), float(args.get("seconds", 0)),
                                    float(args.get("reset_in", 900)))
            elif action == "latency" and req.method == "POST":
                self.set_latency(float(args["ms"]))
            elif action == "reset" and req.method == "POST":
                self.reset()
            elif action == "metrics_speed" and req.method == "POST":
                self.set_metrics_speed(float(args["speed"]))
            elif action == "delete" and req.method == "POST":
                self.delete_post(str(args["id"]))
            elif action == "stats" and req.method == "GET":
                return Reply(200, self.stats())
            else:
                reply = self.control(action, req, args)
                return reply if reply is not None else Reply(404, {"error": f"unknown control {req.method} {action}"})
        except (KeyError, ValueError, TypeError) as exc:
            return Reply(400, {"error": f"bad control request: {exc!r}"})
        return Reply(200, {"ok": True})

    def handle(self, req: Request) -> Reply:
        if req.path.startswith("/_standin/"):
            return self._control(req)
        with self._lock:
            latency = self._latency_s
        self.sleep(latency)
        endpoint = self.route(req.method, req.path)
        if endpoint is None:
            return self.not_found()
        with self._lock:
            self._received[endpoint] = self._received.get(endpoint, 0) + 1
        fault = self._next_fault(endpoint)
        if fault is not None:
            if fault.kind == "drop":
                return Reply(0, None, drop=True)
            if fault.kind == "slow":
                self.sleep(fault.seconds)
            elif not fault.kind.startswith("create_then_"):
                return self.fault_reply(fault, endpoint, req)
        reply = self.dispatch(endpoint, req)
        if fault is None or not fault.kind.startswith("create_then_"):
            return reply
        # The work is done (a POST created its post); the client learns nothing of it.
        if fault.kind == "create_then_drop":
            return Reply(0, None, drop=True)
        if fault.kind == "create_then_reset":
            return Reply(0, None, reset=True)
        if fault.kind == "create_then_truncate":
            reply.truncate = True
            return reply
        if fault.kind == "create_then_garbage":
            return Reply(0, None, garbage=True)
        if fault.kind == "create_then_stall":
            self.sleep(fault.seconds)
            return reply
        return self.fault_reply(Fault(fault.kind[len("create_then_"):]), endpoint, req)


def serve_until_signalled(standin, settings) -> int:
    """``python -m`` for a stand-in: start it, print its URL and then ``settings(url)`` (the fake credentials a
    demo needs, as ``NAME=value`` lines), and serve until SIGTERM or SIGINT."""
    import signal

    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    url = standin.start()
    print(url, flush=True)
    for name, value in settings(url).items():
        print(f"{name}={value}", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        standin.stop()
    return 0


def multipart_fields(content_type: str, body: bytes) -> dict[str, bytes]:
    """Form fields of a multipart/form-data body (the stdlib email parser does the MIME work); none of
    another body."""
    if not content_type.startswith("multipart/form-data"):
        return {}
    message = BytesParser(policy=HTTP).parsebytes(b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + body)
    fields: dict[str, bytes] = {}
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if name:
            fields[str(name)] = part.get_payload(decode=True) or b""
    return fields


def _abort(connection: socket.socket) -> None:
    """Close with a TCP RST instead of a FIN, as when a TLS session fails (see scheduler.standins.x)."""
    connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    os.close(connection.detach())


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    standin: StandinServer
    protocol_version = "HTTP/1.1"  # keep-alive: a dropped reply then hits a live connection, as in production
    timeout = 30
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silent: tests read the request log instead."""

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        req = Request(self.command, split.path, split.query, self.headers, body)
        endpoint = None if split.path.startswith("/_standin/") else self.standin.route(self.command, split.path)
        reply = self.standin.handle(req)
        if reply.drop or reply.reset or reply.garbage:
            self.standin._record(self.command, split.path, endpoint, None)
            self.close_connection = True
            if reply.garbage:
                # Straight onto the TCP stream, under any TLS session: a TLS record the session cannot decrypt.
                os.write(self.connection.fileno(), b"\x17\x03\x03\x00\x20" + os.urandom(32))
            if reply.reset or reply.garbage:
                _abort(self.connection)
            return
        if not split.path.startswith("/_standin/"):
            self.standin._record(self.command, split.path, endpoint, reply.status)
        if isinstance(reply.body, bytes):
            data = reply.body
        else:
            data = json.dumps(reply.body).encode() if reply.body is not None else b""
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if data and not isinstance(reply.body, bytes):
            self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if reply.truncate:
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)  # a FIN: the client reads the short body, then the end
            return
        self.wfile.write(data)

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_DELETE = _serve
