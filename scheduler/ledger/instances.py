"""The ledger's part for service instances: heartbeats and the last attempt, for status and recovery.

A mixin of ``Store`` (one facade, SQL split by aggregate)."""

from __future__ import annotations


from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger import migrations as m
from scheduler.ledger.records import InstanceRecord, _THIS_MACHINE
import functools
import os


class InstancesLedger:
    def beat(self, instance: str, account: str, pid: int, host: str, now: datetime,
             last_outcome: str | None = None, *, machine: str | None = _THIS_MACHINE) -> None:
        """Record that ``instance`` is alive. ``machine``: where it runs (default: here, ``liveness.this_machine()``).
        On PostgreSQL the time recorded is the database's (``_beat_clock``), whatever ``now`` says."""
        if machine is _THIS_MACHINE:
            machine = this_machine()
        with self.engine.begin() as conn:
            at = self._beat_clock(conn, now)
            values = {"beat_at": at, "stopped_at": None, "machine": machine}
            if last_outcome is not None:
                values["last_outcome"] = last_outcome
            done = conn.execute(
                m.instances.update().where(m.instances.c.instance == instance).values(**values)
            ).rowcount
            if not done:
                conn.execute(
                    m.instances.insert().values(
                        instance=instance, account=account, pid=pid, host=host, started_at=at, beat_at=at,
                        last_outcome=last_outcome, machine=machine,
                    )
                )

    def beat_many(self, beats: list[tuple[str, str, str | None]], pid: int, host: str, now: datetime) -> None:
        """Record that each ``(instance, account, last_outcome)`` is alive, all in one transaction and a statement
        per 500 instances: a service over many accounts beats for all of them without a write each. A ``None``
        outcome keeps the one recorded (pass an outcome only when it changed)."""
        if not beats:
            return
        machine = this_machine()
        with self.engine.begin() as conn:
            at = self._beat_clock(conn, now)
            known: set[str] = set()
            for start in range(0, len(beats), 500):  # bounded IN lists
                names = [instance for instance, _, _ in beats[start:start + 500]]
                done = conn.execute(m.instances.update().where(m.instances.c.instance.in_(names))
                                    .values(beat_at=at, stopped_at=None, machine=machine)).rowcount
                if done == len(names):
                    known.update(names)
                else:
                    known |= set(conn.execute(sa.select(m.instances.c.instance).where(
                        m.instances.c.instance.in_(names))).scalars())
            outcomes = [{"b_instance": i, "b_outcome": o} for i, _, o in beats if o is not None and i in known]
            if outcomes:
                conn.execute(m.instances.update().where(m.instances.c.instance == sa.bindparam("b_instance"))
                             .values(last_outcome=sa.bindparam("b_outcome")), outcomes)
            new = [{"instance": i, "account": a, "pid": pid, "host": host, "last_outcome": o, "machine": machine}
                   for i, a, o in beats if i not in known]
            if new:
                conn.execute(m.instances.insert().values(started_at=at, beat_at=at), new)

    @staticmethod
    def _beat_clock(conn: Connection, now: datetime):
        """The clock of heartbeats: the database's on PostgreSQL (services on several machines share it, and each
        machine's own clock may be off), stored as naive UTC like every time; ``now`` on SQLite."""
        if conn.dialect.name == "postgresql":
            return sa.func.timezone("UTC", sa.func.clock_timestamp())
        return now

    def stop_instance(self, instance: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.instances.update().where(m.instances.c.instance == instance).values(stopped_at=now))

    def instances(self, account: str) -> list[InstanceRecord]:
        """The account's service instances, newest heartbeat first; on PostgreSQL each with its heartbeat's age
        on the database's clock (``InstanceRecord.age``)."""
        columns = [m.instances]
        if self.engine.dialect.name == "postgresql":
            age = sa.func.timezone("UTC", sa.func.clock_timestamp()) - m.instances.c.beat_at
            columns.append(age.label("server_age"))
        with self._read() as conn:
            rows = conn.execute(
                sa.select(*columns).where(m.instances.c.account == account).order_by(m.instances.c.beat_at.desc())
            ).all()
        return [
            InstanceRecord(r.instance, r.pid, r.host, r.started_at, r.beat_at, r.stopped_at, r.last_outcome,
                           r.machine, getattr(r, "server_age", None))
            for r in rows
        ]


@functools.cache
def this_machine() -> str | None:
    """This machine and PID namespace, as "<boot id>/<pid namespace>"; None where they cannot be told (no /proc):
    then no heartbeat is ever judged by its pid."""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return None
    if not boot or not namespace:
        return None
    return f"{boot}/{namespace}"
