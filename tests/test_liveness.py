"""Is a service alive? By its heartbeat's age; by its pid only on this very machine and PID namespace (issue 18).

A service in a container (another PID namespace) with this machine's host name used to be taken for dead as soon
as its pid meant nothing here, and its post in flight was recovered and sent again. On PostgreSQL heartbeats are
written and aged on the database's clock, so machines whose clocks disagree still agree on who is alive."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from scheduler.ledger import migrations as m
from scheduler.publishing.liveness import instance_is_alive, live_instances, this_machine
from scheduler.ledger.store import Store
from tests.helpers_ledger import ACCOUNT, new_post

STALE = timedelta(seconds=15)
REPO = Path(__file__).parents[1]


def real_now() -> datetime:
    return datetime.now(UTC)


def dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(proc.stdout)


def alive(store: Store, instance: str, now: datetime | None = None) -> bool:
    [record] = [r for r in store.instances(ACCOUNT) if r.instance == instance]
    return instance_is_alive(record, now or real_now(), STALE)


def make_stale(store: Store, instance: str, by: timedelta) -> None:
    """Move the heartbeat ``by`` into the past, on the clock the ledger ages it with."""
    with store.engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            value = sa.func.timezone("UTC", sa.func.clock_timestamp()) - sa.text(f"interval '{int(by.total_seconds())} seconds'")
        else:
            value = real_now() - by
        conn.execute(m.instances.update().where(m.instances.c.instance == instance).values(beat_at=value))


# -- a real process in another PID namespace, with this machine's host name ------------------------------------

def _unshare_works() -> bool:
    if not shutil.which("unshare"):
        return False
    probe = subprocess.run(["unshare", "--pid", "--fork", "--user", "--map-root-user", "true"], capture_output=True)
    return probe.returncode == 0


@pytest.fixture
def container(ledger_url):
    """A process in its own PID namespace (same host name) that recorded a heartbeat; its pid there.

    It runs as PID 1 of a new PID namespace (unshare) and forks until a child's pid is one no process holds on the
    host (whose /proc is still mounted); that child records its heartbeat with that pid and waits for stdin."""
    if not _unshare_works():
        pytest.skip("unshare cannot make a PID namespace here (user namespaces disabled)")
    script = r"""
import os, socket, sys
from datetime import UTC, datetime
while True:
    pid = os.fork()
    if pid == 0:
        if os.path.exists(f"/proc/{os.getpid()}"):
            os._exit(3)  # this number is taken on the host: try the next
        from scheduler.ledger.store import Store
        store = Store.open(sys.argv[1])
        store.beat("container", "tipbot", os.getpid(), socket.gethostname(), datetime.now(UTC))
        store.close()
        print(os.getpid(), flush=True)
        sys.stdin.read()
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 3:
        sys.exit(0)
"""
    proc = subprocess.Popen(["unshare", "--pid", "--fork", "--user", "--map-root-user", sys.executable, "-c", script,
                             ledger_url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=REPO)
    try:
        line = proc.stdout.readline()
        assert line.strip(), "the process in the PID namespace did not record its heartbeat"
        yield int(line)
    finally:
        proc.stdin.close()
        proc.wait(60)


def test_a_service_in_another_pid_namespace_with_this_host_name_is_alive_while_fresh(ledger_url, container, tmp_path):
    store = Store.open(ledger_url)
    try:
        [record] = store.instances(ACCOUNT)
        assert record.host == socket.gethostname()
        assert not os.path.exists(f"/proc/{record.pid}")  # its pid means nothing here
        assert record.machine != this_machine()
        assert alive(store, "container")
        assert live_instances(store, ACCOUNT, real_now(), STALE) == {"container": f"pid {container} on {record.host}"}

        # A post it holds mid-call is not taken from it.
        from scheduler.networks.outbox.publisher import OutboxPublisher
        from scheduler.publishing.engine import PublishingEngine, RetryPolicy

        store.add_post(ACCOUNT, new_post("p1"), real_now())
        assert store.claim("p1", "container", real_now(), real_now())
        engine = PublishingEngine(store, OutboxPublisher(tmp_path / "outbox.jsonl", ACCOUNT), account=ACCOUNT, instance="me",
                                  policy=RetryPolicy(), clock=real_now)
        assert engine.recover(STALE) == []
        assert store.get("p1").claimed_by == "container"

        make_stale(store, "container", STALE * 2)  # it stopped beating: now it is presumed gone
        assert not alive(store, "container")
        assert engine.recover(STALE) == ["p1"]
    finally:
        store.close()


# -- rows as other machines write them -------------------------------------------------------------------------


def test_a_fresh_heartbeat_not_provably_from_this_machine_is_judged_by_age_only(store):
    """Same host name, a pid not running here: from another machine (or one that did not say where it ran), alive
    while fresh, dead once stale."""
    pid = dead_pid()
    store.beat("elsewhere", ACCOUNT, pid, socket.gethostname(), real_now(), machine="another-boot-id/pid:[4026531836]")
    store.beat("unsaid", ACCOUNT, pid, socket.gethostname(), real_now(), machine=None)
    assert alive(store, "elsewhere") and alive(store, "unsaid")
    for instance in ("elsewhere", "unsaid"):
        make_stale(store, instance, STALE + timedelta(seconds=5))
        assert not alive(store, instance)


def test_a_fresh_heartbeat_of_a_process_gone_from_this_machine_is_dead(store):
    store.beat("gone", ACCOUNT, dead_pid(), "any-name", real_now())  # written here: this machine's identity
    store.beat("me", ACCOUNT, os.getpid(), "any-name", real_now())
    assert this_machine() is not None
    assert not alive(store, "gone")
    assert alive(store, "me")


# -- PostgreSQL: the database's clock ----------------------------------------------------------------------------


@pytest.mark.postgres
def test_postgres_heartbeats_are_written_and_aged_on_the_servers_clock(postgres_url):
    store = Store.open(postgres_url)
    try:
        # A service whose clock is an hour behind writes its heartbeat: it is fresh all the same...
        store.beat("slow-clock", ACCOUNT, os.getpid(), "other-host", real_now() - timedelta(hours=1),
                   machine="another-boot-id/pid:[1]")
        record = store.instances(ACCOUNT)[0]
        with store.engine.connect() as conn:  # the server's own clock (Python's may be faked: tests/faked_clock.sh)
            server_now = conn.execute(sa.text("SELECT now()")).scalar()
        assert abs(record.beat_at - server_now) < timedelta(minutes=5)
        # ...for a reader whose clock is an hour ahead, or an hour behind.
        assert alive(store, "slow-clock", real_now() + timedelta(hours=1))
        assert alive(store, "slow-clock", real_now() - timedelta(hours=1))
        # A heartbeat the server's clock calls stale is stale, whatever the reader's clock says.
        make_stale(store, "slow-clock", STALE * 2)
        assert not alive(store, "slow-clock", real_now() - timedelta(hours=1))
        # The age is the server's: the reader's clock, a day off, does not change it.
        assert STALE * 2 <= store.instances(ACCOUNT)[0].age(real_now() + timedelta(days=1)) < timedelta(minutes=5)
    finally:
        store.close()
