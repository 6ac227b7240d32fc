"""Running a block of frozen DDL: the one helper every migration uses."""

from __future__ import annotations

from sqlalchemy.engine import Connection


def _ddl(conn: Connection, statements: str) -> None:
    """Run DDL written for both backends: ``{ts}`` is the timestamp type, ``{serial}`` an auto-numbered
    integer key; statements are separated by blank lines (a trigger body may hold semicolons)."""
    postgres = conn.dialect.name == "postgresql"
    words = {
        "ts": "TIMESTAMP WITHOUT TIME ZONE" if postgres else "DATETIME",
        "serial": "SERIAL NOT NULL" if postgres else "INTEGER NOT NULL",
    }
    for statement in statements.format(**words).split("\n\n"):
        if statement.strip():
            conn.exec_driver_sql(statement)
