"""The ledger keeps every metric reading as a snapshot and every billed call with its exact price, and the
database itself refuses nonsense (negative counters, an unknown kind of call, a reading of no post)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from scheduler.domain.metrics import MetricReading, RateBasis, engagement
from scheduler.ledger import migrations as m
from scheduler.ledger.metrics import BilledCall
from tests.helpers_ledger import ACCOUNT, new_post

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=timezone.utc)


def _sent(store, post_id: str = "p") -> None:
    store.add_post(ACCOUNT, new_post(post_id), T0)
    assert store.claim(post_id, "i", T0, T0)
    store.mark_sent(post_id, "i", ["1001"], T0)


def _reading(at: datetime, likes: int, **kw) -> MetricReading:
    return MetricReading(post_id=kw.pop("post_id", "p"), account=ACCOUNT, network=kw.pop("network", "x"),
                         remote_id=kw.pop("remote_id", "1001"), read_at=at, likes=likes, reposts=1, replies=0,
                         quotes=0, **kw)


def test_readings_are_snapshots_in_time_order_and_a_repeat_is_stored_once(store):
    _sent(store)
    later, first = _reading(T0 + timedelta(hours=24), 9, impressions=300), _reading(T0 + timedelta(hours=1), 2)
    assert store.record_readings([later, first]) == 2
    assert store.record_readings([first]) == 0  # the same part at the same moment: already there
    got = store.metric_readings(account=ACCOUNT)
    assert [r.likes for r in got] == [2, 9]
    assert got[1].impressions == 300 and got[0].impressions is None
    assert store.metric_readings(since=T0 + timedelta(hours=2)) == [got[1]]


def test_the_database_refuses_a_negative_counter_and_a_reading_of_no_post(store):
    _sent(store)
    with pytest.raises(sa.exc.IntegrityError):
        store.record_readings([_reading(T0, -1)])
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(m.metric_readings.insert().values(
                post_id="no-such-post", account=ACCOUNT, network="x", remote_id="1", read_at=T0,
                likes=0, reposts=0, replies=0, quotes=0))
    assert store.metric_readings() == []


def test_spend_is_the_exact_sum_of_billed_calls_by_kind_within_the_month(store):
    _sent(store)
    march, april = T0.replace(day=1, hour=0), T0.replace(month=4, day=1, hour=0)
    for at, kind, units, price in [(T0, "post", 1, 15_000), (T0, "post_with_link", 1, 200_000),
                                   (T0 + timedelta(hours=1), "metric_read", 100, 500_000),
                                   (april, "post", 1, 15_000)]:
        store.record_billed_call(BilledCall(ACCOUNT, "x", kind, units, price, at, "p"))
    assert store.spend_micro_usd(account=ACCOUNT, start=march, end=april) == {
        "post": 15_000, "post_with_link": 200_000, "metric_read": 500_000}
    assert len(store.billed_calls(start=april)) == 1
    with pytest.raises(sa.exc.IntegrityError):
        store.record_billed_call(BilledCall(ACCOUNT, "x", "coffee", 1, 1, T0))


def test_engagement_uses_impressions_where_given_else_followers_and_says_which():
    on_x = engagement(_reading(T0, 9, impressions=500))
    assert on_x.basis is RateBasis.IMPRESSIONS and on_x.rate == pytest.approx(10 / 500)
    on_bluesky = engagement(_reading(T0, 9, network="bluesky", followers=200))
    assert on_bluesky.basis is RateBasis.FOLLOWERS and on_bluesky.rate == pytest.approx(10 / 200)
    unknown = engagement(_reading(T0, 9, network="mastodon"))
    assert unknown.rate is None and unknown.basis is None and unknown.interactions == 10
