"""How long a Mastodon server counts a post.

Each server sets its own limit, which it publishes in ``GET /api/v2/instance`` as
``configuration.statuses.max_characters`` (500 on a stock server), with ``characters_reserved_per_url`` (23):
Mastodon counts every link as that many characters whatever its length, and every other character as one
grapheme (a user-perceived character: a flag or a family emoji is one). This is Mastodon's StatusLengthValidator:
the links it finds with its extractor (twitter-text's, links written with their scheme only: ``example.com``
alone counts as its 11 characters) are replaced by 23 characters, then the graphemes are counted.

The links are found by twitter-text's rules (``scheduler.text.x_length.url_spans``, proven against the reference
implementation). Mastodon's own patterns differ in three places, each handled on the side that never counts
fewer characters than the server:
- its link path may run on over characters twitter-text stops at (``"``, ``^``, ``{``...): the server then
  counts those inside the 23, and we count them as well;
- its path may not end with ``=`` (twitter-text's may): what follows the path's last allowed ending is
  counted as text;
- it knows more schemes (``gemini://``, ``ipfs://``...): such a link counts the larger of 23 and its length.
A remote mention ``@user@server`` is counted whole (Mastodon counts ``@user`` only): more, never less.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import regex

from scheduler.text.x_length import url_spans

DEFAULT_MAX_CHARACTERS = 500
DEFAULT_URL_LENGTH = 23
DEFAULT_IMAGE_BYTES = 16 * 1024 * 1024  # MediaAttachment::IMAGE_LIMIT of a stock server (Mastodon 4)

_HTTP = re.compile(r"https?://", re.IGNORECASE)
# Schemes Mastodon links that twitter-text does not (a link then runs to the next space at most).
_OTHER_SCHEME = re.compile(r"(?<![^\W_])(?:dat|dweb|ipfs|ipns|ssb|gopher|gemini)://\S+", re.IGNORECASE)
# What may not end a link's path on Mastodon (its valid_url_path_ending_chars, negated), among what twitter-text
# lets a path end with or hold.
_NOT_PATH_END = "?!*\"'「」<>;:=,.$%[]~&|@"  # a balanced "(...)" may end it on both
_GRAPHEME = regex.compile(r"\X")


@dataclass(frozen=True)
class Limits:
    """A server's limits, from its ``/api/v2/instance``."""

    max_characters: int = DEFAULT_MAX_CHARACTERS
    characters_reserved_per_url: int = DEFAULT_URL_LENGTH
    image_size_limit: int = DEFAULT_IMAGE_BYTES

    @classmethod
    def from_instance(cls, instance: Mapping[str, Any]) -> Limits:
        """From the JSON of ``GET /api/v2/instance``; a server that leaves a value out gets Mastodon's default."""
        statuses = ((instance.get("configuration") or {}).get("statuses") or {}) if isinstance(instance, Mapping) else {}
        maximum = statuses.get("max_characters")
        per_url = statuses.get("characters_reserved_per_url")
        media = ((instance.get("configuration") or {}).get("media_attachments") or {}) if isinstance(instance, Mapping) else {}
        image = media.get("image_size_limit") if isinstance(media, Mapping) else None
        return cls(
            max_characters=maximum if isinstance(maximum, int) and maximum > 0 else DEFAULT_MAX_CHARACTERS,
            characters_reserved_per_url=per_url if isinstance(per_url, int) and per_url >= 0 else DEFAULT_URL_LENGTH,
            image_size_limit=image if isinstance(image, int) and image > 0 else DEFAULT_IMAGE_BYTES,
        )


def graphemes(text: str) -> int:
    if text.isascii() and "\r\n" not in text:
        return len(text)
    return len(_GRAPHEME.findall(text))


def length(text: str, limits: Limits = Limits()) -> int:
    """The characters a Mastodon server with ``limits`` counts for ``text``."""
    text = unicodedata.normalize("NFC", text)
    if ":" not in text:
        return graphemes(text)
    reserved = "x" * limits.characters_reserved_per_url
    # (start, end, what the server counts at most for it), in text order, none overlapping.
    links = [(m.start(), m.end(), "x" * max(limits.characters_reserved_per_url, graphemes(m.group())))
             for m in _OTHER_SCHEME.finditer(text)]
    for start, end in url_spans(text):
        link = text[start:end]
        if not _HTTP.match(link) or any(s < end and start < e for s, e, _ in links):
            continue  # Mastodon counts a link without its scheme as text
        tail = ""
        if "?" not in link and link.count("/") > 2 and link.endswith("="):
            # "=" is the one ending twitter-text allows a path and Mastodon does not: Mastodon's link stops at
            # the last character it allows, and counts the rest as text.
            kept = link.rstrip(_NOT_PATH_END)
            tail = link[len(kept):]
        links.append((start, end, reserved + tail))
    pieces: list[str] = []
    position = 0
    for start, end, counted in sorted(links):
        pieces.append(text[position:start])
        pieces.append(counted)
        position = end
    pieces.append(text[position:])
    return graphemes("".join(pieces))


def fits(text: str, limits: Limits = Limits()) -> bool:
    """Whether the server accepts ``text``: not blank, at most ``max_characters`` as it counts."""
    return bool(text.strip()) and length(text, limits) <= limits.max_characters
