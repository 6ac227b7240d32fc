"""`scheduler web`: run the dashboard, its password and API tokens."""

from __future__ import annotations

import sys

import click

from scheduler.domain.roles import ROLES
from scheduler.cli.base import Context, cli, dashboard, emit_json, now_utc, pass_ctx


@cli.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; anything but loopback needs a password (`scheduler web passwd`).")
@click.option("--port", default=8040, show_default=True, type=click.IntRange(1, 65535))
@click.option("--log-json", is_flag=True, help="Log JSON lines instead of readable lines.")
@click.pass_context
def web(ctx, host, port, log_json):
    """Serve the dashboard and the HTTP API (see `scheduler web --help` for passwords and tokens)."""
    if ctx.invoked_subcommand:
        return
    from scheduler.logs import setup_logging  # lazy: logging ~4 ms; `scheduler --help` loads every command module

    setup_logging(json_lines=log_json)
    # Every account: pages and the API choose one per request (?account=NAME); --account only sets the default.
    obj = ctx.obj
    config = obj.root_config.for_account(obj.account_name) if obj.account_name else obj.root_config
    sys.exit(dashboard().serve_forever(config, host, port))


@web.command("passwd")
@click.option("--user", default="admin", show_default=True, help="User name to sign in with.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option("--role", type=click.Choice(ROLES),
              help="What the user may do: an editor writes and edits, a reviewer also approves, an admin does "
                   "everything (default for a new user: admin; an existing user keeps theirs).")
@pass_ctx
def web_passwd(obj: Context, user, password_stdin, role):
    """Set the dashboard password (stored as a slow salted hash; open sessions of that user end)."""
    from scheduler.app.access import hash_password  # lazy: hashing and sessions ~15 ms; `scheduler --help` loads every command module

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    obj.store.set_password(user, hash_password(password), now_utc(), role=role)
    click.echo(f"password set for {user} (role {obj.store.user_role(user)}); the dashboard now asks for it")


@web.command("rotate-key")
@click.option("--as", "who", metavar="NAME", help="Who rotates it, for the review log (default: your login name).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def web_rotate_key(obj: Context, who, as_json):
    """Replace the key that signs reviewer links and the password-less dashboard's cookies: what the old key signed
    stops working (reviewer links still usable are revoked)."""
    from scheduler.review import signing_key  # lazy: hashing ~6 ms; `scheduler --help` loads every command module
    from scheduler.review.policy import actor  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    rotated = signing_key.rotate(obj.store, now_utc(), actor=actor(who))
    links = [{"account": account, "link_id": link_id} for account, link_id in rotated.revoked_links]
    if as_json:
        emit_json({"rotated": True, "revoked_links": links})
        return
    click.echo("the signing key was replaced: reviewer links and the password-less dashboard's cookies signed "
               "with the old key no longer work")
    if links:
        click.echo(f"revoked {len(links)} reviewer link(s) that were still usable: "
                   + ", ".join(f"{r['link_id']} ({r['account']})" for r in links)
                   + "; make new ones with `scheduler review link`")
    else:
        click.echo("no reviewer link was still usable")
    click.echo("open dashboard pages without a password must be reloaded; signed-in sessions and API tokens are "
               "not affected (`scheduler web passwd` ends a user's sessions, `scheduler web token revoke` a token)")


@web.group("token")
def web_token():
    """API tokens for scripts (`Authorization: Bearer <token>`)."""


@web_token.command("create")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), default="admin", show_default=True,
              help="What the token may do: an editor writes and edits, a reviewer also approves, an admin does "
                   "everything.")
@pass_ctx
def web_token_create(obj: Context, name, role):
    """Create a token; it is shown once and stored only as a hash."""
    from scheduler.app.access import create_token  # lazy: hashing and sessions ~15 ms; `scheduler --help` loads every command module

    token = create_token(obj.store, name, now_utc(), role=role)
    click.echo(token.secret)
    click.echo(f"token {token.name!r} (id {token.token_id}, role {token.role}) created; it is shown only now, "
               "store it safely", err=True)


@web_token.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def web_token_list(obj: Context, as_json):
    """Tokens by name and id (never their values), with last use and revocation."""
    from scheduler.app.views import iso  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    rows = [{"name": t.name, "id": t.token_id, "role": t.role, "created_at": iso(t.created_at),
             "last_used_at": iso(t.last_used_at), "revoked_at": iso(t.revoked_at)} for t in obj.store.tokens()]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No API tokens. `scheduler web token create NAME` makes one.")
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else f"last used {r['last_used_at'] or 'never'}"
        click.echo(f"{r['name']:<24} id {r['id']}  {r['role']:<8}  created {r['created_at']}  {state}")


@web_token.command("revoke")
@click.argument("name_or_id")
@pass_ctx
def web_token_revoke(obj: Context, name_or_id):
    """Revoke a token by name or id; it is refused from the next request on."""
    token = obj.store.revoke_token(name_or_id, now_utc())
    click.echo(f"revoked {token.name!r} (id {token.token_id})")
