"""Rendering a tip through its template: what every tip of an article shares, the renderer the composer
calls with the parts it chose to keep, and the text clean-up, headline, disclaimer and hashtag labels."""

from __future__ import annotations

import re
import sys
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import jinja2
import regex

from scheduler.compose import leads, standing, tip_points
from scheduler.compose.templates import (
    ArticleView,
    SeriesView,
    TipView,
    Variant,
    render_error,
)
from scheduler.domain.errors import TemplateError
from scheduler.domain.models import Article, Tip
from scheduler.text.limits import LengthRule, X
from scheduler.text.x_length import INVALID_CHARACTERS

# Characters X refuses, and control characters, become spaces (not nothing, which could glue two words).
# The standard library's engine is the faster one for these simple patterns.
_TO_SPACE = re.compile(
    "[" + "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if not chr(c).isspace()) + INVALID_CHARACTERS + "]"
)


_BLANK_LINES = re.compile(r"\n{3,}")


_TOPIC_END = regex.compile(r"\s*(?::|\s[-\u2013\u2014]\s).*$", regex.DOTALL)


@dataclass(frozen=True)
class _Shared:
    """What every post of an article has in common, worked out once per article."""

    article: Article
    key: str
    view: ArticleView
    handle: str
    hashtags: tuple[str, ...]
    avoid_list: bool  # the article's tips are things to avoid
    rule: LengthRule
    disclaimer: str = ""

    @classmethod
    def of(cls, article: Article, handle: str, hashtags: Sequence[str], rule: LengthRule = X,
           disclaimer: str = "") -> _Shared:
        title = clean(article.title)
        view = ArticleView(
            title=title,
            topic=_TOPIC_END.sub("", title).rstrip("?!.") or title,
            url=article.url.strip() if article.url else None,
            key=article.key,
        )
        avoid_list = tip_points.lists_things_to_avoid(title, article.intro)
        tags = _merge_hashtags(article.hashtags, hashtags, camel=rule.network == "mastodon")
        return cls(article, view.key, view, handle.lstrip("@"), tags, avoid_list, rule, clean(disclaimer))


_CLOSING = "\"'\u2019\u201D)]"


_ENDS_IN_A_WORD = re.compile(rf"[^\W_][{re.escape(_CLOSING)}]*$")


def _as_headline(text: str) -> str:
    """A headline that ends like a sentence, so the point or the link can follow it: "Child's pose" -> "Child's pose."."""
    # A match can only start at the last character before the closing quotes and brackets (and a final newline,
    # before which $ also matches): searching from there spares a scan of the whole headline.
    start = max(len(text.rstrip(_CLOSING + "\n")) - 1, 0)
    return text + "." if _ENDS_IN_A_WORD.search(text, start) else text


class _Renderer:
    """Renders one template for one tip, with what the composer chooses to keep of its shrinkable parts."""

    def __init__(self, variant: Variant, shared: _Shared, tip: Tip, position: int) -> None:
        self.variant = variant
        self.tip_number = tip.number
        # Each sentence must stand alone in a post: emoji where they read naturally, no unexplained line in
        # another language (standing.py).
        paragraphs = standing.without_foreign(
            [cleaned for paragraph in tip.body.split("\n\n") if (cleaned := standing.place_emoji(clean(paragraph)))])
        # A body sentence that says the headline more exactly, and differently, replaces it (leads.superseded).
        headline, paragraphs = leads.superseded(_as_headline(standing.place_emoji(clean(tip.headline))), paragraphs)
        self.paragraphs = "\n\n".join(paragraphs)  # for the point, which may keep a list's items apart
        self.body = " ".join(paragraphs)  # as clean(tip.body): the body on one line
        self.headline = headline
        self.how_to = tip_points.is_how_to(self.headline, self.paragraphs)
        self.name = leads.exercise_name(self.headline, self.paragraphs)  # "Try cat-cow:" for a bare name
        self.where = f"{shared.article.source}, tip {tip.number}"
        self.rule = shared.rule
        self.disclaimer = shared.disclaimer
        self._rendered: dict[tuple, tuple[str, dict[str, Any]]] = {}  # the shortening tries some twice
        self.fixed = {
            "article": shared.view,
            "series": SeriesView(position=position, total=len(shared.article.tips)),
            "handle": shared.handle,
        }

    def __call__(self, headline: str, body: str, point: str, hashtags: tuple[str, ...]) -> str:
        return self.with_exports(headline, body, point, hashtags)[0]

    def with_exports(
        self, headline: str, body: str, point: str, hashtags: tuple[str, ...]
    ) -> tuple[str, dict[str, Any]]:
        """The tidied text, and the variables the template set for the composer (thread, media)."""
        key = (headline, body, point, hashtags)
        found = self._rendered.get(key)
        if found is not None:
            return found
        context = {
            **self.variant.globals,
            **self.fixed,
            "tip": self._tip_view(headline, body, point),
            "hashtags": list(hashtags),
            "hashtag_line": " ".join("#" + tag for tag in hashtags),
        }
        template = self.variant.template
        try:
            # What make_module does (a fresh context, the body rendered, its exported names), without building
            # the module object around them; the context holds the template's globals already (shared=True: it
            # is used as it is, not merged with them again).
            rendered = template.new_context(context, shared=True)
            text = "".join(template.root_render_func(rendered))
        except (jinja2.TemplateError, TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise render_error(exc, self.variant, sys.exc_info()[2], self.where) from exc
        found = self._rendered[key] = with_disclaimer(tidy(text), self.disclaimer), rendered.get_exported()
        return found

    def _tip_view(self, headline: str, body: str, point: str) -> TipView:
        """What the template sees of the tip; how the post opens agrees with the headline it is given (which may
        have been shortened)."""
        name = self.name if headline == self.headline else ""
        return TipView(
            number=self.tip_number, headline=headline, body=body, point=point, how_to=self.how_to,
            label=leads.label(headline, point or body, name), name=name, name_the=leads.reads_with_the(name),
            thing=leads.thing_to_avoid(headline),
        )

    def fixed_parts_too_long(self) -> TemplateError:
        bare = self("", "", "", ())
        if not bare:
            return TemplateError(
                f"{self.variant.path}: shows nothing but tip text that cannot be shortened to fit, for {self.where}"
            )
        return TemplateError(
            f"{self.variant.path}: even without its headline, body and hashtags, the post for {self.where} "
            f"weighs {self.rule.measure(bare)} of {self.rule.limit} ({self.rule.network}); shorten the template's own text"
        )


_LINK_OR_TAGS = regex.compile(r"https?://|^\s*(?:#\w+\s*)+$")


def with_disclaimer(text: str, disclaimer: str) -> str:
    """``text`` with ``disclaimer`` ending its last line of prose: after the tip, before the line that leads to
    the link ("Read more: https://...") and the hashtags."""
    if not disclaimer or not text:
        return text
    lines = text.split("\n")
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].strip() and not _LINK_OR_TAGS.search(lines[i]):
            lines[i] = f"{lines[i].rstrip()} {disclaimer}"
            return "\n".join(lines)
    return f"{disclaimer} {text}"


def clean(text: str) -> str:
    """Tip text as one line: NFC, whitespace runs as single spaces, characters X refuses as spaces."""
    return " ".join(unicodedata.normalize("NFC", _TO_SPACE.sub(" ", text)).split())


def tidy(text: str) -> str:
    """A rendering made to read well: no trailing or doubled spaces, at most one blank line in a row, NFC.

    Characters X refuses go too, such as the byte-order mark some editors put at the start of a template.
    """
    lines = "\n".join(" ".join(line.split()) for line in _TO_SPACE.sub(" ", text).split("\n"))
    if "\n\n\n" in lines:  # the search alone costs more than the rest when there is nothing to replace
        lines = _BLANK_LINES.sub("\n\n", lines)
    return unicodedata.normalize("NFC", lines.strip())


_TAG_WORD_BREAK = re.compile(r"[\s_-]+")


def _camel(tag: str) -> str:
    """"back pain", "back-pain", "back_pain" -> "BackPain": screen readers read each word of a CamelCase hashtag
    (Mastodon asks for it). A one-word tag keeps its own letters but its first: "backpain" -> "Backpain"."""
    return "".join(word[:1].upper() + word[1:] for word in _TAG_WORD_BREAK.split(tag) if word)


def _merge_hashtags(own: Iterable[str], extra: Iterable[str], *, camel: bool = False) -> tuple[str, ...]:
    """The article's hashtags, then the others, without '#', blanks or repeats (case-insensitively);
    ``camel``: each in CamelCase (Mastodon)."""
    seen: set[str] = set()
    merged = []
    for tag in (*own, *extra):
        tag = clean(tag).lstrip("#")
        tag = _camel(tag) if camel else tag.replace(" ", "")
        if not any(c.isalnum() for c in tag):
            continue  # "-" or "…" is no hashtag: no network would link it
        if tag and tag.casefold() not in seen:
            seen.add(tag.casefold())
            merged.append(tag)
    return tuple(merged)
