"""Fetching article pages and feeds from the web: politely, within limits, with errors a person can act on.

    fetcher = Fetcher(FetchSettings.from_config(config))
    page = fetcher.get(url, kinds=HTML_TYPES)                    # FetchError on any failure
    page = fetcher.get(feed_url, etag=..., last_modified=...)    # page.status == 304: unchanged

Addresses: every connection resolves its host once and connects to an address it resolved; a fetch given an
``AddressGuard`` (a feed's entry links) connects only where the guard allows (``fetch_addresses``).

Limits: one response may take at most ``[fetch] timeout`` in all (a server that trickles bytes
is cut off too; a read already waiting may add up to one more timeout) and hold at most ``[fetch] max_bytes`` after decompression; at most
``MAX_REDIRECTS`` redirects, http(s) only. Every request says who it is (``User-Agent:
tip-scheduler/<version> ...``) and robots.txt is honoured: a path the site's robots.txt closes to
that agent is not fetched. A ``FetchError`` says whether trying later may help (``transient``)
and, for 429/503, how long the server asked us to wait.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlsplit

from scheduler.domain.errors import FetchError
from scheduler.articles.fetch_addresses import (AddressGuard, AddressRefused, Resolver, peer_address, pinned_adapter,
                                               system_resolver)

__all__ = ["AddressGuard", "AddressNotAllowed", "Fetcher", "FetchSettings", "Page", "Resolver", "system_resolver"]

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
            import requests  # lazy: requests ~80 ms: only when a page is fetched; the service imports this module for feed polling

            session = requests.Session()
            session.max_redirects = MAX_REDIRECTS
            session.headers["User-Agent"] = self.settings.user_agent
            adapter = pinned_adapter(self._resolve, guard)
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
        import requests  # lazy: requests ~80 ms: only when a page is fetched; the service imports this module for feed polling
        from urllib3.exceptions import HTTPError as BodyError, ReadTimeoutError  # lazy: urllib3 ~60 ms: only when a page is fetched; the service imports this module for feed polling

        timeout = self.settings.timeout.total_seconds()
        started = time.monotonic()
        session = self._session_for(guard)
        try:
            with session.get(url, headers=headers, timeout=(timeout, timeout), stream=True) as response:
                _check_scheme(response.url)
                address = peer_address(response)
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
