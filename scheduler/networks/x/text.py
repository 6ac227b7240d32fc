"""How X rewrites a post's text, and how to tell whether a post read back from X is the one we sent.

X returns (in the 201 body and in every timeline) not the text that was posted but its rendering:
``&``, ``<`` and ``>`` HTML-escaped, every link replaced by a ``https://t.co/...`` link (the link as
posted is in ``entities.urls[].expanded_url``, with ``http://`` added when it had no scheme), and a
post with media gets a media link appended. ``posted_text`` undoes all of that from the post's
entities; ``same_text`` compares it with what we sent. Links must match exactly but for their
scheme: two posts that differ only in a link are different posts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping
from typing import Any

_SCHEME = re.compile(r"\bhttps?://", re.IGNORECASE)
_MEDIA_LINK = re.compile(r"^https?://(?:www\.)?(?:x|twitter)\.com/[^/]+/status/\d+/(?:photo|video)/\d+$", re.I)


def unescape(text: str) -> str:
    """X escapes exactly these three; ``&amp;`` last, so a posted ``&lt;`` stays ``&lt;``."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def posted_text(text: str, urls: Iterable[Mapping[str, Any]] = ()) -> str:
    """The text as it was posted, from X's rendering and its ``entities.urls``."""
    text = unescape(text)
    for entity in urls:
        short, expanded = entity.get("url"), entity.get("expanded_url")
        if not short:
            continue
        if entity.get("media_key") or (expanded and _MEDIA_LINK.match(expanded)):
            # The media link X appends: not part of what was posted.
            text = re.sub(r"\s*" + re.escape(short), "", text, count=1)
        elif expanded:
            text = text.replace(short, expanded, 1)
    return text


def comparable(text: str) -> str:
    """NFC, runs of white space as one space, and link schemes dropped (X adds ``http://``)."""
    text = unicodedata.normalize("NFC", text)
    return " ".join(_SCHEME.sub("", text).split())


def same_text(sent: str, found_as_posted: str) -> bool:
    return comparable(sent) == comparable(found_as_posted)
