"""`scheduler status`: is a service alive, what is next, and what needs a person."""

from __future__ import annotations

from datetime import datetime

from scheduler.config import Config
from scheduler.errors import CredentialsError
from scheduler.models import PostState
from scheduler.store import Store
from scheduler.views import iso


def destination(config: Config) -> dict:
    """Where posts go: X, or the outbox file (and why), told without loading the X client."""
    import os

    from scheduler.credentials import load_credentials
    from scheduler.publisher.factory import outbox_path, token_file

    kind = config["publisher"]["kind"]
    if kind == "outbox":
        return {"kind": "outbox", "outbox": str(outbox_path(config)), "why": "[publisher] kind = \"outbox\""}
    try:
        found = load_credentials(os.environ, token_file(config)) is not None
    except CredentialsError:  # incomplete or insecure credentials: `auth status` says which; X is meant
        found = True
    if found or kind == "x":
        return {"kind": "x", "outbox": None, "why": None}
    return {"kind": "outbox", "outbox": str(outbox_path(config)), "why": "no X credentials"}


def status(store: Store, config: Config, now: datetime) -> dict:
    from scheduler import agenda
    from scheduler.publishing import instance_is_alive

    account = config.account
    tz = config.tz
    stale_after = config["service"]["heartbeat"] * 3
    instances = store.instances(account)
    alive = [i for i in instances if instance_is_alive(i, now, stale_after)]
    newest = instances[0] if instances else None
    state = store.account_state(account)
    counts = store.counts(account)
    entries = agenda.upcoming(store, config, now, count=1)
    first = entries[0] if entries else None
    last = store.last_attempt(account)
    usage = agenda.quota_usage(store, config, now)

    attention = []
    if state.paused:
        attention.append(f"publishing is paused: {state.pause_reason} (`scheduler queue resume` when fixed)")
    for post in store.posts_in_state(account, PostState.UNKNOWN):
        attention.append(f"{post.post_id}: outcome unknown - {post.last_error}")
    for post in store.history(account, limit=20, states=(PostState.FAILED.value,)):
        attention.append(f"{post.post_id}: failed - {post.last_error}")
    if not alive:
        attention.append("no service is running: start `scheduler serve` (see README, Running as a service)")

    return {
        "handle": config.handle,
        "account": account,
        "paused": state.paused,
        "paused_reason": state.pause_reason,
        "service": {
            "running": bool(alive),
            "pid": alive[0].pid if alive else None,
            "host": alive[0].host if alive else None,
            "instance": alive[0].instance if alive else None,
            "last_beat": iso(newest.beat_at, tz) if newest else None,
            "others": [f"pid {i.pid} on {i.host}" for i in alive[1:]],
        },
        "queue": {
            "pending": counts.get(PostState.QUEUED.value, 0) + counts.get(PostState.RETRYING.value, 0),
            "retrying": counts.get(PostState.RETRYING.value, 0),
            "sending": counts.get(PostState.SENDING.value, 0),
        },
        "sent": counts.get(PostState.SENT.value, 0),
        "failed": counts.get(PostState.FAILED.value, 0),
        "unknown": counts.get(PostState.UNKNOWN.value, 0),
        # A post whose moment has come (a slot missed by less than the grace) goes at once: never a past "next".
        "next": {
            "at": iso(max(first.at, now), tz),
            "due_since": iso(first.at, tz) if first.at < now else None,
            "post_id": first.post.post_id if first.post else None,
            "reason": first.reason,
        } if first else None,
        "publisher": destination(config),
        "last_outcome": {
            "at": iso(last.finished_at or last.started_at, tz),
            "post_id": last.post_id,
            "outcome": last.outcome,
            "detail": last.detail,
            "tweet_id": last.tweet_id,
        } if last else None,
        "quota": {
            "today": usage.today,
            "month": usage.month,
            "daily_cap": config["quota"]["daily"],
            "monthly_cap": config["quota"]["monthly"],
        },
        "attention": attention,
    }


