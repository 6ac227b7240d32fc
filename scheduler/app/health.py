"""`scheduler status`: is a service alive, what is next, and what needs a person."""

from __future__ import annotations

import os
from datetime import datetime, timedelta

from scheduler.app.collecting import metrics_attention, metrics_status
from scheduler.app.views import feeds_report, iso
from scheduler.config import Config
from scheduler.domain.errors import CredentialsError
from scheduler.domain.models import PostState
from scheduler.domain.pricing import dollars
from scheduler.ledger.store import Store
from scheduler.networks.factory import NETWORK_NAMES, credentials_found, destination, unusable
from scheduler.planning import agenda
from scheduler.planning.forecast import money_json, month_money
from scheduler.publishing.liveness import instance_is_alive
from scheduler.review import policy as review

# A call to X ends within its timeouts; a post held longer than this is stuck, whoever holds it.
STUCK_AFTER = timedelta(minutes=5)




def credentials_problem(config: Config) -> str | None:
    """Why the account's credentials cannot be used (a file missing, unreadable or readable by others), else None."""
    if config["publisher"]["kind"] == "outbox":
        return None
    try:
        credentials_found(config, os.environ)
    except CredentialsError as exc:
        return str(unusable(config, exc))
    return None


def outbox_warning(config: Config) -> str | None:
    """While posts go to the outbox file rather than the network (``destination``, the rule `scheduler status` and
    the service's log tell it by), what the dashboard says on every page; None while they go to the network."""
    target = destination(config)
    if target["kind"] != "outbox":
        return None
    return (f"Posts go to the outbox file, NOT to {NETWORK_NAMES[config.network]} ({target['why']}): nothing is "
            "published until that changes; see `scheduler auth status`.")


def last_seen(instances, last) -> datetime | None:
    """When a service of the account was last known alive: its newest heartbeat, its stop, or the end of the last
    call a service made (a post published after the last beat means it was alive then: "last seen" is never
    earlier than the service's last publication)."""
    seen = [t for i in instances for t in (i.beat_at, i.stopped_at) if t is not None]
    if last is not None and last.instance in {i.instance for i in instances}:
        seen.append(last.finished_at or last.started_at)
    return max(seen) if seen else None


def status(store: Store, config: Config, now: datetime) -> dict:
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
    stuck = []
    for post in store.posts_in_state(account, PostState.SENDING):
        holder = next((i for i in alive if i.instance == post.claimed_by), None)
        if holder is None or post.claimed_at is None or now - post.claimed_at > STUCK_AFTER:
            stuck.append(post.post_id)
            who = (f"the running service pid {holder.pid} on {holder.host}" if holder
                   else f"{post.claimed_by}, which is not running")
            since = iso(post.claimed_at, tz) or "an unknown time"
            attention.append(
                f"{post.post_id}: stuck in sending since {since}, held by {who}; a running service recovers it "
                f"(looking it up on X first), or settle it with `scheduler resolve {post.post_id}`"
            )
    for post in store.posts_in_state(account, PostState.RETRYING):
        failed = store.lookup_failures(post.post_id) if post.uncertain else None
        if failed is not None:
            attention.append(
                f"{post.post_id}: may be live, but {failed.failures} look-up(s) of it failed (last: {failed.last_error}); "
                f"looking again at {iso(post.next_attempt_at, tz)}, then `unknown` if they keep failing; settle it "
                f"now with `scheduler resolve {post.post_id} --sent ID_OR_URL` or `--retry`"
            )
    for post in store.posts_in_state(account, PostState.UNKNOWN):
        attention.append(f"{post.post_id}: outcome unknown - {post.last_error}")
    for post in store.history(account, limit=20, states=(PostState.FAILED.value,)):
        attention.append(f"{post.post_id}: failed - {post.last_error}")
    feeds = feeds_report(store, config)
    for feed in feeds:
        if feed["state"] == "failing":
            attention.append(f"feed {feed['url']} is failing ({feed['failures']} checks): {feed['last_error']}")
    problem = credentials_problem(config)
    if problem:
        attention.append(f"{problem}: `scheduler serve` refuses to start until it is fixed" if len(config.each_account()) == 1
                         else f"{problem}: `scheduler serve` keeps this account paused (the others publish) until "
                              "it is fixed")
    if not alive:
        attention.append("no service is running: start `scheduler serve` (see README, Running as a service)")
    for item in review.held(store, config):
        blocks = "; ".join(f.describe() for f in item.findings if f.severity == "block")
        attention.append(f"{item.post.post_id}: held by a content rule, not going out ({blocks}); to release it: "
                         f"{review.RELEASE}")
    money = month_money(store, config, now)
    if money is not None and money.waiting:
        attention.append(f"the X budget empties {money.waiting} slot(s) this month ({dollars(money.spent)} spent, "
                         f"{dollars(money.forecast)} with the posts planned, of [x] monthly_budget = "
                         f"{dollars(money.budget)}): the posts wait for next month, or raise the budget")
    metrics = metrics_status(store, config, now)
    if (paused := metrics_attention(metrics, config.account_name)) is not None:
        attention.append(paused)
    waiting = _review_summary(store, config, now)
    if waiting["required"] and waiting["awaiting"] + waiting["changes_requested"]:
        attention.append(f"{waiting['awaiting']} post(s) await review, {waiting['changes_requested']} sent back for "
                         "changes; nothing unapproved goes out: `scheduler review list`")

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
            "last_seen": iso(last_seen(instances, last), tz),
            "others": [f"pid {i.pid} on {i.host}" for i in alive[1:]],
        },
        "queue": {
            "pending": counts.get(PostState.QUEUED.value, 0) + counts.get(PostState.RETRYING.value, 0),
            "retrying": counts.get(PostState.RETRYING.value, 0),
            "sending": counts.get(PostState.SENDING.value, 0),
            "stuck": stuck,
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
        "spend": money_json(money),
        "metrics": metrics,
        "feeds": [
            {key: feed[key] for key in ("url", "title", "state", "last_error", "checked_at", "next_check_at",
                                        "imported", "skipped")}
            | {"skipped_entries": feed["skipped_entries"][:5]}
            for feed in feeds
        ],
        "review": waiting,
        "attention": attention,
    }


def _review_summary(store: Store, config: Config, now: datetime) -> dict:
    items = review.waiting(store, config, now, limit=100000, slots=False) if review.required(config) else []
    return {
        "required": review.required(config),
        "awaiting": sum(1 for i in items if i.status == review.AWAITING),
        "changes_requested": sum(1 for i in items if i.status == review.CHANGES_REQUESTED),
        "blocked": sum(1 for i in items if i.blocked),
    }


