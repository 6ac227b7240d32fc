"""Articles in and posts out: `import`, `compose`, `preview`, `articles`."""

from __future__ import annotations


from pathlib import Path

import click

from scheduler.domain.errors import ArticleError
from scheduler.text.limits import limit_for
from scheduler.cli.base import Context, _wrote, cli, emit_json, now_utc, parse_when, pass_ctx, with_account


def article_sources(values) -> list:
    """Command-line article arguments: http(s) URLs stay text, everything else is a path."""
    from scheduler.articles.library import is_url  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    return [value if is_url(value) else Path(value) for value in values]


@cli.command("import")
@click.argument("paths", nargs=-1, metavar="[PATH_OR_URL]...")
@click.option("--url", help="The article's public URL (overrides front matter / canonical link).")
@click.option("--to", "to", metavar="NAME[,NAME...]",
              help="The accounts to queue the posts for, each composed for its network (default: --account, else "
                   "every account with import = true).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@pass_ctx
def import_cmd(obj: Context, paths, url, to, as_json):
    """Import articles (.txt, .md, .html files, or https:// pages) and queue their tips. Default: posts/."""
    if to and obj.account_name:
        raise click.UsageError("give --to NAME,NAME or --account NAME, not both")
    root = obj.root_config
    if to:
        names = [name.strip() for name in to.split(",") if name.strip()]
        targets = [root.account_named(name).name for name in names]  # all checked before any is imported
    elif obj.account_name or len(root.accounts) == 1:
        targets = [obj.config.account_name]
    else:
        targets = [a.name for a in root.accounts if a.imports]
        if not targets:
            raise click.UsageError("every account has import = false: name the accounts with --to NAME,NAME")
    reports = []
    unreadable: dict[str, str] = {}  # source -> why: each article that could not be read, once for all accounts
    imported: list = []  # the articles that were
    for name in dict.fromkeys(targets):
        reports.extend(_import_for(obj.for_account(name), paths, url, as_json, unreadable, imported))
    if as_json:
        emit_json(reports + [{"source": source, "error": why} for source, why in unreadable.items()])
    if unreadable:  # the others are imported; these are not, and the exit says so
        others = " (the others were)" if imported else ""
        raise ArticleError(f"{len(unreadable)} article(s) not imported{others}: " + "; ".join(unreadable.values()))


def _import_for(obj: Context, paths, url, as_json, unreadable: dict[str, str], imported: list) -> list:
    from scheduler.articles.library import import_articles  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    sources = article_sources(paths) or [obj.config.posts_dir]
    now = now_utc()
    failed: list = []
    results = import_articles(obj.store, obj.config, sources, now, url=url, unreadable=failed)
    unreadable.update((str(source), str(exc)) for source, exc in failed)
    imported.extend(results)
    _wrote(obj, [i for r in results for i in (*r.report.added, *r.report.updated)], now)
    findings = _findings_of(obj, [i for r in results for i in (*r.report.added, *r.report.updated)])
    if as_json:
        return with_account(obj, [
            {"source": r.article.source, "article": r.article.key, "title": r.article.title, "tips": len(r.article.tips),
             "added": r.report.added, "updated": r.report.updated, "unchanged": r.report.unchanged,
             "removed": r.report.removed, "kept_sent": r.report.kept_sent, "kept_edit": r.report.kept_edit,
             "kept_removed": r.report.kept_removed, "kept_live": r.report.kept_live,
             "article_removed": r.report.article_removed,
             "warnings": r.article.warnings, "metadata": r.article.metadata,
             "findings": {i: [f.as_dict() for f in findings[i]] for i in (*r.report.added, *r.report.updated)
                          if findings.get(i)}}
            for r in results
        ])
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    if len(obj.root_config.accounts) > 1:
        click.echo(f"{obj.config.account_name} ({obj.config.network}, @{obj.config.handle}):")
    for r in results:
        click.echo(views.import_text(r.article, r.report))
        for warning in r.article.warnings:
            click.echo(f"  warning: {warning}", err=True)
    _echo_findings(obj, findings)
    return []


def _findings_of(obj: Context, post_ids) -> dict:
    """Content-rule findings of the posts just written (see content_rules.py)."""
    from scheduler.review import policy as review  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    ruleset = review.rules(obj.config)
    return {post_id: ruleset.check(obj.store.get(post_id).parts) for post_id in post_ids}


def _echo_findings(obj: Context, findings: dict) -> None:
    review_on = obj.config["review"]["required"]
    for post_id, found in findings.items():
        for finding in found:
            click.echo(f"  {post_id}: {finding.describe()}", err=True)
    if review_on and any(findings.values()):
        click.echo("  (a [block] finding has to go before the post can be approved)", err=True)
    if review_on and findings:
        click.echo(f"  {len(findings)} post(s) await review: `scheduler review list`", err=True)


@cli.command()
@click.argument("path", metavar="PATH_OR_URL")
@click.option("--url", help="The article's public URL.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of posts.")
@pass_ctx
def compose(obj: Context, path, url, as_json):
    """Show the posts an article (a file or an https:// page) yields, without storing anything."""
    from scheduler.articles.library import compose as compose_posts  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    from scheduler.review import policy as review  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    composed = compose_posts(obj.config, article_sources([path]), url=url)
    posts = [p for item in composed for p in item.posts]
    ruleset = review.rules(obj.config)
    if as_json:
        emit_json(with_account(obj, [
            {"tip": p.tip, "text": p.text, "weighted_length": p.weighted_length, "template": p.template,
             "thread": list(p.thread) if p.thread else None, "media": list(p.media),
             "findings": [f.as_dict() for f in ruleset.check(p.parts)]}
            for p in posts
        ]))
        return
    for item in composed:
        for warning in item.article.warnings:
            click.echo(f"warning: {warning}", err=True)
    limit = limit_for(obj.config)
    for p in posts:
        click.echo(f"--- tip {p.tip} ({p.template}, {p.weighted_length}/{limit})")
        for i, part in enumerate(p.parts):
            click.echo(part if i == 0 else f"[reply {i + 1}] {part}")
        for finding in ruleset.check(p.parts):
            click.echo(f"! {finding.describe()}")


@cli.command()
@click.option("--count", default=10, show_default=True, type=click.IntRange(1, 10000), help="How many posts to show.")
@click.option("--from", "from_", metavar="DATETIME", help="Plan from this time instead of now (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (documented in the README).")
@click.option("--ics", type=click.Path(path_type=Path, dir_okay=False), help="Also write the posts to this iCalendar file.")
@pass_ctx
def preview(obj: Context, count, from_, as_json, ics):
    """The next posts, exactly as they will be sent, with their times."""
    from scheduler.planning import agenda  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    config = obj.config
    now = parse_when(from_, config.tz) if from_ else now_utc()
    drafts_wanted = count if config["review"]["required"] else 0
    entries, drafts = agenda.upcoming_with_drafts(obj.store, config, now, count=count, drafts=drafts_wanted)
    if ics:
        from scheduler.planning.ics import write_ics  # lazy: the planner and calendar export ~90 ms; `scheduler --help` loads every command module

        write_ics(entries, handle=config.handle, tz=config.tz, path=ics, now=now_utc())
    if as_json:
        emit_json(with_account(obj, [views.entry_json(e, config.tz) for e in entries]))
    else:
        from scheduler.app.review_views import drafts_text  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

        click.echo(views.preview_text(entries, config))
        if drafts:
            click.echo(drafts_text(drafts, config))
        if ics:
            click.echo(f"wrote {ics}")


@cli.group()
def articles():
    """The articles imported, and taking one out of the queue."""


@articles.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def articles_list(obj: Context, as_json):
    """Every article imported, with its posts counted by state."""
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    found = editing.articles(obj.store, obj.config)
    if as_json:
        emit_json(with_account(obj, [views.article_json(a, obj.config) for a in found]))
    else:
        click.echo(views.articles_text(found, obj.config))


@articles.command("remove")
@click.argument("slug")
@pass_ctx
def articles_remove(obj: Context, slug):
    """Take an article's unsent posts out of the queue and keep re-imports from adding them (history stays)."""
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    taken = editing.remove_article(obj.store, obj.config, slug, now_utc())
    click.echo(f"removed article {slug}: {len(taken)} unsent posts taken out of the queue; sent ones stay in the "
               f"history (`scheduler articles restore {slug}` brings it back)")


@articles.command("restore")
@click.argument("slug")
@pass_ctx
def articles_restore(obj: Context, slug):
    """Undo `articles remove`: its removed posts come back at the end of the queue."""
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    back = editing.restore_article(obj.store, obj.config, slug, now_utc())
    click.echo(f"restored article {slug}: {len(back)} posts back in the queue")
