"""Every change made through the dashboard or the API and its audit row are ONE transaction, on SQLite and on
PostgreSQL: when the audit row cannot be written (the database refuses it, after the change itself went through),
the change is undone with it and the ledger is exactly as before; a change the domain refuses leaves no audit row;
and a change that lands has its row, written in the same state of the ledger. Audit messages use the account's
network's limit, never X's 280 for another network."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa

from scheduler.domain.errors import SchedulerError
from tests.helpers_ledger import ledger_url, postgres_url, sqlite_url  # noqa: F401
from tests.helpers_web import TIP_IDS, WebEnv

ARTICLE = ("---\ntitle: Desk posture\n---\n# Desk posture\n\n"
           "1. Raise the screen. Its top line belongs at eye level.\n"
           "2. Stand up. Every hour, walk for two minutes.\n")


class LedgerEnv(WebEnv):
    """The dashboard's environment over the ledger at ``url`` (a SQLite file or a PostgreSQL schema)."""

    def __init__(self, tmp, monkeypatch, url: str):
        super().__init__(tmp, monkeypatch)
        self.store.close()
        monkeypatch.setenv("SCHEDULER_DATABASE_URL", url)
        from scheduler.config import load_config
        from scheduler.ledger.store import Store

        self.config = load_config(str(self.config_path))
        self.store = Store.open(url)

    def actions(self, actor: str = "user:admin"):
        from scheduler.web.actions import Actions

        return Actions(self.store, self.config, actor, self.clock)

    def dump(self) -> dict[str, list]:
        """Every row of every table (the whole ledger), to compare two states of it."""
        meta = sa.MetaData()
        with self.store.engine.connect() as conn:
            meta.reflect(conn)
            return {name: sorted((tuple(map(repr, row)) for row in conn.execute(sa.select(table))))
                    for name, table in sorted(meta.tables.items())}

    def refuse_audit_rows(self) -> None:
        """Make the database itself refuse every new audit row: a failure after the change, before the commit."""
        with self.store.engine.begin() as conn:
            if conn.dialect.name == "sqlite":
                conn.exec_driver_sql("CREATE TRIGGER refuse_audit BEFORE INSERT ON web_audit "
                                     "BEGIN SELECT RAISE(ABORT, 'audit refused'); END")
            else:
                conn.exec_driver_sql("CREATE FUNCTION refuse_audit() RETURNS trigger AS $$ BEGIN "
                                     "RAISE EXCEPTION 'audit refused'; END $$ LANGUAGE plpgsql")
                conn.exec_driver_sql("CREATE TRIGGER refuse_audit BEFORE INSERT ON web_audit "
                                     "FOR EACH ROW EXECUTE FUNCTION refuse_audit()")

    def accept_audit_rows(self) -> None:
        with self.store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TRIGGER refuse_audit" + ("" if conn.dialect.name == "sqlite" else " ON web_audit"))


@pytest.fixture
def env(tmp_path, monkeypatch, ledger_url):  # noqa: F811
    env = LedgerEnv(tmp_path, monkeypatch, ledger_url)
    env.import_posts()
    env.actions().remove(TIP_IDS[4])  # one removed post, for restore
    yield env
    env.store.close()


def shown(actions, post_ids) -> dict[str, str]:
    """The content hashes a reviewer saw: every approval names them."""
    from scheduler.domain.content_hash import hash_of

    return {p: hash_of(actions.store.get(p), fresh=True) for p in post_ids}


# Each change the web can make, as the dashboard and the API make it (scheduler.web.actions).
CHANGES = {
    "add": lambda a: a.add("Walk for ten minutes after lunch.", None),
    "add pinned": lambda a: a.add("Walk after dinner too.", a.clock() + timedelta(days=2)),
    "edit": lambda a: a.edit(TIP_IDS[0], "Short and new #backpain"),
    "remove": lambda a: a.remove(TIP_IDS[1]),
    "restore": lambda a: a.restore(TIP_IDS[4]),
    "move": lambda a: a.move(TIP_IDS[2], top=True),
    "pin": lambda a: a.pin(TIP_IDS[3], a.clock() + timedelta(days=3)),
    "pause": lambda a: a.pause("holiday"),
    "approve": lambda a: a.approve([TIP_IDS[0]], expected=shown(a, [TIP_IDS[0]])),
    "request changes": lambda a: a.request_changes([TIP_IDS[1]], comment="Name the source."),
    "import": lambda a: a.import_upload("desk.md", ARTICLE.encode()),
}


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_whose_audit_row_fails_does_not_land(env, change):
    before = env.dump()
    env.refuse_audit_rows()
    with pytest.raises(sa.exc.DBAPIError, match="audit refused"):
        CHANGES[change](env.actions())
    env.accept_audit_rows()
    assert env.dump() == before  # not the change, not its row: the whole ledger as it was
    assert not (env.config.data_dir / "uploads" / "desk.md").exists()  # an upload's file is not kept either


@pytest.mark.parametrize("change", CHANGES)
def test_a_change_that_lands_has_its_audit_row_with_it(env, change):
    before = env.dump()
    audit_before = len(env.store.audit(env.config.account, limit=1000))
    CHANGES[change](env.actions(actor="token:script"))
    after = env.dump()
    assert {k: v for k, v in after.items() if k != "web_audit"} != {k: v for k, v in before.items() if k != "web_audit"}
    rows = env.store.audit(env.config.account, limit=1000)
    assert len(rows) > audit_before
    newest = rows[0]
    assert (newest.actor, newest.at) == ("token:script", env.now)
    assert newest.action == change.split()[0] if change != "request changes" else newest.action == "request changes"


def test_resume_after_a_failed_audit_stays_paused(env):
    env.actions().pause("holiday")
    env.refuse_audit_rows()
    with pytest.raises(sa.exc.DBAPIError):
        env.actions().resume()
    env.accept_audit_rows()
    assert env.store.account_state(env.config.account).paused


@pytest.mark.parametrize("change", [
    lambda a: a.edit(TIP_IDS[0], "x" * 400),  # too long for X
    lambda a: a.remove("no-such-post"),
    lambda a: a.move(TIP_IDS[0], before="no-such-post"),
    lambda a: a.import_upload("notes.pdf", b"%PDF"),
    lambda a: a.approve(["no-such-post"], expected={"no-such-post": "0" * 64}),
], ids=["edit too long", "remove unknown", "move before unknown", "upload not an article", "approve unknown"])
def test_a_change_the_domain_refuses_leaves_no_audit_row(env, change):
    before = env.dump()
    with pytest.raises(SchedulerError):
        change(env.actions())
    assert env.dump() == before


def test_the_audit_row_and_the_change_become_visible_together(env):
    """Another connection (the History page, another process) sees neither until the commit, then both."""
    from scheduler.ledger.store import Store

    other = Store.open(env.config.database_url)
    try:
        seen = []
        actions = env.actions()

        def peek():  # called by the audit step, inside the change's transaction, after the change
            seen.append((other.get(TIP_IDS[1]).state.value, len(other.audit(env.config.account, limit=1000))))

        original = env.store.record_audit

        def record_audit(*args, **kwargs):
            original(*args, **kwargs)
            peek()

        env.store.record_audit = record_audit
        audit_before = len(other.audit(env.config.account, limit=1000))
        actions.remove(TIP_IDS[1])
        assert seen == [("queued", audit_before)]  # inside the transaction: the change and its row unseen
        assert (other.get(TIP_IDS[1]).state.value, len(other.audit(env.config.account, limit=1000))) == \
            ("removed", audit_before + 1)
    finally:
        other.close()


BLUESKY = """\
[[accounts]]
name = "sky"
network = "bluesky"
handle = "clinic.bsky.social"
timezone = "Europe/Berlin"

[quota]
daily = 0
monthly = 0

[publisher]
kind = "outbox"
"""


def test_audit_messages_use_the_networks_limit(tmp_path, monkeypatch, sqlite_url):  # noqa: F811
    env = LedgerEnv(tmp_path, monkeypatch, sqlite_url)
    try:
        env.config_path.write_text(BLUESKY, encoding="utf-8")
        from scheduler.config import load_config

        env.config = load_config(str(env.config_path))
        env.import_posts()
        added = env.actions().add("é" * 290, None)  # 290 graphemes: over X's 280, within Bluesky's 300
        assert added.weighted_length == 290
        first = env.store.queue_page(env.config.account, limit=1)[0]
        env.actions().edit(first.post_id, "Short.")
        details = [r.detail for r in env.store.audit(env.config.account, limit=10)]
        assert details == [f"text changed ({first.weighted_length} -> 6/300)", "queued (290/300)"]
        assert not any("/280" in d for d in details)
    finally:
        env.store.close()
