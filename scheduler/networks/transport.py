"""Aim tweepy's hard-coded X URLs at a configured API base, and give every request a timeout.

tweepy.Client always builds ``https://api.twitter.com/...`` URLs and has no timeout option. Rather
than patch tweepy, we mount an HTTPAdapter on its ``requests`` session: by the time ``send()`` runs,
the request is fully prepared and OAuth 1.0a-signed for X's own URL, so rewriting only the scheme,
host and base path puts on the wire exactly the request X would get (the stand-in verifies that).
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from requests.utils import get_environ_proxies

X_API_URL = "https://api.twitter.com"
# Every origin tweepy or our media upload may address; all of them go to the configured base.
X_ORIGINS = ("https://api.twitter.com", "https://api.x.com", "https://upload.twitter.com", "https://upload.x.com")
DEFAULT_TIMEOUT: tuple[float, float] = (5.0, 20.0)  # (connect, read) seconds


def is_x_itself(api_url: str) -> bool:
    return api_url.rstrip("/") in X_ORIGINS


class XTransportAdapter(HTTPAdapter):
    """Rewrites X URLs to ``base_url`` (None: leave them) and applies a default (connect, read) timeout.

    ``max_retries=0``: urllib3 must never re-send a request on its own; a re-sent POST /2/tweets
    is exactly the double post this project exists to prevent.
    """

    def __init__(self, base_url: str | None, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 ca_file: str | None = None) -> None:
        super().__init__(max_retries=0)
        self.base_url = base_url.rstrip("/") if base_url else None
        self.timeout = timeout
        self.ca_file = ca_file  # trusted instead of the system's CAs (requests lets REQUESTS_CA_BUNDLE win otherwise)

    def rewrite(self, url: str) -> str:
        if self.base_url is None:
            return url
        original = urlsplit(url)
        base = urlsplit(self.base_url)
        return urlunsplit((base.scheme, base.netloc, base.path + original.path, original.query, original.fragment))

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout=None, verify=True, cert=None, proxies=None):  # type: ignore[no-untyped-def,override]
        if self.base_url is not None:
            request.url = self.rewrite(request.url or "")
            # requests chose proxies for X's host; choose again for where the request really goes
            # (a loopback stand-in must not be sent through an HTTP(S)_PROXY from the environment).
            proxies = get_environ_proxies(request.url)
        if self.ca_file is not None:
            verify = self.ca_file
        return super().send(
            request, stream=stream, timeout=timeout or self.timeout, verify=verify, cert=cert, proxies=proxies
        )


def mount(session: requests.Session, api_url: str, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
          ca_file: str | None = None) -> None:
    """Mount the adapter for every X origin on ``session``.

    With X's own base nothing is rewritten, but the adapter still goes on: it carries the timeout
    and the no-retry policy, which the plain session lacks.
    """
    adapter = XTransportAdapter(None if is_x_itself(api_url) else api_url, timeout, ca_file)
    for origin in X_ORIGINS:
        session.mount(origin, adapter)
