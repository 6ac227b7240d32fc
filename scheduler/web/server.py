"""Running the dashboard: the bind rule, and uvicorn on its own or beside the publishing service."""

from __future__ import annotations

import errno
import logging
import os
import socket
import threading

import uvicorn

from scheduler.app.access import is_loopback
from scheduler.config import Config
from scheduler.domain.errors import AccessError
from scheduler.ledger.store import Store
from scheduler.publishing.signals import Signals
from scheduler.web.app import create_app

log = logging.getLogger("scheduler.web")
DEFAULT_HOST, DEFAULT_PORT = "127.0.0.1", 8040


def check_bind(store: Store, host: str) -> None:
    """Only a loopback address may serve without a password."""
    if not is_loopback(host) and not store.has_password():
        raise AccessError(
            f"refusing to listen on {host}: no dashboard password is set, so anyone who can reach this "
            "address could change the queue. Set one with `scheduler web passwd`, or keep the default "
            f"--host {DEFAULT_HOST} and reach it from elsewhere through an SSH tunnel. Never put a reverse proxy "
            "in front of a dashboard without a password either: the dashboard refuses requests that show a proxy "
            "(a forwarding header, HTTP/1.0), but a proxy that speaks HTTP/1.1 and adds no header looks like a "
            "browser on this machine")


def parse_address(value: str) -> tuple[str, int]:
    """``[HOST:]PORT`` as given to ``serve --web``."""
    host, _, port = value.rpartition(":")
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise AccessError(f"--web {value!r}: give [HOST:]PORT, e.g. 8040 or 127.0.0.1:8040")
    return host, int(port)


def listen(host: str, port: int, option: str) -> list[socket.socket]:
    """The dashboard's listening sockets, bound here (not by uvicorn) so that a port in use is said plainly, naming
    the port and ``option`` (how to choose another), before anything claims the dashboard is up. Bound as asyncio
    would bind them for uvicorn: every address ``host`` resolves to, reusing an address in TIME_WAIT."""
    shown = f"[{host}]" if ":" in host else host
    sockets: list[socket.socket] = []
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            if os.name == "posix":
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6 and hasattr(socket, "IPPROTO_IPV6"):
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(2048)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise AccessError(f"cannot serve the dashboard on {shown}:{port}: the port is in use (another dashboard "
                              f"or program listens there); stop it, or choose another port with {option}") from None
        reason = exc.strerror or str(exc)
        raise AccessError(f"cannot serve the dashboard on {shown}:{port}: {reason}; choose another address with "
                          f"{option}") from None
    return sockets


def make_server(config: Config, store: Store, host: str, port: int):
    check_bind(store, host)
    app = create_app(config, store, local_only=is_loopback(host))
    # log_config=None: uvicorn's lines go through the project's logging (and its redaction).
    # Proxy headers (X-Forwarded-Proto, for Secure cookies) are trusted from 127.0.0.1 only.
    server_config = uvicorn.Config(app, host=host, port=port, log_config=None, lifespan="off",
                                   proxy_headers=True, forwarded_allow_ips="127.0.0.1", server_header=False,
                                   access_log=False)  # each open page polls every 2 s: no line per request
    return uvicorn.Server(server_config)


def describe(store: Store, host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    access = "sign-in required" if store.has_password() else "no password set: open to this machine only"
    return f"dashboard on http://{shown}:{port}/ ({access}); API under /api/v1 (OpenAPI: /api/v1/openapi.json)"


def serve_forever(config: Config, host: str, port: int) -> int:
    """`scheduler web`: the dashboard alone, in the foreground, until SIGINT/SIGTERM (then exit 0)."""
    # uvicorn stops gracefully on SIGTERM, then raises the signal again once its own handlers are gone: with
    # the default handler in place the process would die of it (exit -15). Ours takes it, and we exit 0.
    Signals().install()
    store = Store.open(config.database_url)
    sockets: list[socket.socket] = []
    try:
        server = make_server(config, store, host, port)
        sockets = listen(host, port, "--port")
        log.info("%s", describe(store, host, port))  # listening now: the address answers
        server.run(sockets=sockets)
    finally:
        for sock in sockets:
            sock.close()
        store.close()
    return 0


class WebThread:
    """The dashboard in a thread of the publishing service (`scheduler serve --web`)."""

    def __init__(self, config: Config, host: str, port: int):
        self.store = Store.open(config.database_url)
        try:
            self.server = make_server(config, self.store, host, port)
            self.sockets = listen(host, port, "--web HOST:PORT")
        except Exception:
            self.store.close()
            raise
        self.description = describe(self.store, host, port)
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": self.sockets}, name="web",
                                       daemon=True)

    def start(self, timeout: float = 15.0) -> None:
        import time

        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.02)
        if not self.server.started:
            self.stop()
            raise AccessError(f"the dashboard could not listen on {self.server.config.host}:"
                              f"{self.server.config.port} (is the port in use?); the log says why")
        log.info("%s", self.description)

    def stop(self, timeout: float = 5.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        for sock in self.sockets:
            sock.close()
        self.store.close()


def start(config: Config, address: str) -> WebThread:
    """`serve --web [HOST:]PORT`: the dashboard in a thread of the service's process, started."""
    thread = WebThread(config, *parse_address(address))
    thread.start()
    return thread
