"""Ledger fixtures (register with ``pytest_plugins``): a real Store on SQLite and on PostgreSQL.

ledger_url     a database URL, parametrized: a SQLite file in tmp_path, and a fresh PostgreSQL
               schema (dropped afterwards) when a server answers on 127.0.0.1:5432; the PostgreSQL
               param carries the ``postgres`` marker and is skipped when no server answers
sqlite_url     the SQLite URL only (tests that need a file, not a backend matrix)
store          Store.open(ledger_url), closed afterwards
sqlite_store   Store.open(sqlite_url)
FakeClock      a mutable clock of aware UTC datetimes, for the publishing engine
fake_clock     a FakeClock at the current second
new_post()     a NewPost with sensible defaults
"""

from __future__ import annotations

import functools
import os
import socket
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scheduler.ledger.store import NewPost, Store

PG_HOST, PG_PORT = "127.0.0.1", 5432
PG_ADMIN_URL = f"postgresql://postgres@{PG_HOST}:{PG_PORT}/test"
PG_UNREACHABLE = f"PostgreSQL not reachable on {PG_HOST}:{PG_PORT}"
ACCOUNT = "tipbot"


@functools.cache
def postgres_reachable() -> bool:
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=0.5):
            pass
    except OSError:
        return False
    try:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except Exception:
        return False
    return True


def pg_schema_url(schema: str) -> str:
    return f"{PG_ADMIN_URL}?options=-csearch_path%3D{schema}"


class PostgresSchema:
    """A throwaway schema: ``url`` points search_path at it; ``drop()`` removes it with everything in it."""

    def __init__(self) -> None:
        import psycopg

        self.name = "t_" + uuid.uuid4().hex[:16]
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        self.url = pg_schema_url(self.name)

    def drop(self) -> None:
        import psycopg

        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'ledger.sqlite3'}"


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not postgres_reachable():
        if os.environ.get("CI"):  # in CI a missing server is a broken set-up, not a reason to skip
            pytest.fail(PG_UNREACHABLE + " (CI is set: PostgreSQL tests must run)")
        pytest.skip(PG_UNREACHABLE)
    schema = PostgresSchema()
    try:
        yield schema.url
    finally:
        schema.drop()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest) -> str:
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def store(ledger_url: str) -> Iterator[Store]:
    s = Store.open(ledger_url)
    yield s
    s.close()


@pytest.fixture
def sqlite_store(sqlite_url: str) -> Iterator[Store]:
    s = Store.open(sqlite_url)
    yield s
    s.close()


class FakeClock:
    """Callable clock for the engine: returns ``now`` (aware UTC) until moved."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(timezone.utc).replace(microsecond=0)
        if start.tzinfo is None:
            raise ValueError("FakeClock needs an aware datetime")
        self.now = start.astimezone(timezone.utc)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, delta: timedelta | float) -> datetime:
        self.now += delta if isinstance(delta, timedelta) else timedelta(seconds=delta)
        return self.now

    def set(self, when: datetime) -> None:
        self.now = when.astimezone(timezone.utc)


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


def new_post(post_id: str, text: str | None = None, *, parts: tuple[str, ...] | None = None, kind: str = "adhoc",
             media: tuple[str, ...] = (), pinned_at: datetime | None = None, article_key: str | None = None,
             tip: int | None = None) -> NewPost:
    text = text if text is not None else f"text of {post_id}"
    parts = parts or (text,)
    return NewPost(post_id=post_id, kind=kind, text=text, parts=parts, weighted_length=len(text),
                   article_key=article_key, tip=tip, media=media, pinned_at=pinned_at)


def approve_shown(store: Store, config, post_ids, **kwargs):
    """``review.approve`` as a reviewer who was shown the posts as they are now: every approval names the content
    hashes it saw (a post that does not exist gets a hash that names nothing, so the refusal is the domain's)."""
    from scheduler.review import policy as review
    from scheduler.domain.content_hash import hash_of
    from scheduler.domain.errors import QueueError

    def shown(post_id: str) -> str:
        try:
            return hash_of(store.get(post_id), fresh=True)
        except QueueError:
            return "none"

    kwargs.setdefault("role", "reviewer")
    kwargs.setdefault("expected", {p: shown(p) for p in post_ids})
    return review.approve(store, config, post_ids, **kwargs)
