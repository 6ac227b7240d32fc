"""The content library: articles in, queued posts out.

Articles come from files (``posts/`` by default) or from web pages (``https://...`` sources,
read by ``article_web``); both go through the same tip finding, composing and import.

Importing is all-or-nothing per run: every article is read and every post composed before the
ledger is touched, so an article with no tips, or a template that cannot fit a tip, leaves the
queue exactly as it was.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from scheduler.config import Config
from scheduler.errors import ArticleError
from scheduler.models import Article, ComposedPost, post_id_for
from scheduler.store import ArticleImport, ImportReport, NewPost, Store

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Composed:
    article: Article
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
    from scheduler.templates import load_templates

    sources = article_paths(paths)
    own_fetcher = fetcher is None and any(is_url(s) for s in sources)
    if own_fetcher:
        from scheduler.fetching import Fetcher, FetchSettings

        fetcher = Fetcher(FetchSettings.from_config(config))
    try:
        articles = [_read(source, url, fetcher) for source in sources]
    finally:
        if own_fetcher:
            fetcher.close()
    env = load_templates(config.templates_dir)
    return [compose_read(config, article, env) for article in articles]


def _read(source: Source, url: str | None, fetcher) -> Article:
    from scheduler.article import load_article

    if is_url(source):
        from scheduler.article_web import read_url

        article = read_url(source, fetcher)
        return dataclasses.replace(article, url=url) if url else article
    return load_article(source, url=url)


def compose_read(config: Config, article: Article, env=None) -> Composed:
    """The posts of an article already read (``env``: templates loaded once per run)."""
    from scheduler.article import hashtags_from_metadata
    from scheduler.compose import compose_article
    from scheduler.templates import load_templates

    env = env or load_templates(config.templates_dir)
    hashtags = (article.hashtags or hashtags_from_metadata(article.metadata, config["compose"]["hashtags_from"])
                or config["compose"]["hashtags"])
    posts = compose_article(article, handle=config.handle, hashtags=hashtags, env=env)
    return Composed(article, tuple(posts))


def import_articles(store: Store, config: Config, paths: Sequence[Source], now: datetime, *,
                    url: str | None = None) -> list[Imported]:
    """Read and compose every article first, then store them all in one transaction."""
    composed = compose(config, paths, url=url)
    reports = store.import_articles(config.account, [article_import(item) for item in composed], now)
    return [Imported(item.article, report) for item, report in zip(composed, reports, strict=True)]


def article_import(item: Composed) -> ArticleImport:
    article = item.article
    base = Path.cwd() if is_url(article.source) else Path(article.source).parent
    new_posts = [
        NewPost(
            post_id=post_id_for(article.key, post.tip),
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
    )


def _fingerprint(article: Article) -> str:
    digest = hashlib.sha256()
    for part in (article.title, article.url or "", *(f"{t.number}\n{t.headline}\n{t.body}" for t in article.tips)):
        digest.update(part.encode())
        digest.update(b"\0")
    return digest.hexdigest()
