"""Wake-ups on PostgreSQL: a listener for the notification migration m018's trigger sends whenever an account's
queue changes (its revision bumps), whoever changed it: the CLI, the dashboard, another replica.

    listener = QueueListener(engine, on_change)   # on_change({ledger key: revision}), or None: "any may have"
    listener.start()                              # a thread of its own, on a connection of its own
    listener.connected.is_set()                   # listening now (a service polls fast while it is not)
    listener.stop()

The thread LISTENs on the ledger schema's channel and hands over the accounts named by each burst of
notifications at once (drained together), each with the highest revision heard: the service compares it with the
revision its plan was made at, without reading the ledger. A lost connection (the server restarted, the
connection was terminated, the network dropped it: TCP keepalives find a silent loss within about 25 s) is
opened again after a wait that doubles from ``backoff`` up to ``backoff_max``; notifications sent while it was
lost are gone, so the first thing after a reconnection is ``on_change(None)``: check every account.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import Engine

log = logging.getLogger("scheduler.ledger.notify")

# The channel m018's trigger notifies: named for the schema of the ``accounts`` table this connection's
# search_path finds, by the same expression (cut to PostgreSQL's 63 characters).
CHANNEL_QUERY = ("SELECT left('scheduler_queue_' || n.nspname, 63) FROM pg_class c "
                 "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = 'accounts'::regclass")

# A wait for notifications returns at least this often, so a stop is seen.
POLL_S = 1.0


def own_connection(engine: Engine, name: str):
    """A psycopg connection of its own (not from the pool), in autocommit, with the engine's connection arguments
    and TCP keepalives; ``name`` shows as its application_name in pg_stat_activity."""
    import psycopg  # lazy: an optional dependency (the `postgres` extra), needed only on PostgreSQL

    args, kwargs = engine.dialect.create_connect_args(engine.url)
    kwargs.pop("context", None)
    return psycopg.connect(*args, **kwargs, autocommit=True, application_name=name, connect_timeout=10,
                           keepalives=1, keepalives_idle=10, keepalives_interval=5, keepalives_count=3)


class QueueListener:
    def __init__(self, engine: Engine, on_change: Callable[[dict[str, int] | None], None], *, backoff: float = 0.5,
                 backoff_max: float = 30.0) -> None:
        self._engine = engine
        self._on_change = on_change
        self._backoff, self._backoff_max = backoff, backoff_max
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.connections = 0  # how many times it has connected (1 + reconnections)
        self._thread = threading.Thread(target=self._run, name="queue-listener", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        delay = self._backoff
        while not self._stop.is_set():
            try:
                with own_connection(self._engine, "scheduler-listen") as conn:
                    channel = conn.execute(CHANNEL_QUERY).fetchone()[0]
                    conn.execute(f'LISTEN "{channel}"')  # the channel holds no quote: a schema name, prefixed
                    self.connections += 1
                    self.connected.set()
                    delay = self._backoff
                    if self.connections > 1:
                        log.info("listening for queue changes again (channel %s)", channel)
                        self._tell(None)  # what changed while nobody listened
                    self._listen(conn)
            except Exception as exc:  # psycopg.Error, OSError: the connection, or connecting, failed
                self.connected.clear()
                if self._stop.is_set():
                    break
                log.warning("not listening for queue changes (%s: %s); connecting again in %.1f s (meanwhile "
                            "the service checks the ledger every watch_interval)", type(exc).__name__,
                            str(exc).strip().splitlines()[0] if str(exc).strip() else "", delay)
                self._stop.wait(delay)
                delay = min(delay * 2, self._backoff_max)
        self.connected.clear()

    def _listen(self, conn) -> None:
        while not self._stop.is_set():
            heard = list(conn.notifies(timeout=POLL_S, stop_after=1))
            if heard:
                heard += conn.notifies(timeout=0)  # the rest of a burst, at once
                changed: dict[str, int] = {}
                for notification in heard:
                    key, _, revision = notification.payload.rpartition(" ")
                    if key and revision.isdigit():
                        changed[key] = max(changed.get(key, 0), int(revision))
                self._tell(changed)

    def _tell(self, changed: dict[str, int] | None) -> None:
        try:
            self._on_change(changed)
        except Exception:
            log.exception("could not act on a queue change; the service's watch will see it")
