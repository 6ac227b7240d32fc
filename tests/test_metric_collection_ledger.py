"""The ledger's side of collecting metrics, on SQLite and PostgreSQL: the due query follows the one rule of
domain/metric_schedule.py (checked against ``is_due`` over random histories), a batch lands in one transaction,
a deleted part is recorded once and its post is never due again, and each account's collection state (pause, wait,
lease) is kept apart from publishing."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from scheduler.domain.metric_schedule import is_due, read_age, windows
from scheduler.domain.metrics import MetricReading
from scheduler.ledger import migrations as m
from tests.helpers_ledger import ACCOUNT, new_post

T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)
H, D = timedelta(hours=1), timedelta(days=1)
SCHEDULE = (H, 24 * H, 7 * D, 30 * D)
MAX_AGE = 45 * D


def sent(store, post_id: str, at: datetime, parts=None, account: str = ACCOUNT) -> None:
    store.add_post(account, new_post(post_id), at)
    assert store.claim(post_id, "i", at, at)
    store.mark_sent(post_id, "i", parts or [f"{abs(hash(post_id)) % 10**9}"], at)


def reading(post_id: str, part: str, at: datetime, likes: int = 1) -> MetricReading:
    return MetricReading(post_id=post_id, account=ACCOUNT, network="x", remote_id=part, read_at=at, likes=likes,
                         reposts=0, replies=0, quotes=0, impressions=10)


def due(store, now: datetime, **kw) -> list[str]:
    return [d.post_id for d in store.due_readings(ACCOUNT, windows(SCHEDULE, now), now - MAX_AGE, limit=1000, **kw)]


def test_a_post_is_due_at_each_offset_until_read_and_newest_sent_comes_first(store):
    sent(store, "old", T0, ["11"])
    sent(store, "new", T0 + 2 * H, ["22", "23"])
    assert due(store, T0 + 30 * 60 * timedelta(seconds=1)) == []
    assert due(store, T0 + 3 * H) == ["new", "old"]
    got = store.due_readings(ACCOUNT, windows(SCHEDULE, T0 + 3 * H), T0 + 3 * H - MAX_AGE, limit=1)
    assert [(d.post_id, d.parts, d.read_age_s) for d in got] == [("new", ("22", "23"), None)]
    at = T0 + 3 * H
    assert store.record_collected(ACCOUNT, {"new": T0 + 2 * H}, [reading("new", "22", at), reading("new", "23", at)],
                                  {}, [], at) == 2
    assert due(store, at) == ["old"]
    assert store.metric_standing("new")[:2] == (at, 3600)
    assert store.accounts_with_due_readings(windows(SCHEDULE, at), at - MAX_AGE) == {ACCOUNT}
    store.record_collected(ACCOUNT, {"old": T0}, [reading("old", "11", at)], {}, [], at)
    assert due(store, at) == [] and store.accounts_with_due_readings(windows(SCHEDULE, at), at - MAX_AGE) == set()
    assert due(store, T0 + 24 * H) == ["old"]  # its 24 h reading; new's comes two hours later
    assert due(store, T0 + 26 * H) == ["new", "old"]
    assert due(store, T0 + 46 * D) == []  # past max_age: nothing more is read


def test_the_due_query_agrees_with_the_rule_over_random_histories(store):
    rng = random.Random(21)
    truth = {}
    for n in range(60):
        sent_at = T0 - timedelta(seconds=rng.randrange(0, 50 * 86400))
        post_id = f"p{n}"
        sent(store, post_id, sent_at, [str(1000 + n)])
        age = None
        if rng.random() < 0.6:
            read_at = sent_at + timedelta(seconds=rng.randrange(0, 40 * 86400))
            if read_at <= T0:
                store.record_collected(ACCOUNT, {post_id: sent_at}, [reading(post_id, str(1000 + n), read_at)], {}, [],
                                       read_at)
                age = read_age(sent_at, read_at)
        truth[post_id] = (sent_at, age)
    for now in (T0, T0 + 3 * H, T0 + 6 * D):
        expected = {p for p, (s, a) in truth.items() if is_due(s, a, SCHEDULE, now, MAX_AGE)}
        assert set(due(store, now)) == expected


def test_a_deleted_part_is_recorded_once_and_a_post_with_every_part_gone_is_never_due_again(store):
    sent(store, "thread", T0, ["31", "32"])
    sent(store, "single", T0, ["41"])
    now = T0 + 2 * H
    store.record_collected(ACCOUNT, {"thread": T0}, [reading("thread", "31", now)], {"thread": ["32"]}, [], now)
    store.record_collected(ACCOUNT, {}, [], {"thread": ["32"], "single": ["41"]}, ["single"], now)  # told twice
    with store.engine.begin() as conn:
        rows = conn.execute(sa.select(m.metric_deleted.c.post_id, m.metric_deleted.c.remote_id)).all()
    assert sorted(rows) == [("single", "41"), ("thread", "32")]
    assert store.metric_standing("single")[2] == now
    later = T0 + 25 * H
    got = store.due_readings(ACCOUNT, windows(SCHEDULE, later), later - MAX_AGE, limit=10)
    assert [(d.post_id, d.parts) for d in got] == [("thread", ("31",))]  # the deleted part is not read again
    assert store.metric_counts(ACCOUNT) == {"posts_read": 1, "last_read_at": now, "deleted_parts": 2}
    with pytest.raises(sa.exc.IntegrityError):  # the database itself keeps a part's deletion to one row
        with store.engine.begin() as conn:
            conn.execute(m.metric_deleted.insert().values(post_id="single", remote_id="41", account=ACCOUNT,
                                                          deleted_at=now))


def test_outbox_lines_are_not_parts_to_read_and_skip_leaves_posts_out(store):
    sent(store, "dry", T0, ["outbox-3"])
    sent(store, "real", T0, ["51"])
    got = {d.post_id: d.parts for d in store.due_readings(ACCOUNT, windows(SCHEDULE, T0 + 2 * H), T0 - D, limit=10)}
    assert got == {"dry": (), "real": ("51",)}
    assert due(store, T0 + 2 * H, skip=["real"]) == ["dry"]


def test_a_batch_is_one_transaction_and_a_repeat_is_stored_once(store):
    sent(store, "p", T0, ["61"])
    at = T0 + 2 * H
    assert store.record_collected(ACCOUNT, {"p": T0}, [reading("p", "61", at)], {}, [], at) == 1
    assert store.record_collected(ACCOUNT, {"p": T0}, [reading("p", "61", at)], {}, [], at) == 0
    bad = MetricReading(post_id="p", account=ACCOUNT, network="x", remote_id="61", read_at=at + H, likes=-1,
                        reposts=0, replies=0, quotes=0)
    with pytest.raises(sa.exc.IntegrityError):
        store.record_collected(ACCOUNT, {"p": T0}, [bad], {"p": ["62"]}, [], at + H)
    assert store.metric_standing("p") == (at, 7200, None, [])  # nothing of the failed batch landed
    assert len(store.metric_readings(post_id="p")) == 1


def test_pause_wait_and_lease_are_per_account_and_never_touch_publishing(store):
    store.pause_metrics(ACCOUNT, "401 Unauthorized", T0)
    state = store.metric_account(ACCOUNT)
    assert (state.paused_at, state.pause_reason) == (T0, "401 Unauthorized")
    assert store.metric_account("other").paused_at is None
    assert not store.account_state(ACCOUNT).paused  # publishing goes on
    store.resume_metrics(ACCOUNT)
    assert store.metric_account(ACCOUNT).paused_at is None
    store.metrics_wait(ACCOUNT, T0 + H, "503", failed=True)
    store.metrics_wait(ACCOUNT, T0 + 2 * H, "503", failed=True)
    assert (store.metric_account(ACCOUNT).failures, store.metric_account(ACCOUNT).wait_until) == (2, T0 + 2 * H)
    store.metrics_read_ok(ACCOUNT)
    assert (store.metric_account(ACCOUNT).failures, store.metric_account(ACCOUNT).wait_until) == (0, None)
    assert store.take_metrics_lease(ACCOUNT, "svc-a", T0, T0 + 10 * timedelta(minutes=1))
    assert not store.take_metrics_lease(ACCOUNT, "svc-b", T0 + timedelta(minutes=1), T0 + H)
    assert store.take_metrics_lease(ACCOUNT, "svc-a", T0 + timedelta(minutes=1), T0 + H)  # renewed by its holder
    assert store.take_metrics_lease(ACCOUNT, "svc-b", T0 + 2 * H, T0 + 3 * H)  # a lapsed lease is taken over
    store.release_metrics_lease(ACCOUNT, "svc-a")  # not its lease any more: nothing happens
    assert store.metric_account(ACCOUNT).collector == "svc-b"
    store.release_metrics_lease(ACCOUNT, "svc-b")
    assert store.metric_accounts()[ACCOUNT].collector is None
    with pytest.raises(sa.exc.IntegrityError):
        with store.engine.begin() as conn:
            conn.execute(m.metric_accounts.update().values(paused_at=T0, pause_reason=None))
