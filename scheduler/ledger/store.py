r"""The ledger: the one module that speaks SQL.

Everything the program knows lives here: queued posts, their state machine, every attempt to
publish them, pause state, and the heartbeats of running services. The ledger, not the
scheduler's memory, is the truth: a service that dies and restarts reads where it was from here.

State machine of a post (see models.PostState)::

    queued --claim--> sending --> sent
      ^                 |  \--> failed   (permanent, with reason)
      |                 |   \-> unknown  (outcome lost and not verifiable: a person decides)
      +---- retrying <--+      (transient error, rate limit, or a lost response to look up)

Taking a post is one conditional UPDATE (``state IN (queued, retrying)``), so two publishers on
one ledger can never both send it. Every later transition is conditional on ``state = sending
AND claimed_by = <this instance>``: a publisher that lost its claim cannot overwrite anything.
"""

from __future__ import annotations


from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scheduler.ledger import migrations as m
from scheduler.domain.errors import StoreError
from scheduler.ledger.collection import CollectionLedger
from scheduler.ledger.feeds import FeedLedger
from scheduler.ledger.lookups import LookupLedger
from scheduler.ledger.metrics import MetricsLedger
from scheduler.ledger.review import ReviewLedger
from scheduler.ledger.web import WebLedger
from scheduler.ledger.records import AccountState, ArticleImport, ArticleSummary, AttemptRecord, HeldBack, ImportReport, InstanceRecord, LostClaim, NewPost, NotApproved, PENDING, PostRecord, STOPPED_MID_CALL, TipHistory, TipSends, _PUBLISHED, _QUEUED_COLUMNS, _QUEUE_LOCKS, _THIS_MACHINE, _attempt, _json, _json_safe, _queued, _record  # noqa: F401 (re-exported)
from scheduler.ledger.engine import _SerialWrites, _Unit, _create_engine, _db_now, _safe_url
from scheduler.ledger.accounts import AccountsLedger
from scheduler.ledger.articles import ArticlesLedger
from scheduler.ledger.posts import PostsLedger
from scheduler.ledger.attempts import AttemptsLedger
from scheduler.ledger.instances import InstancesLedger
from scheduler.ledger.turns import Turns


class Store(AccountsLedger, ArticlesLedger, PostsLedger, AttemptsLedger, InstancesLedger, FeedLedger, ReviewLedger, WebLedger, LookupLedger,
            MetricsLedger, CollectionLedger):
    """The ledger. Open with ``Store.open(url)``; every public method is one transaction."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._writes = _SerialWrites(engine) if engine.dialect.name == "sqlite" else engine
        # Set inside ``snapshot()``: every read of this thread then uses that one transaction.
        self._snapshot: ContextVar[Connection | None] = ContextVar(f"snapshot-{id(self)}", default=None)
        # Set inside ``unit()``: every method of this thread then reads and writes in that one transaction.
        self._unit: ContextVar[_Unit | None] = ContextVar(f"unit-{id(self)}", default=None)
        # Whose turn it is to publish each account, among the services on this ledger (turns.py).
        self.turns = Turns(engine)

    @property
    def engine(self) -> Engine:
        """The database; inside ``unit()``, one that runs every ``begin()`` in the unit's transaction."""
        unit = self._unit.get()
        return self._writes if unit is None else unit

    @contextmanager
    def unit(self) -> Iterator[None]:
        """Every method called inside (in this thread) is part of ONE transaction, committed when the block
        ends and rolled back, all of it, when it raises: the dashboard records a change and its audit row
        together, so neither can land without the other. Each method's own transaction becomes a savepoint
        of the unit (a method that fails undoes its own writes only, as before). The transaction starts at
        the first use, so work done before any read or write (a network call) holds no lock."""
        if self._unit.get() is not None:
            yield
            return
        unit = _Unit(self._engine)
        token = self._unit.set(unit)
        try:
            yield
            unit.commit()
        except BaseException:
            unit.rollback()
            raise
        finally:
            self._unit.reset(token)
            unit.close()

    @classmethod
    def open(cls, url: str, *, connections: int | None = None) -> Store:
        """``connections``: how many threads may use the ledger at once (a service's workers), so none waits
        for a pooled connection; default: SQLAlchemy's pool."""
        try:
            engine = _create_engine(url, connections)
            store = cls(engine)
            store._migrate()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the ledger at {_safe_url(url)}: {exc.orig}") from None
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"bad database URL {_safe_url(url)}: {exc}") from None
        return store

    def close(self) -> None:
        self.turns.close()
        self._engine.dispose()

    def _read(self):
        conn = self._snapshot.get()
        if conn is not None:
            return nullcontext(conn)
        unit = self._unit.get()
        if unit is not None:
            return nullcontext(unit.connection())
        # Plain BEGIN for reads: on SQLite they then never wait for the write lock.
        return self.engine.connect().execution_options(read_only=True)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees the ledger as of one moment (one read transaction), so a plan built
        from several reads never mixes states from before and after another process's write."""
        if self._snapshot.get() is not None or self._unit.get() is not None:
            yield  # a unit is one transaction already: its reads see its own writes
            return
        conn = self.engine.connect().execution_options(read_only=True)
        if self.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        token = self._snapshot.set(conn)
        try:
            with conn.begin():
                yield
        finally:
            self._snapshot.reset(token)
            conn.close()

    def _migrate(self) -> None:
        if self._pending_migrations():
            with self.engine.begin() as conn:
                if self.engine.dialect.name == "postgresql":
                    # Two processes opening a new database at once: one migrates, the other waits.
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
                m.schema_migrations.create(conn, checkfirst=True)
                applied = set(conn.execute(sa.select(m.schema_migrations.c.name)).scalars())
                for name, migration in m.MIGRATIONS:
                    if name not in applied:
                        migration(conn)
                        conn.execute(m.schema_migrations.insert().values(name=name, applied_at=_db_now()))

    def _pending_migrations(self) -> bool:
        if not sa.inspect(self._engine).has_table("schema_migrations"):
            return True
        return bool({name for name, _ in m.MIGRATIONS} - self._applied_migrations())

    def _applied_migrations(self) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(sa.select(m.schema_migrations.c.name)).scalars())
