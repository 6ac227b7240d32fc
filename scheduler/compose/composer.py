"""Composing posts: a tip rendered through a template into text that its network accepts as it is.

Every post is valid by construction (within the network's ``LengthRule``: X's weighted 280, Bluesky's 300
graphemes, a Mastodon server's limit); a network with more room gets a fuller point (``tip_points.extra_sentences``)
and its own templates (``templates.templates_for``); Mastodon's hashtags are written in CamelCase. A post carries its tip's headline and *point*, the
body's most useful whole sentences (see tip_points). When a rendering is too long the composer shortens it as a
person would: it drops hashtags one at a time from the last, then takes a leaner point (fewer whole sentences);
only when even the headline alone does not fit does it cut the body, else the headline, after a sentence or a word
(with an ellipsis), never inside a word or a link. A template that asks for a thread moves the rest of the body
into replies instead; a one-long-sentence tip cut at a clause boundary goes on in one reply
(on X; on Bluesky only when its larger room is still short). Nothing is invented: every word of a post comes from the tip, the article, the template's
own text, the handle or the hashtags (see unfaithful_words).

``compose_article`` also keeps an article's posts apart from each other (no two open with the same three words)
and leaves out a tip whose post would say too little (``tip_points.MIN_TIP_WORDS``), saying which and why.

This module chooses (which template, variant, point and parts); rendering.py renders and tidies, fitting.py
shortens to fit, faithfulness.py checks that nothing was invented.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from scheduler.compose import tip_points
from scheduler.compose.faithfulness import _template_text
from scheduler.compose.fitting import ELLIPSIS, _shorten, _thread, _weigh
from scheduler.compose.rendering import _Renderer, _Shared
from scheduler.compose.templates import (
    AVOID,
    TIP,
    TemplateSet,
    Variant,
    default_variant,
    load_templates,
)
from scheduler.domain.errors import TemplateError
from scheduler.domain.models import Article, ComposedPost, Tip
from scheduler.text.limits import LengthRule, X
from scheduler.text.x_length import url_spans


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
    if len(parts) == 1 and point:
        # A long sentence cut at a clause boundary (on X, or even Bluesky's 300) goes on in a reply.
        parts = _cut_thread(render, headline, body, point, tags) or parts
    post = _post(tip, chosen, index, parts, media, rule)
    return _Made(post, _tip_words(post, tip, templates, headline, point, chosen), opening(post.text))


def _cut_thread(render: _Renderer, headline: str, body: str, point: str, tags: tuple[str, ...]) -> tuple[str, ...]:
    """When ``point`` is a long sentence cut at a clause boundary: the post, and a reply with the rest of the
    sentence, at the longest cut whose rest reads as an instruction and fits. () when there is none, or when
    the post leaves out no step (only a reason: "so that your back never has to twist")."""
    if not tip_points.loses_a_step(point, render.paragraphs):
        return ()
    for cut in (point, *tip_points.shorter_cuts(point, render.paragraphs)):
        rest = tip_points.rest_after_cut(cut, render.paragraphs)
        if rest and render.rule.fits(rest):
            first = render(headline, body, cut, tags)
            if render.rule.fits(first):
                return first, rest
    return ()


def _tip_words(
    post: ComposedPost, tip: Tip, templates: TemplateSet, headline: str, point: str | None, chosen: Variant
) -> int:
    """Words of the tip in the post: its headline and point when the post shows them whole, else counted."""
    if point is not None and "body" not in chosen.source and headline in post.text and point in post.text:
        return len(tip_points.words(headline)) + len(tip_points.words(point))
    return tip_word_count(post, tip, templates)


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


