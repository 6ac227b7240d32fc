"""Composing posts: a tip rendered through a template into text that its network accepts as it is.

Every post is valid by construction (within the network's ``LengthRule``: X's weighted 280, Bluesky's 300
graphemes, a Mastodon server's limit); a network with more room gets a fuller point (``tip_points.extra_sentences``)
and its own templates (``templates.templates_for``); Mastodon's hashtags are written in CamelCase. A post carries its tip's headline and *point*, the
body's most useful whole sentences (see tip_points). When a rendering is too long the composer shortens it as a
person would: it drops hashtags one at a time from the last, then takes a leaner point (fewer whole sentences);
only when even the headline alone does not fit does it cut the body, else the headline, after a sentence or a word
(with an ellipsis), never inside a word or a link. A template that asks for a thread moves the rest of the body
into replies instead. Nothing is invented: every word of a post comes from the tip, the article, the template's
own text, the handle or the hashtags (see unfaithful_words).

``compose_article`` also keeps an article's posts apart from each other (no two open with the same three words)
and leaves out a tip whose post would say too little (``tip_points.MIN_TIP_WORDS``), saying which and why.
"""

from __future__ import annotations

import functools
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
import regex

from scheduler.compose import tip_points
from scheduler.domain.errors import TemplateError
from scheduler.domain.models import Article, ComposedPost, Tip
from scheduler.compose.templates import (
    AVOID,
    TIP,
    ArticleView,
    SeriesView,
    TemplateSet,
    TipView,
    Variant,
    default_variant,
    load_templates,
    render_error,
    sentence_ends,
)
from scheduler.text.limits import X, LengthRule
from scheduler.text.x_length import INVALID_CHARACTERS, url_spans

ELLIPSIS = "\u2026"

# Characters X refuses, and control characters, become spaces (not nothing, which could glue two words).
# The standard library's engine is the faster one for these simple patterns.
_TO_SPACE = re.compile(
    "[" + "".join(chr(c) for c in [*range(0x20), *range(0x7F, 0xA0)] if not chr(c).isspace()) + INVALID_CHARACTERS + "]"
)
_BLANK_LINES = re.compile(r"\n{3,}")
# Nothing dangles before an ellipsis: no space, and no punctuation but closing quotes and brackets.
# Connector punctuation (_) is part of a word, so it is never stripped as if it dangled.
_DANGLING = regex.compile(r"[\s\p{Po}\p{Pd}\p{Ps}\p{Pi}]+$")
_SPACE_AFTER_WORD = regex.compile(r"(?<=\S) ")
# Scripts written without spaces may be cut between any two of their characters.
_UNSPACED = regex.compile(r"(?<=[\p{Han}\p{Hiragana}\p{Katakana}])(?=[\p{Han}\p{Hiragana}\p{Katakana}])")
_TOPIC_END = regex.compile(r"\s*(?::|\s[-\u2013\u2014]\s).*$", regex.DOTALL)


@dataclass(frozen=True)
class ArticlePosts:
    posts: tuple[ComposedPost, ...]  # in tip order
    notes: tuple[str, ...]  # tips left out, and why


def compose_article(
    article: Article, *, handle: str, hashtags: Sequence[str], env: TemplateSet | None = None, rule: LengthRule = X,
    disclaimer: str = "",
) -> list[ComposedPost]:
    """One post per tip worth posting, in tip order."""
    return list(compose_posts(article, handle=handle, hashtags=hashtags, env=env, rule=rule,
                              disclaimer=disclaimer).posts)


def compose_posts(
    article: Article,
    *,
    handle: str,
    hashtags: Sequence[str],
    env: TemplateSet | None = None,
    variants: Mapping[int, int] | None = None,
    rule: LengthRule = X,
    disclaimer: str = "",
) -> ArticlePosts:
    """The article's posts, and notes on the tips left out.

    ``variants`` holds variants a person chose, by tip number; they are kept as chosen. Otherwise each tip gets
    its stable variant, or the next one whose post does not open with the same three words as an earlier post
    of the article. ``rule``: the network's length rule (default X's 280). ``disclaimer`` (``[review] disclaimer``)
    ends every post, before its link and hashtags, and counts toward the limit: the tip's text is shortened to
    make room for it, never the disclaimer.
    """
    templates = env or load_templates(network=rule.network)
    shared = _Shared.of(article, handle, hashtags, rule, disclaimer)
    chosen = variants or {}
    openings: set[tuple[str, ...]] = set()
    posts, notes = [], []
    for position, tip in enumerate(article.tips, start=1):
        if tip.number in chosen:
            made = _compose(templates, shared, tip, position, chosen[tip.number])
        else:
            made = _distinct(templates, shared, tip, position, openings)
        if made.tip_words < tip_points.MIN_TIP_WORDS:
            notes.append(
                f"{article.source}: tip {tip.number} (\"{_short(tip.headline)}\") is left out: its post would carry "
                f"only {made.tip_words} words of the tip, and a post needs {tip_points.MIN_TIP_WORDS} to say "
                "something on its own. Give the tip a fuller headline, or a body with its how-to."
            )
            continue
        openings.add(made.opening)
        posts.append(made.post)
    return ArticlePosts(tuple(posts), tuple(notes))


def _distinct(
    templates: TemplateSet, shared: _Shared, tip: Tip, position: int, openings: set[tuple[str, ...]]
) -> _Made:
    """The tip's stable variant, or the next one that opens differently from the article's earlier posts."""
    first = default_variant(shared.key, tip.number)
    made = _compose(templates, shared, tip, position, first)
    if made.opening not in openings:
        return made
    for step in range(1, len(templates.variants(_kind(templates, shared, tip)))):
        other = _compose(templates, shared, tip, position, first + step)
        if other.opening not in openings:
            return other
    return made


def opening(text: str) -> tuple[str, ...]:
    """The first three words of a post, as a reader compares them."""
    return tuple(word.casefold() for word in tip_points.words(text[:100])[:3])


def tip_word_count(post: ComposedPost, tip: Tip, templates: TemplateSet) -> int:
    """How many words of the post come from the tip itself: not the link, the hashtags or the template's own text."""
    own = {w.casefold() for w in tip_points.words(f"{tip.headline} {tip.body}")}
    template_words = _template_words(templates.directory / post.template)
    text = post.text
    for start, end in reversed(url_spans(text)):
        text = text[:start] + " " + text[end:]
    # Words never span a space, so the words of the text less its hashtags are those of each other token.
    prose = " ".join(token for token in text.split() if not token.startswith("#"))
    return sum(1 for word in tip_points.words(prose) if (folded := word.casefold()) in own and folded not in template_words)


@functools.lru_cache(maxsize=64)
def _template_words(path: Path) -> frozenset[str]:
    source = path.read_text(encoding="utf-8")
    return frozenset(w.casefold() for text in _template_text(source) for w in tip_points.words(text))


def _short(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + ELLIPSIS


def compose_tip(
    article: Article,
    tip: Tip,
    *,
    handle: str,
    hashtags: Sequence[str],
    variant: int | None = None,
    env: TemplateSet | None = None,
    rule: LengthRule = X,
    disclaimer: str = "",
) -> ComposedPost:
    """The post for one tip of ``article``.

    ``variant`` picks the template (any integer, wrapping around); by default a stable one per tip, and
    ``post.variant + 1`` gives another look for the same tip. ``hashtags`` follow the article's own.
    """
    position = next((i for i, t in enumerate(article.tips, start=1) if t is tip), None)
    if position is None:
        position = article.tips.index(tip) + 1 if tip in article.tips else len(article.tips) + 1
    shared = _Shared.of(article, handle, hashtags, rule, disclaimer)
    return _compose(env or load_templates(network=rule.network), shared, tip, position, variant).post


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


def _kind(templates: TemplateSet, shared: _Shared, tip: Tip) -> str:
    """Tips naming a thing to avoid read as warnings (``avoid/`` templates, when the set has them)."""
    if shared.avoid_list and tip_points.names_a_thing(tip.headline) and templates.has(AVOID):
        return AVOID
    return TIP


@dataclass(frozen=True)
class _Made:
    post: ComposedPost
    tip_words: int  # words of the tip it carries, besides the link and hashtags
    opening: tuple[str, ...]


def _compose(templates: TemplateSet, shared: _Shared, tip: Tip, position: int, variant: int | None) -> _Made:
    if variant is None:
        variant = default_variant(shared.key, tip.number)
    index, chosen = templates.pick(_kind(templates, shared, tip), variant)
    render = _Renderer(chosen, shared, tip, position)
    headline, body, tags, rule = render.headline, render.body, shared.hashtags, shared.rule
    weigh = functools.partial(_weigh, rule=rule)
    points: Sequence[str] = ("",)
    if "point" in chosen.source:
        # Room for the point: what the template, link and hashtags leave, less the headline. Links weigh the
        # same whatever they are, so this is measured once per template and hashtags; an estimate, checked by
        # rendering.
        key = (chosen.name, shared.view.url is None, tags, rule.network, rule.limit, shared.disclaimer)
        overhead = templates.overheads.get(key)
        if overhead is None:
            overhead = templates.overheads[key] = rule.measure(render("", "", "", tags))
        room = rule.limit - overhead - weigh(headline) - 2
        extra = tip_points.extra_sentences(rule.limit)
        points = tip_points.point_options(headline, render.paragraphs, room, weigh, extra=extra)

    text, exports = render.with_exports(headline, body, points[0], tags)
    if not text:
        raise TemplateError(f"{chosen.path}: renders an empty post for {render.where}")
    media = _media(exports.get("media"), templates.directory, render.where, chosen)
    point: str | None = points[0]
    if rule.fits(text):
        parts: tuple[str, ...] = (text,)
    elif exports.get("thread"):
        parts, point = _thread(render, headline, body, tags), None
    else:
        if points[0]:
            # The estimate was short: the richest point that fits in what the rest of the post really leaves.
            room = rule.limit - (rule.measure(text) - weigh(points[0]))
            points = tip_points.point_options(headline, render.paragraphs, room, weigh,
                                              extra=tip_points.extra_sentences(rule.limit))
        text, point = _shorten(render, headline, body, points, tags, tried=text)
        parts = (text,)
    post = _post(tip, chosen, index, parts, media, rule)
    return _Made(post, _tip_words(post, tip, templates, headline, point, chosen), opening(post.text))


def _tip_words(
    post: ComposedPost, tip: Tip, templates: TemplateSet, headline: str, point: str | None, chosen: Variant
) -> int:
    """Words of the tip in the post: its headline and point when the post shows them whole, else counted."""
    if point is not None and "body" not in chosen.source and headline in post.text and point in post.text:
        return len(tip_points.words(headline)) + len(tip_points.words(point))
    return tip_word_count(post, tip, templates)


# ASCII text without a dot inside a word holds no link: X counts it character by character.
_DOT_IN_WORD = re.compile(r"\.[^\s.]")


def _weigh(text: str, rule: LengthRule = X) -> int:
    """``rule.measure``, with a short way for the common case of tip sentences (every network counts ASCII
    without links one per character)."""
    if text.isascii() and not _DOT_IN_WORD.search(text) and "\r" not in text:
        return len(text)
    return rule.measure(text)


_CLOSING = "\"'\u2019\u201D)]"
_ENDS_IN_A_WORD = re.compile(rf"[^\W_][{re.escape(_CLOSING)}]*$")


def _as_headline(text: str) -> str:
    """A headline that ends like a sentence, so the point or the link can follow it: "Child's pose" -> "Child's pose."."""
    # A match can only start at the last character before the closing quotes and brackets (and a final newline,
    # before which $ also matches): searching from there spares a scan of the whole headline.
    start = max(len(text.rstrip(_CLOSING + "\n")) - 1, 0)
    return text + "." if _ENDS_IN_A_WORD.search(text, start) else text


def _post(tip: Tip, chosen: Variant, index: int, parts: tuple[str, ...], media: tuple[str, ...],
          rule: LengthRule = X) -> ComposedPost:
    return ComposedPost(
        tip=tip.number,
        text=parts[0],
        weighted_length=rule.measure(parts[0]),
        template=chosen.name,
        variant=index,
        thread=parts if len(parts) > 1 else None,
        media=media,
    )


def _shorten(
    render: _Renderer, headline: str, body: str, points: Sequence[str], tags: tuple[str, ...], tried: str
) -> tuple[str, str | None]:
    """The richest point that fits with all hashtags; else hashtags go, one at a time, before the point gets
    leaner, a whole sentence at a time. ``tried`` is a rendering already known not to fit. Returns the text and
    the point it shows (None when the body or headline had to be cut)."""
    fits = render.rule.fits
    bare = render(headline, "", "", ())
    if not fits(bare):
        points = ()  # the headline alone is too long: only cutting helps
    for point in points:
        for kept in range(len(tags), -1, -1):
            text = render(headline, body, point, tags[:kept])
            if text == tried:
                continue
            if fits(text):
                return text, point
    # Cutting the body cannot help when the post is too long even without it: the headline must give way too.
    fitted = None
    if fits(bare) or not bare:
        fitted = _fit_prefix(lambda shorter: render(headline, shorter, "", ()), body, fits)
    if fitted is None:
        fitted = _fit_prefix(lambda shorter: render(shorter, "", "", ()), headline, fits)
    if fitted is None:
        raise render.fixed_parts_too_long()
    return fitted[0], None


def _thread(render: _Renderer, headline: str, body: str, tags: tuple[str, ...]) -> tuple[str, ...]:
    """The template with as much of the body as fits, then the rest of the body in replies."""
    fits = render.rule.fits
    for kept in range(len(tags), -1, -1):
        fitted = _fit_prefix(lambda shorter: render(headline, shorter, "", tags[:kept]), body, fits)
        if fitted is not None:
            break
    else:
        fitted = _fit_prefix(lambda shorter: render(shorter, "", "", ()), headline, fits)
        if fitted is None:
            raise render.fixed_parts_too_long()
        fitted = fitted[0], 0  # the headline was cut: the whole body follows in replies
    first, used = fitted
    parts = [first]
    rest = body[used:].lstrip()
    while rest:
        reply = _fit_prefix(lambda shorter: shorter, rest, fits, whole_first=True)
        if reply is None:
            break  # a "word" longer than a post: left out, as a single post would leave it
        parts.append(reply[0])
        rest = rest[reply[1] :].lstrip()
    return tuple(parts)


def _fit_prefix(
    render_with: Callable[[str], str], text: str, fits: Callable[[str], bool], *, whole_first: bool = False
) -> tuple[str, int] | None:
    """The longest rendering of a prefix of ``text`` that fits, and how much of ``text`` it used.

    Prefers ending after a sentence; else after a word, with an ellipsis; else drops the text. None when even
    that does not fit. Renderings grow with the prefix, so each kind of cut is a binary search.
    """
    if whole_first:
        rendered = render_with(text)
        if fits(rendered):
            return rendered, len(text)
    sentences = [end for end in sentence_ends(text) if end < len(text)]
    found = _longest_fitting(sentences, lambda end: text[:end], render_with, fits)
    if found:
        return found
    first = sentences[0] if sentences else len(text)
    found = _longest_fitting(_word_ends(text, first), lambda end: _with_ellipsis(text[:end]), render_with, fits)
    if found:
        return found
    rendered = render_with("")
    return (rendered, 0) if fits(rendered) else None


def _longest_fitting(
    ends: list[int], shown_for: Callable[[int], str], render_with: Callable[[str], str], fits: Callable[[str], bool]
) -> tuple[str, int] | None:
    """Binary search over cut points; only the probed cuts are made, as a long text has many."""
    best = None
    low, high = 0, len(ends) - 1
    while low <= high:
        middle = (low + high) // 2
        shown = shown_for(ends[middle])
        if not shown:  # nothing worth showing before this cut: look further
            low = middle + 1
            continue
        rendered = render_with(shown)
        if fits(rendered):
            best = rendered, ends[middle]
            low = middle + 1
        else:
            high = middle - 1
    return best


def _word_ends(text: str, limit: int) -> list[int]:
    """Where ``text[:limit]`` may be cut between words: before a space, or between two CJK characters."""
    ends = [match.start() for match in _SPACE_AFTER_WORD.finditer(text, 0, limit)]
    unspaced = [m.start() for m in _UNSPACED.finditer(text, 0, limit)]
    if unspaced:
        links = url_spans(text)
        ends = sorted(set(ends) | {i for i in unspaced if not any(s < i < e for s, e in links)})
    return ends


def _with_ellipsis(prefix: str) -> str:
    """``prefix`` ended by an ellipsis, with nothing dangling before it, and no link cut short."""
    last_word = prefix.rfind(" ") + 1  # only a link in the last word can end the prefix
    link_end = max((last_word + end for _, end in url_spans(prefix[last_word:])), default=0)
    kept = prefix[:link_end] + _DANGLING.sub("", prefix[link_end:])
    if not kept.strip():
        return ""
    # A link keeps a space before the ellipsis, so no one reads the ellipsis as part of it.
    return f"{kept} {ELLIPSIS}" if link_end == len(kept) else kept + ELLIPSIS


class _Renderer:
    """Renders one template for one tip, with what the composer chooses to keep of its shrinkable parts."""

    def __init__(self, variant: Variant, shared: _Shared, tip: Tip, position: int) -> None:
        self.variant = variant
        self.tip_number = tip.number
        paragraphs = [cleaned for paragraph in tip.body.split("\n\n") if (cleaned := clean(paragraph))]
        self.paragraphs = "\n\n".join(paragraphs)  # for the point, which may keep a list's items apart
        self.body = " ".join(paragraphs)  # as clean(tip.body): the body on one line
        self.headline = _as_headline(clean(tip.headline))
        self.how_to = tip_points.is_how_to(self.headline, self.paragraphs)
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
            "tip": TipView(number=self.tip_number, headline=headline, body=body, point=point, how_to=self.how_to),
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


def _media(named: object, directory: Path, where: str, variant: Variant) -> tuple[str, ...]:
    """Images a template names, relative to the templates directory; each must exist."""
    if named is None or named == "" or named == []:
        return ()
    paths = [named] if isinstance(named, str) else list(named) if isinstance(named, list | tuple) else None
    if paths is None or not all(isinstance(p, str) for p in paths):
        raise TemplateError(f"{variant.path}: media must be a path or a list of paths, not {named!r} ({where})")
    resolved = []
    for path in paths:
        image = (directory / path).resolve()
        if not image.is_file():
            raise TemplateError(f"{variant.path}: the image {path!r} does not exist (looked for {image}; {where})")
        resolved.append(str(image))
    return tuple(resolved)


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
