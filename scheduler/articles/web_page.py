"""Reading an article from its web page: fetch it, find the main content, find the tips.

    read_url(url, fetcher) -> Article
    article_from_html(html, url=, source=) -> Article

trafilatura finds the page's main content (menus, sidebars, comments, share bars and footers
dropped) and its metadata: title, canonical URL, author, date, tags, categories. The content is
rendered as Markdown (headings, ordered lists and bold leads kept) and its tips are found by the
same rules as in a file (``article.parse_article``). When that content holds no tips, the whole
page is read with the project's own HTML reader, since an extractor can judge a list of short
tips to be boilerplate; when neither finds tips, the error names the numbering styles tried.
"""

from __future__ import annotations

import dataclasses

from scheduler.articles.fetching import HTML_TYPES, AddressGuard, Fetcher
from scheduler.domain.errors import ArticleError
from scheduler.domain.models import Article

_ACCEPT_HTML = "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"
# What trafilatura's metadata adds to the article's own (the title and URL are used, not kept).
_METADATA_FIELDS = ("author", "date", "description", "sitename", "tags", "categories")


def read_url(url: str, fetcher: Fetcher, *, guard: AddressGuard | None = None) -> Article:
    """Fetch the page at ``url`` and read its article (FetchError, ArticleError on failure); ``guard``: the
    addresses it may be fetched from (a feed's entry link), else any (a page a person named)."""
    page = fetcher.get(url, kinds=HTML_TYPES, accept=_ACCEPT_HTML, guard=guard)
    return article_from_html(page.content, url=page.url, source=url, charset=page.charset)


def article_from_html(html: bytes | str, *, url: str, source: str, charset: str | None = None) -> Article:
    """The article on a page fetched from ``url`` (after redirects); ``source`` names it in messages."""
    import trafilatura  # lazy: trafilatura ~175 ms only when a web page is read
    from trafilatura.xml import xmltotxt  # lazy: trafilatura ~175 ms only when a web page is read

    from scheduler.articles.reading import parse_article  # lazy: the article parsers (Markdown, BeautifulSoup) ~150 ms only when an article is read

    text = html if isinstance(html, str) else _decode(html, charset)
    if not text.strip():
        raise ArticleError(f"{source}: the page is empty.")
    document = trafilatura.bare_extraction(
        text, url=url, with_metadata=True, include_formatting=True, include_links=False, include_images=False,
        include_comments=False, favor_recall=True,
    )
    title = (document.title or "") if document else ""
    canonical = (document.url if document and document.url else None) or url
    metadata = {name: value for name in _METADATA_FIELDS if document and (value := getattr(document, name, None))}
    body = xmltotxt(document.body, True) if document is not None and document.body is not None else ""
    try:
        article = parse_article(_with_title(body, title), fmt="md", source=source, url=canonical)
    except ArticleError:
        article = parse_article(text, fmt="html", source=source, url=canonical)
        if title:
            article = dataclasses.replace(
                article, title=title, warnings=tuple(w for w in article.warnings if "no title found" not in w)
            )
    return dataclasses.replace(article, metadata={**metadata, **article.metadata})


def _with_title(markdown: str, title: str) -> str:
    if not title or not markdown.strip():
        return markdown
    import yaml  # lazy: PyYAML ~10 ms only for a page with front matter

    return "---\n" + yaml.safe_dump({"title": title}, allow_unicode=True, width=10_000) + "---\n" + markdown


def _decode(content: bytes, charset: str | None) -> str:
    if charset:
        try:
            return content.decode(charset)
        except (LookupError, UnicodeDecodeError):
            pass
    from trafilatura.utils import decode_file  # lazy: trafilatura ~175 ms only when a web page is read

    return decode_file(content)
