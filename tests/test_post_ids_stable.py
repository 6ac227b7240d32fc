"""Post ids do not depend on the order of [[accounts]]: the account holding the plain ids ("article-1", the others
end in "~KEY") is recorded in the ledger, so reordering accounts or adding an X account before the first changes
no id and a re-import queues nothing twice. Real `scheduler` subprocesses on a real SQLite ledger and on
PostgreSQL (where a server answers); the migration's backfill of an existing ledger on both too."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from scheduler.ledger import migrations as m
from scheduler.ledger.store import Store

pytest_plugins = ["tests.helpers_ledger"]

SEED = Path(__file__).resolve().parent.parent / "posts" / "massage-therapy-for-back-pain.md"
COMMON = """\
[calendar]
slots = ["mon-fri 09:00"]

[publisher]
kind = "outbox"
"""
CLINIC = """
[[accounts]]
name = "clinic"
handle = "ClinicA"
"""
SKY = """
[[accounts]]
name = "sky"
network = "bluesky"
handle = "clinic.bsky.social"
"""
SECOND = """
[[accounts]]
name = "second"
handle = "ClinicB"
credentials_env = "CLINIC_B"  # its own credentials: two X accounts cannot share X_*
"""


class Ledger:
    def __init__(self, tmp: Path, database_url: str):
        self.config = tmp / "scheduler.toml"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_", "BLUESKY_"))}
        self.env.update(SCHEDULER_HOME=str(tmp / "home"), SCHEDULER_CONFIG=str(self.config),
                        SCHEDULER_DATABASE_URL=database_url)

    def configure(self, *accounts: str) -> None:
        self.config.write_text(COMMON + "".join(accounts), encoding="utf-8")

    def cli(self, *args: str, as_json: bool = True):
        result = subprocess.run([sys.executable, "-m", "scheduler", *args, *(["--json"] if as_json else [])],
                                env=self.env, capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"scheduler {' '.join(args)}: {result.stderr}"
        return json.loads(result.stdout) if as_json else result.stdout

    def ids(self, account: str) -> list[str]:
        return sorted(row["post_id"] for row in self.cli("queue", "list", "--limit", "1000", "--account", account))


@pytest.fixture
def ledger(tmp_path, ledger_url):
    return Ledger(tmp_path, ledger_url)


def test_reordering_accounts_or_adding_an_x_account_first_changes_no_id(ledger):
    ledger.configure(CLINIC, SKY)
    first = ledger.cli("import", str(SEED), "--to", "clinic,sky")
    assert all(report["added"] for report in first)
    clinic, sky = ledger.ids("clinic"), ledger.ids("sky")
    assert clinic and all("~" not in post_id for post_id in clinic)  # the first X account: plain ids
    assert sky and all(post_id.endswith("~clinic.bsky.social") for post_id in sky)

    ledger.configure(SKY, CLINIC)  # reordered
    again = ledger.cli("import", str(SEED), "--to", "clinic,sky")
    assert [r["added"] for r in again] == [[], []]
    assert (ledger.ids("clinic"), ledger.ids("sky")) == (clinic, sky)

    ledger.configure(SECOND, SKY, CLINIC)  # another X account, now the first one
    again = ledger.cli("import", str(SEED), "--to", "clinic,sky,second")
    assert [bool(r["added"]) for r in again] == [False, False, True]
    assert (ledger.ids("clinic"), ledger.ids("sky")) == (clinic, sky)
    second = ledger.ids("second")
    assert len(second) == len(clinic) and all(post_id.endswith("~clinicb") for post_id in second)
    # Ad-hoc posts follow the same rule: the holder's plain, the newcomer's suffixed.
    for account, ending in (("clinic", " ("), ("second", "~clinicb (")):
        out = ledger.cli("queue", "add", "Walk ten minutes after lunch, every day.", "--account", account,
                         as_json=False)
        assert out.startswith("queued adhoc-") and out.split()[1].count("~") == ending.count("~"), out
        assert ending in out, out


def test_the_single_account_keeps_its_plain_ids_when_accounts_are_added_before_it(ledger):
    ledger.config.write_text(COMMON + '\n[account]\nhandle = "ClinicA"\n', encoding="utf-8")
    ledger.cli("import", str(SEED))
    legacy = ledger.ids("clinica")
    assert legacy and all("~" not in post_id for post_id in legacy)

    ledger.configure(SECOND, SKY, CLINIC)  # the same account, now an [[accounts]] entry after another X account
    reports = ledger.cli("import", str(SEED), "--to", "clinic,second")
    assert [bool(r["added"]) for r in reports] == [False, True]
    assert ledger.ids("clinic") == legacy
    assert all(post_id.endswith("~clinicb") for post_id in ledger.ids("second"))


T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def _old_ledger(url: str, rows: list[tuple[str, str, int]]) -> None:
    """A ledger as m010 left it, holding posts (id, account, minutes after T0 it was created)."""
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.begin() as conn:
            m.schema_migrations.create(conn)
            for name, migration in m.MIGRATIONS[:10]:
                migration(conn)
                conn.execute(m.schema_migrations.insert().values(name=name, applied_at=T0))
            assert [name for name, _ in m.MIGRATIONS[:10]][-1] == "m010_article_metadata"
            for n, (post_id, account, minutes) in enumerate(rows):
                at = T0.replace(minute=minutes, tzinfo=None)
                conn.execute(sa.text(
                    "INSERT INTO posts (post_id, account, kind, variant, text, parts, media, weighted_length, "
                    "fingerprint, state, position, attempts, uncertain, part_ids, created_at, updated_at) "
                    "VALUES (:id, :account, 'adhoc', 0, :text, '[]', '[]', 5, :fp, 'queued', :pos, 0, false, '[]', "
                    ":at, :at)"), {"id": post_id, "account": account, "text": f"text {n}", "fp": f"fp{n}",
                                   "pos": float(n), "at": at})
    finally:
        engine.dispose()


def test_migrating_a_ledger_records_the_account_of_its_oldest_plain_id(ledger_url):
    # The X account first in the config when it imported, then a Bluesky one (suffixed), then a second X account
    # put first (the bug: plain ids for it too). The oldest plain id's account keeps the plain ids.
    _old_ledger(ledger_url, [("sky-1~clinic.bsky.social", "clinic.bsky.social", 0), ("tip-1", "clinica", 5),
                             ("tip-2", "clinicb", 9)])
    store = Store.open(ledger_url)
    try:
        assert store.plain_ids_account() == "clinica"
        assert store.hold_plain_ids("clinicb", T0) == "clinica"  # recorded for good
        with pytest.raises(sa.exc.IntegrityError):  # one row at most: the ledger enforces it
            with store.engine.begin() as conn:
                conn.execute(m.plain_post_ids.insert().values(slot=2, account="clinicb", recorded_at=T0))
    finally:
        store.close()


def test_a_ledger_without_plain_ids_records_none_until_an_account_needs_them(ledger_url):
    _old_ledger(ledger_url, [("sky-1~clinic.bsky.social", "clinic.bsky.social", 0)])
    store = Store.open(ledger_url)
    try:
        assert store.plain_ids_account() is None
        assert store.hold_plain_ids("clinicb", T0) == "clinicb"
        assert store.hold_plain_ids("clinica", T0) == "clinicb"
    finally:
        store.close()
