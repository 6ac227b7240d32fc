"""How the stand-in Mastodon counts a status's length: the reference twitter-text's links and pyuegc's
graphemes when installed, else the project's own counter."""

from __future__ import annotations

import unicodedata

from scheduler.text.mastodon_length import Limits, length


def _mastodon_length(text: str, per_url: int) -> int:
    """StatusLengthValidator's count from judges that are not the project's counter: the reference twitter-text's
    links (with their scheme) as ``per_url`` characters, then pyuegc's graphemes. Without them (no test extra),
    the project's own scheduler.text.mastodon_length."""
    try:
        import twitter_text  # lazy: optional (the test extra); without it the fallback counts
        from pyuegc import EGC  # lazy: optional (the test extra); without it the fallback counts
    except ImportError:
        return length(text, Limits(characters_reserved_per_url=per_url))
    text = unicodedata.normalize("NFC", text)
    pieces, position = [], 0
    for url in twitter_text.extract_urls_with_indices(text):
        start, end = url["indices"]
        if text[start:end].lower().startswith(("http://", "https://")):
            pieces += [text[position:start], "x" * per_url]
            position = end
    pieces.append(text[position:])
    return len(EGC("".join(pieces)))


def length_judge() -> str:
    try:
        import pyuegc  # noqa: F401  # lazy: optional (the test extra): is it installed?
        import twitter_text  # noqa: F401  # lazy: optional (the test extra): is it installed?
    except ImportError:
        return "scheduler.text.mastodon_length"
    return "twitter-text + pyuegc"
