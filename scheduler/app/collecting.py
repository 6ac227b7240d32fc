"""Metric collection as the interfaces show it: `scheduler insights collect` (read what is due, once, by hand) and
the ``metrics`` part of `scheduler status` (where collection stands for an account: schedule, pause, wait, how far
it got). The collecting itself is ``publishing/collect.py``'s, the same code the service runs."""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from datetime import datetime

from scheduler.app.views import iso
from scheduler.config import Config
from scheduler.domain.pricing import dollars
from scheduler.publishing.collect import collect_round, collectable


def _duration(delta) -> str:
    seconds = int(delta.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def collect_now(store, configs: list[Config], clock: Callable[[], datetime]) -> dict:
    """Read every reading due now for these accounts, once (a paused account is tried again: a person asked; one
    waiting for a reset keeps waiting). The JSON of `insights collect --json`."""
    owner = f"cli:{socket.gethostname()}:{os.getpid()}"
    done = {a.account: a for a in collect_round(store, configs, owner, clock, retry_paused=True).accounts}
    rows = []
    for config in configs:
        row = {"account": config.account_name, "network": config.network, **metrics_status(store, config, clock())}
        round_ = done.get(config.account_name)
        if round_ is not None:
            row.update(posts_read_now=round_.posts, parts_read_now=round_.parts, deleted_now=round_.deleted,
                       calls=round_.calls, billed_micro_usd=round_.billed, billed_usd=dollars(round_.billed),
                       stopped=round_.stopped)
        rows.append(row)
    return {"now": iso(clock(), None), "accounts": rows}


def collect_text(report: dict) -> str:
    lines = []
    for row in report["accounts"]:
        head = f"{row['account']}: "
        if row["no_metrics"]:
            lines.append(head + f"no metrics ({row['none']})")
        elif "posts_read_now" in row:
            text = (f"{row['posts_read_now']} post(s) read ({row['parts_read_now']} part(s)) in {row['calls']} "
                    f"call(s), {row['deleted_now']} part(s) found deleted")
            if row["billed_micro_usd"]:
                text += f", {row['billed_usd']} billed by X"
            lines.append(head + text + (f"; stopped: {row['stopped']}" if row["stopped"] else ""))
        elif row["paused"]:
            lines.append(head + f"paused: {row['pause_reason']}")
        elif row["waiting_until"]:
            lines.append(head + f"waiting until {row['waiting_until']} ({row['last_error']})")
        elif row["collector"]:
            lines.append(head + f"being collected by {row['collector']}")
        else:
            lines.append(head + "nothing due")
    return "\n".join(lines)


def metrics_status(store, config: Config, now: datetime) -> dict:
    """Where metric collection stands for an account, for `status` and `insights collect`."""
    state = store.metric_account(config.account)
    counts = store.metric_counts(config.account)
    waiting = state.wait_until if state.wait_until is not None and state.wait_until > now else None
    leased = state.collector if state.lease_until is not None and state.lease_until > now else None
    return {
        "no_metrics": collectable(config),
        "schedule": [_duration(o) for o in config["metrics"]["schedule"]],
        "max_age": _duration(config["metrics"]["max_age"]),
        "paused": state.paused_at is not None,
        "pause_reason": state.pause_reason,
        "paused_at": iso(state.paused_at, config.tz),
        "waiting_until": iso(waiting, config.tz),
        "last_error": state.last_error,
        "collector": leased,
        "posts_read": counts["posts_read"],
        "last_read_at": iso(counts["last_read_at"], config.tz),
        "deleted_parts": counts["deleted_parts"],
    }


def metrics_attention(metrics: dict, name: str) -> str | None:
    """The `status` line a paused account's metrics need (None while they are not paused)."""
    if not metrics["paused"]:
        return None
    return (f"metrics are paused for this account since {metrics['paused_at']}: {metrics['pause_reason']} "
            f"(publishing goes on); fix its credentials, then reload the service (SIGHUP) or run "
            f"`scheduler insights collect --account {name}`")
