"""Reading an article (plain text, Markdown or HTML) into an ``Article`` of numbered tips.

    load_article(path, url=None) -> Article       # a file; the suffix picks the format
    parse_article(text, fmt=, source=, url=None)  # text already in memory

Plain text and Markdown may open with YAML front matter between two ``---`` lines,
holding only the keys in ``FRONT_MATTER_KEYS`` (a typo is an error, not ignored).
See posts/README.md for the format users write; ``article_tips`` for how tips are
found; ``article_formats`` for how each format is read.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import frontmatter
import yaml

from .article_blocks import (
    Block,
    BlockKind,
    collapse_whitespace,
    match_numbering,
    numbering_styles_tried,
    without_web_chrome,
)
from .article_formats import read_html, read_markdown, read_plain_text
from .article_tips import layout_tips
from .errors import ArticleError
from .models import Article

FORMATS_BY_SUFFIX = {".txt": "txt", ".md": "md", ".markdown": "md", ".html": "html", ".htm": "html"}
FORMATS = frozenset(FORMATS_BY_SUFFIX.values())
FRONT_MATTER_KEYS = ("canonical", "hashtags", "id", "tags", "title", "url")

STYLES_TRIED = (
    f"{numbering_styles_tried()} lines, Markdown ordered lists and '## 1.' headings, "
    "HTML <ol><li> and numbered <h2>/<h3>"
)
_TITLE_MAX_CHARS = 150
_HASHTAG = re.compile(r"\w+")


@dataclass(frozen=True)
class FrontMatter:
    title: str = ""
    url: str | None = None
    hashtags: tuple[str, ...] = ()
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
    warnings = layout.warnings
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
    """(front matter, the text after it, the line that text starts on)."""
    lines = text.split("\n")
    if lines[0].strip() != "---":
        return FrontMatter(), text, 1
    closing = next((i for i, line in enumerate(lines[1:], start=1) if line.strip() in ("---", "...")), None)
    if closing is None:
        raise ArticleError(
            f"{source}: front matter opened with '---' on line 1 is never closed. Add a '---' line after it."
        )
    yaml_lines = lines[1:closing]
    metadata = _load_yaml("\n".join(yaml_lines), source)
    return _front_matter(metadata, yaml_lines, source), "\n".join(lines[closing + 1 :]), closing + 2


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


def _front_matter(metadata: dict[Any, Any], yaml_lines: list[str], source: str) -> FrontMatter:
    for key in metadata:
        if key not in FRONT_MATTER_KEYS:
            line = next((i for i, text in enumerate(yaml_lines, start=2) if text.startswith(f"{key}:")), None)
            where = f" (line {line})" if line else ""
            raise ArticleError(
                f"{source}: unknown front matter key '{key}'{where}. Allowed keys: {', '.join(FRONT_MATTER_KEYS)}."
            )
    url = _text_value(metadata, "url", source)
    canonical = _text_value(metadata, "canonical", source)
    if url and canonical and url != canonical:
        raise ArticleError(f"{source}: front matter gives both url and canonical, and they differ. Keep one.")
    hashtags = _hashtags(metadata.get("hashtags"), source)
    return FrontMatter(
        title=_text_value(metadata, "title", source),
        url=url or canonical or None,
        hashtags=hashtags or _tags(metadata.get("tags"), source),
        id=_identity(metadata.get("id"), source),
    )


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


def _tags(value: Any, source: str) -> tuple[str, ...]:
    """A blog's tags as hashtags, used when there is no ``hashtags`` key: "back pain" becomes BackPain."""
    if value is None:
        return ()
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(tag, str | int) for tag in value):
        raise ArticleError(f"{source}: front matter 'tags' must be a list, e.g. [back pain, massage].")
    tags = []
    for tag in map(str, value):
        words = _HASHTAG.findall(tag.lstrip("#"))
        joined = words[0] if len(words) == 1 else "".join(w[:1].upper() + w[1:] for w in words)
        if joined and joined not in tags:
            tags.append(joined)
    return tuple(tags)


def _identity(value: Any, source: str) -> str | None:
    """Front matter ``id``: the article's key in the ledger, whatever its URL, title or file name."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int) or not re.search(r"[A-Za-z0-9]", str(value)):
        raise ArticleError(
            f"{source}: front matter 'id' must be a short name of letters and digits, e.g. id: desk-setup."
        )
    return str(value).strip()


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
