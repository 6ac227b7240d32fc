"""Faithfulness: the words of a post that come from nowhere (not the tip, the article, the template, the
handle or the hashtags): a composed post must have none."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

import jinja2
import regex

from scheduler.compose.rendering import _camel, clean
from scheduler.domain.models import Article, Tip

# Faithfulness: words are runs of letters and digits; CJK characters count one by one, as the composer may cut
# between them.
_WORDS = regex.compile(r"[\p{Han}\p{Hiragana}\p{Katakana}]|[^\W\p{Han}\p{Hiragana}\p{Katakana}]+")


def unfaithful_words(
    post_text: str,
    tip: Tip,
    article: Article,
    template_source: str,
    *,
    handle: str = "",
    hashtags: Sequence[str] = (),
) -> set[str]:
    """Words of ``post_text`` found neither in the tip, the article's title and link, the template's own text
    (its text and string literals, not its code), the handle, the hashtags, nor the series label."""
    position = next((i for i, t in enumerate(article.tips, start=1) if t is tip or t == tip), None)
    sources = [
        tip.headline,
        tip.body,
        article.title,
        article.url or "",
        handle,
        *hashtags,
        *article.hashtags,
        str(len(article.tips)),
        str(position or ""),
        *_template_text(template_source),
    ]
    allowed = {word.casefold() for source in sources for word in _words(clean(source))}
    # A hashtag of several words is written as one ("back pain" -> #backpain, #BackPain on Mastodon).
    allowed |= {word.casefold() for tag in (*hashtags, *article.hashtags)
                for form in (clean(tag).replace(" ", ""), _camel(clean(tag).lstrip("#"))) for word in _words(form)}
    return {word for word in _words(unicodedata.normalize("NFC", post_text)) if word.casefold() not in allowed}


def _words(text: str) -> list[str]:
    return _WORDS.findall(text)


def _template_text(source: str) -> list[str]:
    return [
        value
        for _, kind, value in jinja2.Environment(trim_blocks=True, lstrip_blocks=True).lex(source)
        if kind in ("data", "string")
    ]
