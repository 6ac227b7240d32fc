"""The content library: articles in, queued posts out.

Importing is all-or-nothing per run: every article is read and every post composed before the
ledger is touched, so an article with no tips, or a template that cannot fit a tip, leaves the
queue exactly as it was.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from scheduler.config import Config
from scheduler.errors import ArticleError
from scheduler.models import Article, ComposedPost, article_key, post_id_for, source_slug
from scheduler.store import ArticleImport, ImportReport, NewPost, Store

ARTICLE_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm")


@dataclass(frozen=True)
class Composed:
    article: Article  # its warnings include the tips left out
    posts: tuple[ComposedPost, ...]


@dataclass(frozen=True)
class Imported:
    article: Article
    report: ImportReport


def article_paths(paths: Sequence[Path]) -> list[Path]:
    """Expand directories into the articles they hold (README files are documentation, not articles)."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
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


def load(paths: Sequence[Path], *, url: str | None = None) -> list[Article]:
    """The articles at ``paths`` (directories are read for their articles), each with its warnings."""
    from scheduler.article import load_article

    articles = []
    for path in article_paths(paths):
        article = load_article(path, url=url)
        if not article.url:
            article = replace(article, warnings=(
                *article.warnings,
                f"{article.source}: no URL, so its posts will carry no link to the article; add 'url:' front "
                "matter (or give --url) to link them",
            ))
        articles.append(article)
    return articles


def compose(config: Config, paths: Sequence[Path], *, url: str | None = None) -> list[Composed]:
    return compose_articles(config, load(paths, url=url))


def compose_articles(
    config: Config, articles: Sequence[Article], chosen: Mapping[str, Mapping[int, int]] | None = None
) -> list[Composed]:
    """Each article's posts; ``chosen`` holds the variants a person picked, by article key and tip."""
    from scheduler.compose import compose_posts
    from scheduler.templates import load_templates

    env = load_templates(config.templates_dir)
    results = []
    for article in articles:
        hashtags = article.hashtags or config["compose"]["hashtags"]
        made = compose_posts(article, handle=config.handle, hashtags=hashtags, env=env,
                             variants=(chosen or {}).get(article.key))
        article = replace(article, warnings=(*article.warnings, *made.notes))
        results.append(Composed(article, made.posts))
    return results


def import_articles(store: Store, config: Config, paths: Sequence[Path], now: datetime, *,
                    url: str | None = None) -> list[Imported]:
    """Read and compose every article first, then store them all in one transaction.

    Each article keeps the key the ledger knows it by (``ledger_key``), and the template variants a person chose
    for its posts, so a re-import changes unsent posts and never queues a tip a second time.
    """
    known = store.article_keys(config.account)
    articles = [ledger_key(article, known) for article in load(paths, url=url)]
    composed = compose_articles(config, articles, store.chosen_variants(config.account))
    reports = store.import_articles(config.account, [_article_import(item) for item in composed], now)
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


def _article_import(item: Composed) -> ArticleImport:
    article = item.article
    base = Path(article.source).parent
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
