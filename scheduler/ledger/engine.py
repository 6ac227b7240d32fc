"""Opening the database: engines for SQLite and PostgreSQL, and the unit of work that makes many calls one transaction."""

from __future__ import annotations


from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
import threading

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine



def _db_now() -> datetime:
    # Only for the bookkeeping column of schema_migrations, which nothing reads for decisions.
    from datetime import UTC

    return datetime.now(UTC)


def _safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _enable_wal(cursor, attempts: int = 600) -> None:
    """WAL is a property of the file, set once; switching does not honour busy_timeout, so wait here."""
    import sqlite3
    import time

    for _ in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.05)
    raise sqlite3.OperationalError("database is locked: could not switch the ledger to WAL mode in 30 s")


class _SerialWrites:
    """A SQLite engine whose write transactions (``begin()``) take turns inside this process, in the order they
    asked: SQLite lets one writer at a time, and its own wait for the lock sleeps in steps of up to 100 ms, so many
    threads writing at once (a service's workers) would leave the lock idle between them. Other processes still
    meet SQLite's lock and its busy timeout."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._lock = threading.RLock()

    def __getattr__(self, name):  # dialect, connect, url...: the real engine's
        return getattr(self._engine, name)

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        with self._lock, self._engine.begin() as conn:
            yield conn


class _Unit:
    """The engine as ``Store.unit()`` lends it: ``begin()`` is a savepoint in the unit's one transaction,
    which begins at the first use (a write transaction: on SQLite, BEGIN IMMEDIATE)."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._conn: Connection | None = None
        self._transaction = None

    def __getattr__(self, name):  # dialect, url...: the real engine's
        return getattr(self._engine, name)

    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
            self._transaction = self._conn.begin()
        return self._conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        conn = self.connection()
        with conn.begin_nested():
            yield conn

    def connect(self):
        return nullcontext(self.connection())

    def commit(self) -> None:
        if self._transaction is not None:
            self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _create_engine(url: str, connections: int | None = None) -> Engine:
    # Connections are opened as they are needed, and only ``pool_size`` are kept: an idle service holds few.
    pool = {} if connections is None else {"pool_size": connections, "max_overflow": 10}
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        else:
            pool = {}  # an in-memory database has one connection, not a pool
        engine = sa.create_engine(url, connect_args={"timeout": 30}, **pool)

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # WAL: readers never block the publisher; busy_timeout: writers queue instead of failing.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            # Writers take the lock at BEGIN, so read-then-write transactions cannot deadlock.
            read_only = conn.get_execution_options().get("read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return sa.create_engine(url, pool_pre_ping=True, **pool)
