"""Reading an article (plain text, Markdown or HTML) into an ``Article`` of numbered tips.

    load_article(path, url=None) -> Article       # a file; the suffix picks the format
    parse_article(text, fmt=, source=, url=None)  # text already in memory

Plain text and Markdown may open with front matter as blog engines write it: YAML between
``---`` lines, or TOML between ``+++`` lines. The keys in ``FRONT_MATTER_KEYS`` are the ones the scheduler uses and are
validated; any other key (``author``, ``date``, ``tags``...) is kept as ``Article.metadata``,
with a warning when it is a near miss of a used key (``hashtag:`` -> "did you mean 'hashtags'?").
See posts/README.md for the format users write; ``article_tips`` for how tips are
found; ``article_formats`` for how each format is read.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from scheduler.articles.blocks import (
    Block,
    BlockKind,
    collapse_whitespace,
    match_numbering,
    numbering_styles_tried,
    without_web_chrome,
)
from scheduler.articles.formats import read_html, read_markdown, read_plain_text
from scheduler.articles.tips import layout_tips
from scheduler.domain.errors import ArticleError
from scheduler.domain.models import Article

FORMATS_BY_SUFFIX = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
FORMATS = frozenset(FORMATS_BY_SUFFIX.values())
FRONT_MATTER_KEYS = ("canonical", "hashtags", "id", "title", "url")

STYLES_TRIED = (
    f"{numbering_styles_tried()} lines, Markdown ordered lists and '## 1.' headings, "
    "HTML <ol><li> and numbered <h2>/<h3>"
)
_TITLE_MAX_CHARS = 150
_HASHTAG = re.compile(r"\w+")


# How close an unused key must be to a used one to be taken for its typo (difflib's ratio):
# "hashtag", "titel", "cannonical" are; "author", "date", "layout", "categories" are not.
_NEAR_MISS = 0.75
_HASHTAGS_FROM_TERMS = 3


@dataclass(frozen=True)
class FrontMatter:
    title: str = ""
    url: str | None = None
    hashtags: tuple[str, ...] = ()
    metadata: dict[str, Any] = field(default_factory=dict)  # the keys the scheduler does not use
    warnings: tuple[str, ...] = ()
    id: str | None = None


def load_article(path: Path, *, url: str | None = None) -> Article:
    """Read the article at ``path``; ``url`` overrides any URL the file gives."""
    fmt = FORMATS_BY_SUFFIX.get(path.suffix.lower())
    if fmt is None:
        raise ArticleError(
            f"{path}: unsupported article type '{path.suffix or '(no suffix)'}'. "
            "Save the article as .txt, .md or .html."
        )
    return parse_article(_read_utf8(path), fmt=fmt, source=str(path), url=url)


def parse_article(text: str, *, fmt: str, source: str, url: str | None = None) -> Article:
    """Parse article ``text`` in format ``fmt`` ('txt', 'md' or 'html'); ``source``
    names it in messages."""
    if fmt not in FORMATS:
        raise ArticleError(f"{source}: unknown article format '{fmt}'. Use one of: {', '.join(sorted(FORMATS))}.")
    text = text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
    _require_content(text, source)
    front, body, first_line = _split_front_matter(text, source) if fmt != "html" else (FrontMatter(), text, 1)
    _require_content(body, source)
    blocks, page_title, canonical_url = _read_blocks(body, fmt, first_line)
    found_title, blocks = _take_title(without_web_chrome(blocks), front.title)
    layout = layout_tips(blocks, source, STYLES_TRIED)
    title = front.title or found_title or page_title
    warnings = front.warnings + layout.warnings
    if not title:
        title = _title_from_source(source)
        warnings += (
            f"{source}: no title found; using '{title}'. Add a first line with the title or 'title:' front matter.",
        )
    return Article(
        title=title,
        url=url or front.url or canonical_url,
        tips=layout.tips,
        source=source,
        intro=layout.intro,
        conclusion=layout.conclusion,
        hashtags=front.hashtags,
        warnings=warnings,
        metadata=front.metadata,
        id=front.id,
    )


# --- Reading -----------------------------------------------------------------------------


def _read_utf8(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ArticleError(
            f"{path}: cannot read the article ({error.strerror or error}). Check the path and its permissions."
        ) from error
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise ArticleError(
            f"{path}: not UTF-8 text (byte 0x{data[error.start]:02x} on line {line}). "
            "Save the file with UTF-8 encoding."
        ) from error


def _require_content(text: str, source: str) -> None:
    if not text.strip():
        raise ArticleError(
            f"{source}: the article is empty. Write a title line, then numbered tips (see posts/README.md)."
        )


def _read_blocks(text: str, fmt: str, first_line: int) -> tuple[list[Block], str, str | None]:
    """(blocks, the page's own title if the format has one, canonical URL if given)."""
    if fmt == "md":
        return read_markdown(text, first_line), "", None
    if fmt == "html":
        page = read_html(text, first_line)
        return page.blocks, page.page_title, page.canonical_url
    return read_plain_text(text, first_line), "", None


# --- Front matter ------------------------------------------------------------------------


def _split_front_matter(text: str, source: str) -> tuple[FrontMatter, str, int]:
    """(front matter, the text after it, the line that text starts on).

    YAML between ``---`` lines (Jekyll, Hugo, most engines) or TOML between ``+++`` lines (Hugo)."""
    lines = text.split("\n")
    fence = lines[0].strip()
    if fence not in ("---", "+++"):
        return FrontMatter(), text, 1
    ends = ("---", "...") if fence == "---" else ("+++",)
    closing = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() in ends), None)
    if closing is None:
        raise ArticleError(
            f"{source}: front matter opened with '{fence}' on line 1 is never closed. Add a '{fence}' line after it."
        )
    meta_lines = lines[1:closing]
    load = _load_yaml if fence == "---" else _load_toml
    metadata = load("\n".join(meta_lines), source)
    return _front_matter(metadata, meta_lines, source), "\n".join(lines[closing + 1 :]), closing + 2


def _load_toml(toml_text: str, source: str) -> dict[str, Any]:
    import tomllib

    try:
        return tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as error:
        raise ArticleError(f"{source}: front matter is not valid TOML: {error}. Write 'key = value' lines.") from error


def _load_yaml(yaml_text: str, source: str) -> dict[str, Any]:
    try:
        metadata = frontmatter.YAMLHandler().load(yaml_text)
    except (yaml.YAMLError, ValueError) as error:  # ValueError: e.g. an impossible date
        raise ArticleError(f"{source}: front matter is not valid YAML: {error}. Write 'key: value' lines.") from error
    if metadata is None:
        return {}
    if not isinstance(metadata, dict):
        raise ArticleError(f"{source}: front matter must be 'key: value' lines (keys: {', '.join(FRONT_MATTER_KEYS)}).")
    return metadata


def _front_matter(metadata: dict[Any, Any], meta_lines: list[str], source: str) -> FrontMatter:
    kept: dict[str, Any] = {}
    warnings: list[str] = []
    for key, value in metadata.items():
        if key in FRONT_MATTER_KEYS:
            continue
        kept[str(key)] = _plain(value)
        if near := difflib.get_close_matches(str(key).lower(), FRONT_MATTER_KEYS, n=1, cutoff=_NEAR_MISS):
            line = next((i for i, text in enumerate(meta_lines, start=2) if _names_key(text, key)), None)
            where = f" (line {line})" if line else ""
            warnings.append(
                f"{source}: front matter key '{key}'{where} is not used; did you mean '{near[0]}'? "
                "It is kept as metadata only."
            )
    url = _text_value(metadata, "url", source)
    canonical = _text_value(metadata, "canonical", source)
    if url and canonical and url != canonical:
        raise ArticleError(f"{source}: front matter gives both url and canonical, and they differ. Keep one.")
    return FrontMatter(
        title=_text_value(metadata, "title", source),
        url=url or canonical or None,
        hashtags=_hashtags(metadata.get("hashtags"), source),
        metadata=kept,
        warnings=tuple(warnings),
        id=_identity(metadata.get("id"), source),
    )


def _identity(value: Any, source: str) -> str | None:
    """Front matter ``id``: the article's key in the ledger, whatever its URL, title or file name."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or not re.search(r"[A-Za-z0-9]", str(value)):
        raise ArticleError(
            f"{source}: front matter 'id' must be a short name of letters and digits, e.g. id: desk-setup."
        )
    return str(value).strip()


def _names_key(line: str, key: Any) -> bool:
    return re.match(rf"\s*['\"]?{re.escape(str(key))}['\"]?\s*[:=]", line) is not None


def _plain(value: Any) -> Any:
    """YAML values as JSON would hold them (dates as ISO text), so metadata can be stored and printed."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def hashtags_from_metadata(metadata: dict[str, Any], keys: Sequence[str]) -> tuple[str, ...]:
    """Hashtags made from the terms under ``keys`` (e.g. ``tags``, ``categories``): "back pain" ->
    ``BackPain``. At most three, in the order written; terms that make no word are left out."""
    tags: list[str] = []
    for key in keys:
        value = metadata.get(key)
        terms = value if isinstance(value, list) else [value] if isinstance(value, str) else []
        for term in terms:
            for piece in str(term).split(","):
                words = _HASHTAG.findall(piece)
                tag = "".join(_capitalized(word) for word in words)
                if tag and tag.casefold() not in (t.casefold() for t in tags):
                    tags.append(tag)
    return tuple(tags[:_HASHTAGS_FROM_TERMS])


def _capitalized(word: str) -> str:
    """The word with a capital first letter, where that capital is one character: some letters' capitals
    are a letter plus a combining mark ('ὐ' -> 'Υ̓'), which would break the hashtag in two."""
    first = word[:1].upper()
    return first + word[1:] if len(first) == 1 else word


def _text_value(metadata: dict[Any, Any], key: str, source: str) -> str:
    value = metadata.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ArticleError(f"{source}: front matter '{key}' must be text, not {type(value).__name__}. Quote it.")
    return collapse_whitespace(value)


def _hashtags(value: Any, source: str) -> tuple[str, ...]:
    """A YAML list, or one string of tags separated by spaces or commas; '#' optional."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.replace(",", " ").split()
    if not isinstance(value, list) or not all(isinstance(tag, str) for tag in value):
        raise ArticleError(
            f"{source}: front matter 'hashtags' must be a list of words, e.g. [BackPain, MassageTherapy]."
        )
    tags = tuple(tag.strip().lstrip("#") for tag in value)
    for tag in tags:
        if not _HASHTAG.fullmatch(tag):
            raise ArticleError(
                f"{source}: hashtag '{tag}' is not a single word. Write hashtags without spaces or punctuation."
            )
    return tags


# --- Title -------------------------------------------------------------------------------


def _take_title(blocks: list[Block], front_title: str) -> tuple[str, list[Block]]:
    """(the title the text gives, the blocks without it)."""
    if front_title:
        # Front matter names the title; a first line that repeats it is not intro.
        if blocks and blocks[0].kind is not BlockKind.ITEM and blocks[0].text.casefold() == front_title.casefold():
            return front_title, blocks[1:]
        return "", blocks
    for position, block in enumerate(blocks):
        if block.kind is BlockKind.HEADING and block.level == 1 and not match_numbering(block.text):
            return block.text, blocks[:position] + blocks[position + 1 :]
    if blocks and _looks_like_title(blocks[0]):
        return blocks[0].text, blocks[1:]
    return "", blocks


def _looks_like_title(block: Block) -> bool:
    """A lone short line that does not read as a sentence and is not a tip."""
    return (
        block.kind is not BlockKind.ITEM
        and len(block.texts) == 1
        and len(block.text) <= _TITLE_MAX_CHARS
        and not block.text.endswith((".", ",", ";", ":"))
        and match_numbering(block.text) is None
    )


def _title_from_source(source: str) -> str:
    words = re.sub(r"[-_]+", " ", Path(source).stem).strip()
    return words[:1].upper() + words[1:] if words else "Untitled article"
