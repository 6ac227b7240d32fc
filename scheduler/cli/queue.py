"""`scheduler queue`: list, add, show, edit, remove, restore, move, pin, pause, resume."""

from __future__ import annotations


from pathlib import Path

import click

from scheduler.text.limits import limit_for
from scheduler.cli.base import Context, _wrote, cli, emit_json, now_utc, parse_when, pass_ctx, with_account
from scheduler.cli.content import _findings_of, _echo_findings


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
    from scheduler.planning import agenda  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.app import queueing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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


@queue.command("remove")
@click.argument("post_id")
@pass_ctx
def queue_remove(obj: Context, post_id):
    """Take a waiting post out of the queue (re-imports leave it out; `queue restore` puts it back)."""
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    editing.remove(obj.store, obj.config, post_id, now_utc())
    click.echo(f"removed {post_id} (`scheduler queue restore {post_id}` brings it back)")


@queue.command("restore")
@click.argument("post_id")
@pass_ctx
def queue_restore(obj: Context, post_id):
    """Put a removed post back in the queue, in the place it had."""
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.app import editing  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
