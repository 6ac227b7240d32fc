"""The ledger enforces its own invariants, whatever program writes to it (issue 9, holes 4, 6, 11).

Each test writes the forbidden thing with plain SQL or through a second Store, on a real SQLite file
and a real PostgreSQL schema, and checks the database itself refuses it.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.ledger import migrations as m
from scheduler.domain.models import TRANSITIONS, PostState
from scheduler.ledger.store import Store
from tests.helpers_ledger import ACCOUNT, new_post

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def raw(store: Store, sql: str, **params) -> None:
    with store.engine.begin() as conn:
        conn.execute(sa.text(sql), params)


# -- the schema refuses what the state machine forbids --------------------------------------------------


def test_unknown_state_is_refused_by_the_database(store):
    store.add_post(ACCOUNT, new_post("p"), T0)
    with pytest.raises(sa.exc.IntegrityError):
        raw(store, "UPDATE posts SET state = 'published' WHERE post_id = 'p'")
    assert store.get("p").state is PostState.QUEUED


@pytest.mark.parametrize(("start", "target"), [("sent", "queued"), ("queued", "sent"), ("failed", "sending")])
def test_transition_outside_post_transitions_is_refused(store, start, target):
    store.add_post(ACCOUNT, new_post("p"), T0)
    if start == "sent":
        assert store.claim("p", "i", T0, T0)
        store.mark_sent("p", "i", ["42"], T0)
    elif start == "failed":
        assert store.claim("p", "i", T0, T0)
        store.mark_failed("p", "i", "no", 400, T0)
    with pytest.raises((sa.exc.IntegrityError, sa.exc.DatabaseError)):
        raw(store, "UPDATE posts SET state = :s, tweet_id = '1', claimed_by = 'x' WHERE post_id = 'p'", s=target)
    assert store.get("p").state.value == start


def test_transition_table_in_the_ledger_is_the_code_s(store):
    with store.engine.connect() as conn:
        rows = {(PostState(a), PostState(b)) for a, b in conn.execute(sa.select(m.post_transitions)).all()}
    assert rows == TRANSITIONS


def test_sent_post_without_an_id_and_sending_post_without_owner_are_refused(store):
    store.add_post(ACCOUNT, new_post("p"), T0)
    assert store.claim("p", "i", T0, T0)
    with pytest.raises(sa.exc.IntegrityError):
        raw(store, "UPDATE posts SET claimed_by = NULL WHERE post_id = 'p'")
    with pytest.raises(sa.exc.IntegrityError):
        raw(store, "UPDATE posts SET state = 'sent' WHERE post_id = 'p'")  # no tweet_id


def test_attempt_of_no_post_is_refused(store):
    with pytest.raises(sa.exc.IntegrityError):
        raw(store, "INSERT INTO attempts (post_id, account, part, instance, started_at, outcome) "
                   "VALUES ('ghost', :a, 0, 'i', :t, 'sending')", a=ACCOUNT, t=T0.replace(tzinfo=None))


# -- one post per calendar slot ----------------------------------------------------------------------------


def test_second_post_for_a_calendar_slot_is_refused_even_by_another_store(ledger_url):
    first, second = Store.open(ledger_url), Store.open(ledger_url)
    try:
        first.add_post(ACCOUNT, new_post("a"), T0)
        first.add_post(ACCOUNT, new_post("b"), T0)
        assert first.claim_post("a", "service-1", T0, T0, calendar_slot=True) is not None
        # Another service, planning from an older view, gives the same slot to another post.
        assert second.claim_post("b", "service-2", T0, T0, calendar_slot=True) is None
        assert second.get("b").state is PostState.QUEUED  # untouched, still waiting for its own slot
        assert second.slot_holder(ACCOUNT, T0) == "a"
        # Pins may share a second: they are not calendar slots.
        assert second.claim_post("b", "service-2", T0, T0) is not None
    finally:
        first.close()
        second.close()


def test_a_retry_keeps_the_slot_it_was_claimed_for(store):
    store.add_post(ACCOUNT, new_post("a"), T0)
    store.add_post(ACCOUNT, new_post("b"), T0)
    assert store.claim_post("a", "i", T0, T0, calendar_slot=True)
    store.mark_retrying("a", "i", T0 + timedelta(seconds=30), T0, error="503", status=503, count_attempt=True)
    assert T0 in store.consumed_slots(ACCOUNT, T0 - timedelta(minutes=1))  # nobody else takes it meanwhile
    assert store.claim_post("b", "j", T0, T0, calendar_slot=True) is None
    retried = store.claim_post("a", "i", T0 + timedelta(seconds=30), T0 + timedelta(seconds=30), keep_slot=True)
    assert retried.slot_at == T0


# -- queue positions stay distinct, paging stays stable -----------------------------------------------------


def positions(store: Store) -> list[float]:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(m.posts.c.position).where(m.posts.c.account == ACCOUNT)).scalars().all()


def test_two_hundred_moves_into_one_gap_keep_order_and_distinct_positions(store):
    for n in range(1, 6):
        store.add_post(ACCOUNT, new_post(f"p{n}"), T0)
    for _ in range(100):  # each halves the gap: floats run out after ~54 without renumbering
        store.move(ACCOUNT, "p5", before="p2")
        store.move(ACCOUNT, "p4", before="p5")
    assert [p.post_id for p in store.iter_pending(ACCOUNT)] == ["p1", "p4", "p5", "p2", "p3"]
    assert len(set(positions(store))) == 5


def test_tied_positions_are_refused_by_the_database(store):
    store.add_post(ACCOUNT, new_post("a"), T0)
    store.add_post(ACCOUNT, new_post("b"), T0)
    with pytest.raises(sa.exc.IntegrityError):
        raw(store, "UPDATE posts SET position = (SELECT position FROM posts WHERE post_id = 'a') WHERE post_id = 'b'")


MOVES = st.lists(
    st.tuples(st.sampled_from(["before", "after", "top", "bottom"]), st.integers(0, 7), st.integers(0, 7)),
    max_size=120,
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(moves=MOVES)
def test_any_sequence_of_moves_keeps_a_total_order_and_stable_paging(sqlite_url, moves):
    store = Store.open(sqlite_url)
    try:
        with store.engine.begin() as conn:  # a fresh queue per example on the same file
            conn.execute(m.posts.delete())
        model = [f"q{n}" for n in range(8)]
        for post_id in model:
            store.add_post(ACCOUNT, new_post(post_id), T0)
        for how, a, b in moves:
            moved, anchor = model[a], model[b]
            if how in ("before", "after") and moved == anchor:
                continue
            store.move(ACCOUNT, moved, **({how: anchor} if how in ("before", "after") else {how: True}))
            model.remove(moved)
            if how == "top":
                model.insert(0, moved)
            elif how == "bottom":
                model.append(moved)
            else:
                model.insert(model.index(anchor) + (how == "after"), moved)
        assert [p.post_id for p in store.iter_pending(ACCOUNT, page=3)] == model
        paged = [p.post_id for offset in range(0, 8, 3) for p in store.queue_page(ACCOUNT, offset=offset, limit=3)]
        assert paged == model
        assert len(set(positions(store))) == 8
    finally:
        store.close()


# -- one snapshot for a plan ------------------------------------------------------------------------------


def test_reads_inside_a_snapshot_do_not_see_a_later_commit(ledger_url):
    reader, writer = Store.open(ledger_url), Store.open(ledger_url)
    try:
        writer.add_post(ACCOUNT, new_post("a"), T0)
        with reader.snapshot():
            before = [p.post_id for p in reader.iter_pending(ACCOUNT)]
            writer.add_post(ACCOUNT, new_post("b"), T0)
            assert writer.claim_post("a", "other", T0, T0, calendar_slot=True)
            assert [p.post_id for p in reader.iter_pending(ACCOUNT)] == before == ["a"]
            assert reader.consumed_slots(ACCOUNT, T0 - timedelta(hours=1)) == set()
        assert [p.post_id for p in reader.iter_pending(ACCOUNT)] == ["b"]
        assert reader.consumed_slots(ACCOUNT, T0 - timedelta(hours=1)) == {T0}
    finally:
        reader.close()
        writer.close()


# -- migrating a ledger written before the constraints -------------------------------------------------------


def test_an_old_ledger_migrates_keeping_its_order_and_dropping_orphan_attempts(tmp_path):
    path = tmp_path / "old.sqlite3"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:  # the ledger as the first release left it, with what the bugs wrote
        m.schema_migrations.create(conn)
        for name, migration in m.MIGRATIONS[:2]:
            migration(conn)
            conn.execute(m.schema_migrations.insert().values(name=name, applied_at=T0))
        now = T0.replace(tzinfo=None)
        for n, (pos, state) in enumerate([(1.0, "sent"), (2.5, "queued"), (2.5, "queued"), (3.0, "retrying")]):
            conn.exec_driver_sql(
                "INSERT INTO posts (post_id, account, kind, variant, text, parts, media, weighted_length, "
                "fingerprint, state, position, attempts, uncertain, part_ids, tweet_id, created_at, updated_at) "
                "VALUES (?, ?, 'adhoc', 0, ?, '[]', '[]', 5, ?, ?, ?, 0, 0, '[]', ?, ?, ?)",
                (f"old{n}", ACCOUNT, f"text {n}", f"fp{n}", state, pos, "9" if state == "sent" else None, now, now),
            )
        conn.exec_driver_sql("INSERT INTO attempts (post_id, account, part, instance, started_at, outcome) "
                             "VALUES ('removed-long-ago', ?, 0, 'i', ?, 'lost')", (ACCOUNT, now))
    engine.dispose()

    store = Store.open(f"sqlite:///{path}")
    try:
        assert [p.post_id for p in store.iter_pending(ACCOUNT)] == ["old1", "old2", "old3"]
        assert store.get("old3").next_attempt_at is not None  # a retry time, as the CHECK wants
        assert len(set(positions(store))) == 4
        assert store.attempts("removed-long-ago") == []
        with pytest.raises(sa.exc.IntegrityError):
            raw(store, "UPDATE posts SET state = 'bogus'")
    finally:
        store.close()
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)


def test_a_new_ledger_and_a_migrated_one_have_the_same_schema(tmp_path):
    fresh = Store.open(f"sqlite:///{tmp_path / 'fresh.sqlite3'}")
    fresh.close()
    old = sa.create_engine(f"sqlite:///{tmp_path / 'old.sqlite3'}")
    with old.begin() as conn:
        m.schema_migrations.create(conn)
        for name, migration in m.MIGRATIONS[:1]:
            migration(conn)
            conn.execute(m.schema_migrations.insert().values(name=name, applied_at=T0))
    old.dispose()
    Store.open(f"sqlite:///{tmp_path / 'old.sqlite3'}").close()

    def schema(path):
        with sqlite3.connect(path) as conn:
            return sorted((t, " ".join(sql.split())) for t, sql in conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"))

    assert schema(tmp_path / "fresh.sqlite3") == schema(tmp_path / "old.sqlite3")


def test_a_post_that_may_be_live_cannot_be_removed_and_stays_as_it_was(store):
    from scheduler.domain.errors import QueueError

    store.add_post(ACCOUNT, new_post("p"), T0)
    assert store.claim("p", "i", T0, T0)
    store.set_uncertain("p", "i", True, T0)
    store.mark_retrying("p", "i", T0 + timedelta(seconds=30), T0, error="lost", status=None, count_attempt=True)
    with pytest.raises(QueueError, match="may be live"):
        store.remove(ACCOUNT, "p", T0)
    post = store.get("p")
    assert (post.state, post.uncertain) == (PostState.RETRYING, True)
