"""Notices to reviewers and authors, by email (SMTP) and/or a webhook: told once, retried, never in the way.

What is told:

    awaiting review     a post (this exact content) waits for a reviewer         -> [notify] reviewers, webhook
    missed slot         a slot came and the post that would have taken it         -> [notify] reviewers, webhook
                        was not approved (it went to the next approved post,
                        or stayed empty "awaiting review")
    changes requested   a reviewer sent a post back, with a comment              -> [notify] authors, webhook

Each fact is a row of the ledger's ``notices`` outbox per channel, unique by (channel, fact): it is
queued in the transaction of the decision that caused it (changes requested) or by the service's
periodic check (the others), and delivered by ``deliver_due`` in a thread of its own. A delivery
that fails is logged and retried with a doubling delay, up to ``[notify] max_attempts``, then kept
as ``failed`` (``scheduler review notices`` lists them). Nothing here ever holds up a publication:
the publishing thread never waits for a notice, and a notice never waits for the publishing thread.

Due notices of one kind go out together: one email, one webhook call, listing every post. The
webhook receives ``{"event": KIND, "account", "network", "handle", "posts": [...], "text"}`` as JSON, ``account``
being the account's name.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from scheduler.config import Config
from scheduler.domain.errors import NoticeError
from scheduler.ledger.review import NewNotice, NoticeRecord
from scheduler.ledger.store import Store

log = logging.getLogger("scheduler.notices")

AWAITING = "awaiting review"
MISSED = "missed slot"
CHANGES = "changes requested"


def channels_for(config: Config, kind: str) -> list[str]:
    notify = config["notify"]
    found = []
    recipients = notify["authors"] if kind == CHANGES else notify["reviewers"]
    if notify["smtp_host"] and recipients:
        found.append("email")
    if notify["webhook"]:
        found.append("webhook")
    return found


def post_payload(post, content_hash: str, **extra) -> dict:
    return {"post_id": post.post_id, "content_hash": content_hash, "parts": list(post.parts), **extra}


def notices_of(config: Config, kind: str, key: str, payload: dict) -> list[NewNotice]:
    return [NewNotice(kind, channel, key, payload) for channel in channels_for(config, kind)]


def changes_requested(config: Config, items: Sequence, *, who: str, comment: str) -> list[NewNotice]:
    found = []
    for item in items:
        payload = post_payload(item.post, item.content_hash, by=who, comment=comment,
                                findings=[f.describe() for f in item.findings])
        key = f"changes:{item.post.post_id}:{item.content_hash}"
        found.extend(notices_of(config, CHANGES, key, payload))
    return found




@dataclass(frozen=True)
class Delivery:
    channel: str
    kind: str
    count: int
    error: str | None = None


def deliver_due(store: Store, config: Config, now: datetime) -> list[Delivery]:
    """Deliver every notice that is due, one message per channel and kind; record each outcome."""
    done = []
    notify = config["notify"]
    for channel in ("email", "webhook"):
        due = store.due_notices(config.account, channel, now)
        by_kind: dict[str, list[NoticeRecord]] = {}
        for notice in due:
            by_kind.setdefault(notice.kind, []).append(notice)
        for kind, batch in by_kind.items():
            ids = [n.id for n in batch]
            try:
                if channel == "email":
                    send_email(config, kind, batch)
                else:
                    send_webhook(config, kind, batch)
            except NoticeError as exc:
                attempts = max(n.attempts for n in batch) + 1
                give_up = attempts >= notify["max_attempts"]
                retry_at = None if give_up else now + retry_delay(config, attempts)
                store.notices_failed(ids, str(exc), now, retry_at=retry_at)
                log.warning("notice %r by %s failed (attempt %d): %s; %s", kind, channel, attempts, exc,
                            "given up" if give_up else f"retrying at {retry_at.isoformat(timespec='seconds')}")
                done.append(Delivery(channel, kind, len(batch), str(exc)))
                continue
            store.notices_sent(ids, now)
            log.info("notice %r sent by %s (%d post(s))", kind, channel, len(batch))
            done.append(Delivery(channel, kind, len(batch)))
    return done


def summary(config: Config, kind: str, batch: Sequence[NoticeRecord]) -> tuple[str, str]:
    """Subject and plain-text body of a notice."""
    n = len(batch)
    posts = "post" if n == 1 else "posts"
    subject = {
        AWAITING: f"{n} {posts} for @{config.handle} await review",
        MISSED: f"{n} {posts} for @{config.handle} missed a slot: not approved in time",
        CHANGES: f"Changes requested on {n} {posts} for @{config.handle}",
    }[kind]
    lines = [subject + ".", ""]
    for notice in batch:
        p = notice.payload
        lines.append(f"* {p['post_id']}")
        if kind == MISSED:
            lines.append(f"  slot: {p['slot']} (it went to the next approved post, or stayed empty)")
        if kind == AWAITING and p.get("would_go_at"):
            lines.append(f"  would go out at {p['would_go_at']} if approved now")
        if kind == CHANGES:
            lines.append(f"  {p['by']} asks: {p['comment']}")
        for i, part in enumerate(p["parts"]):
            lines.append(("  " if i == 0 else f"  [reply {i + 1}] ") + part.replace("\n", "\n  "))
        lines.extend(f"  ! {f}" for f in p.get("findings") or ())
        lines.append("")
    if kind in (AWAITING, MISSED):
        lines.append("Review them with `scheduler review list`, or on the dashboard's Review page.")
    else:
        lines.append("Change the text (the post then awaits review again); `scheduler review show ID` shows it.")
    return subject, "\n".join(lines)


def send_email(config: Config, kind: str, batch: Sequence[NoticeRecord]) -> None:
    import smtplib
    import ssl
    from email.message import EmailMessage

    notify = config["notify"]
    recipients = list(notify["authors"] if kind == CHANGES else notify["reviewers"])
    subject, body = summary(config, kind, batch)
    message = EmailMessage()
    message["Subject"] = f"[tip-scheduler] {subject}"
    message["From"] = notify["sender"] or notify["smtp_username"] or "scheduler@localhost"
    message["To"] = ", ".join(recipients)
    message.set_content(body)
    timeout = notify["timeout"].total_seconds()
    host, port, security = notify["smtp_host"], notify["smtp_port"], notify["smtp_security"]
    try:
        if security == "ssl":
            client = smtplib.SMTP_SSL(host, port, timeout=timeout, context=ssl.create_default_context())
        else:
            client = smtplib.SMTP(host, port, timeout=timeout)
        with client:
            if security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if notify["smtp_username"]:
                password = os.environ.get(notify["smtp_password_env"], "")
                if not password:
                    raise NoticeError(f"no SMTP password: set ${notify['smtp_password_env']} for the service "
                                      f"(the login {notify['smtp_username']!r} needs one)")
                client.login(notify["smtp_username"], password)
            client.send_message(message, to_addrs=recipients)
    except NoticeError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        raise NoticeError(f"email to {', '.join(recipients)} via {host}:{port}: {_short(exc)}") from None


def send_webhook(config: Config, kind: str, batch: Sequence[NoticeRecord]) -> None:
    import requests  # lazy: requests ~90 ms only when a webhook notice is delivered

    url = config["notify"]["webhook"]
    subject, text = summary(config, kind, batch)
    # The account as every --json output and the API name it (not its ledger key), and where it posts.
    body = {"event": kind, "account": config.account_name, "network": config.network, "handle": config.handle,
            "posts": [n.payload for n in batch], "text": text}
    try:
        response = requests.post(url, data=json.dumps(body, ensure_ascii=False).encode(),
                                 headers={"Content-Type": "application/json",
                                          "User-Agent": "tip-scheduler notices"},
                                 timeout=config["notify"]["timeout"].total_seconds(), allow_redirects=False)
    except requests.RequestException as exc:
        raise NoticeError(f"webhook {safe_url(url)}: {type(exc).__name__}") from None
    if not 200 <= response.status_code < 300:
        raise NoticeError(f"webhook {safe_url(url)} answered HTTP {response.status_code}")


def safe_url(url: str) -> str:
    """The URL without its query, user info or fragment (where webhook secrets usually sit)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return f"{parts.scheme}://{host}{parts.path}"


def _short(exc: Exception) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "…"


def retry_delay(config: Config, attempts: int) -> timedelta:
    return config["notify"]["retry"] * (2 ** max(attempts - 1, 0))
