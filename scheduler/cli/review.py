"""`scheduler review`: list, show, approve, reject, log, reviewer links and notices."""

from __future__ import annotations



import click

from scheduler.cli.base import Context, cli, emit_json, now_utc, pass_ctx, with_account


@cli.group()
def review():
    """Approve posts before they go out ([review] required = true)."""


@review.command("list")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100000))
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_list(obj: Context, limit, as_json):
    """Posts not approved as they are now, in queue order, with findings and the slot each would get."""
    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import review_views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    items = domain.waiting(obj.store, obj.config, now_utc(), limit=limit)
    if as_json:
        emit_json(with_account(obj, [review_views.item_json(i, obj.config) for i in items]))
    else:
        click.echo(review_views.list_text(items, obj.config, domain.held(obj.store, obj.config, limit=limit)))


@review.command("show")
@click.argument("post_id")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def review_show(obj: Context, post_id, as_json):
    """One post as the reviewer sees it: every part, images, findings, hash, decisions."""
    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import review_views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app import review_views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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

    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.review import links as review_link  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.domain.calendar import parse_duration  # lazy: cron parsing (APScheduler) ~40 ms; `scheduler --help` loads every command module
    from scheduler.app.access import is_loopback  # lazy: hashing and sessions ~15 ms; `scheduler --help` loads every command module

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
    from scheduler.app import review_views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.review import links as review_link  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.review import policy as domain  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module
    from scheduler.app.views import iso  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
    from scheduler.app import review_views  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

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
