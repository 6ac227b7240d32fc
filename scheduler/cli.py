"""The command line: parse, call the module that owns the concept, print.

Heavy libraries (SQLAlchemy, tweepy, Jinja2, APScheduler) are imported inside the commands that
need them, so ``scheduler --help`` starts fast. Domain errors become a message and a non-zero exit
here, and nowhere else.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import click

from scheduler.errors import SchedulerError


class Context:
    """Lazily opened configuration and ledger, shared by one command's run."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._config = None
        self._store = None

    @property
    def config(self):
        if self._config is None:
            from scheduler.config import load_config

            self._config = load_config(self.config_path)
        return self._config

    @property
    def store(self):
        if self._store is None:
            from scheduler.store import Store

            self._store = Store.open(self.config.database_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_when(value: str, tz) -> datetime:
    """ISO 8601; without an offset it is the account's local time."""
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date-time; use ISO 8601 like 2026-12-01T09:00:00-05:00 (or without offset: local)"
        ) from None
    if parsed.microsecond:
        raise click.BadParameter(f"{value!r}: times have second precision; drop the fraction of a second")
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=tz)
    return parsed.astimezone(UTC)


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


pass_ctx = click.make_pass_decorator(Context)


class CLIGroup(click.Group):
    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SchedulerError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        finally:
            if isinstance(ctx.obj, Context):
                ctx.obj.close()


@click.group(cls=CLIGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="scheduler.toml to use (default: $SCHEDULER_CONFIG, ./scheduler.toml).")
@click.version_option(package_name="tip-scheduler")
@click.pass_context
def cli(ctx, config_path):
    """Turn articles of numbered tips into posts on X, published on a calendar."""
    ctx.obj = Context(config_path)


@cli.command("import")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--url", help="The article's public URL (overrides front matter / canonical link).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
@pass_ctx
def import_cmd(obj: Context, paths, url, as_json):
    """Import articles (.txt, .md, .html) and queue their tips as posts. Default: the posts/ library."""
    from scheduler.library import import_articles

    results = import_articles(obj.store, obj.config, list(paths) or [obj.config.posts_dir], now_utc(), url=url)
    if as_json:
        emit_json([
            {"source": r.article.source, "article": r.article.key, "title": r.article.title, "tips": len(r.article.tips),
             "added": r.report.added, "updated": r.report.updated, "unchanged": r.report.unchanged,
             "removed": r.report.removed, "kept_sent": r.report.kept_sent, "warnings": r.article.warnings}
            for r in results
        ])
        return
    for r in results:
        rep = r.report
        click.echo(f"{r.article.source}: \"{r.article.title}\" - {len(r.article.tips)} tips: "
                   f"{len(rep.added)} added, {len(rep.updated)} updated, {len(rep.unchanged)} unchanged, "
                   f"{len(rep.removed)} removed" + (f", {len(rep.kept_sent)} already sent (kept)" if rep.kept_sent else ""))
        for warning in r.article.warnings:
            click.echo(f"  warning: {warning}", err=True)


@cli.command()
@click.argument("path", type=click.Path(path_type=Path))
@click.option("--url", help="The article's public URL.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list of posts.")
@pass_ctx
def compose(obj: Context, path, url, as_json):
    """Show the posts an article yields, without storing anything."""
    from scheduler.library import compose as compose_posts

    composed = compose_posts(obj.config, [path], url=url)
    posts = [p for item in composed for p in item.posts]
    if as_json:
        emit_json([
            {"tip": p.tip, "text": p.text, "weighted_length": p.weighted_length, "template": p.template,
             "thread": list(p.thread) if p.thread else None, "media": list(p.media)}
            for p in posts
        ])
        return
    for item in composed:
        for warning in item.article.warnings:
            click.echo(f"warning: {warning}", err=True)
    for p in posts:
        click.echo(f"--- tip {p.tip} ({p.template}, {p.weighted_length}/280)")
        for i, part in enumerate(p.parts):
            click.echo(part if i == 0 else f"[reply {i + 1}] {part}")


@cli.command()
@click.option("--count", default=10, show_default=True, type=click.IntRange(1, 10000), help="How many posts to show.")
@click.option("--from", "from_", metavar="DATETIME", help="Plan from this time instead of now (ISO 8601).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list (documented in the README).")
@click.option("--ics", type=click.Path(path_type=Path, dir_okay=False), help="Also write the posts to this iCalendar file.")
@pass_ctx
def preview(obj: Context, count, from_, as_json, ics):
    """The next posts, exactly as they will be sent, with their times."""
    from scheduler import agenda, views

    config = obj.config
    now = parse_when(from_, config.tz) if from_ else now_utc()
    entries = agenda.upcoming(obj.store, config, now, count=count)
    if ics:
        from scheduler.ics import write_ics

        write_ics(entries, handle=config.handle, tz=config.tz, path=ics, now=now_utc())
    if as_json:
        emit_json([views.entry_json(e, config.tz) for e in entries])
    else:
        click.echo(views.preview_text(entries, config))
        if ics:
            click.echo(f"wrote {ics}")


@cli.group()
def queue():
    """List and change the queue."""


@queue.command("list")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--offset", default=0, type=click.IntRange(0))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def queue_list(obj: Context, limit, offset, as_json):
    """Pending posts in queue order (pinned ones show their time)."""
    from scheduler import views

    posts = obj.store.queue_page(obj.config.account, offset=offset, limit=limit)
    if as_json:
        emit_json([views.post_json(p, obj.config) for p in posts])
    else:
        click.echo(views.queue_text(posts, obj.config, offset=offset))


@queue.command("add")
@click.argument("text")
@click.option("--at", metavar="DATETIME", help="Pin it to this exact time (ISO 8601).")
@click.option("--media", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Image to attach.")
@pass_ctx
def queue_add(obj: Context, text, at, media):
    """Queue an ad-hoc post by its text."""
    from scheduler import queueing

    record = queueing.add_text(obj.store, obj.config, text, now_utc(),
                               at=parse_when(at, obj.config.tz) if at else None, media=media)
    click.echo(f"queued {record.post_id} ({record.weighted_length}/280)" +
               (f", pinned at {record.pinned_at.astimezone(obj.config.tz).isoformat()}" if record.pinned_at else ""))


@queue.command("remove")
@click.argument("post_id")
@pass_ctx
def queue_remove(obj: Context, post_id):
    """Take a pending post out of the queue."""
    obj.store.remove(obj.config.account, post_id, now_utc())
    click.echo(f"removed {post_id}")


@queue.command("move")
@click.argument("post_id")
@click.option("--before", metavar="POST_ID", help="Place it just before this post.")
@click.option("--after", metavar="POST_ID", help="Place it just after this post.")
@click.option("--top", is_flag=True, help="Make it the next post.")
@click.option("--bottom", is_flag=True, help="Make it the last post.")
@pass_ctx
def queue_move(obj: Context, post_id, before, after, top, bottom):
    """Reorder the queue."""
    if sum(bool(x) for x in (before, after, top, bottom)) != 1:
        raise click.UsageError("give exactly one of --before, --after, --top, --bottom")
    obj.store.move(obj.config.account, post_id, before=before, after=after, top=top, bottom=bottom)
    click.echo(f"moved {post_id}")


@queue.command("pin")
@click.argument("post_id")
@click.option("--at", metavar="DATETIME", help="Exact time, ISO 8601 with seconds (e.g. 2026-12-01T09:00:00-05:00).")
@click.option("--clear", is_flag=True, help="Unpin: it goes back to filling slots in queue order.")
@pass_ctx
def queue_pin(obj: Context, post_id, at, clear):
    """Pin a post to an exact time, or unpin it."""
    if bool(at) == bool(clear):
        raise click.UsageError("give --at DATETIME or --clear")
    when = None if clear else parse_when(at, obj.config.tz)
    obj.store.pin(obj.config.account, post_id, when, now_utc())
    click.echo(f"unpinned {post_id}" if clear else f"pinned {post_id} at {when.astimezone(obj.config.tz).isoformat()}")


@queue.command("pause")
@click.option("--reason", default="paused by hand", show_default=True)
@pass_ctx
def queue_pause(obj: Context, reason):
    """Stop publishing for the account; the queue stays as it is."""
    obj.store.pause(obj.config.account, reason, now_utc())
    click.echo(f"paused @{obj.config.handle}")


@queue.command("resume")
@pass_ctx
def queue_resume(obj: Context):
    """Resume publishing for the account."""
    obj.store.resume(obj.config.account)
    click.echo(f"resumed @{obj.config.handle}")


@cli.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def history(obj: Context, limit, as_json):
    """What was sent (tweet id, URL, time) and what failed, newest first."""
    from scheduler import views

    records = obj.store.history(obj.config.account, limit=limit)
    if as_json:
        emit_json([views.post_json(p, obj.config) for p in records])
    else:
        click.echo(views.history_text(records, obj.config))


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def status(obj: Context, as_json):
    """Service alive?, queue size, next post, failures, unknowns, quota used."""
    from scheduler import health, views

    report = health.status(obj.store, obj.config, now_utc())
    if as_json:
        emit_json(report)
    else:
        click.echo(views.status_text(report))


@cli.command()
@click.argument("post_id")
@click.option("--sent", "tweet_id", metavar="TWEET_ID", help="It was published: this is its id on X.")
@click.option("--retry", is_flag=True, help="It was not published: send it again.")
@pass_ctx
def resolve(obj: Context, post_id, tweet_id, retry):
    """Settle a post whose outcome is unknown."""
    if bool(tweet_id) == bool(retry):
        raise click.UsageError("give --sent TWEET_ID or --retry")
    if tweet_id and not tweet_id.isdigit():
        raise click.BadParameter(f"{tweet_id!r} is not a post id (digits, as in x.com/<handle>/status/<id>)")
    from scheduler.publishing import live_instances

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
    from scheduler.signals import Signals

    signals = Signals().install()  # before anything slow: a signal while starting is handled too
    import logging

    from scheduler.service import run_service

    sys.exit(run_service(obj.config_path, log_json=log_json, until_empty=until_empty,
                         log_level=getattr(logging, log_level.upper()), signals=signals, web=web_address))


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
    from scheduler.logs import setup_logging
    from scheduler.web.server import serve_forever

    setup_logging(json_lines=log_json)
    sys.exit(serve_forever(ctx.obj.config, host, port))


@web.command("passwd")
@click.option("--user", default="admin", show_default=True, help="User name to sign in with.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@pass_ctx
def web_passwd(obj: Context, user, password_stdin):
    """Set the dashboard password (stored as a slow salted hash; open sessions of that user end)."""
    from scheduler.web.access import hash_password

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt("New password", hide_input=True, confirmation_prompt=True)
    obj.store.set_password(user, hash_password(password), now_utc())
    click.echo(f"password set for {user}; the dashboard now asks for it")


@web.group("token")
def web_token():
    """API tokens for scripts (`Authorization: Bearer <token>`)."""


@web_token.command("create")
@click.argument("name")
@pass_ctx
def web_token_create(obj: Context, name):
    """Create a token; it is shown once and stored only as a hash."""
    from scheduler.web.access import create_token

    token = create_token(obj.store, name, now_utc())
    click.echo(token.secret)
    click.echo(f"token {token.name!r} (id {token.token_id}) created; it is shown only now, store it safely",
               err=True)


@web_token.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def web_token_list(obj: Context, as_json):
    """Tokens by name and id (never their values), with last use and revocation."""
    from scheduler.views import iso

    rows = [{"name": t.name, "id": t.token_id, "created_at": iso(t.created_at), "last_used_at": iso(t.last_used_at),
             "revoked_at": iso(t.revoked_at)} for t in obj.store.tokens()]
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No API tokens. `scheduler web token create NAME` makes one.")
    for r in rows:
        state = f"revoked {r['revoked_at']}" if r["revoked_at"] else f"last used {r['last_used_at'] or 'never'}"
        click.echo(f"{r['name']:<24} id {r['id']}  created {r['created_at']}  {state}")


@web_token.command("revoke")
@click.argument("name_or_id")
@pass_ctx
def web_token_revoke(obj: Context, name_or_id):
    """Revoke a token by name or id; it is refused from the next request on."""
    token = obj.store.revoke_token(name_or_id, now_utc())
    click.echo(f"revoked {token.name!r} (id {token.token_id})")


@cli.command()
@click.option("--every", default=5, show_default=True, type=click.IntRange(1, 3600), help="Seconds between demo slots.")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-data"), show_default=True,
              help="Data directory for the demo (kept apart from your real ledger).")
def demo(every, home):
    """Import posts/, preview, then publish them into a local outbox on a fast demo calendar."""
    from scheduler.demo import run_demo

    sys.exit(run_demo(home=home, every=every))


@cli.group()
def auth():
    """X credentials."""


@auth.command("login")
@click.option("--client-id", help="OAuth 2.0 client id (default: [publisher] client_id).")
@click.option("--port", default=8765, show_default=True, type=click.IntRange(1024, 65535),
              help="Local port for the redirect (register http://127.0.0.1:PORT/callback with X).")
@pass_ctx
def auth_login(obj: Context, client_id, port):
    """Authorize with OAuth 2.0 (PKCE) and store the tokens in a 0600 file."""
    from scheduler import auth as auth_flow

    config = obj.config
    client_id = client_id or config["publisher"]["client_id"]
    if not client_id:
        raise click.UsageError("give --client-id or set [publisher] client_id in scheduler.toml")
    path = auth_flow.login(config, client_id=client_id, port=port, echo=click.echo)
    click.echo(f"tokens stored in {path} (mode 0600)")


@auth.command("status")
@pass_ctx
def auth_status(obj: Context):
    """Which credentials would be used (never their values)."""
    from scheduler import auth as auth_flow

    click.echo(auth_flow.describe(obj.config))


def main() -> None:
    cli(prog_name="scheduler")
