"""`scheduler insights`: how sent posts did, grouped by what made them, and the slots the account's history
favours (`insights suggest-slots`). Reads only: nothing here changes the calendar or the queue."""

from __future__ import annotations

import click

from scheduler.cli.base import Context, _choose_account, cli, emit_json, now_utc, pass_ctx
from scheduler.domain.errors import InputError
from scheduler.domain.post_curve import GROUP_BY


def _accounts(obj: Context) -> list[Context]:
    """The chosen account; every account when there are several and none is chosen (as `status`)."""
    if obj.account_name is None and obj.root_config.selected is None:
        return [obj.for_account(a.name) for a in obj.root_config.accounts]
    return [obj]


@cli.group(invoke_without_command=True)
@click.option("--account", metavar="NAME", is_eager=True, callback=_choose_account,
              help="The account (default: the only one, or default_account; with several and none: all).")
@click.option("--since", metavar="AGE|DATE",
              help="Posts sent since: an age (30d, 12w, 48h) or a date or ISO date-time (local). Default: all.")
@click.option("--by", "by", default="post", show_default=True, metavar="|".join(GROUP_BY),
              help="Group the results by post, tip, article, variant (a tip's wording), template, "
                   "weekday-hour (the account's zone) or network.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def insights(ctx, account, since, by, as_json):
    """How sent posts did: engagement (with its basis), best and worst posts, X's cost per month."""
    if ctx.invoked_subcommand is not None:
        return
    from scheduler.app import insights as app  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app.insights_views import report_json, report_text  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    obj: Context = ctx.obj
    now = now_utc()
    targets = [each.config for each in _accounts(obj)]
    try:
        app.check_by(by)
        # A date without an offset is the (first) account's local time, as everywhere.
        start = app.parse_since(since, targets[0].tz, now) if since else None
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None
    report = app.insights(obj.store, targets, now, since=start, by=by)
    if as_json:
        emit_json(report_json(report))
    else:
        click.echo(report_text(report))


@insights.command("suggest-slots")
@click.option("--since", metavar="AGE|DATE", help="Only posts sent since (as for `insights`). Default: all.")
@click.option("--count", default=5, show_default=True, type=click.IntRange(1, 168), help="How many slots.")
@click.option("--min-posts", default=3, show_default=True, type=click.IntRange(1, 10000),
              help="Measured posts a slot needs before it is suggested.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def suggest_slots(obj: Context, since, count, min_posts, as_json):
    """Weekdays and hours this account's own posts did best at, with the evidence. Changes nothing."""
    from scheduler.app import insights as app  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app.insights_views import slots_json, slots_text  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    now = now_utc()
    try:
        start = app.parse_since(since, obj.config.tz, now) if since else None
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None
    found, measured = app.suggest_slots(obj.store, obj.config, now, since=start, count=count, min_posts=min_posts)
    if as_json:
        emit_json({"account": obj.config.account_name, "network": obj.config.network,
                   **slots_json(found, measured, obj.config.tz)})
    else:
        click.echo(slots_text(found, measured, obj.config.tz, min_posts))


@insights.command("collect")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def collect(ctx, as_json):
    """Read the metrics due now, once (what the service does on its schedule); tries a paused account again."""
    from scheduler.app.collecting import collect_now, collect_text  # lazy: pulls in the publishers and the ledger; `scheduler --help` loads every command module

    obj: Context = ctx.obj
    report = collect_now(obj.store, [each.config for each in _accounts(obj)], now_utc)
    if as_json:
        emit_json(report)
    else:
        click.echo(collect_text(report))
