"""Is a service instance alive? Judged by the age of its heartbeat, and by its pid only on this very machine.

Each running service records a heartbeat in the ledger (``instances``). An instance is alive while it has not
stopped and its last heartbeat is younger than ``stale_after``. The age is measured on the database's clock on
PostgreSQL (the heartbeat is written with it too: services on several machines share that one clock) and on this
machine's clock on SQLite (a file on this machine); ``InstanceRecord.age`` says which.

A process id means something only on the machine and in the PID namespace that gave it out: a host name does not
prove either (containers share names, replicas in other PID namespaces reuse pids). So the pid is probed only when
the heartbeat carries this machine's identity (boot id and PID namespace, ``this_machine()``): a fresh heartbeat
of a process that is provably gone here is dead at once; any other fresh heartbeat is alive.

Replicas: every service has an instance id of its own per account (``host:pid:random[:account]``), so one replica's
claims are never taken for another's. A heartbeat can only say "gone" late or, on a starved machine, too early; so
a post left ``sending`` is taken back only by a service holding the account's publishing turn (ledger/turns.py,
publishing/lanes.py): a replica that is publishing the account holds that turn on its own database session, and
keeps its claims however late its heartbeat.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from typing import TYPE_CHECKING
from scheduler.ledger.instances import this_machine  # noqa: F401 (re-exported)

if TYPE_CHECKING:
    from scheduler.ledger.store import InstanceRecord, Store




def instance_is_alive(record: InstanceRecord, now: datetime, stale_after: timedelta) -> bool:
    if record.stopped_at is not None:
        return False
    if record.age(now) > stale_after:
        return False
    here = this_machine()
    if here is not None and record.machine == here and not _pid_running(record.pid):
        return False  # this machine, this namespace: the process is provably gone
    return True


def live_instances(store: Store, account: str, now: datetime, stale_after: timedelta) -> dict[str, str]:
    """The services running on this account's ledger: instance id -> "pid N on HOST"."""
    return {
        record.instance: f"pid {record.pid} on {record.host}"
        for record in store.instances(account)
        if instance_is_alive(record, now, stale_after)
    }


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
