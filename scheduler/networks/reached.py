"""Whether a failed call may have reached the network: decided here, once, for every publisher.

A call that fails without an answer is one of two things, and the difference decides whether a post may be sent
again:

- **never sent**: the failure proves no byte of the request left this machine. Only failures of *connecting* prove
  that: the name did not resolve, the connection was refused, connecting timed out, the TLS handshake failed (the
  certificate was refused, or the handshake broke: the request is written only after it completes), the URL was
  not one that can be sent, or no connection came free from the pool.
- **may have reached** the network: everything else, i.e. anything after the connection was up. The request may
  have been read and acted on before the connection reset, the answer was cut short, the TLS session broke while
  the answer was read, the read timed out, or the server closed the connection. A post-creating call that fails
  this way has an unknown outcome and is looked up before anything is sent again.

Redirects are never followed (``refuse_redirects``): a request that failed to connect after a redirect was answered
would prove nothing about the first request, which the server had read and may have acted on. A call answered with
a redirect fails as a call with an answer (requests: TooManyRedirects, not a proof; Bluesky: the 3xx status), and a
post-creating call answered so is uncertain. Any other exception out of a post-creating call (a library's
ValueError while reading an answer, say) is uncertain too (``unexpected``).

Every HTTP stack the publishers use wraps the failure differently (requests over urllib3 over http.client and ssl
for X and Mastodon; httpx over httpcore for Bluesky; the SDKs wrap those again), so the classifier walks the whole
chain of wrapped exceptions and looks for a proof of "never sent". Without one the call may have reached the
network: the safe side, since a needless look-up costs a read and a wrong "never sent" costs a double post.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterator

from scheduler.networks.base import OutcomeUnknown, PublishError, TransientError

# Frames a TLS handshake runs in (ssl.SSLSocket.do_handshake, and its SSLObject twin under httpcore's streams).
_HANDSHAKE_FRAMES = frozenset({"do_handshake"})
_MAX_CHAIN = 32


def _proofs() -> tuple[type[BaseException], ...]:
    """Exception types that are raised only before a request's first byte is written."""
    import requests  # lazy: requests ~80 ms: only once a call failed; every account's service imports this module
    from urllib3.exceptions import ConnectTimeoutError, LocationParseError, NewConnectionError  # lazy: urllib3 ~60 ms: only once a call failed; every account's service imports this module

    types: list[type[BaseException]] = [
        socket.gaierror,  # the name did not resolve
        ConnectionRefusedError,
        ssl.SSLCertVerificationError,  # raised only by the handshake
        NewConnectionError,  # urllib3: connecting failed (refused, DNS: NameResolutionError)
        ConnectTimeoutError,  # urllib3: connecting timed out
        LocationParseError,
        requests.ConnectTimeout,
        requests.exceptions.InvalidURL,
        requests.exceptions.MissingSchema,
        requests.exceptions.InvalidSchema,
        requests.exceptions.InvalidHeader,
        requests.exceptions.URLRequired,
    ]
    try:
        import httpx  # lazy: httpx ~60 ms: only once a call failed; every account's service imports this module
    except ImportError:  # pragma: no cover - httpx comes with the Bluesky SDK
        pass
    else:
        # httpcore maps every failure while connecting (TCP and the TLS handshake) to ConnectError/ConnectTimeout.
        types += [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol,
                  httpx.InvalidURL]
    return tuple(types)


def chain(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and every exception it wraps: causes, contexts, and the exceptions libraries keep in ``args`` or
    ``reason`` (requests keeps urllib3's MaxRetryError in args, which keeps the real cause in ``reason``)."""
    seen: set[int] = set()
    todo = [exc]
    while todo and len(seen) < _MAX_CHAIN:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None),
                  *getattr(current, "args", ())]
        todo.extend(e for e in linked if isinstance(e, BaseException))


def _in_handshake(exc: BaseException) -> bool:
    """Whether ``exc`` (an OSError: ssl errors are OSErrors) was raised inside a TLS handshake."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_name in _HANDSHAKE_FRAMES and tb.tb_frame.f_code.co_filename.endswith("ssl.py"):
            return True
        tb = tb.tb_next
    return False


def _answered(link: BaseException) -> bool:
    """Whether ``link`` shows that an answer to the request arrived (it carries the response, or is the failure to
    follow or read one): whatever failed after it, e.g. a redirect's unparseable Location, the request was sent."""
    import requests  # lazy: requests ~80 ms: only once a call failed; every account's service imports this module

    if isinstance(link, requests.TooManyRedirects):
        return True
    try:
        import httpx  # lazy: httpx ~60 ms: only once a call failed; every account's service imports this module
    except ImportError:  # pragma: no cover
        pass
    else:
        if isinstance(link, (httpx.RemoteProtocolError, httpx.TooManyRedirects)):
            return True
    return getattr(link, "response", None) is not None


def never_sent(exc: BaseException) -> bool:
    """True only when the failure proves that no byte of the request left: see the module's docstring. A proof
    counts only for the request first made: once anything in the chain shows an answer arrived, it never does."""
    proofs = _proofs()
    links = list(chain(exc))
    if any(_answered(link) for link in links):
        return False
    for link in links:
        if isinstance(link, proofs):
            return True
        if isinstance(link, OSError) and _in_handshake(link):
            return True
    return False


def may_have_reached(exc: BaseException) -> bool:
    """The one rule: a failed call may have reached the network unless the failure proves it never left."""
    return not never_sent(exc)


def describe(exc: BaseException) -> str:
    """``Outer (Inner)``: the exception's type and its innermost cause's, for a log line (no message: messages can
    carry URLs with tokens in them)."""
    links = list(chain(exc))
    inner = links[-1] if len(links) > 1 else None
    return type(exc).__name__ + (f" ({type(inner).__name__})" if inner is not None else "")


def network_error(exc: BaseException, *, creates: bool) -> PublishError:
    """The engine's error for a call that failed without an answer. ``creates``: the call may create a post (a
    lost answer then is an unknown outcome); reads and uploads have no side effect worth a look-up."""
    name = describe(exc)
    if never_sent(exc):
        return TransientError(f"{name}: the request was not sent")
    if creates:
        return OutcomeUnknown(f"{name}: the request may have reached the network, but its answer was lost")
    return TransientError(f"{name}: no answer arrived")


def refuse_redirects(client: object) -> None:
    """Make a publisher's HTTP client answer a redirect instead of following it: a ``requests.Session`` (tweepy,
    Mastodon.py) raises TooManyRedirects on the first one, an ``httpx.Client`` (atproto) returns the 3xx."""
    import requests  # lazy: requests ~80 ms: only once a call failed; every account's service imports this module

    if isinstance(client, requests.Session):
        client.max_redirects = 0
        return
    import httpx  # lazy: httpx ~60 ms: only once a call failed; every account's service imports this module

    if isinstance(client, httpx.Client):
        client.follow_redirects = False
        return
    raise TypeError(f"cannot stop {type(client).__name__} from following redirects")


def redirected(status: int | None) -> bool:
    """An answer that is a redirect: for a post-creating call, the server had the request, so uncertain."""
    return status is not None and 300 <= status < 400


def unexpected(exc: BaseException, *, creates: bool) -> PublishError:
    """The engine's error for an exception no publisher expected out of a call (a library's bug, an answer it
    could not read): the request may have gone out, so a post-creating call is uncertain, never "not sent"."""
    name = describe(exc)
    if creates:
        return OutcomeUnknown(f"{name}: the call failed unexpectedly after it may have reached the network")
    return TransientError(f"{name}: the call failed unexpectedly")
