"""Whether a failed call may have reached the network (issue 18, item 3): one rule, scheduler.networks.reached.

Against REAL servers on 127.0.0.1, over HTTPS with a self-signed certificate the client is told to trust: each
network's stand-in creates the post and then loses the answer (a reset connection, a body cut short, a TLS session
broken mid-answer, an answer held back past the read timeout). Every one must be an uncertain outcome, never "not
sent", and the engine must find the post instead of sending it again. Only failures to connect (refused, a TLS
handshake that failed) are "never sent". Then the classifier's table over the exception types of every stack.
"""

from __future__ import annotations

import http.client
import random
import socket
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from scheduler.networks.x.credentials import OAuth1Credentials
from scheduler.domain.models import PostState
from scheduler.networks.base import OutcomeUnknown, TransientError
from scheduler.networks.bluesky.publisher import BlueskyPublisher
from scheduler.standins.bluesky import StandinBluesky
from scheduler.networks.mastodon.publisher import MastodonPublisher
from scheduler.standins.mastodon import StandinMastodon
from scheduler.networks.reached import may_have_reached, network_error, never_sent
from scheduler.networks.x.publisher import XPublisher
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.standins.x import StandinX
from tests.helpers_ledger import ACCOUNT, new_post

TIMEOUT = (2.0, 2.0)  # (connect, read): the stalled answer is held 6 s, well past the read timeout


# -- a certificate the client trusts ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA) and its key."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    # Valid over a wide fixed window, not around Python's clock: OpenSSL checks it against the system's real clock,
    # which a faked wall clock (tests/faked_clock.sh) leaves days away from Python's.
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(datetime(2000, 1, 1, tzinfo=timezone.utc))
            .not_valid_after(datetime(2100, 1, 1, tzinfo=timezone.utc))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    folder = tmp_path_factory.mktemp("tls")
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


# -- the three networks, alike ---------------------------------------------------------------------------------------


@dataclass
class Network:
    name: str
    standin: Any
    create_endpoint: str
    made: Callable[[Any], list[Any]]  # the posts the stand-in holds
    publisher: Callable[..., Any]  # (standin, ca_file, tmp_path) -> a publisher


def _x(standin: StandinX, ca_file: Path | None, tmp_path: Path) -> XPublisher:
    account = standin.default_account
    credentials = OAuth1Credentials(standin.consumer_key, standin.consumer_secret, account.access_token,
                                    account.access_token_secret)
    return XPublisher(credentials, handle=account.username, api_url=standin.url, timeout=TIMEOUT, ca_file=ca_file)


def _mastodon(standin: StandinMastodon, ca_file: Path | None, tmp_path: Path) -> MastodonPublisher:
    return MastodonPublisher(access_token=standin.token, instance_url=standin.url,
                             handle=standin.default_account.username, timeout=TIMEOUT, ca_file=ca_file)


def _bluesky(standin: StandinBluesky, ca_file: Path | None, tmp_path: Path) -> BlueskyPublisher:
    account = standin.default_account
    return BlueskyPublisher(handle=account.handle, app_password=account.password, service_url=standin.url,
                            session_file=tmp_path / "bluesky-session", timeout=TIMEOUT, ca_file=ca_file)


NETWORKS = {
    "x": lambda: Network("x", StandinX(), "tweets", lambda s: s.timeline(), _x),
    "mastodon": lambda: Network("mastodon", StandinMastodon(), "statuses", lambda s: s.statuses(), _mastodon),
    "bluesky": lambda: Network("bluesky", StandinBluesky(), "createRecord", lambda s: s.posts(), _bluesky),
}


@pytest.fixture(params=sorted(NETWORKS))
def network(request, certificate) -> Iterator[Network]:
    net = NETWORKS[request.param]()
    net.standin.use_tls(server_context(certificate))
    net.standin.start()
    try:
        yield net
    finally:
        net.standin.stop()


@pytest.fixture
def publisher(network: Network, certificate, tmp_path):
    made = network.publisher(network.standin, certificate[0], tmp_path)
    yield made
    made.close()


LOST_ANSWERS = {
    "reset": dict(kind="create_then_reset"),
    "truncated body": dict(kind="create_then_truncate"),
    "TLS broken mid-answer": dict(kind="create_then_garbage"),
    "read timeout": dict(kind="create_then_stall", seconds=6.0),
}


@pytest.mark.parametrize("lost", sorted(LOST_ANSWERS))
def test_a_post_created_whose_answer_is_lost_is_uncertain_never_unsent(network, publisher, lost):
    assert publisher.create_post("warming up the session") and len(network.made(network.standin)) == 1
    network.standin.inject(network.create_endpoint, **LOST_ANSWERS[lost])
    with pytest.raises(OutcomeUnknown) as caught:
        publisher.create_post("Drink a glass of water when you wake up")
    assert "not sent" not in caught.value.detail
    assert len(network.made(network.standin)) == 2  # it did go out


def test_after_a_tls_error_mid_answer_the_engine_looks_the_post_up_and_never_sends_it_again(
        network, publisher, sqlite_store, fake_clock):
    text = "Take the stairs: two flights a day add up"
    sqlite_store.add_post(ACCOUNT, new_post("p", text), fake_clock())
    engine = PublishingEngine(sqlite_store, publisher, account=ACCOUNT, instance="me",
                              policy=RetryPolicy(reconcile_delay=timedelta(seconds=30)), clock=fake_clock,
                              rng=random.Random(1))
    network.standin.inject(network.create_endpoint, "create_then_garbage")
    first = engine.publish("p", None)
    assert (first.state, sqlite_store.get("p").uncertain) in (("retrying", True), ("sent", False))
    while sqlite_store.get("p").state is PostState.RETRYING:
        fake_clock.set(sqlite_store.get("p").next_attempt_at)
        engine.publish("p", None)
    post = sqlite_store.get("p")
    assert post.state is PostState.SENT
    assert len(network.made(network.standin)) == 1
    assert network.standin.requests_received(network.create_endpoint) == 1  # looked up, never sent again


class _At:
    """A stopped stand-in, seen at the address it had (its ``url`` needs it running)."""

    def __init__(self, standin: Any, url: str) -> None:
        self._standin, self.url = standin, url

    def __getattr__(self, name: str) -> Any:
        return getattr(self._standin, name)


def test_a_refused_connection_is_never_sent(network, certificate, tmp_path):
    first = network.publisher(network.standin, certificate[0], tmp_path)
    try:  # log in where the network needs it (Bluesky keeps its session in a file for the next publisher)
        first.find_post("anything", since=datetime.now(timezone.utc))
    finally:
        first.close()
    url = network.standin.url
    network.standin.stop()  # nothing listens there now
    # A new publisher: no kept-alive connection from before can carry the request.
    publisher = network.publisher(_At(network.standin, url), certificate[0], tmp_path)
    try:
        with pytest.raises(TransientError) as caught:
            publisher.create_post("Stretch your calves after a run")
    finally:
        publisher.close()
    assert "not sent" in caught.value.detail


def test_a_certificate_the_client_refuses_is_never_sent(network, tmp_path):
    publisher = network.publisher(network.standin, None, tmp_path)  # the system's CAs: the stand-in's is not one
    try:
        with pytest.raises(TransientError) as caught:
            publisher.create_post("Stretch your calves after a run")
    finally:
        publisher.close()
    assert "not sent" in caught.value.detail
    assert network.standin.requests_received(network.create_endpoint) == 0


@pytest.fixture
def broken_handshake() -> Iterator[str]:
    """A server that accepts TCP connections and answers the TLS ClientHello with bytes that are no TLS."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(5)
                try:
                    conn.recv(4096)
                    conn.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{listener.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    listener.close()


def test_a_tls_handshake_that_breaks_is_never_sent(network, broken_handshake, certificate, tmp_path):
    publisher = network.publisher(_At(network.standin, broken_handshake), certificate[0], tmp_path)
    try:
        with pytest.raises(TransientError) as caught:
            publisher.create_post("Stretch your calves after a run")
    finally:
        publisher.close()
    assert "not sent" in caught.value.detail


# -- the classifier's table --------------------------------------------------------------------------------------------


def _raised(make: Callable[[], BaseException], where: str = "somewhere") -> BaseException:
    """``make()`` raised from a function named ``where`` (so its traceback says where it happened)."""
    namespace: dict[str, Any] = {"make": make}
    exec(f"def {where}():\n    raise make()\n", namespace)
    try:
        namespace[where]()
    except BaseException as exc:  # noqa: BLE001 - the point
        return exc
    raise AssertionError("unreachable")


def _wrapped(inner: BaseException, outer: Callable[[BaseException], BaseException]) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:  # noqa: BLE001
            raise outer(exc) from exc
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("unreachable")


def _requests_wrapping(reason: BaseException, cls_name: str = "ConnectionError") -> BaseException:
    """As requests raises it: requests.<cls>(MaxRetryError(reason=urllib3 error))."""
    import requests
    from urllib3.exceptions import MaxRetryError

    return getattr(requests, cls_name)(MaxRetryError(None, "/2/tweets", reason=reason))


def _table() -> list[tuple[str, Callable[[], BaseException], bool]]:
    import httpx
    import requests
    import urllib3.exceptions as u3
    from atproto_client import exceptions as at
    from mastodon import MastodonNetworkError

    ssl_read = lambda: _raised(lambda: ssl.SSLError(1, "[SSL: DECRYPTION_FAILED_OR_BAD_RECORD_MAC]"), "recv_into")  # noqa: E731
    ssl_eof = lambda: _raised(lambda: ssl.SSLEOFError(8, "EOF occurred in violation of protocol"), "read")  # noqa: E731
    return [
        # (case, exception, may have reached)
        ("requests ConnectTimeout", lambda: _requests_wrapping(u3.ConnectTimeoutError(), "ConnectTimeout"), False),
        ("requests refused", lambda: _requests_wrapping(u3.NewConnectionError(None, "refused")), False),
        ("requests DNS failure", lambda: _requests_wrapping(u3.NameResolutionError("h", None, socket.gaierror())),
         False),
        ("requests certificate refused", lambda: requests.exceptions.SSLError(
            _requests_wrapping(u3.SSLError(ssl.SSLCertVerificationError(1, "certificate verify failed")))), False),
        ("requests TLS handshake broken",
         lambda: requests.exceptions.SSLError(MaxRetry(u3.SSLError(_real_handshake_failure()))), False),
        ("requests InvalidURL", lambda: requests.exceptions.InvalidURL("no host"), False),
        ("requests MissingSchema", lambda: requests.exceptions.MissingSchema("no scheme"), False),
        ("requests TLS error while reading the answer",
         lambda: requests.exceptions.SSLError(MaxRetry(u3.SSLError(ssl_read()))), True),
        ("requests TLS EOF while reading", lambda: requests.exceptions.SSLError(MaxRetry(u3.SSLError(ssl_eof()))),
         True),
        ("requests plain ssl error without a handshake frame",
         lambda: requests.exceptions.SSLError(MaxRetry(u3.SSLError(ssl.SSLError(1, "bad record mac")))), True),
        ("requests connection reset", lambda: requests.ConnectionError(
            u3.ProtocolError("Connection aborted.", ConnectionResetError(104, "reset"))), True),
        ("requests remote disconnected", lambda: requests.ConnectionError(
            u3.ProtocolError("Connection aborted.", http.client.RemoteDisconnected("closed"))), True),
        ("requests read timeout", lambda: requests.ReadTimeout(_requests_wrapping(u3.ReadTimeoutError(None, "/", ""))),
         True),
        ("requests truncated body", lambda: requests.exceptions.ChunkedEncodingError(
            u3.ProtocolError("Response ended prematurely", http.client.IncompleteRead(b"{", 10))), True),
        ("requests ProxyError without a proof", lambda: requests.exceptions.ProxyError(
            _requests_wrapping(u3.ProxyError("proxy", OSError("tunnel closed")))), True),
        ("requests ContentDecodingError", lambda: requests.exceptions.ContentDecodingError("gzip"), True),
        ("http.client IncompleteRead", lambda: http.client.IncompleteRead(b"", 5), True),
        ("http.client BadStatusLine", lambda: http.client.BadStatusLine("garbage"), True),
        ("bare ConnectionResetError", lambda: ConnectionResetError(104, "reset"), True),
        ("bare ConnectionRefusedError", lambda: ConnectionRefusedError(111, "refused"), False),
        ("bare socket.gaierror", lambda: socket.gaierror(-2, "Name or service not known"), False),
        ("bare ssl error raised by a real handshake", _real_handshake_failure, False),
        ("bare ssl error while reading", ssl_read, True),
        ("bare TimeoutError", lambda: TimeoutError("timed out"), True),
        ("httpx ConnectError", lambda: httpx.ConnectError("refused"), False),
        ("httpx ConnectTimeout", lambda: httpx.ConnectTimeout("slow"), False),
        ("httpx PoolTimeout", lambda: httpx.PoolTimeout("no connection free"), False),
        ("httpx ReadError (TLS broken mid-answer)", lambda: httpx.ReadError("bad record mac"), True),
        ("httpx WriteError", lambda: httpx.WriteError("broken pipe"), True),
        ("httpx ReadTimeout", lambda: httpx.ReadTimeout("slow"), True),
        ("httpx RemoteProtocolError (truncated)", lambda: httpx.RemoteProtocolError("incomplete body"), True),
        ("httpx LocalProtocolError", lambda: httpx.LocalProtocolError("too much body"), True),
        ("atproto NetworkError from ConnectError", lambda: _wrapped(httpx.ConnectError("refused"),
                                                                    lambda e: at.NetworkError()), False),
        ("atproto NetworkError from ReadError", lambda: _wrapped(httpx.ReadError("reset"),
                                                                 lambda e: at.NetworkError()), True),
        ("atproto timeout from ReadTimeout", lambda: _wrapped(httpx.ReadTimeout("slow"),
                                                              lambda e: at.InvokeTimeoutError()), True),
        ("atproto timeout from ConnectTimeout", lambda: _wrapped(httpx.ConnectTimeout("slow"),
                                                                 lambda e: at.InvokeTimeoutError()), False),
        ("Mastodon.py around a requests TLS read error", lambda: _context(
            requests.exceptions.SSLError(MaxRetry(u3.SSLError(ssl_read()))),
            MastodonNetworkError("Could not complete request")), True),
        ("Mastodon.py around a refused connection", lambda: _context(
            _requests_wrapping(u3.NewConnectionError(None, "refused")),
            MastodonNetworkError("Could not complete request")), False),
        ("an unrelated error", lambda: ValueError("no idea"), True),
    ]


def MaxRetry(reason: BaseException) -> BaseException:  # noqa: N802 - reads as the urllib3 type it builds
    from urllib3.exceptions import MaxRetryError

    return MaxRetryError(None, "/2/tweets", reason=reason)


def _context(inner: BaseException, outer: BaseException) -> BaseException:
    """``outer`` raised while handling ``inner`` (``__context__``, no ``from``), as Mastodon.py does."""
    try:
        try:
            raise inner
        except BaseException:  # noqa: BLE001
            raise outer  # noqa: B904 - the point
    except BaseException as exc:  # noqa: BLE001
        return exc
    raise AssertionError("unreachable")


def _real_handshake_failure() -> BaseException:
    """A real TLS handshake that breaks: ssl's own do_handshake raises."""
    server, client = socket.socketpair()
    with server, client:
        server.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        context = ssl.create_default_context()
        try:
            context.wrap_socket(client, server_hostname="127.0.0.1")
        except ssl.SSLError as exc:
            return exc
    raise AssertionError("the handshake did not fail")


TABLE = _table()


@pytest.mark.parametrize("case,make,reached", TABLE, ids=[case for case, _, _ in TABLE])
def test_the_classifier_table(case, make, reached):
    exc = make()
    assert may_have_reached(exc) is reached
    assert never_sent(exc) is not reached
    assert isinstance(network_error(exc, creates=True), OutcomeUnknown if reached else TransientError)
    assert isinstance(network_error(exc, creates=False), TransientError)  # a read or an upload: safe to repeat
