"""How the ledger and the plan look to a person (tables) and to a script (JSON objects).

The JSON shapes are a documented interface (README, "JSON output"): add fields, never rename.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime, tzinfo

from scheduler.config import Config
from scheduler.domain.lifecycle import KEPT_LIVE
from scheduler.ledger.store import PostRecord
from scheduler.networks import post_links
from scheduler.networks.factory import NETWORK_NAMES, outbox_path
from scheduler.planning import agenda
from scheduler.text.limits import limit_for


def iso(at: datetime | None, tz: tzinfo | None = None) -> str | None:
    if at is None:
        return None
    return (at.astimezone(tz) if tz else at).isoformat()


def local_label(at: datetime, tz: tzinfo) -> str:
    """How every dashboard page writes a moment: in the account's zone, as people write it ("Fri 4 Dec, 09:00").
    The exact ISO value goes beside it, in the page's <time datetime> and its title (web.render.when_html)."""
    local = at.astimezone(tz)
    return f"{local:%a} {local.day} {local:%b}, {local:%H:%M}"


def post_url(config: Config, remote_id: str | None) -> str | None:
    """Where the account's post is, on its network (scheduler.networks.post_links)."""
    return post_links.post_url(config, remote_id)


def entry_json(entry, tz: tzinfo) -> dict:
    post = entry.post
    return {
        "at": iso(entry.at, tz),
        "at_utc": iso(entry.at),
        "post_id": post.post_id if post else None,
        "text": post.text if post else None,
        "weighted_length": post.weighted_length if post else None,
        "thread": list(post.parts) if post and len(post.parts) > 1 else None,
        "source": entry.source,
        "reason": entry.reason,
        "article": post.article_key if post else None,
        "tip": post.tip if post else None,
        "why": post.why if post else None,
    }


def post_json(post: PostRecord, config: Config) -> dict:
    return {
        "post_id": post.post_id,
        "state": post.state.value,
        "text": post.text,
        "weighted_length": post.weighted_length,
        "thread": list(post.parts) if len(post.parts) > 1 else None,
        "article": post.article_key,
        "tip": post.tip,
        "position": post.position,
        "pinned_at": iso(post.pinned_at, config.tz),
        "next_attempt_at": iso(post.next_attempt_at, config.tz),
        "attempts": post.attempts,
        "slot_at": iso(post.slot_at, config.tz),
        "sent_at": iso(post.sent_at, config.tz),
        "tweet_id": post.tweet_id,
        "tweet_ids": list(post.part_ids),
        "url": post_url(config, post.tweet_id),
        "error": post.last_error,
        "http_status": post.last_status,
    }


def queue_json(posts: Sequence[PostRecord], config: Config, planned: dict[str, datetime]) -> list[dict]:
    """`queue list --json` (and the API's queue): each post, with its time in the plan (``planned_at``)."""
    return [{**post_json(p, config), "planned_at": iso(planned.get(p.post_id), config.tz)} for p in posts]


def _local_and_utc(at: datetime, tz: tzinfo) -> str:
    from datetime import UTC

    local = at.astimezone(tz)
    return f"{local:%a %Y-%m-%d %H:%M:%S %Z} ({at.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC)"


def _indented(text: str) -> str:
    return "\n".join("    " + line if line else "" for line in text.splitlines())


def preview_text(entries: Sequence, config: Config) -> str:
    if not entries:
        return "Nothing planned: the calendar has no slots ahead."
    blocks = [f"Upcoming posts for @{config.handle} (times in {config.tz.key}):", ""]
    limit = limit_for(config)
    for entry in entries:
        when = _local_and_utc(entry.at, config.tz)
        if entry.post is None:
            blocks.append(f"{when}  - empty: {agenda.why_empty(entry, entries, config)}")
            continue
        post = entry.post
        label = "" if entry.source == "slot" else f" [{entry.source}]"
        blocks.append(f"{when}  {post.post_id}{label}  {post.weighted_length}/{limit}")
        if post.why:
            blocks.append(f"    why: {post.why}")
        for i, part in enumerate(post.parts):
            blocks.append(_indented(part if i == 0 else f"[reply {i + 1}/{len(post.parts)}] {part}"))
        blocks.append("")
    return "\n".join(blocks).rstrip()


def queue_text(posts: Sequence[PostRecord], config: Config, *, offset: int = 0,
               planned: dict[str, datetime] | None = None) -> str:
    if not posts:
        return "The queue is empty. `scheduler import` queues the tips of posts/."
    planned = planned or {}
    lines = []
    for n, post in enumerate(posts, start=offset + 1):
        at = planned.get(post.post_id)
        when = f"  {at.astimezone(config.tz):%a %Y-%m-%d %H:%M %Z}" if at else "  (not planned yet)"
        extra = ""
        if post.pinned_at:
            extra = "  pinned"
        elif post.next_attempt_at:
            extra = f"  retry ({post.last_error})"
        if post.edit_kind == "text":
            extra += "  edited"
        summary = textwrap.shorten(post.text.replace("\n", " "), 70, placeholder="…")
        lines.append(f"{n:>4}  {post.post_id:<40} {post.state.value:<8}{when}{extra}\n      {summary}")
    return "\n".join(lines)


def history_text(records: Sequence[PostRecord], config: Config) -> str:
    if not records:
        return "Nothing sent yet."
    lines = []
    if any(post_url(config, post.tweet_id) and post_url(config, post.tweet_id).startswith("outbox:")
           for post in records):
        network = NETWORK_NAMES[config.network]
        lines.append(f"Posts marked outbox: went to the outbox file {outbox_path(config)}, not to {network} "
                     f"(no {network} credentials, or [publisher] kind = \"outbox\").")
    for post in records:
        when = post.sent_at or post.updated_at
        head = f"{when.astimezone(config.tz):%Y-%m-%d %H:%M:%S %Z}  {post.state.value:<7} {post.post_id}"
        if post.tweet_id:
            head += f"  {post_url(config, post.tweet_id)}"
        lines.append(head)
        if post.last_error:
            lines.append(f"      {post.last_error}")
    return "\n".join(lines)


def status_text(report: dict) -> str:
    service = report["service"]
    on = f" on {report['network'].title()} ({report['account']})" if report.get("network", "x") != "x" else ""
    lines = [f"Account:   @{report['handle']}{on}" + ("  PAUSED: " + report["paused_reason"] if report["paused"] else "")]
    if service["running"]:
        lines.append(f"Service:   running (pid {service['pid']} on {service['host']}, last beat {service['last_beat']})")
    else:
        last = f", last seen {service['last_seen']}" if service.get("last_seen") else ""
        lines.append(f"Service:   not running{last}")
    if service.get("others"):
        lines.append(f"           also running: {', '.join(service['others'])}")
    lines.append(f"Queue:     {report['queue']['pending']} pending ({report['queue']['retrying']} retrying), "
                 f"{report['sent']} sent, {report['failed']} failed, {report['unknown']} unknown")
    target = report.get("publisher") or {}
    network = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}[report.get("network", "x")]
    if target.get("kind") == "outbox":
        lines.append(f"Posts go:  to the outbox file {target['outbox']}, NOT to {network} ({target['why']}; "
                     "see `scheduler auth status`)")
    else:
        lines.append(f"Posts go:  to {network}")
    nxt = report.get("next")
    if nxt:
        when = nxt["at"] + ("  (due now)" if nxt.get("due_since") else "")
        lines.append(f"Next:      {when}  {nxt['post_id'] or '(empty: ' + str(nxt['reason']) + ')'}")
    last = report.get("last_outcome")
    if last:
        lines.append(f"Last:      {last['at']}  {last['post_id']}  {last['outcome']}" +
                     (f"  {last['detail']}" if last.get("detail") else ""))
    quota = report["quota"]
    lines.append(f"Quota:     today {quota['today']}/{quota['daily_cap'] or '∞'}, "
                 f"this month {quota['month']}/{quota['monthly_cap'] or '∞'}")
    spend = report.get("spend")
    if spend:
        budget = f" of a {spend['budget_usd']} budget" if spend["budget_usd"] else " (no [x] monthly_budget)"
        lines.append(f"Spend:     {spend['spent_usd']} this month ({spend['month']}, UTC), forecast "
                     f"{spend['forecast_usd']}{budget}")
    metrics = report.get("metrics")
    if metrics:
        lines.append(f"Metrics:   {metrics_line(metrics)}")
    for feed in report.get("feeds", ()):
        lines.append(f"Feed:      {feed['url']}  {feed['state']}, {feed['imported']} imported, "
                     f"{feed['skipped']} skipped, next check {feed['next_check_at']}")
        lines.extend(f"           skipped {e['title'] or e['link']!r}: {e['reason']}" for e in feed["skipped_entries"])
    attention = report["attention"]
    if attention:
        lines.append("Needs you:")
        lines.extend(f"  - {item}" for item in attention)
    return "\n".join(lines)


def metrics_line(metrics: dict) -> str:
    """Where metric collection stands, in a line of `status`."""
    if metrics["no_metrics"] and not metrics["paused"]:
        return f"none ({metrics['no_metrics']})"
    state = (f"PAUSED (publishing goes on): {metrics['pause_reason']}" if metrics["paused"] else
             f"waiting until {metrics['waiting_until']}" if metrics["waiting_until"] else "on")
    last = f", newest reading {metrics['last_read_at']}" if metrics["last_read_at"] else ""
    return (f"{state}; read at {', '.join(metrics['schedule'])} after sending; {metrics['posts_read']} post(s) "
            f"read{last}" + (f", {metrics['deleted_parts']} part(s) found deleted" if metrics["deleted_parts"] else ""))


def import_text(article, report) -> str:
    """One article's import, in a line (and what a person's changes kept)."""
    head = f"{article.source}: \"{article.title}\" - {len(article.tips)} tips"
    if report.article_removed:
        return (f"{head}: skipped, the article was removed (`scheduler articles restore {article.key}` "
                "brings it back)")
    line = (f"{head}: {len(report.added)} added, {len(report.updated)} updated, {len(report.unchanged)} unchanged, "
            f"{len(report.removed)} removed")
    if report.kept_sent:
        line += f", {len(report.kept_sent)} already sent (kept)"
    lines = [line]
    for post_id in report.kept_edit:
        lines.append(f"  kept your edit of {post_id} (`scheduler queue show {post_id}`)")
    for post_id in report.kept_removed:
        lines.append(f"  {post_id} stays removed (`scheduler queue restore {post_id}` brings it back)")
    lines.extend(kept_live_lines(report))
    return "\n".join(lines)


def kept_live_lines(report) -> list[str]:
    """The posts an import left as they were because they may already be live (one line each)."""
    return [f"  {post_id} {KEPT_LIVE} (`scheduler status`; a later import brings the new wording)"
            for post_id in report.kept_live]


def detail_json(detail, config: Config) -> dict:
    post = detail.record
    return {
        **post_json(post, config),
        "kind": post.kind,
        "parts": list(post.parts),
        "media": list(post.media),
        "template": post.template,
        "variant": post.variant + 1 if post.template else None,
        "variants": list(detail.variants),
        "article_title": detail.article_title,
        "planned_at": iso(detail.planned_at, config.tz),
        "edited_at": iso(post.edited_at, config.tz),
        "edited": post.edit_kind,
        "created_at": iso(post.created_at, config.tz),
    }


def detail_text(detail, config: Config) -> str:
    post = detail.record
    lines = [f"{post.post_id}  {post.state.value}  {post.weighted_length}/{limit_for(config)}"]
    if detail.planned_at:
        lines.append(f"planned:  {_local_and_utc(detail.planned_at, config.tz)}")
    elif post.state.is_pending:
        lines.append("planned:  not within the next posts the calendar can place (`scheduler preview --count N`)")
    if post.pinned_at:
        lines.append(f"pinned:   {_local_and_utc(post.pinned_at, config.tz)}")
    if post.sent_at:
        lines.append(f"sent:     {_local_and_utc(post.sent_at, config.tz)}  {post_url(config, post.tweet_id)}")
    if post.last_error:
        lines.append(f"last:     {post.last_error}")
    if post.state.value == "removed":
        lines.append(f"removed:  out of the queue (`scheduler queue restore {post.post_id}` brings it back)")
    if post.article_key:
        title = f" \"{detail.article_title}\"" if detail.article_title else ""
        lines.append(f"article:  {post.article_key}{title}, tip {post.tip}")
    else:
        lines.append("article:  none (written by hand)")
    if post.template:
        others = ", ".join(f"{n} {name}" for n, name in enumerate(detail.variants, start=1))
        lines.append(f"template: {post.template}" + (f"  (variants: {others})" if others else ""))
    if post.edited_at:
        what = "text edited by hand" if post.edit_kind == "text" else "variant chosen by hand"
        lines.append(f"edited:   {_local_and_utc(post.edited_at, config.tz)}  ({what})")
    for path in post.media:
        lines.append(f"media:    {path}")
    lines.append("")
    for i, part in enumerate(post.parts):
        lines.append(_indented(part if len(post.parts) == 1 else f"[{i + 1}/{len(post.parts)}] {part}"))
    return "\n".join(lines)


def article_json(summary, config: Config) -> dict:
    return {
        "article": summary.article_key,
        "title": summary.title,
        "url": summary.url,
        "source": summary.source,
        "imported_at": iso(summary.imported_at, config.tz),
        "removed_at": iso(summary.removed_at, config.tz),
        "posts": dict(summary.counts),
        "metadata": summary.metadata or {},
    }


def articles_text(summaries, config: Config) -> str:
    if not summaries:
        return "No articles yet. `scheduler import` reads posts/."
    lines = []
    for summary in summaries:
        counts = summary.counts
        waiting = counts.get("queued", 0) + counts.get("retrying", 0)
        parts = [f"{waiting} queued", f"{counts.get('sent', 0)} sent"]
        parts += [f"{counts[state]} {state}" for state in ("sending", "failed", "unknown", "removed") if counts.get(state)]
        status = "  REMOVED" if summary.removed_at else ""
        lines.append(f"{summary.article_key:<40} {', '.join(parts)}{status}\n      {summary.title}")
    return "\n".join(lines)


def feeds_report(store, config: Config) -> list[dict]:
    """The followed feeds as `feeds list --json` and `status` show them."""
    skipped: dict[str, list[dict]] = {}
    for url, entry in store.feed_entries(config.account, outcomes=("skipped",), limit=200):
        skipped.setdefault(url, []).append({
            "title": entry.title, "link": entry.link, "reason": entry.reason,
            "recorded_at": iso(entry.recorded_at, config.tz),
        })
    return [
        {
            "url": feed.url,
            "title": feed.title,
            "state": feed.state,
            "last_error": feed.last_error,
            "failures": feed.failures,
            "checked_at": iso(feed.checked_at, config.tz),
            "next_check_at": iso(feed.next_check_at, config.tz),
            "imported": feed.counts["imported"],
            "seen": feed.counts["seen"],
            "skipped": feed.counts["skipped"],
            "skipped_entries": skipped.get(feed.url, [])[:20],
        }
        for feed in store.feeds(config.account)
    ]


def feeds_text(report: Sequence[dict]) -> str:
    if not report:
        return "No feeds followed. `scheduler feeds add URL` follows a blog's RSS or Atom feed."
    lines = []
    for feed in report:
        state = feed["state"] if feed["state"] == "ok" else f"FAILING ({feed['failures']} checks): {feed['last_error']}"
        lines.append(f"{feed['url']}  {feed['title'] or ''}".rstrip())
        lines.append(f"    {state}; checked {feed['checked_at']}, next {feed['next_check_at']}")
        lines.append(f"    entries: {feed['imported']} imported, {feed['skipped']} skipped, {feed['seen']} seen when added")
        lines.extend(f"    skipped {e['title'] or e['link']!r}: {e['reason']}" for e in feed["skipped_entries"][:5])
    return "\n".join(lines)


def with_account(config, rows):
    """``rows`` (a dict or a list of dicts) with the account they belong to: its name (for the single [account],
    its handle in lower case, as before) and network. The CLI's --json and the API both add it."""
    who = {"account": config.account_name, "network": config.network}
    if isinstance(rows, dict):
        return {**rows, **who}
    return [{**row, **who} for row in rows]
