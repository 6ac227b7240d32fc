"""How review looks to a person (text) and to a script (JSON): `review list|show|log|links|notices`, and
the "awaiting review" section of `preview`.

The JSON shapes are an interface (README, "Review"): fields are added, never renamed.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from datetime import datetime

from scheduler.app.views import iso
from scheduler.config import Config
from scheduler.review import policy as review_policy
from scheduler.review.links import state_of
from scheduler.text.limits import limit_for

HOW_TO = "`scheduler review approve ID...` or `scheduler review reject ID --comment TEXT`"


def _when(at: datetime | None, config: Config) -> str:
    return at.astimezone(config.tz).strftime("%a %Y-%m-%d %H:%M %Z") if at else "not within the plan"


def item_json(item, config: Config) -> dict:
    review = item.review
    return {
        "post_id": item.post.post_id,
        "status": item.status,
        "state": item.post.state.value,
        "text": item.post.text,
        "thread": list(item.post.parts) if len(item.post.parts) > 1 else None,
        "media": list(item.post.media),
        "weighted_length": item.post.weighted_length,
        "article": item.post.article_key,
        "tip": item.post.tip,
        "content_hash": item.content_hash,
        "would_go_at": iso(item.would_go_at, config.tz),
        "findings": [f.as_dict() for f in item.findings],
        "blocked": item.blocked,
        "approved_by": review.approved_by if review and item.status == "approved" else None,
        "approved_at": iso(review.approved_at, config.tz) if review and item.status == "approved" else None,
        "changes_requested_by": review.rejected_by if review and item.status == "changes requested" else None,
        "comment": review.comment if review and item.status != "awaiting review" else None,
    }


def list_text(items: Sequence, config: Config, held: Sequence = ()) -> str:
    if not config["review"]["required"]:
        lines = [f"Review is off for @{config.handle} ([review] required = false): no post waits for a reviewer; "
                 "every queued post goes out in its slot (`scheduler preview` shows when), except one a content "
                 "rule blocks. Turn it on with [review] required = true to hold each post until a reviewer "
                 "approves its exact text."]
        if held:
            lines += ["", f"{len(held)} post(s) held by a content rule, NOT going out:"]
            for item in held:
                lines.append(f"{item.post.post_id}  " + "; ".join(f.describe() for f in item.findings
                                                                    if f.severity == "block"))
            lines += ["", f"To release one: {review_policy.RELEASE}."]
        return "\n".join(lines)
    if not items:
        return "Nothing awaits review."
    lines = [f"{len(items)} post(s) for @{config.handle} not approved (times in {config.tz.key}):", ""]
    for item in items:
        flag = " BLOCKED" if item.blocked else ""
        lines.append(f"{item.post.post_id}  [{item.status}]{flag}  would go out: {_when(item.would_go_at, config)}")
        lines.append("    " + textwrap.shorten(item.post.text.replace("\n", " "), 100, placeholder="…"))
        for finding in item.findings:
            lines.append(f"    ! {finding.describe()}")
        if item.status == "changes requested" and item.review:
            lines.append(f"    changes requested by {item.review.rejected_by}: {item.review.comment}")
    lines += ["", f"Decide with {HOW_TO}."]
    return "\n".join(lines)


def show_text(item, history: Sequence, config: Config) -> str:
    post = item.post
    lines = [f"{post.post_id}  [{item.status}]  ({post.state.value}, {post.weighted_length}/{limit_for(config)})",
             f"content hash: {item.content_hash}"]
    if item.status != "approved":
        lines.append(f"would go out: {_when(item.would_go_at, config)} if approved now")
    lines.append("")
    for i, part in enumerate(post.parts):
        lines.append(textwrap.indent(part if i == 0 else f"[reply {i + 1}/{len(post.parts)}] {part}", "    "))
    for path in post.media:
        lines.append(f"    [image] {path}")
    lines.append("")
    if item.findings:
        lines.append("Content rules:")
        lines.extend(f"  ! {f.describe()}" for f in item.findings)
        if item.blocked:
            lines.append("  A blocking finding has to go before this post can be approved: change the text.")
    else:
        lines.append("Content rules: nothing found.")
    if history:
        lines += ["", "Decisions (newest first):"]
        for entry in history:
            same = " (this text)" if entry.content_hash == item.content_hash else " (an earlier text)"
            lines.append(f"  {entry.at.astimezone(config.tz):%Y-%m-%d %H:%M %Z}  {entry.action} by {entry.actor}"
                         f"{same}" + (f": {entry.comment}" if entry.comment else ""))
    return "\n".join(lines)


def log_json(entry, config: Config) -> dict:
    return {
        "id": entry.id,
        "at": iso(entry.at, config.tz),
        "actor": entry.actor,
        "action": entry.action,
        "post_id": entry.post_id,
        "content_hash": entry.content_hash,
        "parts": list(entry.parts) if entry.parts is not None else None,
        "media": list(entry.media) if entry.media is not None else None,
        "comment": entry.comment,
        "findings": list(entry.findings),
    }


def log_text(entries: Sequence, config: Config) -> str:
    if not entries:
        return "No review decisions yet."
    lines = []
    for entry in entries:
        head = f"{entry.at.astimezone(config.tz):%Y-%m-%d %H:%M:%S %Z}  {entry.action:<17} by {entry.actor}"
        if entry.post_id:
            head += f"  {entry.post_id} ({entry.content_hash[:12]})"
        lines.append(head)
        if entry.parts:
            lines.append("    " + textwrap.shorten(entry.parts[0].replace("\n", " "), 100, placeholder="…"))
        if entry.comment:
            lines.append(f"    comment: {entry.comment}")
    return "\n".join(lines)


def drafts_text(slots: Sequence, config: Config) -> str:
    """The `preview` section for posts awaiting review, kept apart from what will go out."""
    if not slots:
        return ""
    lines = ["", f"Awaiting review - NOT going out until approved ({len(slots)} shown):", ""]
    for slot in slots:
        post = slot.post
        lines.append(f"  {post.post_id}  would go out {_when(slot.at, config)} if approved now")
        lines.append("      " + textwrap.shorten(post.text.replace("\n", " "), 100, placeholder="…"))
    lines += ["", f"See `scheduler review list`; decide with {HOW_TO}."]
    return "\n".join(lines)


def draft_json(slot, config: Config) -> dict:
    return {"post_id": slot.post.post_id, "text": slot.post.text, "content_hash": slot.content_hash,
            "would_go_at": iso(slot.at, config.tz), "would_go_at_utc": iso(slot.at), "source": slot.source}


def link_json(record, now: datetime, config: Config) -> dict:
    return {"link_id": record.link_id, "state": state_of(record, now), "created_at": iso(record.created_at, config.tz),
            "created_by": record.created_by, "reviewer": record.reviewer,
            "expires_at": iso(record.expires_at, config.tz),
            "used_at": iso(record.used_at, config.tz), "revoked_at": iso(record.revoked_at, config.tz)}


def notice_json(notice, config: Config) -> dict:
    return {"id": notice.id, "kind": notice.kind, "channel": notice.channel, "state": notice.state,
            "post_id": notice.payload.get("post_id"), "attempts": notice.attempts,
            "created_at": iso(notice.created_at, config.tz), "sent_at": iso(notice.sent_at, config.tz),
            "next_attempt_at": iso(notice.next_attempt_at, config.tz), "error": notice.last_error}
