"""Post text as X shows it: links, mentions and hashtags marked, everything escaped."""

from __future__ import annotations

import re
import unicodedata

from markupsafe import Markup, escape

_MENTION_OR_TAG = re.compile(r"(?<![\w@#])(@\w{1,15}|#\w*[^\W\d]\w*)")


def post_html(text: str) -> Markup:
    """HTML for a post's text: every character escaped; links, @mentions and #hashtags wrapped in spans."""
    from scheduler.tweet_length import url_spans

    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    pos = 0
    for start, end in url_spans(text):
        out.append(_words(text[pos:start]))
        out.append(f'<span class="link">{escape(text[start:end])}</span>')
        pos = end
    out.append(_words(text[pos:]))
    return Markup("".join(out))


def _words(text: str) -> str:
    out: list[str] = []
    pos = 0
    for match in _MENTION_OR_TAG.finditer(text):
        out.append(str(escape(text[pos:match.start()])))
        kind = "mention" if match.group(1).startswith("@") else "hashtag"
        out.append(f'<span class="{kind}">{escape(match.group(1))}</span>')
        pos = match.end()
    out.append(str(escape(text[pos:])))
    return "".join(out)
