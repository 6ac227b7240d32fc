"""The ledger on real SQLite files and real PostgreSQL schemas: migrations, imports, the queue,
the duplicate guard, and the claim-guarded state machine that keeps a post from going out twice."""

from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa

from scheduler.ledger import migrations as m
from scheduler.domain.errors import DuplicateError, QueueError
from scheduler.domain.models import PostState
from scheduler.ledger.metrics import BilledCall
from scheduler.ledger.store import LostClaim, NewPost, Store
from tests.helpers_ledger import ACCOUNT, PostgresSchema, new_post

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def pending_ids(store: Store) -> list[str]:
    return [p.post_id for p in store.iter_pending(ACCOUNT)]


def tip_posts(article: str, tips: dict[int, str]) -> list[NewPost]:
    return [new_post(f"{article}-{n}", text, kind="tip", article_key=article, tip=n) for n, text in tips.items()]


def import_tips(store: Store, article: str, tips: dict[int, str], now: datetime = T0):
    return store.import_article(
        ACCOUNT,
        article_key=article,
        title=article.title(),
        url=f"https://example.com/{article}",
        source=f"{article}.md",
        fingerprint=str(hash(tuple(tips.items())) & 0xFFFF),
        tips=[{"number": n, "headline": t, "body": ""} for n, t in tips.items()],
        posts=tip_posts(article, tips),
        now=now,
    )


def send(store: Store, post_id: str, tweet_id: str, at: datetime, instance: str = "i1") -> None:
    assert store.claim(post_id, instance, at, at)
    store.mark_sent(post_id, instance, [tweet_id], at)


# -- migrations -------------------------------------------------------------------------------------


def test_migrations_applied_on_open_and_idempotent_on_reopen(ledger_url):
    first = Store.open(ledger_url)
    try:
        with first.engine.connect() as conn:
            rows = conn.execute(sa.select(m.schema_migrations.c.name, m.schema_migrations.c.applied_at)).all()
            tables = set(sa.inspect(conn).get_table_names())
        assert [r.name for r in rows] == [name for name, _ in m.MIGRATIONS]
        assert all(r.applied_at.tzinfo is not None for r in rows)
        assert {"accounts", "articles", "posts", "attempts", "instances"} <= tables
        first.add_post(ACCOUNT, new_post("keep-me"), T0)
    finally:
        first.close()

    again = Store.open(ledger_url)  # a second open must neither fail nor re-run anything
    try:
        with again.engine.connect() as conn:
            reopened = conn.execute(sa.select(m.schema_migrations.c.name, m.schema_migrations.c.applied_at)).all()
        assert sorted(reopened) == sorted(rows)
        assert again.get("keep-me").state is PostState.QUEUED
    finally:
        again.close()


def test_planning_reads_are_indexed_on_both_backends(ledger_url):
    """Every plan reads publications by slot time: without (account, slot_at) it scans the whole ledger
    (m003 once dropped that index on SQLite)."""
    store = Store.open(ledger_url)
    try:
        with store.engine.connect() as conn:
            indexes = {tuple(i["column_names"]) for i in sa.inspect(conn).get_indexes("posts")}
        assert {("account", "slot_at"), ("account", "pinned_at"), ("account", "next_attempt_at"),
                ("account", "state", "position")} <= indexes
    finally:
        store.close()


def race_first_opens(url: str, openers: int = 6) -> list[Exception]:
    errors: list[Exception] = []
    stores: list[Store] = []
    barrier = threading.Barrier(openers)

    def opener():
        barrier.wait()
        try:
            stores.append(Store.open(url))
        except Exception as exc:  # reported by the caller
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(openers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    try:
        if stores:
            with stores[0].engine.connect() as conn:
                names = conn.execute(sa.select(m.schema_migrations.c.name)).scalars().all()
            assert sorted(names) == sorted(name for name, _ in m.MIGRATIONS)
    finally:
        for s in stores:
            s.close()
    return errors


@pytest.mark.postgres
def test_concurrent_first_opens_migrate_once_postgres(postgres_url):
    """Services starting on a new database at once: all open, one set of migration rows.
    The race is run on up to 30 fresh schemas so that it is met every time, not by luck."""
    errors = race_first_opens(postgres_url)
    for _ in range(30):
        if errors:
            break
        schema = PostgresSchema()
        try:
            errors += race_first_opens(schema.url)
        finally:
            schema.drop()
    assert errors == []


def test_first_sqlite_open_waits_for_a_lock_held_by_another_process(tmp_path):
    path = tmp_path / "ledger.sqlite3"
    locked, release = threading.Event(), threading.Event()

    def holder():  # another program writing to the new ledger for a moment (rollback journal)
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("CREATE TABLE IF NOT EXISTS other (x)")
        conn.execute("BEGIN IMMEDIATE")
        locked.set()
        release.wait(0.3)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=holder)
    thread.start()
    locked.wait()
    try:
        store = Store.open(f"sqlite:///{path}")  # busy_timeout is 30 s: it should wait, not fail
        store.close()
    finally:
        release.set()
        thread.join()


# -- importing articles -----------------------------------------------------------------------------


def test_import_is_idempotent(store):
    tips = {1: "Tip 1: stretch", 2: "Tip 2: walk", 3: "Tip 3: sleep"}
    first = import_tips(store, "back-pain", tips)
    assert first.added == ("back-pain-1", "back-pain-2", "back-pain-3")
    revision = store.revision(ACCOUNT)

    second = import_tips(store, "back-pain", tips, T0 + timedelta(days=1))
    assert second.unchanged == ("back-pain-1", "back-pain-2", "back-pain-3")
    assert (second.added, second.updated, second.removed, second.kept_sent) == ((), (), (), ())
    assert pending_ids(store) == ["back-pain-1", "back-pain-2", "back-pain-3"]
    assert store.revision(ACCOUNT) == revision  # nothing changed: the service need not re-plan
    assert store.article(ACCOUNT, "back-pain")["tips"][0]["headline"] == "Tip 1: stretch"


def test_edited_import_updates_unsent_keeps_sent_removes_vanished(store):
    import_tips(store, "back-pain", {1: "Tip 1: stretch", 2: "Tip 2: walk", 3: "Tip 3: sleep", 4: "Tip 4: ice"})
    send(store, "back-pain-1", "9001", T0 + timedelta(hours=1))
    position_of_2 = store.get("back-pain-2").position

    report = import_tips(
        store, "back-pain", {1: "Tip 1: stretch daily", 2: "Tip 2: walk more", 3: "Tip 3: sleep"},
        T0 + timedelta(days=1),
    )
    assert report.kept_sent == ("back-pain-1",)
    assert report.updated == ("back-pain-2",)
    assert report.unchanged == ("back-pain-3",)
    assert report.removed == ("back-pain-4",)
    assert report.added == ()

    sent = store.get("back-pain-1")  # history is not rewritten
    assert (sent.state, sent.text, sent.tweet_id) == (PostState.SENT, "Tip 1: stretch", "9001")
    edited = store.get("back-pain-2")
    assert (edited.text, edited.parts, edited.state) == ("Tip 2: walk more", ("Tip 2: walk more",), PostState.QUEUED)
    assert edited.position == position_of_2  # keeps its place in the queue
    with pytest.raises(QueueError):
        store.get("back-pain-4")
    assert pending_ids(store) == ["back-pain-2", "back-pain-3"]


def test_import_refuses_a_tip_already_sent_elsewhere(store):
    store.add_post(ACCOUNT, new_post("adhoc-1", "Tip 1: stretch"), T0)
    with pytest.raises(DuplicateError, match="adhoc-1"):
        import_tips(store, "back-pain", {1: "Tip 1: stretch"})
    assert pending_ids(store) == ["adhoc-1"]  # the whole import rolled back


# -- the duplicate guard ------------------------------------------------------------------------------


def test_duplicate_of_a_queued_post_is_refused_naming_it(store):
    store.add_post(ACCOUNT, new_post("first", "Drink water before you run"), T0)
    with pytest.raises(DuplicateError) as caught:
        # X compares loosely (case, spacing): so does the guard
        store.add_post(ACCOUNT, new_post("second", "drink  WATER before you run"), T0,
                       duplicate_window=timedelta(days=30))
    assert "first" in str(caught.value)
    assert pending_ids(store) == ["first"]


def test_duplicate_of_a_recently_sent_post_is_refused_but_allowed_outside_window(store):
    store.add_post(ACCOUNT, new_post("old", "Stretch every morning"), T0)
    send(store, "old", "777", T0)
    window = timedelta(days=30)

    with pytest.raises(DuplicateError) as caught:
        store.add_post(ACCOUNT, new_post("again", "Stretch every morning"), T0 + timedelta(days=29),
                       duplicate_window=window)
    assert "old" in str(caught.value) and "sent" in str(caught.value)

    accepted = store.add_post(ACCOUNT, new_post("again", "Stretch every morning"), T0 + timedelta(days=31),
                              duplicate_window=window)
    assert accepted.state is PostState.QUEUED
    assert store.find_duplicate(ACCOUNT, "Stretch every morning", T0 + timedelta(days=31), window).post_id == "again"


def test_same_post_id_twice_is_refused(store):
    store.add_post(ACCOUNT, new_post("p1", "one"), T0)
    with pytest.raises(DuplicateError, match="p1"):
        store.add_post(ACCOUNT, new_post("p1", "another text"), T0)


# -- queue order, pins, pause -------------------------------------------------------------------------


@pytest.fixture
def five(store):
    for n in range(1, 6):
        store.add_post(ACCOUNT, new_post(f"p{n}"), T0)
    return store


def test_move_before_after_top_bottom(five):
    store = five
    assert pending_ids(store) == ["p1", "p2", "p3", "p4", "p5"]
    store.move(ACCOUNT, "p5", before="p2")
    assert pending_ids(store) == ["p1", "p5", "p2", "p3", "p4"]
    store.move(ACCOUNT, "p1", after="p3")
    assert pending_ids(store) == ["p5", "p2", "p3", "p1", "p4"]
    store.move(ACCOUNT, "p4", top=True)
    assert pending_ids(store) == ["p4", "p5", "p2", "p3", "p1"]
    store.move(ACCOUNT, "p4", bottom=True)
    assert pending_ids(store) == ["p5", "p2", "p3", "p1", "p4"]
    store.move(ACCOUNT, "p3", after="p4")  # after the last one
    store.move(ACCOUNT, "p2", before="p5")  # before the first one
    assert pending_ids(store) == ["p2", "p5", "p1", "p4", "p3"]


def test_many_moves_between_two_neighbours_keep_a_total_order(five):
    store = five
    for _ in range(30):  # halving the gap each time: order must survive
        store.move(ACCOUNT, "p5", before="p2")
        store.move(ACCOUNT, "p4", before="p5")
    assert pending_ids(store)[:4] == ["p1", "p4", "p5", "p2"]


def test_move_refuses_unknown_and_sent_posts(five):
    store = five
    send(store, "p1", "1", T0)
    with pytest.raises(QueueError, match="no such post"):
        store.move(ACCOUNT, "nope", top=True)
    with pytest.raises(QueueError, match="sent"):
        store.move(ACCOUNT, "p1", top=True)
    with pytest.raises(QueueError, match="sent"):
        store.move(ACCOUNT, "p2", before="p1")


def test_another_accounts_post_is_no_such_post_and_stays_as_it_was(five):
    store = five
    before = [(p.post_id, p.state, p.position, p.pinned_at, p.text) for p in store.queue_page(ACCOUNT, limit=10)]
    for change in (lambda: store.move("other", "p1", top=True), lambda: store.pin("other", "p1", T0, T0),
                   lambda: store.remove("other", "p1", T0),
                   lambda: store.edit_post("other", "p1", T0, text="Mine now.", parts=["Mine now."],
                                           weighted_length=9, edit_kind="text")):
        with pytest.raises(QueueError, match="'p1': no such post"):
            change()
    assert [(p.post_id, p.state, p.position, p.pinned_at, p.text) for p in store.queue_page(ACCOUNT, limit=10)] == before


def test_pin_and_unpin(five):
    store = five
    at = T0 + timedelta(days=2, hours=3)
    revision = store.revision(ACCOUNT)
    store.pin(ACCOUNT, "p3", at, T0)
    assert store.get("p3").pinned_at == at
    assert [p.post_id for p in store.scheduled_pending(ACCOUNT)] == ["p3"]
    assert store.revision(ACCOUNT) > revision
    store.pin(ACCOUNT, "p3", None, T0)
    assert store.get("p3").pinned_at is None
    assert store.scheduled_pending(ACCOUNT) == []
    send(store, "p1", "1", T0)
    with pytest.raises(QueueError):
        store.pin(ACCOUNT, "p1", at, T0)


def test_pause_and_resume_bump_revision(store):
    assert store.account_state(ACCOUNT).paused is False
    r0 = store.revision(ACCOUNT)
    store.pause(ACCOUNT, "credentials revoked", T0)
    state = store.account_state(ACCOUNT)
    assert (state.paused, state.pause_reason, state.paused_at) == (True, "credentials revoked", T0)
    assert state.revision == r0 + 1
    store.resume(ACCOUNT)
    state = store.account_state(ACCOUNT)
    assert (state.paused, state.pause_reason, state.paused_at) == (False, None, None)
    assert state.revision == r0 + 2


# -- the state machine ----------------------------------------------------------------------------------


def test_claim_is_exclusive(store):
    store.add_post(ACCOUNT, new_post("p"), T0)
    assert store.claim("p", "a", T0, T0) is True
    assert store.claim("p", "b", T0, T0) is False
    post = store.get("p")
    assert (post.state, post.claimed_by, post.slot_at) == (PostState.SENDING, "a", T0)


def test_claim_race_between_threads_has_one_winner(ledger_url):
    stores = [Store.open(ledger_url) for _ in range(8)]
    try:
        for n in range(20):
            stores[0].add_post(ACCOUNT, new_post(f"r{n}"), T0)
        results: dict[str, list[str]] = {f"r{n}": [] for n in range(20)}
        barrier = threading.Barrier(len(stores))

        def racer(i: int, s: Store) -> None:
            barrier.wait()
            for n in range(20):
                if s.claim(f"r{n}", f"inst{i}", T0 + timedelta(minutes=n), T0):
                    results[f"r{n}"].append(f"inst{i}")

        threads = [threading.Thread(target=racer, args=(i, s)) for i, s in enumerate(stores)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert all(len(winners) == 1 for winners in results.values()), results
        for post_id, [winner] in results.items():
            assert stores[0].get(post_id).claimed_by == winner
    finally:
        for s in stores:
            s.close()


def test_transitions_need_the_claim(store):
    store.add_post(ACCOUNT, new_post("p"), T0)
    assert store.claim("p", "a", T0, T0)
    for transition in (
        lambda: store.mark_sent("p", "b", ["1"], T0),
        lambda: store.mark_failed("p", "b", "no", 400, T0),
        lambda: store.mark_unknown("p", "b", "?", T0),
        lambda: store.mark_retrying("p", "b", T0, T0, error=None, status=None, count_attempt=True),
        lambda: store.record_part("p", "b", ["1"], T0),
        lambda: store.begin_attempt("p", ACCOUNT, 0, "b", T0),
        lambda: store.release("p", "b", T0),
    ):
        with pytest.raises(LostClaim):
            transition()
    post = store.get("p")
    assert (post.state, post.claimed_by, post.part_ids, post.attempts) == (PostState.SENDING, "a", (), 0)
    assert store.attempts("p") == []

    store.mark_sent("p", "a", ["42"], T0)
    with pytest.raises(LostClaim):  # sent is final, even for the former owner
        store.mark_sent("p", "a", ["43"], T0)
    assert store.get("p").tweet_id == "42"


def test_take_over_of_a_dead_claim_closes_open_attempts(store):
    store.add_post(ACCOUNT, new_post("p"), T0)
    store.claim("p", "dead", T0, T0)
    attempt = store.begin_attempt("p", ACCOUNT, 0, "dead", T0)
    assert [a.id for a in store.open_attempts("p")] == [attempt]
    assert store.take_over("p", "someone-else", "me", T0) is False
    assert store.take_over("p", "dead", "me", T0 + timedelta(minutes=1)) is True
    assert store.open_attempts("p") == []
    [lost] = store.attempts("p")
    assert (lost.outcome, lost.finished_at) == ("lost", T0 + timedelta(minutes=1))
    with pytest.raises(LostClaim):
        store.mark_sent("p", "dead", ["1"], T0)
    store.mark_sent("p", "me", ["1"], T0)


def test_retrying_counts_attempts_and_is_claimable_again(store):
    store.add_post(ACCOUNT, new_post("p"), T0)
    store.claim("p", "a", T0, T0)
    store.mark_retrying("p", "a", T0 + timedelta(minutes=5), T0, error="503", status=503, count_attempt=True)
    post = store.get("p")
    assert (post.state, post.attempts, post.next_attempt_at, post.last_status, post.claimed_by) == (
        PostState.RETRYING, 1, T0 + timedelta(minutes=5), 503, None)
    assert [p.post_id for p in store.scheduled_pending(ACCOUNT)] == ["p"]
    assert store.claim("p", "b", T0, T0)


def test_release_puts_the_post_back_in_its_place(five):
    store = five
    store.claim("p3", "a", T0, T0)
    assert pending_ids(store) == ["p1", "p2", "p4", "p5"]
    store.release("p3", "a", T0, error="401", status=401)
    assert pending_ids(store) == ["p1", "p2", "p3", "p4", "p5"]
    post = store.get("p3")
    assert (post.state, post.slot_at, post.last_status) == (PostState.QUEUED, None, 401)


def test_resolve_sent_and_retry(store):
    for pid in ("u1", "u2"):
        store.add_post(ACCOUNT, new_post(pid), T0)
        store.claim(pid, "a", T0 + timedelta(minutes=int(pid[1:])), T0)
        store.mark_unknown(pid, "a", "response lost", T0)
    assert store.get("u1").state is PostState.UNKNOWN

    store.resolve(ACCOUNT, "u1", sent_tweet_id="5555", retry=False, now=T0 + timedelta(hours=1))
    post = store.get("u1")
    assert (post.state, post.tweet_id, post.part_ids, post.sent_at) == (
        PostState.SENT, "5555", ("5555",), T0 + timedelta(hours=1))
    assert store.attempts("u1")[-1].outcome == "resolved"

    store.resolve(ACCOUNT, "u2", sent_tweet_id=None, retry=True, now=T0 + timedelta(hours=1))
    post = store.get("u2")
    assert (post.state, post.next_attempt_at, post.uncertain, post.attempts) == (
        PostState.RETRYING, T0 + timedelta(hours=1), False, 0)
    assert pending_ids(store) == ["u2"]

    with pytest.raises(QueueError, match="sent"):
        store.resolve(ACCOUNT, "u1", sent_tweet_id=None, retry=True, now=T0)
    with pytest.raises(QueueError, match="no post"):
        store.resolve(ACCOUNT, "nope", sent_tweet_id=None, retry=True, now=T0)


def test_resolve_sent_on_half_a_thread_resumes_the_rest(store):
    store.add_post(ACCOUNT, new_post("t", "1/2", parts=("1/2", "2/2")), T0)
    store.claim("t", "a", T0, T0)
    store.mark_unknown("t", "a", "lost", T0)
    store.resolve(ACCOUNT, "t", sent_tweet_id="100", retry=False, now=T0)
    post = store.get("t")
    assert (post.state, post.part_ids) == (PostState.RETRYING, ("100",))


def test_resolve_takes_the_post_from_a_stale_owner(store):
    store.add_post(ACCOUNT, new_post("p"), T0)
    store.claim("p", "a", T0, T0)
    store.mark_unknown("p", "a", "lost", T0)
    store.resolve(ACCOUNT, "p", sent_tweet_id="1", retry=False, now=T0)
    with pytest.raises(LostClaim):
        store.mark_failed("p", "a", "late", None, T0)


# -- views ----------------------------------------------------------------------------------------------


def test_queue_page_history_and_counts(store):
    for n in range(1, 8):
        store.add_post(ACCOUNT, new_post(f"p{n}"), T0)
    send(store, "p1", "101", T0 + timedelta(hours=1))
    send(store, "p2", "102", T0 + timedelta(hours=2))
    store.claim("p3", "a", T0, T0)
    store.mark_failed("p3", "a", "too long", 400, T0 + timedelta(hours=3))
    store.claim("p4", "a", T0 + timedelta(minutes=1), T0)
    store.add_post("other", new_post("o1"), T0)  # another account's post is never counted here

    assert [p.post_id for p in store.queue_page(ACCOUNT, offset=0, limit=2)] == ["p5", "p6"]
    assert [p.post_id for p in store.queue_page(ACCOUNT, offset=2, limit=2)] == ["p7"]
    assert [p.post_id for p in store.history(ACCOUNT)] == ["p3", "p2", "p1"]  # newest first
    assert [p.post_id for p in store.history(ACCOUNT, limit=1)] == ["p3"]
    assert [p.post_id for p in store.history(ACCOUNT, states=["sent"])] == ["p2", "p1"]
    assert store.counts(ACCOUNT) == {"queued": 3, "sent": 2, "failed": 1, "sending": 1}
    assert store.counts("other") == {"queued": 1}


def test_light_reads_give_what_the_full_records_give(five):
    """The plan and the calendar read a few columns instead of whole records: the same posts, the same values."""
    store = five
    store.pin(ACCOUNT, "p4", T0 + timedelta(days=1), T0)
    send(store, "p1", "101", T0 + timedelta(hours=1))
    send(store, "p2", "102", T0 + timedelta(hours=2))
    assert list(store.iter_pending(ACCOUNT)) == [store.get(i).as_queued() for i in ("p3", "p4", "p5")]
    assert store.scheduled_pending(ACCOUNT) == [store.get("p4").as_queued()]
    assert store.own_moments(ACCOUNT) == [T0 + timedelta(days=1)]
    full = store.published_since(ACCOUNT, T0)
    assert store.sent_since(ACCOUNT, T0) == [(p.post_id, p.article_key, p.slot_at, len(p.parts)) for p in full]
    assert store.published_slots(ACCOUNT, T0, T0 + timedelta(hours=2)) == [("p1", T0 + timedelta(hours=1))]
    assert store.posts_by_id(["p2", "nope", "p1"]) == {"p1": store.get("p1"), "p2": store.get("p2")}


def test_claiming_a_post_changes_the_revision(five):
    """From the claim on the post is out of the queue and its slot taken: plans keyed by revision must see it."""
    store = five
    revision = store.revision(ACCOUNT)
    assert store.claim("p1", "i1", T0, T0)
    assert store.revision(ACCOUNT) > revision
    revision = store.revision(ACCOUNT)
    assert not store.claim("p1", "i2", T0, T0)  # refused: nothing changed
    assert store.revision(ACCOUNT) == revision


def test_m019_applies_on_a_ledger_holding_readings_and_billed_calls(ledger_url):
    """A ledger migrated up to m018 with a reading and billed calls: m019 keeps them (ids included), adds the click
    columns (NULL for the old reading, never negative) and lets 'user_read' be billed."""
    engine = sa.create_engine(ledger_url)
    at = T0.replace(tzinfo=None)
    with engine.begin() as conn:
        m.schema_migrations.create(conn)
        upto = [name for name, _ in m.MIGRATIONS].index("m019_x_private_metrics")
        for name, migration in m.MIGRATIONS[:upto]:
            migration(conn)
            conn.execute(m.schema_migrations.insert().values(name=name, applied_at=T0))
        conn.execute(sa.text(
            "INSERT INTO posts (post_id, account, kind, variant, text, parts, media, weighted_length, fingerprint, "
            "state, position, attempts, uncertain, part_ids, created_at, updated_at) VALUES ('p', :a, 'adhoc', 0, "
            "'t', '[]', '[]', 1, 'f', 'queued', 1, 0, false, '[]', :at, :at)"), {"a": ACCOUNT, "at": at})
        conn.execute(sa.text("INSERT INTO metric_readings (post_id, account, network, remote_id, read_at, likes, "
                             "reposts, replies, quotes) VALUES ('p', :a, 'x', '9', :at, 1, 2, 3, 4)"),
                     {"a": ACCOUNT, "at": at})
        for kind in ("metric_read", "lookup_read"):
            conn.execute(sa.text("INSERT INTO billed_calls (account, network, kind, units, price_micro_usd, at, "
                                 "post_id) VALUES (:a, 'x', :k, 1, 5000, :at, 'p')"), {"a": ACCOUNT, "k": kind, "at": at})
        with pytest.raises(sa.exc.IntegrityError), conn.begin_nested():
            conn.execute(sa.text("INSERT INTO billed_calls (account, network, kind, units, price_micro_usd, at) "
                                 "VALUES (:a, 'x', 'user_read', 1, 5000, :at)"), {"a": ACCOUNT, "at": at})
    engine.dispose()

    store = Store.open(ledger_url)
    try:
        (reading,) = store.metric_readings(post_id="p")
        assert (reading.likes, reading.url_link_clicks, reading.user_profile_clicks) == (1, None, None)
        assert [(b.kind, b.post_id) for b in store.billed_calls()] == [("metric_read", "p"), ("lookup_read", "p")]
        store.record_billed_call(BilledCall(ACCOUNT, "x", "user_read", 1, 5_000, T0))
        assert [b.kind for b in store.billed_calls()][-1] == "user_read"
        with store.engine.connect() as conn:
            ids = conn.execute(sa.select(m.billed_calls.c.id).order_by(m.billed_calls.c.id)).scalars().all()
            assert ids[:2] == [1, 2] and ids[2] > 2  # rows kept their ids; a new one comes after them
        for column in ("url_link_clicks", "user_profile_clicks"):
            with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
                conn.execute(sa.text(f"UPDATE metric_readings SET {column} = -1"))
        with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
            conn.execute(sa.text("UPDATE billed_calls SET kind = 'bogus'"))
    finally:
        store.close()
