"""Wake-ups on PostgreSQL (issue 22): a change to an account's queue, made by another process, wakes a running
`scheduler serve` at once through LISTEN/NOTIFY (migration m018's trigger, ledger/notify.py), although its poll of
the ledger is set to once a minute; the listener comes back after its connection is terminated. On SQLite the
service keeps its poll (tests/test_service.py)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest

from scheduler.ledger.notify import QueueListener
from scheduler.ledger.store import Store
from scheduler.standins.x import StandinX
from tests.helpers_ledger import PG_ADMIN_URL, PostgresSchema
from tests.service_harness import Harness, seconds_ahead

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


@dataclass
class PgHarness(Harness):
    """The service harness on a PostgreSQL ledger, polling the ledger only once a minute."""

    url: str = ""

    def write_config(self, **kwargs) -> None:
        super().write_config(**kwargs)
        text = self.config.read_text(encoding="utf-8").replace('watch_interval = "1s"', 'watch_interval = "60s"')
        self.config.write_text(text, encoding="utf-8")

    @property
    def env(self) -> dict[str, str]:
        return {**super().env, "SCHEDULER_DATABASE_URL": self.url}

    def sent_records(self, proc) -> dict[str, dict]:
        records = [json.loads(line) for line in self.log_of(proc).splitlines() if line.startswith("{")]
        return {r["post_id"]: r for r in records if r.get("outcome") == "sent"}


@pytest.fixture
def pg(tmp_path, postgres_url):
    with StandinX() as standin:
        h = PgHarness(tmp_path, standin, url=postgres_url)
        h.write_config()
        try:
            yield h
        finally:
            h.close()


def backends(application: str, schema: str) -> list[int]:
    """The server pids of a connection named ``application`` whose last statement named ``schema`` (the
    listener's LISTEN names its schema's channel): this test's, not another test's on the same database."""
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE application_name = %s AND query LIKE %s",
            (application, f"%{schema}%"))]


def terminate(pid: int) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        assert conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()[0]


def test_a_cli_change_wakes_the_service_at_once_though_it_polls_once_a_minute(pg):
    proc = pg.serve("serve", "--log-json")
    pg.wait_for_log(proc, "service started", timeout=30)
    later = pg.add("Queued for tomorrow, then pinned to a few seconds from now", seconds_ahead(86_400))
    pinned_at = seconds_ahead(6)
    pg.cli("queue", "pin", later, "--at", pinned_at.isoformat())
    added_at = seconds_ahead(5)
    added = pg.add("Added a few seconds ahead of its time", added_at)
    pg.wait_for_timeline(2, timeout=40)
    time.sleep(0.5)
    sent = pg.sent_records(proc)
    # The service's own record of each: sent within seconds of its moment, where the poll alone would have
    # found the change up to a minute late.
    assert sent[later]["late_s"] < 5 and sent[added]["late_s"] < 5, sent
    assert sorted(t["text"] for t in pg.standin.timeline()) == [
        "Added a few seconds ahead of its time", "Queued for tomorrow, then pinned to a few seconds from now"]
    assert pg.stop(proc) < 10 and proc.returncode == 0


def test_the_listener_comes_back_after_its_connection_is_terminated(pg):
    proc = pg.serve("serve", "--log-json")
    pg.wait_for_log(proc, "service started", timeout=30)
    schema = pg.url.rsplit("%3D", 1)[1]
    deadline = time.monotonic() + 20
    while not (listening := backends("scheduler-listen", schema)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(listening) == 1, listening
    terminate(listening[0])
    pg.wait_for_log(proc, "not listening for queue changes", timeout=20)
    pg.wait_for_log(proc, "listening for queue changes again", timeout=30)
    again = backends("scheduler-listen", schema)
    assert len(again) == 1 and again != listening
    post = pg.add("Added after the listener came back", seconds_ahead(5))
    pg.wait_for_timeline(1, timeout=40)
    time.sleep(0.3)
    assert pg.sent_records(proc)[post]["late_s"] < 5
    assert pg.stop(proc) < 10 and proc.returncode == 0


def test_a_listener_hears_its_own_ledger_only(postgres_url):
    """Two ledgers in two schemas of one database: a change in one wakes its listener, never the other's; a
    change the transaction rolled back wakes nobody."""
    other = PostgresSchema()
    mine, theirs = Store.open(postgres_url), Store.open(other.url)
    heard: dict[str, list] = {"mine": [], "theirs": []}
    woken = threading.Event()
    listeners = [QueueListener(store.engine, lambda changed, who=who: (heard[who].append(changed), woken.set()))
                 for who, store in (("mine", mine), ("theirs", theirs))]
    try:
        for listener in listeners:
            listener.start()
            assert listener.connected.wait(10)
        with pytest.raises(RuntimeError):
            with mine.unit():
                mine.pause("rolled-back", "never committed", datetime.now(UTC))
                raise RuntimeError
        mine.pause("clinic-a", "holiday", datetime.now(UTC))
        assert woken.wait(10)
        time.sleep(0.5)
        assert heard == {"mine": [{"clinic-a": mine.revision("clinic-a")}], "theirs": []}
    finally:
        for listener in listeners:
            listener.stop()
        mine.close(), theirs.close()
        other.drop()
