"""Fetching article pages and feeds from the web: politely, within limits, with errors a person can act on.

    fetcher = Fetcher(FetchSettings.from_config(config))
    page = fetcher.get(url, kinds=HTML_TYPES)                    # FetchError on any failure
    page = fetcher.get(feed_url, etag=..., last_modified=...)    # page.status == 304: unchanged

Addresses: a fetch given an ``AddressGuard`` (a feed's entry links: addresses the feed's author chose) connects
only to public addresses, and to the feed's own host when the feed itself is on a private network; every
connection (redirects too) resolves its host once, checks every address, and connects to the address it checked,
so a name that answers differently the second time (DNS rebinding) gains nothing.

Limits: one response may take at most ``[fetch] timeout`` in all (a server that trickles bytes
is cut off too; a read already waiting may add up to one more timeout) and hold at most ``[fetch] max_bytes`` after decompression; at most
``MAX_REDIRECTS`` redirects, http(s) only. Every request says who it is (``User-Agent:
tip-scheduler/<version> ...``) and robots.txt is honoured: a path the site's robots.txt closes to
that agent is not fetched. A ``FetchError`` says whether trying later may help (``transient``)
and, for 429/503, how long the server asked us to wait.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from scheduler.errors import FetchError

HTML_TYPES = ("text/html", "application/xhtml+xml")
MAX_REDIRECTS = 5
_ROBOTS_MAX_BYTES = 512 * 1024
_ROBOTS_CACHE_SECONDS = 3600
_CHUNK = 64 * 1024


def default_user_agent() -> str:
    from importlib.metadata import version

    return f"tip-scheduler/{version('tip-scheduler')} (imports articles of numbered tips; honours robots.txt)"


@dataclass(frozen=True)
class FetchSettings:
    timeout: timedelta
    max_bytes: int
    user_agent: str

    @classmethod
    def from_config(cls, config) -> FetchSettings:
        section = config["fetch"]
        return cls(section["timeout"], section["max_bytes"], section["user_agent"] or default_user_agent())

    @property
    def robots_token(self) -> str:
        """The product token robots.txt groups are matched against (``tip-scheduler``)."""
        return self.user_agent.split("/")[0].split()[0]


@dataclass(frozen=True)
class Page:
    url: str  # where the content came from, after redirects
    status: int  # 200, or 304 when the validators given still hold
    content: bytes
    media_type: str  # "text/html", lower case, without parameters ("" when the server gave none)
    charset: str | None
    etag: str | None
    last_modified: str | None
    address: str | None = None  # the IP address the content came from (the last hop's), when known

    def text(self) -> str:
        return self.content.decode(self.charset or "utf-8", errors="replace")


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
    def for_feed(cls, page: Page) -> AddressGuard:
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


class AddressNotAllowed(FetchError):
    """A fetch refused by its AddressGuard; ``reason`` says which address and why."""

    def __init__(self, url: str, reason: str):
        super().__init__(f"{url}: not fetched: {reason}")
        self.reason = reason


class Fetcher:
    """One HTTP session with its robots.txt cache; reuse it for every request of a run.

    ``resolve``: how host names become addresses (every connection resolves once and connects to what it got)."""

    def __init__(self, settings: FetchSettings, *, resolve: Resolver = system_resolver):
        self.settings = settings
        self._resolve = resolve
        self._sessions: dict[AddressGuard | None, object] = {}
        self._session = self._session_for(None)
        self._robots: dict[str, tuple[float, object]] = {}

    def _session_for(self, guard: AddressGuard | None):
        """A session whose every connection resolves once, is checked by ``guard`` (if any) and goes to the
        address checked. A guarded session ignores proxy settings: through a proxy the address could not be
        checked."""
        session = self._sessions.get(guard)
        if session is None:
            import requests

            session = requests.Session()
            session.max_redirects = MAX_REDIRECTS
            session.headers["User-Agent"] = self.settings.user_agent
            adapter = _PinnedAdapter(self._resolve, guard)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            if guard is not None:
                session.trust_env = False
            self._sessions[guard] = session
        return session

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()

    def get(self, url: str, *, kinds: tuple[str, ...] | None = None, etag: str | None = None,
            last_modified: str | None = None, accept: str = "*/*", guard: AddressGuard | None = None) -> Page:
        """GET ``url``; ``kinds`` lists the media types accepted (None: any); ``guard``: the addresses it may come
        from (robots.txt and every redirect included), else any."""
        _check_scheme(url)
        try:
            allowed = self._allowed(url, guard)
        except AddressNotAllowed as exc:  # robots.txt was refused: name the page asked for
            raise AddressNotAllowed(url, exc.reason) from None
        if not allowed:
            raise FetchError(
                f"{url}: the site's robots.txt asks '{self.settings.robots_token}' not to fetch this page. "
                "Save the page and import the file instead, or ask the site to allow it."
            )
        headers = {"Accept": accept}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        page = self._get(url, headers, self.settings.max_bytes, guard)
        if page.status == 304:
            return page
        if kinds is not None and page.media_type and page.media_type not in kinds:
            raise FetchError(
                f"{url}: not an HTML page (the server says {page.media_type}). "
                "Give the address of the article's web page."
            )
        return page

    def _get(self, url: str, headers: dict[str, str], max_bytes: int, guard: AddressGuard | None = None) -> Page:
        import requests
        from urllib3.exceptions import HTTPError as BodyError, ReadTimeoutError

        timeout = self.settings.timeout.total_seconds()
        started = time.monotonic()
        session = self._session_for(guard)
        try:
            with session.get(url, headers=headers, timeout=(timeout, timeout), stream=True) as response:
                _check_scheme(response.url)
                address = _peer(response)
                if response.status_code == 304:
                    return _page(response, b"", address)
                _raise_for_status(url, response)
                declared = response.headers.get("Content-Length", "")
                if declared.isdigit() and int(declared) > max_bytes:
                    raise _too_large(url, max_bytes)
                body = bytearray()
                # read1: whatever has arrived, so a server trickling bytes meets the deadline too.
                while chunk := response.raw.read1(_CHUNK, decode_content=True):
                    body += chunk
                    if len(body) > max_bytes:
                        raise _too_large(url, max_bytes)
                    if time.monotonic() - started > timeout:
                        raise requests.Timeout()
                return _page(response, bytes(body), address)
        except AddressRefused as exc:
            raise AddressNotAllowed(url, str(exc)) from None
        except requests.TooManyRedirects:
            raise FetchError(f"{url}: more than {MAX_REDIRECTS} redirects. Give the page's final address.") from None
        except (requests.Timeout, ReadTimeoutError):
            raise FetchError(
                f"{url}: timed out after {timeout:g} s ([fetch] timeout). The site is slow or down; try again later.",
                transient=True,
            ) from None
        except requests.ConnectionError as exc:
            raise FetchError(f"{url}: cannot connect ({_reason(exc)}). Check the address and the network.",
                             transient=True) from None
        except BodyError as exc:  # the body broke off mid-way (read1 is urllib3's, not wrapped by requests)
            raise FetchError(f"{url}: the connection broke off ({_reason(exc)}); will try again later.",
                             transient=True) from None
        except requests.RequestException as exc:
            raise FetchError(f"{url}: cannot fetch ({_reason(exc)}).") from None

    # -- robots.txt ------------------------------------------------------------------------

    def _allowed(self, url: str, guard: AddressGuard | None = None) -> bool:
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        cached = self._robots.get(origin)
        if cached is None or time.monotonic() - cached[0] > _ROBOTS_CACHE_SECONDS:
            cached = (time.monotonic(), self._read_robots(origin, guard))
            self._robots[origin] = cached
        rules = cached[1]
        return rules is None or rules.can_fetch(self.settings.robots_token, url)

    def _read_robots(self, origin: str, guard: AddressGuard | None = None):
        """The parsed robots.txt, or None when the site has none (everything allowed, RFC 9309)."""
        from urllib.robotparser import RobotFileParser

        try:
            page = self._get(f"{origin}/robots.txt", {"Accept": "text/plain"}, _ROBOTS_MAX_BYTES, guard)
        except FetchError as exc:
            if exc.status is not None and 400 <= exc.status < 500:
                return None
            raise
        rules = RobotFileParser()
        rules.parse(page.text().splitlines())
        return rules


def _check_scheme(url: str) -> None:
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError(f"{url}: only http:// and https:// addresses can be fetched.")


# -- connections: resolve once, check, connect to the address checked ---------------------------------


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


def _peer(response) -> str | None:
    """The address the response came from (the socket's peer), while the response is open."""
    try:
        return response.raw.connection.sock.getpeername()[0]
    except (AttributeError, OSError, TypeError, IndexError):
        return None


def _connect(conn, resolve: Resolver, guard: AddressGuard | None):
    """urllib3's ``_new_conn``, resolving once: the addresses found are checked by ``guard`` and the socket goes
    to one of them (never to a second answer of the name server)."""
    from urllib3.exceptions import ConnectTimeoutError, NameResolutionError, NewConnectionError
    from urllib3.util import connection

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
            return connection.create_connection((address, conn.port), conn.timeout,
                                                source_address=conn.source_address,
                                                socket_options=conn.socket_options)
        except socket.timeout as exc:
            raise ConnectTimeoutError(conn, f"Connection to {conn.host} timed out. "
                                            f"(connect timeout={conn.timeout})") from exc
        except OSError as exc:
            error = exc
    raise NewConnectionError(conn, f"Failed to establish a new connection: {error}") from error


def _pinned_adapter_class():
    import requests.adapters
    from urllib3 import HTTPConnectionPool, HTTPSConnectionPool, PoolManager
    from urllib3.connection import HTTPConnection, HTTPSConnection

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


def _PinnedAdapter(resolve: Resolver, guard: AddressGuard | None):  # noqa: N802 - a class, made on first use
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = _pinned_adapter_class()
    return _ADAPTER(resolve, guard)


_ADAPTER = None


def _page(response, content: bytes, address: str | None = None) -> Page:
    content_type = response.headers.get("Content-Type", "")
    media_type = content_type.split(";")[0].strip().lower()
    charset = None
    for param in content_type.split(";")[1:]:
        name, _, value = param.partition("=")
        if name.strip().lower() == "charset" and value.strip():
            charset = value.strip().strip('"').lower()
    return Page(url=response.url, status=response.status_code, content=content, media_type=media_type,
                charset=charset, etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"), address=address)


def _raise_for_status(url: str, response) -> None:
    status = response.status_code
    if status < 400:
        return
    if status in (404, 410):
        raise FetchError(f"{url}: not found (HTTP {status}). Check the address.", status=status)
    if status in (401, 403):
        raise FetchError(f"{url}: the site refused access (HTTP {status}).", status=status)
    if status == 429 or status >= 500:
        raise FetchError(f"{url}: the site answered HTTP {status}; will try again later.", status=status,
                         transient=True, retry_after=_retry_after(response.headers.get("Retry-After")))
    raise FetchError(f"{url}: the site answered HTTP {status}.", status=status)


def _retry_after(value: str | None) -> timedelta | None:
    # Only the delay-seconds form: an HTTP date would tie this to the clock, and feeds back off anyway.
    return timedelta(seconds=int(value)) if value and value.strip().isdigit() else None


def _too_large(url: str, max_bytes: int) -> FetchError:
    return FetchError(
        f"{url}: larger than {max_bytes:,} bytes ([fetch] max_bytes). Save the article and import the file, "
        "or raise the limit."
    )


def _reason(exc: Exception) -> str:
    # requests nests the socket error a few levels deep; its last line is the readable part.
    text = str(exc.args[0] if exc.args else exc)
    return text.rsplit(": ", 1)[-1].strip(" ')\"") or type(exc).__name__
