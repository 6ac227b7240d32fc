"""Where a fetch may connect: public addresses, and a private feed's own host (issue 18).

A feed's entry links are its author's choice, so their pages are fetched only from public addresses (never this
machine, where the password-less dashboard listens, a private network or a link-local address such as a cloud's
metadata service), unless the feed itself is on such an address: then its own host and port too, at the address
the feed came from. Every connection resolves its host once, checks every address, and connects to an address it
checked, so a name that answers differently a moment later (DNS rebinding) gains nothing; redirects open new
connections and are checked the same way.

    guard = AddressGuard.for_feed(feed_page)     # from where the feed was fetched
    fetcher.get(entry_link, guard=guard)          # fetching.AddressNotAllowed names the link, address and why
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

# Resolves a host name to its IP addresses (as text): ``socket.getaddrinfo`` unless a Fetcher is given another
# (the tests give one that makes made-up names resolve to 127.0.0.1).
Resolver = Callable[[str, int], Sequence[str]]


def system_resolver(host: str, port: int) -> list[str]:
    return [info[4][0] for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(frozen=True)
class AddressGuard:
    """Where a fetch may connect: public addresses only; and, when ``home`` is set (a feed that is itself on a
    private network), that host and port at the address the feed came from."""

    home: tuple[str, int, str] | None = None  # (host name, port, address)

    @classmethod
    def for_feed(cls, page) -> AddressGuard:
        """The guard for a feed's entry links: the feed's own host is allowed too when it is not public."""
        if page.address is None or _public(page.address):
            return cls()
        parts = urlsplit(page.url)
        host = (parts.hostname or "").rstrip(".").lower()
        return cls((host, _port(parts.scheme, parts.port), _bare(page.address)))

    def addresses(self, host: str, port: int, resolved: Sequence[str]) -> list[str]:
        """The addresses a connection to ``host`` (resolved to ``resolved``) may go to; AddressRefused, naming
        the address and why, when any of them is not public. The feed's own host and port (``home``) go to the
        address the feed came from: the same server, whatever the name resolves to now."""
        host = host.rstrip(".").lower()
        if self.home is not None and (host, port) == self.home[:2]:
            return [self.home[2]]
        for address in resolved:
            if not _public(address):
                where = "" if self.home is None else (
                    f" (the feed is on a private network, so its own host {self.home[0]}:{self.home[1]} is allowed "
                    "too)")
                shown = host.strip("[]") if host.strip("[]") == _bare(address) else f"{host} is at {_bare(address)}"
                raise AddressRefused(
                    f"{shown}, {_kind(address)}: a feed's entry links are fetched only from public addresses{where}; "
                    "import the page with `scheduler import URL` if it is meant")
        return list(resolved)


class AddressRefused(Exception):
    """A connection the fetch's AddressGuard does not allow (not an OSError: urllib3 must not retry it)."""


def _bare(address: str) -> str:
    return address.split("%", 1)[0]  # an IPv6 zone ("fe80::1%eth0") is not part of the address


def _public(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(_bare(address))
    except ValueError:
        return False
    return ip.is_global and not ip.is_multicast


def _kind(address: str) -> str:
    ip = ipaddress.ip_address(_bare(address))
    if ip.is_loopback:
        return "a loopback address (this machine)"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_private:
        return "a private network address"
    return "not a public address"


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else (443 if scheme == "https" else 80)


def _connect(conn, resolve: Resolver, guard: AddressGuard | None):
    """urllib3's ``_new_conn``, resolving once: the addresses found are checked by ``guard`` and the socket goes
    to one of them (never to a second answer of the name server). The address connected to is kept as
    ``conn.peer_address`` (``peer_address`` reads it)."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError  # lazy: urllib3 ~60 ms: only when a page is fetched; the service imports this module for feed polling
    from urllib3.util import connection  # lazy: urllib3 ~60 ms: only when a page is fetched; the service imports this module for feed polling

    host = conn._dns_host  # the name as written (urllib3 keeps it for resolution)
    try:
        addresses = list(dict.fromkeys(resolve(host, conn.port)))
    except socket.gaierror as exc:
        raise NameResolutionError(conn.host, conn, exc) from exc
    if not addresses:
        raise NameResolutionError(conn.host, conn, socket.gaierror(socket.EAI_NONAME, "no address"))
    if guard is not None:
        addresses = guard.addresses(host, conn.port, addresses)
    error: OSError | None = None
    for address in addresses:
        try:
            sock = connection.create_connection((address, conn.port), conn.timeout,
                                                source_address=conn.source_address,
                                                socket_options=conn.socket_options)
        except socket.timeout as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. "
                                            f"(connect timeout={conn.timeout})") from exc
        except OSError as exc:
            error = exc
            continue
        # Recorded now, while it is certain: a server that closes the connection (HTTP/1.0, `Connection: close`)
        # has http.client drop the socket before the body is read, and its peer with it.
        conn.peer_address = address
        return sock
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error


def peer_address(response) -> str | None:
    """The address a requests response came from: where its connection connected (recorded by ``_connect``, so
    known even after the server closed the connection), or None when that connection was not made here."""
    return getattr(getattr(response.raw, "connection", None), "peer_address", None)


def _pinned_adapter_class():
    import requests.adapters  # lazy: requests ~80 ms: only when a page is fetched; the service imports this module for feed polling
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager  # lazy: urllib3 ~60 ms: only when a page is fetched; the service imports this module for feed polling
    from urllib3.connection import HTTPConnection, HTTPSConnection  # lazy: urllib3 ~60 ms: only when a page is fetched; the service imports this module for feed polling

    class Adapter(requests.adapters.HTTPAdapter):
        def __init__(self, resolve: Resolver, guard: AddressGuard | None):
            self._resolve, self._guard = resolve, guard
            super().__init__()

        def init_poolmanager(self, connections, maxsize, block=False, **pool_kwargs):
            resolve, guard = self._resolve, self._guard

            class Plain(HTTPConnection):
                def _new_conn(self):
                    return _connect(self, resolve, guard)

            class Secure(HTTPSConnection):
                def _new_conn(self):
                    return _connect(self, resolve, guard)

            class PlainPool(HTTPConnectionPool):
                ConnectionCls = Plain

            class SecurePool(HTTPSConnectionPool):
                ConnectionCls = Secure

            super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
            manager: PoolManager = self.poolmanager
            manager.pool_classes_by_scheme = {"http": PlainPool, "https": SecurePool}

    return Adapter


def pinned_adapter(resolve: Resolver, guard: AddressGuard | None):
    """A requests transport adapter whose every connection resolves once, is checked by ``guard`` (if any) and
    goes to an address checked."""
    global _ADAPTER
    if _ADAPTER is None:  # made on first use: requests loads only when something is fetched
        _ADAPTER = _pinned_adapter_class()
    return _ADAPTER(resolve, guard)


_ADAPTER = None
