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

from scheduler.domain.errors import SchedulerError
from scheduler.text.limits import limit_for


class Context:
    """Lazily opened configuration and ledger, shared by one command's run."""

    def __init__(self, config_path: str | None, account_name: str | None = None):
        self.config_path = config_path
        self.account_name = account_name  # --account; None: the only account, or default_account
        self._root = None
        self._config = None
        self._store = None

    @property
    def root_config(self):
        """The whole configuration, every account."""
        if self._root is None:
            from scheduler.config import load_config

            self._root = load_config(self.config_path)
        return self._root

    @property
    def config(self):
        """The configuration as the chosen account sees it."""
        if self._config is None:
            self._config = self.root_config.for_account(self.account_name)
        return self._config

    def for_account(self, name: str):
        """Another Context on the same ledger, for account ``name``."""
        other = Context(self.config_path, name)
        other._root, other._store = self.root_config, self.store
        return other

    @property
    def store(self):
        if self._store is None:
            from scheduler.ledger.store import Store

            # The ledger is every account's: opening it must not need an account chosen (`web token create`,
            # `web passwd` and `import --to` run with several accounts and no default_account).
            self._store = Store.open(self.root_config.database_url)
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


def _choose_account(ctx, param, value):
    if value is not None:
        ctx.ensure_object(Context).account_name = value
    return value


def account_option(expose: bool = False):
    return click.Option(["--account"], metavar="NAME", expose_value=expose, is_eager=True, callback=_choose_account,
                        help="The account (a name from [[accounts]]); default: the only one, or default_account.")


class AccountCommand(click.Command):
    """Every command takes --account NAME."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not any(getattr(p, "name", None) == "account" for p in self.params):
            self.params.append(account_option())


def with_account(obj: Context, rows):
    from scheduler.app.views import with_account as add

    return add(obj.config, rows)


class CLIGroup(click.Group):
    command_class = AccountCommand
    group_class = type  # subgroups are CLIGroups too, so their commands take --account

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
@click.option("--account", "account_name", metavar="NAME", help="The account every command below is for.")
@click.version_option(package_name="tip-scheduler")
@click.pass_context
def cli(ctx, config_path, account_name):
    """Turn articles of numbered tips into posts on X, Bluesky and Mastodon, published on a calendar."""
    ctx.obj = Context(config_path, account_name)


def article_sources(values) -> list:
    """Command-line article arguments: http(s) URLs stay text, everything else is a path."""
    from scheduler.articles.library import is_url

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
    for name in dict.fromkeys(targets):
        reports.extend(_import_for(obj.for_account(name), paths, url, as_json))
    if as_json:
        emit_json(reports)


def _import_for(obj: Context, paths, url, as_json) -> list:
    from scheduler.articles.library import import_articles

    sources = article_sources(paths) or [obj.config.posts_dir]
    now = now_utc()
    results = import_articles(obj.store, obj.config, sources, now, url=url)
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
    from scheduler.app import views

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
    from scheduler.review import policy as review

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
    from scheduler.articles.library import compose as compose_posts

    from scheduler.review import policy as review

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
    from scheduler.planning import agenda
    from scheduler.app import views

    config = obj.config
    now = parse_when(from_, config.tz) if from_ else now_utc()
    drafts_wanted = count if config["review"]["required"] else 0
    entries, drafts = agenda.upcoming_with_drafts(obj.store, config, now, count=count, drafts=drafts_wanted)
    if ics:
        from scheduler.planning.ics import write_ics

        write_ics(entries, handle=config.handle, tz=config.tz, path=ics, now=now_utc())
    if as_json:
        emit_json(with_account(obj, [views.entry_json(e, config.tz) for e in entries]))
    else:
        from scheduler.app.review_views import drafts_text

        click.echo(views.preview_text(entries, config))
        if drafts:
            click.echo(drafts_text(drafts, config))
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
    """Pending posts in queue order, each with its planned time."""
    from scheduler.planning import agenda
    from scheduler.app import views

    posts = obj.store.queue_page(obj.config.account, offset=offset, limit=limit)
    planned = agenda.planned_times(obj.store, obj.config, now_utc(), count=offset + limit) if posts else {}
    if as_json:
        emit_json(with_account(obj, views.queue_json(posts, obj.config, planned)))
    else:
        click.echo(views.queue_text(posts, obj.config, offset=offset, planned=planned))


@queue.command("add")
@click.argument("text")
@click.option("--at", metavar="DATETIME", help="Pin it to this exact time (ISO 8601).")
@click.option("--now", "asap", is_flag=True, help="Pin it to this second: as soon as possible.")
@click.option("--media", multiple=True, type=click.Path(exists=True, dir_okay=False, path_type=Path), help="Image to attach.")
@pass_ctx
def queue_add(obj: Context, text, at, asap, media):
    """Queue an ad-hoc post by its text."""
    from scheduler.app import queueing

    if at and asap:
        raise click.UsageError("give --at DATETIME or --now, not both")
    now = now_utc()
    when = now.replace(microsecond=0) if asap else parse_when(at, obj.config.tz) if at else None
    with obj.store.unit():  # the text and who wrote it, in one transaction
        record = queueing.add_text(obj.store, obj.config, text, now, at=when, media=media)
        _wrote(obj, [record.post_id], now)
    click.echo(f"queued {record.post_id} ({record.weighted_length}/{limit_for(obj.config)})" +
               (f", pinned at {record.pinned_at.astimezone(obj.config.tz).isoformat()}" if record.pinned_at else ""))
    _echo_findings(obj, _findings_of(obj, [record.post_id]))


@queue.command("show")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def queue_show(obj: Context, post_id, as_json):
    """One post whole: its text and thread parts, media, template, article and tip, state and planned time."""
    from scheduler.app import editing
    from scheduler.app import views

    detail = editing.show(obj.store, obj.config, post_id, now_utc())
    if as_json:
        emit_json(with_account(obj, views.detail_json(detail, obj.config)))
    else:
        click.echo(views.detail_text(detail, obj.config))


@queue.command("edit")
@click.argument("post_id")
@click.option("--text", "texts", multiple=True, metavar="TEXT",
              help="The new text; give it again for each further part of a thread.")
@click.option("--editor", is_flag=True, help="Edit the text in $EDITOR (thread parts apart by a line '---').")
@click.option("--variant", type=int, metavar="N", help="Compose the tip again with its N-th template variant.")
@pass_ctx
def queue_edit(obj: Context, post_id, texts, editor, variant):
    """Change a waiting post: its text (kept by re-imports), or its template variant."""
    from scheduler.app import editing

    if sum((bool(texts), editor, variant is not None)) != 1:
        raise click.UsageError("give one of --text, --editor or --variant N")
    now = now_utc()
    if variant is not None:
        with obj.store.unit():
            record = editing.switch_variant(obj.store, obj.config, post_id, variant, now)
            _wrote(obj, [post_id], now)
        click.echo(f"{post_id}: now {record.template} ({record.weighted_length}/{limit_for(obj.config)})")
        click.echo(record.text)
        return
    if editor:
        current = editing.show(obj.store, obj.config, post_id, now).record
        edited = click.edit(THREAD_SEPARATOR.join(current.parts) + "\n", extension=".txt", require_save=True)
        if edited is None or [p.strip() for p in edited.split(THREAD_SEPARATOR)] == list(current.parts):
            click.echo(f"{post_id}: unchanged")
            return
        texts = tuple(part for part in edited.split(THREAD_SEPARATOR))
    with obj.store.unit():
        record = editing.edit_text(obj.store, obj.config, post_id, list(texts), now)
        _wrote(obj, [post_id], now)
    click.echo(f"{post_id}: edited ({record.weighted_length}/{limit_for(obj.config)}); re-imports of its article keep this text")


THREAD_SEPARATOR = "\n---\n"


def _wrote(obj: Context, post_ids, now) -> None:
    """The command line's user (their login name) gave these posts their text: separation of duties in review."""
    from scheduler.review import policy as review

    review.record_change(obj.store, obj.config, list(post_ids), who=review.actor(None), now=now)


@queue.command("remove")
@click.argument("post_id")
@pass_ctx
def queue_remove(obj: Context, post_id):
    """Take a waiting post out of the queue (re-imports leave it out; `queue restore` puts it back)."""
    from scheduler.app import editing

    editing.remove(obj.store, obj.config, post_id, now_utc())
    click.echo(f"removed {post_id} (`scheduler queue restore {post_id}` brings it back)")


@queue.command("restore")
@click.argument("post_id")
@pass_ctx
def queue_restore(obj: Context, post_id):
    """Put a removed post back in the queue, in the place it had."""
    from scheduler.app import editing

    record = editing.restore(obj.store, obj.config, post_id, now_utc())
    click.echo(f"restored {record.post_id} to its place in the queue")


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
@click.option("--now", "asap", is_flag=True, help="As soon as possible: pin it to this second.")
@click.option("--clear", is_flag=True, help="Unpin: it goes back to filling slots in queue order.")
@pass_ctx
def queue_pin(obj: Context, post_id, at, asap, clear):
    """Pin a post to an exact time, or unpin it."""
    from scheduler.app import editing

    if sum((bool(at), asap, clear)) != 1:
        raise click.UsageError("give --at DATETIME, --now or --clear")
    now = now_utc()
    when = None if clear else now.replace(microsecond=0) if asap else parse_when(at, obj.config.tz)
    warnings = editing.pin(obj.store, obj.config, post_id, when, now)
    click.echo(f"unpinned {post_id}" if clear else f"pinned {post_id} at {when.astimezone(obj.config.tz).isoformat()}")
    for warning in warnings:
        click.echo(f"warning: {warning}", err=True)


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


@cli.group()
def articles():
    """The articles imported, and taking one out of the queue."""


@articles.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def articles_list(obj: Context, as_json):
    """Every article imported, with its posts counted by state."""
    from scheduler.app import editing
    from scheduler.app import views

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
    from scheduler.app import editing

    taken = editing.remove_article(obj.store, obj.config, slug, now_utc())
    click.echo(f"removed article {slug}: {len(taken)} unsent posts taken out of the queue; sent ones stay in the "
               f"history (`scheduler articles restore {slug}` brings it back)")


@articles.command("restore")
@click.argument("slug")
@pass_ctx
def articles_restore(obj: Context, slug):
    """Undo `articles remove`: its removed posts come back at the end of the queue."""
    from scheduler.app import editing

    back = editing.restore_article(obj.store, obj.config, slug, now_utc())
    click.echo(f"restored article {slug}: {len(back)} posts back in the queue")


@cli.command()
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def history(obj: Context, limit, as_json):
    """What was sent (tweet id, URL, time) and what failed, newest first."""
    from scheduler.app import views

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
    from scheduler.publishing import health
    from scheduler.app import views

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
        from scheduler.networks.post_links import remote_id_from

        try:  # as the dashboard takes it: the id the network gave, or the post's address
            tweet_id = remote_id_from(obj.config, tweet_id)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--sent") from None
    from scheduler.publishing.engine import live_instances

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
    from scheduler.publishing.signals import Signals

    signals = Signals().install()  # before anything slow: a signal while starting is handled too
    import logging

    from scheduler.publishing.service import run_service

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
    # Every account: pages and the API choose one per request (?account=NAME); --account only sets the default.
    obj = ctx.obj
    config = obj.root_config.for_account(obj.account_name) if obj.account_name else obj.root_config
    sys.exit(serve_forever(config, host, port))


@web.command("passwd")
@click.option("--user", default="admin", show_default=True, help="User name to sign in with.")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input (for scripts).")
@click.option("--role", type=click.Choice(["editor", "reviewer", "admin"]),
              help="What the user may do: an editor writes and edits, a reviewer also approves, an admin does "
                   "everything (default for a new user: admin; an existing user keeps theirs).")
@pass_ctx
def web_passwd(obj: Context, user, password_stdin, role):
    """Set the dashboard password (stored as a slow salted hash; open sessions of that user end)."""
    from scheduler.web.access import hash_password

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
    from scheduler.review import signing_key
    from scheduler.review.policy import actor

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
@click.option("--role", type=click.Choice(["editor", "reviewer", "admin"]), default="admin", show_default=True,
              help="What the token may do: an editor writes and edits, a reviewer also approves, an admin does "
                   "everything.")
@pass_ctx
def web_token_create(obj: Context, name, role):
    """Create a token; it is shown once and stored only as a hash."""
    from scheduler.web.access import create_token

    token = create_token(obj.store, name, now_utc(), role=role)
    click.echo(token.secret)
    click.echo(f"token {token.name!r} (id {token.token_id}, role {token.role}) created; it is shown only now, "
               "store it safely", err=True)


@web_token.command("list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def web_token_list(obj: Context, as_json):
    """Tokens by name and id (never their values), with last use and revocation."""
    from scheduler.app.views import iso

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


@cli.command()
@click.option("--every", type=click.IntRange(1, 3600),
              help="Seconds between demo slots (default 5; 60 with --web, time to edit a post before it goes).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-data"), show_default=True,
              help="Data directory for the demo (kept apart from your real ledger).")
@click.option("--web", "web_port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Run the service with the dashboard on 127.0.0.1:PORT until Ctrl-C, instead of until the queue "
                   "is empty.")
def demo(every, home, web_port):
    """Import posts/, preview, then publish them into a local outbox on a fast demo calendar."""
    from scheduler.cli.demo import run_demo

    sys.exit(run_demo(home=home, every=every or (60 if web_port else 5), web_port=web_port))


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
    from scheduler.articles import feeds as feeding

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
    from scheduler.app import views

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
    from scheduler.articles import feeds as feeding

    feeding.unfollow(obj.store, obj.config, url)
    click.echo(f"no longer following {url}")


@feeds.command("poll")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def feeds_poll(obj: Context, as_json):
    """Check every followed feed now, as the service does on its schedule (every account's, with several)."""
    from scheduler.articles import feeds as feeding
    from scheduler.articles.fetching import Fetcher, FetchSettings

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
    from scheduler.app import auth as auth_flow

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
    from scheduler.app import auth as auth_flow

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


@cli.group()
def review():
    """Approve posts before they go out ([review] required = true)."""


@review.command("list")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_list(obj: Context, limit, as_json):
    """Posts not approved as they are now, in queue order, with findings and the slot each would get."""
    from scheduler.review import policy as domain
    from scheduler.app import review_views

    items = domain.waiting(obj.store, obj.config, now_utc(), limit=limit)
    if as_json:
        emit_json(with_account(obj, [review_views.item_json(i, obj.config) for i in items]))
    else:
        click.echo(review_views.list_text(items, obj.config))
        if not obj.config["review"]["required"]:
            click.echo("(review is off: these posts go out anyway; turn it on with [review] required = true)")


@review.command("show")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_show(obj: Context, post_id, as_json):
    """One post as the reviewer sees it: every part, images, findings, hash, decisions."""
    from scheduler.review import policy as domain
    from scheduler.app import review_views

    item = domain.item(obj.store, obj.config, post_id, now_utc())
    history = domain.log(obj.store, obj.config, post_id=post_id)
    if as_json:
        emit_json(with_account(obj, {**review_views.item_json(item, obj.config),
                                     "decisions": [review_views.log_json(e, obj.config) for e in history]}))
    else:
        click.echo(review_views.show_text(item, history, obj.config))


@review.command("approve")
@click.argument("post_ids", nargs=-1, required=True)
@click.option("--hash", "hashes", multiple=True, metavar="HASH", required=True,
              help="The content hash you reviewed (`review show ID` prints it), once per post, in the same order.")
@click.option("--comment", help="A note kept in the review log.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_approve(obj: Context, post_ids, hashes, comment, as_json):
    """Approve posts exactly as you saw them (all or none), as your login name.

    Each post needs the content hash `review show` printed for it: a post changed since is refused."""
    from scheduler.review import policy as domain

    outcome = domain.approve(obj.store, obj.config, list(post_ids), who=domain.actor(None), role="admin",
                             now=now_utc(), comment=comment, expected=_hashes_for(post_ids, hashes))
    if as_json:
        emit_json({"approved": list(outcome.decided), "already_approved": list(outcome.already)})
        return
    for post_id in outcome.decided:
        click.echo(f"approved {post_id}")
    for post_id in outcome.already:
        click.echo(f"{post_id} was already approved as it is")


def _hashes_for(post_ids, hashes) -> dict[str, str]:
    if len(hashes) != len(post_ids):
        raise click.UsageError(f"{len(post_ids)} post(s) and {len(hashes)} --hash: give the content hash you "
                               "reviewed for each post, in the same order (`scheduler review show ID` prints it)")
    pairs: dict[str, str] = {}
    for post_id, digest in zip(post_ids, hashes, strict=True):
        if pairs.setdefault(post_id, digest) != digest:
            raise click.UsageError(f"{post_id} is given twice with different hashes")
    return pairs


@review.command("reject")
@click.argument("post_ids", nargs=-1, required=True)
@click.option("--comment", required=True, help="What has to change (sent to the author).")
@click.option("--hash", "hashes", multiple=True, metavar="HASH",
              help="The content hash you reviewed, once per post in the same order (a post changed since is refused).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_reject(obj: Context, post_ids, comment, hashes, as_json):
    """Send posts back to their author with a comment, as your login name; they stay out of the plan until changed."""
    from scheduler.review import policy as domain

    outcome = domain.request_changes(obj.store, obj.config, list(post_ids), who=domain.actor(None), role="admin",
                                     comment=comment, now=now_utc(),
                                     expected=_hashes_for(post_ids, hashes) if hashes else None)
    if as_json:
        emit_json({"changes_requested": list(outcome.decided)})
        return
    for post_id in outcome.decided:
        click.echo(f"changes requested on {post_id}")


@review.command("log")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100000))
@click.option("--post", "post_id", metavar="POST_ID", help="Only this post's decisions.")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_log(obj: Context, limit, post_id, as_json):
    """Every decision, newest first: who, when, which exact text, what comment."""
    from scheduler.review import policy as domain
    from scheduler.app import review_views

    entries = domain.log(obj.store, obj.config, limit=limit, post_id=post_id)
    if as_json:
        emit_json(with_account(obj, [review_views.log_json(e, obj.config) for e in entries]))
    else:
        click.echo(review_views.log_text(entries, obj.config))


@review.command("link")
@click.option("--for", "reviewer", required=True, metavar="NAME",
              help="The reviewer it is for: their decisions are logged under this name.")
@click.option("--post", "post_ids", multiple=True, metavar="POST_ID",
              help="Cover only these posts (default: every post awaiting review now).")
@click.option("--expires", default="72h", show_default=True, help="How long the link works (at most 30d).")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_link_cmd(obj: Context, reviewer, post_ids, expires, as_json):
    """Print a signed, expiring, single-use link for one reviewer to review, on a phone, the posts awaiting
    review now (or the ones named), exactly as they are now."""
    from urllib.parse import urlsplit

    from scheduler.review import policy as domain
    from scheduler.review import links as review_link
    from scheduler.domain.calendar import parse_duration
    from scheduler.web.server import is_loopback

    try:
        duration = parse_duration(expires)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--expires") from None
    link = review_link.create(obj.store, obj.config, expires=duration, who=domain.actor(None), reviewer=reviewer,
                              post_ids=list(post_ids) or None, now=now_utc())
    if as_json:
        emit_json(with_account(obj, {"link_id": link.link_id, "url": link.url, "reviewer": link.reviewer,
                                     "post_ids": list(link.covers),
                                     "expires_at": link.expires_at.astimezone(obj.config.tz).isoformat()}))
        return
    click.echo(link.url)
    click.echo(f"link {link.link_id} for {link.reviewer}, covering {len(link.covers)} post(s) as they are now: "
               f"works once, until {link.expires_at.astimezone(obj.config.tz):%a %Y-%m-%d %H:%M %Z}; "
               f"revoke with `scheduler review revoke {link.link_id}`. Served by the dashboard "
               "(`scheduler web` or `scheduler serve --web`).", err=True)
    if is_loopback(urlsplit(link.url).hostname or ""):
        click.echo("This address opens only on this machine. For a phone, set [review] link_base to the address "
                   "reviewers reach the dashboard by (e.g. https://dash.example.com).", err=True)


@review.command("links")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_links(obj: Context, as_json):
    """Reviewer links and their state (active, used, expired, revoked); never the tokens."""
    from scheduler.app import review_views

    now = now_utc()
    rows = with_account(obj, [review_views.link_json(r, now, obj.config) for r in obj.store.links(obj.config.account)])
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No reviewer links.")
    for row in rows:
        reviewer = f" for {row['reviewer']}" if row["reviewer"] else " (made before links named a reviewer: covers nothing)"
        click.echo(f"{row['link_id']}  {row['state']:<8} by {row['created_by']}{reviewer}, expires {row['expires_at']}")


@review.command("revoke")
@click.argument("link_id")
@click.option("--as", "who", metavar="NAME", help="Who revokes (default: your login name).")
@pass_ctx
def review_revoke(obj: Context, link_id, who):
    """Revoke a reviewer link: it stops working at once."""
    from scheduler.review import policy as domain
    from scheduler.review import links as review_link

    review_link.revoke(obj.store, obj.config, link_id, who=domain.actor(who), now=now_utc())
    click.echo(f"revoked {link_id}")


@review.command("require")
@click.argument("setting", type=click.Choice(["on", "off", "show"]), default="show")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_require(obj: Context, setting, as_json):
    """Whether the account's posts need review, as the ledger records it for every process on it.

    `on` or `off` changes it (recorded in the History with your login name); a service whose [review]
    required disagrees with the ledger refuses to start."""
    from scheduler.review import policy as domain
    from scheduler.app.views import iso

    if setting != "show":
        domain.set_requirement(obj.store, obj.config, setting == "on", who=domain.actor(None), now=now_utc())
    record = obj.store.review_requirement(obj.config.account)
    row = {"required": record.required if record else None, "changed_at": iso(record.changed_at) if record else None,
           "changed_by": record.changed_by if record else None,
           "config_required": bool(obj.config["review"]["required"])}
    if as_json:
        emit_json(with_account(obj, row))
        return
    if record is None:
        click.echo("The ledger records no review requirement yet: the first service to start records its config's.")
    else:
        click.echo(f"review {'required' if record.required else 'not required'} for @{obj.config.handle} "
                   f"(recorded {row['changed_at']} by {record.changed_by})")
    if record is not None and record.required != row["config_required"]:
        click.echo(f"this configuration says [review] required = {str(row['config_required']).lower()}: "
                   + ("a service with it refuses to start" if record.required
                      else "the next service started with it turns review on in the ledger"), err=True)


@review.command("notices")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_notices(obj: Context, limit, as_json):
    """Notices to reviewers and authors: sent, pending (with the next try) or failed (with why)."""
    from scheduler.app import review_views

    rows = with_account(obj, [review_views.notice_json(n, obj.config)
                              for n in obj.store.notices(obj.config.account, limit=limit)])
    if as_json:
        emit_json(rows)
        return
    if not rows:
        click.echo("No notices.")
    for row in rows:
        extra = row["error"] or ""
        click.echo(f"{row['created_at']}  {row['kind']:<17} {row['channel']:<7} {row['state']:<7} "
                   f"{row['post_id'] or ''}  {extra}".rstrip())


def main() -> None:
    cli(prog_name="scheduler")
