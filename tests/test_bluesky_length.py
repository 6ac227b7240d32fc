"""Bluesky's limits and rich text, proven against judges that are not our code.

- graphemes: ``pyuegc`` (its own implementation of UAX #29 and its tables), not the ``regex`` module's \\X;
- facets: the atproto SDK's own detection (``atproto_client.utils.detect_facets``/``detect_mentions``, a port of
  the official @atproto/api), byte offsets included;
- the text as sent: rebuilt with the SDK's ``TextBuilder``, which computes its own UTF-8 offsets.
"""

from __future__ import annotations

import pytest
from atproto_client.utils import TextBuilder, detect_facets, detect_mentions
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyuegc import EGC

from scheduler.text import bluesky_length as bl
from tests.test_twitter_text_reference import PIECES

# Free text with what Bluesky finds in it: handles, tags, cashtags, links in brackets, long links.
BLUESKY_PIECES = [
    "@bsky.app", "@alice.example.com", "@bob.test", "@not_a_handle", "(@carol.bsky.social)", "@x.y.",
    "#BackPain", "#1", "#ok!", "#tag.", "#\ufe0fno", "＃全角", "#a-b_c", "$AAPL", "$a", "($TSLA)", "$BRK.",
    "(https://example.com/path)", "https://example.com/a/very/long/path/to/an/article/?utm_source=x#top",
    "http://a.co", "https://nhs.uk/conditions/back-pain/", "example.com/path.", "www.clinic.org,",
    "HTTPS://EXAMPLE.COM/X", "e\u0301", "\U0001F1EB\U0001F1F7", "\r\n", "\n", " ", "  ",
]
TEXTS = st.lists(st.sampled_from(PIECES + BLUESKY_PIECES * 20), max_size=16).map("".join)
def egc_count(text: str) -> int:
    return len(EGC(text))


SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def sdk_facets(text: str) -> list[tuple[int, int, str, str]]:
    """What the atproto SDK finds, as (byte_start, byte_end, kind, value)."""
    found = []
    for facet in detect_facets(text):
        feature = facet.features[0]
        kind, value = ("link", feature.uri) if hasattr(feature, "uri") else ("tag", feature.tag)
        found.append((facet.index.byte_start, facet.index.byte_end, kind, value))
    found += [(m.byte_start, m.byte_end, "mention", m.handle) for m in detect_mentions(text)]
    return sorted(found)


def ours(facets) -> list[tuple[int, int, str, str]]:
    return sorted((f.byte_start, f.byte_end, f.kind, f.value) for f in facets)


@SETTINGS
@given(TEXTS)
def test_graphemes_are_counted_as_pyuegc_counts_them(text: str) -> None:
    assert bl.graphemes(text) == egc_count(text), repr(text)


@SETTINGS
@given(TEXTS)
def test_links_mentions_and_tags_are_the_ones_the_atproto_sdk_finds_at_the_same_bytes(text: str) -> None:
    assert ours(bl.facets(text)) == sdk_facets(text), repr(text)


@SETTINGS
@given(TEXTS)
def test_the_text_as_sent_is_what_the_sdk_text_builder_makes_of_the_same_pieces(text: str) -> None:
    sent = bl.rich_text(text)
    builder = TextBuilder()
    position = 0
    raw = text.encode()
    kept = []
    for facet in bl.facets(text):  # over the text as written
        if facet.byte_start < position:
            continue  # inside the one before (a $CASHTAG in a link's path): the text as sent has no room for it
        kept.append(facet)
        builder.text(raw[position:facet.byte_start].decode())
        shown = raw[facet.byte_start:facet.byte_end].decode()
        if facet.kind == "link":
            builder.link(bl.short_url(shown) if shown.lower().startswith(("http://", "https://")) else shown,
                         facet.value)
        elif facet.kind == "mention":
            builder.mention(shown, "did:plc:" + facet.value)
        else:
            builder.tag(shown, facet.value)
        position = facet.byte_end
    builder.text(raw[position:].decode())
    assert sent.text == builder.build_text()
    built = [(f.index.byte_start, f.index.byte_end) for f in builder.build_facets()]
    assert [(f.byte_start, f.byte_end) for f in sent.facets] == built
    # Every link facet keeps the whole URL the author wrote, whatever the text shows.
    assert [f.value for f in sent.facets] == [f.value for f in kept]


@SETTINGS
@given(TEXTS)
def test_length_and_fits_judge_the_text_as_sent(text: str) -> None:
    sent = bl.rich_text(text).text
    assert bl.length(text) == egc_count(sent)
    expected = bool(text.strip()) and egc_count(sent) <= 300 and len(sent.encode("utf-8")) <= 3000
    assert bl.fits(text) is expected


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        # social-app's toShortUrl: the host, then at most 15 characters of the rest, else 13 and "...".
        ("https://example.com", "example.com"),
        ("https://example.com/", "example.com"),
        ("https://example.com/abcdefghijklmn", "example.com/abcdefghijklmn"),  # "/" + 14 = 15: whole
        ("https://example.com/abcdefghijklmno", "example.com/abcdefghijkl..."),
        ("http://www.clinic.org/tips?x=1#a", "www.clinic.org/tips?x=1#a"),
        ("https://Example.COM:443/a", "example.com/a"),
        ("https://example.com:8443/a", "example.com:8443/a"),
    ],
)
def test_long_links_show_shortened_as_the_bluesky_app_shows_them(url: str, shown: str) -> None:
    assert bl.short_url(url) == shown


def test_a_long_link_is_shortened_in_the_text_and_its_facet_keeps_the_whole_url() -> None:
    url = "https://www.example.com/blog/massage-therapy-for-back-pain/"
    sent = bl.rich_text(f"Read {url} today #BackPain")
    assert sent.text == "Read www.example.com/blog/massage... today #BackPain"
    link, tag = sent.facets
    assert (link.kind, link.value) == ("link", url)
    assert sent.text.encode()[link.byte_start:link.byte_end].decode() == "www.example.com/blog/massage..."
    assert (tag.kind, tag.value) == ("tag", "BackPain")
    # What counts is the text as sent: 300 graphemes of it, not of the text as written.
    assert bl.length(f"Read {url} today #BackPain") == len(sent.text)


def test_300_graphemes_fit_and_301_do_not_even_when_each_is_several_code_points() -> None:
    family = "\U0001F468\u200D\U0001F469\u200D\U0001F467"  # one grapheme, 18 bytes
    assert bl.fits("e\u0301" * 300) and not bl.fits("e\u0301" * 301)
    assert bl.graphemes(family * 150) == 150
    assert bl.fits(family * 150)  # 150 graphemes, 2,700 bytes
    assert not bl.fits(family * 167)  # 167 graphemes but 3,006 bytes: over Bluesky's 3,000
    assert not bl.fits("   ")
