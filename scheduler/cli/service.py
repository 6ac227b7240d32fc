"""The service and what it did: `serve`, `status`, `history`, `resolve`."""

from __future__ import annotations


import sys

import click

from scheduler.cli.base import Context, cli, dashboard, emit_json, now_utc, pass_ctx, with_account


@cli.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def history(obj: Context, limit, as_json):
    """What was sent (tweet id, URL, time) and what failed, newest first."""
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    records = obj.store.history(obj.config.account, limit=limit)
    if as_json:
        emit_json(with_account(obj, [views.post_json(p, obj.config) for p in records]))
    else:
        click.echo(views.history_text(records, obj.config))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(obj: Context, as_json):
    """Service alive?, queue size, next post, failures, unknowns, quota used (each account's, with several)."""
    from scheduler.app import health  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    # default_account chooses what other commands act on; it does not hide the other accounts' credentials here.
    several = obj.account_name is None and len(obj.root_config.accounts) > 1
    contexts = [obj.for_account(a.name) for a in obj.root_config.accounts] if several else [obj]
    reports = [with_account(each, health.status(each.store, each.config, now_utc())) for each in contexts]
    if as_json:
        emit_json(reports if several else reports[0])
    else:
        click.echo("\n\n".join(views.status_text(report) for report in reports))


@cli.command()
@click.argument("post_id")
@click.option("--sent", "tweet_id", metavar="ID_OR_URL",
              help="It was published: its id or address on the account's network (X, Bluesky or Mastodon).")
@click.option("--retry", is_flag=True, help="It was not published: send it again.")
@pass_ctx
def resolve(obj: Context, post_id, tweet_id, retry):
    """Settle a post whose outcome is unknown."""
    if bool(tweet_id) == bool(retry):
        raise click.UsageError("give --sent ID_OR_URL or --retry")
    if tweet_id:
        from scheduler.networks.post_links import remote_id_from  # lazy: the networks and config ~20 ms; `scheduler --help` loads every command module

        try:  # as the dashboard takes it: the id the network gave, or the post's address
            tweet_id = remote_id_from(obj.config, tweet_id)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sent") from None
    from scheduler.publishing.engine import live_instances  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    now = now_utc()
    live = live_instances(obj.store, obj.config.account, now, obj.config["service"]["heartbeat"] * 3)
    obj.store.resolve(obj.config.account, post_id, sent_tweet_id=tweet_id, retry=retry, now=now, live_instances=live)
    click.echo(f"{post_id}: recorded as sent ({tweet_id})" if tweet_id else f"{post_id}: queued for a new attempt")


@cli.command()
@click.option("--log-json", is_flag=True, help="Log JSON lines instead of readable lines.")
@click.option("--until-empty", is_flag=True, help="Exit once nothing is left to publish (for demos and batch runs).")
@click.option("--log-level", type=click.Choice(["debug", "info", "warning", "error"]), default="info",
              show_default=True, help="Least severe log lines written (debug includes the HTTP libraries').")
@click.option("--web", "web_address", metavar="[HOST:]PORT",
              help="Also serve the dashboard and API in this process (e.g. 8040 or 127.0.0.1:8040).")
@pass_ctx
def serve(obj: Context, log_json, until_empty, log_level, web_address):
    """Run the publishing service in the foreground (SIGHUP reloads, SIGTERM stops)."""
    from scheduler.publishing.signals import Signals  # lazy: logging ~4 ms; `scheduler --help` loads every command module

    signals = Signals().install()  # before anything slow: a signal while starting is handled too
    import logging

    from scheduler.publishing.service import run_service  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    sys.exit(run_service(obj.config_path, log_json=log_json, until_empty=until_empty,
                         log_level=getattr(logging, log_level.upper()), signals=signals,
                         dashboard=(lambda config: dashboard().start(config, web_address)) if web_address else None))
