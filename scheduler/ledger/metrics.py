"""The ledger's part for insights: metric readings of sent posts and the calls a network billed.

A mixin of ``store.Store`` (which provides ``engine`` and ``_read``). Readings are inserted, never updated: each is
a snapshot, and a post's curve is its readings in time order. A reading taken twice at the same moment for the same
part is stored once (``uq_metric_readings``). Billed calls carry their price in millionths of a dollar, so a month's
spend is an exact integer sum.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from scheduler.domain.metrics import MetricReading
from scheduler.ledger import migrations as m


@dataclass(frozen=True)
class BilledCall:
    account: str
    network: str
    kind: str  # post | post_with_link | metric_read | lookup_read | user_read
    units: int
    price_micro_usd: int
    at: datetime  # aware UTC
    post_id: str | None = None


class MetricsLedger:
    def record_readings(self, readings: list[MetricReading]) -> int:
        """Store readings; one already stored (same post, part and moment) is skipped. Returns how many were new."""
        if not readings:
            return 0
        new = 0
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            for r in readings:
                exists = conn.execute(sa.select(m.metric_readings.c.id).where(
                    m.metric_readings.c.post_id == r.post_id, m.metric_readings.c.remote_id == r.remote_id,
                    m.metric_readings.c.read_at == r.read_at)).first()
                if exists is None:
                    conn.execute(m.metric_readings.insert().values(
                        post_id=r.post_id, account=r.account, network=r.network, remote_id=r.remote_id,
                        read_at=r.read_at, impressions=r.impressions, likes=r.likes, reposts=r.reposts,
                        replies=r.replies, quotes=r.quotes, bookmarks=r.bookmarks, followers=r.followers,
                        url_link_clicks=r.url_link_clicks, user_profile_clicks=r.user_profile_clicks))
                    new += 1
        return new

    def metric_readings(self, *, account: str | None = None, post_id: str | None = None,
                        since: datetime | None = None) -> list[MetricReading]:
        """Readings in time order, filtered by account, post and earliest reading time."""
        t = m.metric_readings
        query = sa.select(t).order_by(t.c.read_at, t.c.id)
        if account is not None:
            query = query.where(t.c.account == account)
        if post_id is not None:
            query = query.where(t.c.post_id == post_id)
        if since is not None:
            query = query.where(t.c.read_at >= since)
        with self._read() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(query).all()
        return [MetricReading(post_id=r.post_id, account=r.account, network=r.network, remote_id=r.remote_id,
                              read_at=r.read_at, likes=r.likes, reposts=r.reposts, replies=r.replies,
                              quotes=r.quotes, impressions=r.impressions, bookmarks=r.bookmarks,
                              followers=r.followers, url_link_clicks=r.url_link_clicks,
                              user_profile_clicks=r.user_profile_clicks) for r in rows]

    def record_billed_call(self, call: BilledCall) -> None:
        with self.engine.begin() as conn:  # type: ignore[attr-defined]
            conn.execute(m.billed_calls.insert().values(
                account=call.account, network=call.network, kind=call.kind, units=call.units,
                price_micro_usd=call.price_micro_usd, at=call.at, post_id=call.post_id))

    def billed_calls(self, *, account: str | None = None, start: datetime | None = None,
                     end: datetime | None = None) -> list[BilledCall]:
        """Billed calls in time order, in [start, end)."""
        t = m.billed_calls
        query = sa.select(t).order_by(t.c.at, t.c.id)
        if account is not None:
            query = query.where(t.c.account == account)
        if start is not None:
            query = query.where(t.c.at >= start)
        if end is not None:
            query = query.where(t.c.at < end)
        with self._read() as conn:  # type: ignore[attr-defined]
            rows = conn.execute(query).all()
        return [BilledCall(r.account, r.network, r.kind, r.units, r.price_micro_usd, r.at, r.post_id) for r in rows]

    def spend_micro_usd(self, *, account: str | None = None, start: datetime, end: datetime) -> dict[str, int]:
        """What the billed calls in [start, end) cost, by kind, in millionths of a dollar."""
        t = m.billed_calls
        query = (sa.select(t.c.kind, sa.func.sum(t.c.price_micro_usd))
                 .where(t.c.at >= start, t.c.at < end).group_by(t.c.kind))
        if account is not None:
            query = query.where(t.c.account == account)
        with self._read() as conn:  # type: ignore[attr-defined]
            return {kind: int(total) for kind, total in conn.execute(query).all()}
