"""Readers that turn plain text, Markdown and HTML into ``Block``s.

Readers only describe the document's shape (headings, paragraphs, list items, the
bold lead of a paragraph); deciding which blocks are tips is ``article_tips``' job.
Line numbers are 1-based in the file the text came from: ``first_line`` is the line
the text starts on (after any front matter).
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from bs4 import BeautifulSoup, MarkupResemblesLocatorWarning, NavigableString, Tag
from bs4.element import Comment, Declaration, Doctype, ProcessingInstruction
from markdown_it import MarkdownIt
from markdown_it.token import Token

from scheduler.articles.blocks import Block, BlockKind, collapse_whitespace, match_numbering

# --- Plain text --------------------------------------------------------------------


def read_plain_text(text: str, first_line: int) -> list[Block]:
    """Paragraphs are separated by blank lines; a numbered line also starts one."""
    blocks: list[Block] = []
    lines: list[str] = []
    start = first_line
    for number, raw in enumerate(text.split("\n"), start=first_line):
        line = collapse_whitespace(raw)
        # A numbered line opens its own block even without a blank line before it,
        # so a list of one-line tips is read as separate tips.
        if not line or (lines and match_numbering(line)):
            if lines:
                blocks.append(Block(BlockKind.PARAGRAPH, tuple(lines), start))
            lines = []
        if line:
            if not lines:
                start = number
            lines.append(line)
    if lines:
        blocks.append(Block(BlockKind.PARAGRAPH, tuple(lines), start))
    return blocks


# --- Markdown ------------------------------------------------------------------------

_MARKDOWN = MarkdownIt("commonmark")


def read_markdown(text: str, first_line: int) -> list[Block]:
    tokens = _MARKDOWN.parse(text)
    blocks: list[Block] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        line = _token_line(token, first_line)
        if token.type == "heading_open":
            blocks.append(
                Block(BlockKind.HEADING, (" ".join(_inline_lines(tokens[index + 1])),), line, level=int(token.tag[1]))
            )
            index += 3
        elif token.type == "paragraph_open":
            inline = tokens[index + 1]
            blocks.append(Block(BlockKind.PARAGRAPH, _inline_lines(inline), line, lead=_inline_lead(inline)))
            index += 3
        elif token.type in ("ordered_list_open", "bullet_list_open"):
            end = _closing_index(tokens, index)
            blocks.extend(_markdown_list_items(tokens[index + 1 : end], first_line))
            index = end + 1
        elif token.type in ("fence", "code_block"):
            lines = tuple(filter(None, map(collapse_whitespace, token.content.split("\n"))))
            if lines:
                blocks.append(Block(BlockKind.PARAGRAPH, lines, line))
            index += 1
        else:  # containers (blockquotes) are read through; rules and raw HTML carry no prose
            index += 1
    return [block for block in blocks if block.texts and any(block.texts)]


def _markdown_list_items(tokens: list[Token], first_line: int) -> Iterator[Block]:
    """The items of one list; nested lists become paragraphs of their parent item."""
    index = 0
    while index < len(tokens):
        token = tokens[index]
        end = _closing_index(tokens, index)
        if token.type == "list_item_open":
            inner = tokens[index + 1 : end]
            inlines = [t for t in inner if t.type == "inline"]
            paragraphs = tuple(" ".join(_inline_lines(t)) for t in inlines)
            yield Block(
                BlockKind.ITEM,
                tuple(p for p in paragraphs if p),
                _token_line(token, first_line),
                number=int(token.info) if token.info.isdigit() else None,
                lead=_inline_lead(inlines[0]) if inlines else "",
            )
        index = end + 1


def _closing_index(tokens: list[Token], open_index: int) -> int:
    depth = 0
    for index in range(open_index, len(tokens)):
        depth += tokens[index].nesting
        if depth <= 0:
            return index
    return len(tokens) - 1


def _token_line(token: Token, first_line: int) -> int:
    return token.map[0] + first_line if token.map else 0


def _inline_lines(inline: Token) -> tuple[str, ...]:
    """Plain text of an inline token, one entry per source line."""
    pieces: list[str] = []
    for child in inline.children or ():
        if child.type in ("text", "code_inline"):
            pieces.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            pieces.append("\n")
        # Images are dropped: their alt text is caption noise, not tip prose.
    return tuple(filter(None, map(collapse_whitespace, "".join(pieces).split("\n"))))


def _inline_lead(inline: Token) -> str:
    """The bold text an inline run opens with, if it opens with bold."""
    children = [c for c in inline.children or () if not (c.type == "text" and not c.content.strip())]
    if not children or children[0].type != "strong_open":
        return ""
    lead: list[str] = []
    for child in children[1:]:
        if child.type == "strong_close":
            break
        if child.type in ("text", "code_inline"):
            lead.append(child.content)
        elif child.type in ("softbreak", "hardbreak"):
            lead.append(" ")
    return collapse_whitespace("".join(lead))


# --- HTML ------------------------------------------------------------------------------

# Page furniture around the article: never tip text.
_IGNORED_TAGS = (
    "script", "style", "nav", "footer", "aside", "noscript", "form", "iframe", "svg",
    "template", "button", "figcaption",
)  # fmt: skip
_HEADINGS = ("h1", "h2", "h3", "h4", "h5", "h6")
_PARAGRAPH_TAGS = ("p", "pre", "blockquote", "dd", "dt")
_NON_PROSE_STRINGS = (Comment, Declaration, Doctype, ProcessingInstruction)
_BOLD_TAGS = ("strong", "b")


@dataclass(frozen=True)
class HtmlPage:
    blocks: list[Block]
    page_title: str  # from <title>, without the site name
    canonical_url: str | None  # from <link rel="canonical">


def read_html(text: str, first_line: int) -> HtmlPage:
    with warnings.catch_warnings():
        # A short article can look like a file name to bs4; it is still the article.
        warnings.simplefilter("ignore", MarkupResemblesLocatorWarning)
        soup = BeautifulSoup(text, "html.parser")
    for tag in soup.find_all(_IGNORED_TAGS):
        tag.decompose()
    title_tag = soup.find("title")
    page_title = collapse_whitespace(title_tag.get_text()) if title_tag else ""
    if title_tag:
        title_tag.decompose()
    # An <h1> outside <article>/<main> is usually the article's title, so keep it.
    h1 = soup.find("h1")
    root = soup.find("article") or soup.find("main") or soup.body or soup
    blocks = _html_blocks(root, first_line)
    if h1 is not None and root is not soup and not _is_inside(h1, root):
        blocks.insert(0, _html_heading(h1, first_line))
    return HtmlPage(blocks, _without_site_name(page_title), _canonical_url(soup))


def _canonical_url(soup: BeautifulSoup) -> str | None:
    link = soup.find("link", rel="canonical")
    href = link.get("href") if link else None
    return href.strip() if isinstance(href, str) and href.strip() else None


def _without_site_name(page_title: str) -> str:
    # <title> usually reads "Article title | Site name"; the site name is not the title.
    return page_title.split(" | ")[0].strip()


def _is_inside(tag: Tag, root: Tag) -> bool:
    return any(parent is root for parent in tag.parents)


def _html_blocks(element: Tag, first_line: int) -> list[Block]:
    blocks: list[Block] = []
    loose: list[NavigableString | Tag] = []  # inline content outside any <p>

    def flush_loose() -> None:
        if loose:
            blocks.extend(_html_paragraph(loose, _node_line(loose[0], element, first_line)))
            loose.clear()

    for child in element.children:
        if isinstance(child, Tag) and child.name in _HEADINGS:
            flush_loose()
            blocks.append(_html_heading(child, first_line))
        elif isinstance(child, Tag) and child.name in _PARAGRAPH_TAGS:
            flush_loose()
            blocks.extend(_html_paragraph(child.contents, _node_line(child, element, first_line)))
        elif isinstance(child, Tag) and child.name in ("ol", "ul"):
            flush_loose()
            blocks.extend(_html_list_items(child, first_line))
        elif isinstance(child, Tag) and _is_block_container(child):
            flush_loose()
            blocks.extend(_html_blocks(child, first_line))
        elif not isinstance(child, _NON_PROSE_STRINGS):
            loose.append(child)
    flush_loose()
    return blocks


def _is_block_container(tag: Tag) -> bool:
    """div/section and friends: anything holding its own blocks rather than inline text."""
    return tag.find(("p", "ol", "ul", "div", "section", *_HEADINGS)) is not None or tag.name in (
        "div", "section", "article", "main", "header", "body", "html", "table", "tr", "td",
    )  # fmt: skip


def _html_heading(tag: Tag, first_line: int) -> Block:
    level = int(tag.name[1])
    return Block(BlockKind.HEADING, (collapse_whitespace(_html_text(tag.contents)),), _tag_line(tag, first_line), level)


def _html_paragraph(nodes: list[NavigableString | Tag], line: int) -> list[Block]:
    lines = tuple(filter(None, map(collapse_whitespace, _html_text(nodes).split("\n"))))
    if not lines:
        return []
    return [Block(BlockKind.PARAGRAPH, lines, line, lead=_html_lead(nodes))]


def _html_list_items(list_tag: Tag, first_line: int) -> Iterator[Block]:
    ordered = list_tag.name == "ol"
    number = _int_attribute(list_tag, "start", default=1)
    for item in list_tag.find_all("li", recursive=False):
        number = _int_attribute(item, "value", default=number)
        paragraphs = tuple(block.text for block in _html_blocks(item, first_line))
        if paragraphs:
            yield Block(
                BlockKind.ITEM,
                paragraphs,
                _tag_line(item, first_line),
                number=number if ordered else None,
                lead=_html_lead(item.contents),
            )
        number += 1


def _int_attribute(tag: Tag, name: str, *, default: int) -> int:
    value = tag.get(name)
    return int(value) if isinstance(value, str) and value.strip().isdigit() else default


def _html_lead(nodes: Iterable[NavigableString | Tag]) -> str:
    """Text of the <strong>/<b> a paragraph opens with (looking through wrappers like <p>)."""
    for node in nodes:
        if isinstance(node, NavigableString):
            if isinstance(node, _NON_PROSE_STRINGS) or not node.strip():
                continue
            return ""
        if node.name in _BOLD_TAGS:
            return collapse_whitespace(_html_text(node.contents))
        if node.name in ("p", "span", "a", "div"):
            return _html_lead(node.contents)
        return ""
    return ""


def _html_text(nodes: Iterable[NavigableString | Tag]) -> str:
    """Visible text, with <br> and block boundaries as newlines; images dropped."""
    pieces: list[str] = []
    for node in nodes:
        if isinstance(node, Tag):
            if node.name == "br":
                pieces.append("\n")
            elif node.name in ("p", "div", "li", *_HEADINGS):
                pieces.append("\n" + _html_text(node.contents) + "\n")
            else:
                pieces.append(_html_text(node.contents))
        elif not isinstance(node, _NON_PROSE_STRINGS):
            pieces.append(str(node))
    return "".join(pieces)


def _tag_line(tag: Tag, first_line: int) -> int:
    return tag.sourceline + first_line - 1 if tag.sourceline else 0


def _node_line(node: NavigableString | Tag, parent: Tag, first_line: int) -> int:
    # Bare text has no position of its own; the enclosing tag's is the best we know.
    return _tag_line(node if isinstance(node, Tag) else parent, first_line)
