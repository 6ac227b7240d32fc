"""Migration m018: wake-ups on PostgreSQL. Every change to an account's queue bumps its revision
(``accounts.revision``, ``AccountsLedger._bump``); a trigger on that bump notifies the services listening
(ledger/notify.py), with the account's ledger key and its new revision as the payload ("KEY REVISION": a key
holds no space), so a change made by the CLI, the dashboard or
another replica wakes them at once instead of at their next poll. SQLite has no LISTEN/NOTIFY: nothing to add."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.ddl import _ddl


def m018_wakeups(conn: Connection) -> None:
    """The channel is named for the schema holding the ledger (``scheduler_queue_<schema>``, cut to PostgreSQL's
    63 characters), so ledgers in several schemas of one database never wake each other. PostgreSQL sends a
    notification when the transaction commits (one per bump: each carries its revision), and never for a
    transaction rolled back."""
    if conn.dialect.name != "postgresql":
        return
    _ddl(conn, """
CREATE FUNCTION scheduler_queue_changed() RETURNS trigger AS $$
BEGIN
    PERFORM pg_notify(left('scheduler_queue_' || TG_TABLE_SCHEMA, 63), NEW.account || ' ' || NEW.revision);
    RETURN NULL;
END
$$ LANGUAGE plpgsql

CREATE TRIGGER accounts_queue_changed AFTER UPDATE OF revision ON accounts
FOR EACH ROW WHEN (NEW.revision IS DISTINCT FROM OLD.revision)
EXECUTE FUNCTION scheduler_queue_changed()
""")
