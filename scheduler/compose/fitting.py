"""Making a rendering fit its network's length rule as a person would: fewer hashtags, a leaner point, a
thread, and only then a cut after a sentence or a word, with an ellipsis, never inside a word or a link."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import regex

from scheduler.compose.rendering import _Renderer
from scheduler.compose.templates import (
    sentence_ends,
)
from scheduler.text.limits import LengthRule, X
from scheduler.text.x_length import url_spans

ELLIPSIS = "\u2026"


# Nothing dangles before an ellipsis: no space, and no punctuation but closing quotes and brackets.
# Connector punctuation (_) is part of a word, so it is never stripped as if it dangled.
_DANGLING = regex.compile(r"[\s\p{Po}\p{Pd}\p{Ps}\p{Pi}]+$")


_SPACE_AFTER_WORD = regex.compile(r"(?<=\S) ")


# Scripts written without spaces may be cut between any two of their characters.
_UNSPACED = regex.compile(r"(?<=[\p{Han}\p{Hiragana}\p{Katakana}])(?=[\p{Han}\p{Hiragana}\p{Katakana}])")


# ASCII text without a dot inside a word holds no link: X counts it character by character.
_DOT_IN_WORD = re.compile(r"\.[^\s.]")


def _weigh(text: str, rule: LengthRule = X) -> int:
    """``rule.measure``, with a short way for the common case of tip sentences (every network counts ASCII
    without links one per character)."""
    if text.isascii() and not _DOT_IN_WORD.search(text) and "\r" not in text:
        return len(text)
    return rule.measure(text)


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
