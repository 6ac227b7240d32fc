"""Filling the ledger as the metric collector will: sent posts (each with its tip, template and wording) and
readings of them through ``Store.record_readings``, billed calls through ``Store.record_billed_call``."""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.domain.metrics import MetricReading
from scheduler.ledger.store import NewPost, Store

HOURS = (1, 24, 24 * 7)  # readings taken 1 h, 24 h and 7 d after sending


def send(store: Store, account: str, post_id: str, at: datetime, *, article: str | None = "art", tip: int | None = 1,
         template: str | None = "tip/1.j2", variant: int = 0, kind: str = "tip", parts: int = 1,
         text: str | None = None) -> list[str]:
    """A post sent at ``at``; returns its remote ids (one per part)."""
    text = text or f"text of {post_id}"
    store.add_post(account, NewPost(post_id=post_id, kind=kind, text=text,
                                    parts=tuple(f"{text} ({i})" for i in range(parts)) if parts > 1 else (text,),
                                    weighted_length=len(text), article_key=article, tip=tip, template=template,
                                    variant=variant), at - timedelta(days=1))
    assert store.claim(post_id, "test", at, at)
    remote = [f"{post_id}-remote-{i}" for i in range(parts)]
    store.mark_sent(post_id, "test", remote, at)
    return remote


def read(store: Store, account: str, post_id: str, remote_id: str, at: datetime, *, network: str = "x",
         likes: int = 0, reposts: int = 0, replies: int = 0, quotes: int = 0, impressions: int | None = None,
         followers: int | None = None) -> None:
    store.record_readings([MetricReading(post_id=post_id, account=account, network=network, remote_id=remote_id,
                                         read_at=at, likes=likes, reposts=reposts, replies=replies, quotes=quotes,
                                         impressions=impressions, followers=followers)])


def sent_with_rate(store: Store, account: str, post_id: str, at: datetime, rate: float, *, network: str = "x",
                   **post) -> None:
    """A post sent at ``at`` whose readings grow to ``rate`` (interactions per 1000 impressions on X, per 1000
    followers elsewhere) at its last reading, 7 days after sending."""
    [remote] = send(store, account, post_id, at, **post)
    for hours in HOURS:
        grown = round(rate * 1000 * hours / HOURS[-1])
        if network == "x":
            read(store, account, post_id, remote, at + timedelta(hours=hours), likes=grown, impressions=1000)
        else:
            read(store, account, post_id, remote, at + timedelta(hours=hours), network=network, likes=grown,
                 followers=1000)
