"""`scheduler feeds`: follow a blog's feed."""

from __future__ import annotations

import click

from scheduler.cli.base import Context, _choose_account, cli, emit_json, now_utc, pass_ctx, with_account


@cli.group()
def feeds():
    """Follow blogs' feeds: each new article's tips are queued by the service."""


@feeds.command("add")
@click.argument("url")
@click.option("--account", metavar="NAME", is_eager=True, callback=_choose_account,
              help="The account the posts are for (default: the only one, or default_account).")
@click.option("--to", "to", metavar="NAME[,NAME...]",
              help="Follow it for each of these accounts: each entry becomes posts on each, composed for its network.")
@click.option("--backfill", default=0, show_default=True, type=click.IntRange(0, 1000), metavar="N",
              help="Import the newest N entries now; the others are marked as seen.")
@pass_ctx
def feeds_add(obj: Context, url, account, to, backfill):
    """Follow an RSS or Atom feed (its current entries are marked as seen)."""
    from scheduler.articles import feeds as feeding  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    if to and account:
        raise click.UsageError("give --to NAME,NAME or --account NAME, not both")
    if to:
        names = [name.strip() for name in to.split(",") if name.strip()]
        targets = [obj.for_account(obj.root_config.account_named(name).name) for name in names]  # checked first
    else:
        targets = [obj]
    several = len(targets) > 1
    for each in {t.config.account_name: t for t in targets}.values():
        parsed, result = feeding.follow(each.store, each.config, url, now_utc(), backfill=backfill)
        seen = len(parsed.entries) - min(backfill, len(parsed.entries))
        who = f" for {each.config.account_name}" if several else ""
        click.echo(f"following {parsed.title or url} ({url}){who}: {seen} existing entries marked as seen")
        if backfill:
            for line in feeding.describe([result])[1:]:
                click.echo(line)


def _feed_accounts(obj: Context) -> list[Context]:
    """The chosen account; every account when there are several and none is chosen (as `status`)."""
    if obj.account_name is None and obj.root_config.selected is None:
        return [obj.for_account(a.name) for a in obj.root_config.accounts]
    return [obj]


@feeds.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def feeds_list(obj: Context, as_json):
    """Followed feeds: state, last and next check, entries imported and skipped (with reasons)."""
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    reports = [(each, views.feeds_report(each.store, each.config)) for each in _feed_accounts(obj)]
    if as_json:
        emit_json([row for each, report in reports for row in with_account(each, report)])
    elif len(reports) == 1:
        click.echo(views.feeds_text(reports[0][1]))
    else:
        click.echo("\n\n".join(f"{each.config.account_name}:\n{views.feeds_text(report)}" for each, report in reports))


@feeds.command("remove")
@click.argument("url")
@click.option("--account", metavar="NAME", is_eager=True, callback=_choose_account,
              help="The account the feed was followed for.")
@pass_ctx
def feeds_remove(obj: Context, url, account):
    """Stop following a feed (posts already queued from it stay queued)."""
    from scheduler.articles import feeds as feeding  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    feeding.unfollow(obj.store, obj.config, url)
    click.echo(f"no longer following {url}")


@feeds.command("poll")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def feeds_poll(obj: Context, as_json):
    """Check every followed feed now, as the service does on its schedule (every account's, with several)."""
    from scheduler.articles import feeds as feeding  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.articles.fetching import Fetcher, FetchSettings  # lazy: sockets and fetch settings ~7 ms; `scheduler --help` loads every command module

    accounts = _feed_accounts(obj)
    fetcher = Fetcher(FetchSettings.from_config(accounts[0].config))
    try:
        results = [(each, feeding.poll_due(each.store, each.config, now_utc(), fetcher, every=True))
                   for each in accounts]
    finally:
        fetcher.close()
    if as_json:
        emit_json([
            {**with_account(each, {"url": r.url, "state": r.state, "error": r.error}),
             "imported": [{"entry": e.key, "title": e.title, "article": key, "added": added}
                          for e, key, added in r.imported],
             "skipped": [{"entry": e.key, "title": e.title, "reason": reason} for e, reason in r.skipped],
             "pending": [{"entry": e.key, "title": e.title, "reason": reason} for e, reason in r.pending]}
            for each, polled in results for r in polled
        ])
        return
    lines = []
    for each, polled in results:
        described = feeding.describe(polled)
        lines += [f"{each.config.account_name}: {line}" if len(results) > 1 and not line.startswith(" ") else line
                  for line in described]
    click.echo("\n".join(lines) or "No feeds followed: `scheduler feeds add URL`.")
