"""How the ledger and the plan look to a person (tables) and to a script (JSON objects).

The JSON shapes are a documented interface (README, "JSON output"): add fields, never rename.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime, tzinfo

from scheduler.config import Config
from scheduler.store import PostRecord


def iso(at: datetime | None, tz: tzinfo | None = None) -> str | None:
    if at is None:
        return None
    return (at.astimezone(tz) if tz else at).isoformat()


def tweet_url(handle: str, tweet_id: str | None) -> str | None:
    if not tweet_id:
        return None
    if tweet_id.isdigit():
        return f"https://x.com/{handle}/status/{tweet_id}"
    return f"outbox:{tweet_id}"


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
        "url": tweet_url(config.handle, post.tweet_id),
        "error": post.last_error,
        "http_status": post.last_status,
    }


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
    for entry in entries:
        when = _local_and_utc(entry.at, config.tz)
        if entry.post is None:
            blocks.append(f"{when}  - empty: {entry.reason}")
            continue
        post = entry.post
        label = "" if entry.source == "slot" else f" [{entry.source}]"
        blocks.append(f"{when}  {post.post_id}{label}  {post.weighted_length}/280")
        for i, part in enumerate(post.parts):
            blocks.append(_indented(part if i == 0 else f"[reply {i + 1}/{len(post.parts)}] {part}"))
        blocks.append("")
    return "\n".join(blocks).rstrip()


def queue_text(posts: Sequence[PostRecord], config: Config, *, offset: int = 0) -> str:
    if not posts:
        return "The queue is empty. `scheduler import` queues the tips of posts/."
    lines = []
    for n, post in enumerate(posts, start=offset + 1):
        extra = ""
        if post.pinned_at:
            extra = f"  pinned {_local_and_utc(post.pinned_at, config.tz)}"
        elif post.next_attempt_at:
            extra = f"  retry {_local_and_utc(post.next_attempt_at, config.tz)} ({post.last_error})"
        summary = textwrap.shorten(post.text.replace("\n", " "), 70, placeholder="…")
        lines.append(f"{n:>4}  {post.post_id:<40} {post.state.value:<8}{extra}\n      {summary}")
    return "\n".join(lines)


def history_text(records: Sequence[PostRecord], config: Config) -> str:
    if not records:
        return "Nothing sent yet."
    lines = []
    for post in records:
        when = post.sent_at or post.updated_at
        head = f"{when.astimezone(config.tz):%Y-%m-%d %H:%M:%S %Z}  {post.state.value:<7} {post.post_id}"
        if post.tweet_id:
            head += f"  {tweet_url(config.handle, post.tweet_id)}"
        lines.append(head)
        if post.last_error:
            lines.append(f"      {post.last_error}")
    return "\n".join(lines)


def status_text(report: dict) -> str:
    service = report["service"]
    lines = [f"Account:   @{report['handle']}" + ("  PAUSED: " + report["paused_reason"] if report["paused"] else "")]
    if service["running"]:
        lines.append(f"Service:   running (pid {service['pid']} on {service['host']}, last beat {service['last_beat']})")
    else:
        last = f", last seen {service['last_beat']}" if service.get("last_beat") else ""
        lines.append(f"Service:   not running{last}")
    if service.get("others"):
        lines.append(f"           also running: {', '.join(service['others'])}")
    lines.append(f"Queue:     {report['queue']['pending']} pending ({report['queue']['retrying']} retrying), "
                 f"{report['sent']} sent, {report['failed']} failed, {report['unknown']} unknown")
    nxt = report.get("next")
    if nxt:
        lines.append(f"Next:      {nxt['at']}  {nxt['post_id'] or '(empty: ' + str(nxt['reason']) + ')'}")
    last = report.get("last_outcome")
    if last:
        lines.append(f"Last:      {last['at']}  {last['post_id']}  {last['outcome']}" +
                     (f"  {last['detail']}" if last.get("detail") else ""))
    quota = report["quota"]
    lines.append(f"Quota:     today {quota['today']}/{quota['daily_cap'] or '∞'}, "
                 f"this month {quota['month']}/{quota['monthly_cap'] or '∞'}")
    for feed in report.get("feeds", ()):
        lines.append(f"Feed:      {feed['url']}  {feed['state']}, {feed['imported']} imported, "
                     f"{feed['skipped']} skipped, next check {feed['next_check_at']}")
        lines.extend(f"           skipped {e['title'] or e['link']!r}: {e['reason']}" for e in feed["skipped_entries"])
    attention = report["attention"]
    if attention:
        lines.append("Needs you:")
        lines.extend(f"  - {item}" for item in attention)
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
