"""Whose turn it is to publish an account, among the services (replicas) on one PostgreSQL ledger.

    turn = store.turns.take(account)    # None: another process is publishing this account right now
    store.turns.holds(turn)             # still ours (checked before each post of the run)
    store.turns.give_back(turn)

Claims alone keep a post from going out twice; they do not keep an account's posts in order across processes
(one replica sending the 09:00 post, another would take the 09:01 one as soon as it is due). So a publication
run holds its account's turn from its first plan to its last: a session advisory lock per account
(``pg_try_advisory_lock``), never waited for (a replica that finds the turn taken leaves the account to its
holder and looks again later). All of a process's turns are held on ONE connection of their own, used by one
thread at a time: no connection per worker. A process that dies loses its connection and with it its turns at
once; a connection lost while the process lives loses them too, so ``holds`` asks the database (one round trip
on that connection) and a run stops at its next post when the answer is no.

On SQLite every turn is granted: a SQLite ledger is one machine's file, served by one service (two are safe,
each post claimed once, but keep no order between them).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from scheduler.ledger.notify import own_connection

log = logging.getLogger("scheduler.ledger.turns")

# The advisory-lock space of publishing turns (the queue's positions use records._QUEUE_LOCKS, migrations 727274).
TURN_LOCKS = 727276


@dataclass(frozen=True)
class Turn:
    account: str
    session: int  # which connection holds it: a turn of a lost connection is held no more


class Turns:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.shared = engine.dialect.name == "postgresql"  # False: every turn is granted (SQLite)
        self._lock = threading.Lock()
        self._conn = None
        self._session = 0

    def take(self, account: str) -> Turn | None:
        """The account's turn, or None when another process holds it. Raises when the database cannot be reached."""
        if not self.shared:
            return Turn(account, 0)
        with self._lock:
            for fresh in (False, True):
                try:
                    conn = self._connection(fresh)
                    taken = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))",
                                         (TURN_LOCKS, account)).fetchone()[0]
                except Exception:
                    self._drop()
                    if fresh:
                        raise
                    continue  # an idle connection the server closed: once more on a new one
                return Turn(account, self._session) if taken else None
        return None  # not reached

    def holds(self, turn: Turn) -> bool:
        """Whether the turn is still this process's: its connection is the one that took it, and answers."""
        if not self.shared:
            return True
        with self._lock:
            if self._conn is None or turn.session != self._session:
                return False
            try:
                self._conn.execute("SELECT 1")
            except Exception:
                log.warning("lost the connection holding the publishing turns; runs stop after their current post")
                self._drop()
                return False
            return True

    def give_back(self, turn: Turn) -> None:
        if not self.shared:
            return
        with self._lock:
            if self._conn is None or turn.session != self._session:
                return  # went with its connection
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (TURN_LOCKS, turn.account))
            except Exception:
                self._drop()  # and every turn with it: the server releases them when the session ends

    def close(self) -> None:
        with self._lock:
            self._drop()

    def _connection(self, fresh: bool):
        if self._conn is None or fresh:
            self._drop()
            self._conn = own_connection(self._engine, "scheduler-turns")
            self._session += 1
        return self._conn

    def _drop(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
            self._conn = None
            self._session += 1
