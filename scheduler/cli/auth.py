"""`scheduler auth`: log in and say which credentials each account uses."""

from __future__ import annotations

import click

from scheduler.cli.base import Context, cli, emit_json, pass_ctx, with_account
from scheduler.domain.errors import SchedulerError


@cli.group()
def auth():
    """Credentials: each account's, on its network."""


@auth.command("login")
@click.option("--client-id", help="OAuth 2.0 client id (default: [publisher] client_id).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1024, 65535),
              help="Local port for the redirect (register http://127.0.0.1:PORT/callback with X).")
@pass_ctx
def auth_login(obj: Context, client_id, port):
    """Authorize with OAuth 2.0 (PKCE) and store the tokens in a 0600 file."""
    from scheduler.app import auth as auth_flow  # lazy: the networks and config ~35 ms; `scheduler --help` loads every command module

    config = obj.config
    client_id = client_id or config["publisher"]["client_id"]
    if not client_id:
        raise click.UsageError("give --client-id or set [publisher] client_id in scheduler.toml")
    path = auth_flow.login(config, client_id=client_id, port=port, echo=click.echo)
    click.echo(f"tokens stored in {path} (mode 0600)")


@auth.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable: one object per account (never a secret).")
@click.option("--check", is_flag=True, help="Also ask each Mastodon server whether it answers (no token is sent).")
@pass_ctx
def auth_status(obj: Context, as_json, check):
    """Which credentials each account would use (never their values); every account's, with several."""
    from scheduler.app import auth as auth_flow  # lazy: the networks and config ~35 ms; `scheduler --help` loads every command module

    # default_account chooses what other commands act on; it does not hide the other accounts' credentials here.
    several = obj.account_name is None and len(obj.root_config.accounts) > 1
    contexts = [obj.for_account(a.name) for a in obj.root_config.accounts] if several else [obj]
    reports = [with_account(each, auth_flow.report(each.config, check=check)) for each in contexts]
    if as_json:
        emit_json(reports if several else reports[0])
    else:
        click.echo("\n\n".join(report["summary"] for report in reports))
    problems = [f"{r['account']}: {r['problem']}" for r in reports if r["problem"]]
    if problems:
        raise SchedulerError("; ".join(problems))
