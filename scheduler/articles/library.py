"""The content library: articles in, queued posts out.

Articles come from files (``posts/`` by default) or from web pages (``https://...`` sources,
read by ``article_web``); both go through the same tip finding, composing and import.

Every article is read and every post composed before the ledger is touched, so a template that
cannot fit a tip, or a web page that cannot be fetched or read, leaves the queue exactly as it was.
An article file that cannot be read (no numbered tips, bad front matter) stops the import too,
unless the caller collects it (``unreadable=``): then the others are imported and it is named,
untouched in the ledger, for the caller to report.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from scheduler.articles.fetching import Fetcher, FetchSettings
from scheduler.articles.web_page import read_url
from scheduler.config import Config
from scheduler.domain.errors import ArticleError
from scheduler.domain.models import Article, ComposedPost, article_key, post_id_for, source_slug
from scheduler.ledger import post_ids
from scheduler.ledger.store import ArticleImport, ImportReport, NewPost, Store
from scheduler.text.limits import rule_for

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Composed:
    article: Article  # its warnings include the tips left out
    posts: tuple[ComposedPost, ...]


@dataclass(frozen=True)
class Imported:
    article: Article
    report: ImportReport


Source = Path | str  # a file or folder, or an http(s) URL


def is_url(source: str | Path) -> bool:
    return isinstance(source, str) and source.startswith(("http://", "https://"))


def article_paths(paths: Sequence[Source]) -> list[Source]:
    """Expand directories into the articles they hold (README files are documentation, not articles);
    URLs are kept as they are."""
    found: list[Source] = []
    for path in paths:
        if is_url(path):
            found.append(path)
        elif path.is_dir():
            found.extend(
                p for p in sorted(path.iterdir())
                if p.suffix.lower() in ARTICLE_SUFFIXES and p.stem.upper() != "README"
            )
        elif path.exists():
            found.append(path)
        else:
            raise ArticleError(f"{path}: no such file or directory")
    if not found:
        raise ArticleError(
            f"no articles found in {', '.join(map(str, paths))}; expected files ending in {', '.join(ARTICLE_SUFFIXES)}"
        )
    return found


def compose(config: Config, paths: Sequence[Source], *, url: str | None = None, fetcher=None) -> list[Composed]:
    """Read every article (files, folders, URLs), then compose its posts; nothing is stored."""
    return compose_articles(config, load(config, paths, url=url, fetcher=fetcher))


def load(config: Config, paths: Sequence[Source], *, url: str | None = None, fetcher=None,
         unreadable: list[tuple[Source, ArticleError]] | None = None) -> list[Article]:
    """Read every article (files, folders, URLs), each with its warnings. An article that cannot be read raises
    its ArticleError, or with ``unreadable`` (a list) an article file is added to it with its source, and left out
    (a web page still stops the import)."""
    sources = article_paths(paths)
    own_fetcher = fetcher is None and any(is_url(s) for s in sources)
    if own_fetcher:
        fetcher = Fetcher(FetchSettings.from_config(config))
    articles = []
    try:
        for source in sources:
            try:
                articles.append(_read(source, url, fetcher))
            except ArticleError as exc:
                if unreadable is None or is_url(source):  # a web page given by hand: all or nothing, as before
                    raise
                unreadable.append((source, exc))
        return articles
    finally:
        if own_fetcher:
            fetcher.close()


def _read(source: Source, url: str | None, fetcher) -> Article:
    from scheduler.articles.reading import load_article  # lazy: the article parsers (Markdown, BeautifulSoup) ~150 ms only when an article is read

    if is_url(source):
        article = read_url(source, fetcher)
        article = dataclasses.replace(article, url=url) if url else article
    else:
        article = load_article(source, url=url)
    if not article.url:
        article = replace(article, warnings=(
            *article.warnings,
            f"{article.source}: no URL, so its posts will carry no link to the article; add 'url:' front "
            "matter (or give --url) to link them",
        ))
    return article


def compose_articles(
    config: Config, articles: Sequence[Article], chosen: Mapping[str, Mapping[int, int]] | None = None
) -> list[Composed]:
    """Each article's posts; ``chosen`` holds the variants a person picked, by article key and tip."""
    from scheduler.compose.templates import templates_for  # lazy: Jinja2 ~45-70 ms; only composing needs it, other commands load this module

    env = templates_for(config)
    return [compose_read(config, article, env, (chosen or {}).get(article.key)) for article in articles]


def compose_read(config: Config, article: Article, env=None, chosen: Mapping[int, int] | None = None) -> Composed:
    """The posts of an article already read (``env``: templates loaded once per run); the tips left out are
    named in the article's warnings."""
    from scheduler.articles.reading import hashtags_from_metadata  # lazy: the article parsers (Markdown, BeautifulSoup) ~150 ms only when an article is read
    from scheduler.compose.composer import compose_posts  # lazy: Jinja2 ~45-70 ms; only composing needs it, other commands load this module
    from scheduler.compose.templates import templates_for  # lazy: Jinja2 ~45-70 ms; only composing needs it, other commands load this module

    env = env or templates_for(config)
    hashtags = (article.hashtags or hashtags_from_metadata(article.metadata, config["compose"]["hashtags_from"])
                or config["compose"]["hashtags"])
    made = compose_posts(article, handle=config.handle, hashtags=hashtags, env=env, variants=chosen,
                         rule=rule_for(config), disclaimer=config["review"]["disclaimer"])
    return Composed(replace(article, warnings=(*article.warnings, *made.notes)), made.posts)


def import_articles(store: Store, config: Config, paths: Sequence[Source], now: datetime, *,
                    url: str | None = None, unreadable: list[tuple[Source, ArticleError]] | None = None
                    ) -> list[Imported]:
    """Read and compose every article first, then store them all in one transaction.

    Each article keeps the key the ledger knows it by (``ledger_key``), and the template variants a person chose
    for its posts, so a re-import changes unsent posts and never queues a tip a second time. ``unreadable``: see
    ``load`` (an article left out keeps whatever the ledger holds of it).
    """
    known = store.article_keys(config.account)
    articles = [ledger_key(article, known) for article in load(config, paths, url=url, unreadable=unreadable)]
    composed = compose_articles(config, articles, store.chosen_variants(config.account))
    suffix = post_ids.suffix(store, config, now)
    reports = store.import_articles(config.account, [article_import(item, suffix) for item in composed], now)
    return [Imported(item.article, report) for item, report in zip(composed, reports, strict=True)]


def ledger_key(article: Article, known: Mapping[str, str]) -> Article:
    """The article under the key the ledger already knows it by, if it knows it under another.

    Its own key (front matter ``id``, else the file's name) when the ledger has it or knows nothing of it; else
    the key it was imported under before: the file's name (an ``id`` added since), the key older versions made
    from the URL or title (or from the title alone, before a URL was added), or the key of an article read from
    the same file.
    """
    own = article.key
    if own in known:
        return article
    candidates = [source_slug(article.source), article.legacy_key, article_key(article.title, None)]
    candidates += [key for key, source in known.items() if source == article.source]
    found = next((key for key in candidates if key and key in known), None)
    if found is None:
        return article
    warnings = article.warnings
    if article.id:
        warnings += (
            f"{article.source}: front matter id '{article.id}' is new, but the ledger knows this article as "
            f"'{found}': kept '{found}', so none of its tips is queued twice",
        )
    return replace(article, id=found, warnings=warnings)


def article_import(item: Composed, post_id_suffix: str = "") -> ArticleImport:
    article = item.article
    base = Path.cwd() if is_url(article.source) else Path(article.source).parent
    new_posts = [
        NewPost(
            post_id=post_id_for(article.key, post.tip) + post_id_suffix,
            kind="tip",
            text=post.text,
            parts=post.parts,
            weighted_length=post.weighted_length,
            article_key=article.key,
            tip=post.tip,
            template=post.template,
            variant=post.variant,
            media=tuple(str((base / m).resolve()) for m in post.media),
        )
        for post in item.posts
    ]
    return ArticleImport(
        article_key=article.key,
        title=article.title,
        url=article.url,
        source=article.source,
        fingerprint=_fingerprint(article),
        tips=[{"number": t.number, "headline": t.headline, "body": t.body} for t in article.tips],
        hashtags=article.hashtags,
        posts=new_posts,
        metadata=article.metadata,
    )


def _fingerprint(article: Article) -> str:
    digest = hashlib.sha256()
    for part in (article.title, article.url or "", *(f"{t.number}\n{t.headline}\n{t.body}" for t in article.tips)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
