"""Mastodon's count, proven against a judge built from other code: the reference twitter-text's link extractor
(PyPI ``twitter-text-parser``, what Mastodon's extractor derives from) and ``pyuegc``'s grapheme clusters, put
together as Mastodon's StatusLengthValidator does (each link with its scheme replaced by 23 characters, then
graphemes counted). Ours may count more where Mastodon's patterns differ from twitter-text's (see
scheduler.text.mastodon_length), never less.
"""

from __future__ import annotations

import unicodedata

import pytest
import twitter_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyuegc import EGC

from scheduler.text import mastodon_length as ml
from tests.test_twitter_text_reference import PIECES

MASTODON_PIECES = [
    "https://example.com/blog/massage-therapy-for-back-pain/", "http://a.co", "https://x.org/p?q=1",
    "https://a.com/x=", "gemini://a.io/x", "@alice@mastodon.social", "#BackPain", "example.com", ":", " ",
]
TEXTS = st.lists(st.sampled_from(PIECES + MASTODON_PIECES * 20), max_size=16).map("".join)
SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference_length(text: str, per_url: int = 23) -> int:
    """Mastodon's StatusLengthValidator, from the reference twitter-text and pyuegc."""
    text = unicodedata.normalize("NFC", text)
    pieces, position = [], 0
    for url in twitter_text.extract_urls_with_indices(text):
        start, end = url["indices"]
        if not text[start:end].lower().startswith(("http://", "https://")):
            continue
        pieces += [text[position:start], "x" * per_url]
        position = end
    pieces.append(text[position:])
    return len(EGC("".join(pieces)))


@SETTINGS
@given(TEXTS)
def test_never_counts_less_than_mastodon_and_exactly_as_much_on_plain_links(text: str) -> None:
    ours, reference = ml.length(text), reference_length(text)
    assert ours >= reference, f"{text!r}: we count {ours}, Mastodon {reference}: the server would refuse it"
    odd = "gemini://" in text or "=" in text
    if not odd:
        assert ours == reference, repr(text)


@SETTINGS
@given(TEXTS, st.integers(min_value=1, max_value=600), st.integers(min_value=0, max_value=40))
def test_fits_follows_the_instance_limits(text: str, maximum: int, per_url: int) -> None:
    limits = ml.Limits(max_characters=maximum, characters_reserved_per_url=per_url)
    assert ml.fits(text, limits) is (bool(text.strip()) and ml.length(text, limits) <= maximum)
    if "gemini://" not in text and "=" not in text:
        assert ml.length(text, limits) == reference_length(text, per_url)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("https://www.example.com/blog/massage-therapy-for-back-pain/", 23),  # a long link counts 23
        ("http://a.co", 23),  # and so does a short one
        ("see example.com", 15),  # without its scheme a link is plain text to Mastodon
        ("e\u0301" * 3, 3),  # graphemes, not code points
        ("\U0001F468\u200D\U0001F469\u200D\U0001F467", 1),
        ("https://a.com/x=", 24),  # Mastodon's link stops before a final "=", which it counts
        ("gemini://a.io x", 25),  # a scheme twitter-text does not know: at least 23
        ("@alice@mastodon.social", 22),  # a remote mention counted whole (Mastodon: 6): never less
    ],
)
def test_counts_as_mastodon_does_or_more(text: str, expected: int) -> None:
    assert ml.length(text) == expected


def test_the_limits_come_from_the_instance_and_default_to_mastodons() -> None:
    instance = {"configuration": {"statuses": {"max_characters": 1000, "characters_reserved_per_url": 30}}}
    assert ml.Limits.from_instance(instance) == ml.Limits(1000, 30)
    assert ml.Limits.from_instance({}) == ml.Limits(500, 23)
    assert ml.Limits.from_instance({"configuration": {"statuses": {"max_characters": "lots"}}}) == ml.Limits(500, 23)
    assert ml.fits("x" * 500) and not ml.fits("x" * 501)
    assert ml.fits("x" * 1000, ml.Limits(1000, 23)) and not ml.fits("x" * 1001, ml.Limits(1000, 23))
    assert ml.length("https://example.com/a-long-path", ml.Limits(500, 30)) == 30


def test_a_server_that_cannot_be_read_is_not_asked_again_on_every_render() -> None:
    """A Mastodon server that errors gives the default limits, and is asked again only after a while: a
    dashboard page measuring its posts must not wait for it on every render."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from scheduler.text import limits as post_length

    hits = []

    class Failing(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            hits.append(self.path)
            self.send_response(503)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Failing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        first = post_length.instance_limits(url, 5.0)
        second = post_length.instance_limits(url, 5.0)
        assert (first.max_characters, second.max_characters) == (500, 500)  # Mastodon's defaults
        assert hits == ["/api/v2/instance"]  # asked once, not on the second call
        post_length._FAILED[url] -= post_length.RETRY_FAILED_AFTER_S  # the wait is over
        post_length.instance_limits(url, 5.0)
        assert len(hits) == 2
    finally:
        server.shutdown()
        server.server_close()
        post_length._FAILED.pop(url, None)


def test_the_servers_image_size_limit_is_read_with_mastodons_default_where_it_says_none():
    eight = {"configuration": {"media_attachments": {"image_size_limit": 8 * 1024 * 1024}}}
    assert ml.Limits.from_instance(eight).image_size_limit == 8 * 1024 * 1024
    assert ml.Limits.from_instance({}).image_size_limit == 16 * 1024 * 1024
    odd = {"configuration": {"media_attachments": {"image_size_limit": "big"}}}
    assert ml.Limits.from_instance(odd).image_size_limit == 16 * 1024 * 1024
