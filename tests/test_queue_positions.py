"""Positions at the end of the queue are handed out one at a time, even to many writers at once (issue 18, item 11):
on PostgreSQL two adds used to read the same highest position and the second hit the unique index (HTTP 500)."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import httpx

from scheduler.config import load_config
from scheduler.domain.errors import QueueError
from scheduler.ledger.store import Store
from tests.helpers_ledger import ACCOUNT, new_post
from tests.helpers_web import CONFIG, serving

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)
WRITERS, EACH = 10, 10  # 100 adds


def _race(workers: int, work) -> list[BaseException]:
    """Run ``work(i)`` in ``workers`` threads released together; the errors they raised."""
    errors: list[BaseException] = []
    barrier = threading.Barrier(workers)

    def run(i: int) -> None:
        barrier.wait()
        try:
            work(i)
        except BaseException as exc:  # noqa: BLE001 - collected and asserted on
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def _assert_contiguous(store: Store, account: str, n: int) -> None:
    pending = list(store.iter_pending(account))
    assert len(pending) == n
    assert [p.position for p in pending] == [float(k) for k in range(1, n + 1)]


def test_a_hundred_concurrent_adds_all_succeed_with_contiguous_positions(ledger_url):
    stores = [Store.open(ledger_url) for _ in range(WRITERS)]  # each its own engine: as separate processes would
    try:
        def add(i: int) -> None:
            for k in range(EACH):
                stores[i].add_post(ACCOUNT, new_post(f"w{i}-{k}"), T0)

        errors = _race(WRITERS, add)
        assert errors == [], errors[:3]
        _assert_contiguous(stores[0], ACCOUNT, WRITERS * EACH)
        # Each writer's own posts keep the order it added them in.
        order = [p.post_id for p in stores[0].iter_pending(ACCOUNT)]
        for i in range(WRITERS):
            mine = [post_id for post_id in order if post_id.startswith(f"w{i}-")]
            assert mine == [f"w{i}-{k}" for k in range(EACH)]
    finally:
        for s in stores:
            s.close()


def test_concurrent_adds_and_moves_to_the_bottom_never_collide(ledger_url):
    stores = [Store.open(ledger_url) for _ in range(4)]
    try:
        for k in range(5):
            stores[0].add_post(ACCOUNT, new_post(f"seed{k}"), T0)

        def work(i: int) -> None:
            for k in range(15):
                if i % 2:
                    stores[i].move(ACCOUNT, f"seed{k % 5}", bottom=True)
                else:
                    stores[i].add_post(ACCOUNT, new_post(f"w{i}-{k}"), T0)

        errors = _race(len(stores), work)
        assert errors == [], errors[:3]
        positions = [p.position for p in stores[0].iter_pending(ACCOUNT)]
        assert len(positions) == 5 + 2 * 15 and len(set(positions)) == len(positions)
    finally:
        for s in stores:
            s.close()


def test_a_hundred_concurrent_api_adds_all_get_201(ledger_url, tmp_path, monkeypatch):
    """POST /api/v1/queue from 100 clients at once, served by uvicorn over the ledger: all queued, none a 500."""
    from scheduler.app.access import create_token
    from scheduler.web.app import create_app

    monkeypatch.setenv("SCHEDULER_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("SCHEDULER_DATABASE_URL", ledger_url)
    path = tmp_path / "scheduler.toml"
    path.write_text(CONFIG, encoding="utf-8")
    config = load_config(str(path))
    store = Store.open(config.database_url)
    try:
        secret = create_token(store, "script", T0).secret
        app = create_app(config, store, local_only=True, clock=lambda: T0)
        with serving(app) as base:
            def post(i: int) -> None:
                with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=120) as c:
                    for k in range(EACH):
                        r = c.post("/api/v1/queue", json={"text": f"Tip {i}-{k}: drink water before coffee."})
                        assert r.status_code == 201, (r.status_code, r.text[:300])

            errors = _race(WRITERS, post)
        assert errors == [], errors[:3]
        _assert_contiguous(store, config.account, WRITERS * EACH)
    finally:
        store.close()


def test_moves_and_adds_racing_claims_and_releases_never_deadlock(ledger_url):
    """A claim locks its post, then the account's revision; a writer of positions must not take the account's row
    first and then wait for a post (PostgreSQL would abort one of the two as a deadlock)."""
    stores = [Store.open(ledger_url) for _ in range(4)]
    try:
        for k in range(5):
            stores[0].add_post(ACCOUNT, new_post(f"p{k}"), T0)

        def work(i: int) -> None:
            s = stores[i]
            for n in range(40):
                post_id = f"p{n % 5}"
                if i == 0:
                    try:
                        s.move(ACCOUNT, post_id, bottom=True)
                    except QueueError:
                        pass  # claimed just now: only a waiting post moves
                elif i == 1:
                    s.add_post(ACCOUNT, new_post(f"new{n}"), T0)
                elif s.claim(post_id, f"inst{i}", T0, T0):
                    s.release(post_id, f"inst{i}", T0)

        errors = _race(len(stores), work)
        assert errors == [], errors[:3]
        positions = [p.position for p in stores[0].iter_pending(ACCOUNT)]
        assert len(positions) == 45 and len(set(positions)) == 45
    finally:
        for s in stores:
            s.close()


def test_concurrent_imports_and_adds_all_succeed_with_distinct_positions(ledger_url):
    stores = [Store.open(ledger_url) for _ in range(6)]
    try:
        def work(i: int) -> None:
            for n in range(5):
                if i % 2:
                    stores[i].add_post(ACCOUNT, new_post(f"w{i}-{n}"), T0)
                    continue
                key = f"article-{i}-{n}"
                tips = [new_post(f"{key}-{t}", f"tip {t} of {key}", kind="tip", article_key=key, tip=t)
                        for t in (1, 2, 3)]
                stores[i].import_article(ACCOUNT, article_key=key, title=key, url=None, source=f"{key}.md",
                                         fingerprint=key, tips=[{"number": t, "headline": "h", "body": ""}
                                                                for t in (1, 2, 3)],
                                         posts=tips, now=T0)

        errors = _race(len(stores), work)
        assert errors == [], errors[:3]
        _assert_contiguous(stores[0], ACCOUNT, 3 * 5 * 3 + 3 * 5)
    finally:
        for s in stores:
            s.close()
