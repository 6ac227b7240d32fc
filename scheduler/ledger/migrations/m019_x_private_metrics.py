"""Migration of X's non-public metrics: link and profile clicks with each reading, and the followers read billed."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.ddl import _ddl

READING_NETWORKS = ("x", "bluesky", "mastodon")
# m016's kinds and the followers read (GET /2/users/me), which X's pay-per-use bills as well.
BILLED_KINDS = ("post", "post_with_link", "metric_read", "lookup_read", "user_read")
BILLED_COLUMNS = "id, account, network, kind, units, price_micro_usd, at, post_id"


def m019_x_private_metrics(conn: Connection) -> None:
    """metric_readings gains url_link_clicks and user_profile_clicks (X's non_public_metrics: only the author's own
    posts of the last 30 days, read with user-context auth; NULL wherever X gave none), never negative.
    billed_calls.kind allows 'user_read'. PostgreSQL swaps the CHECK; SQLite cannot change a constraint, so the
    table is built anew and its rows (ids included) copied over."""
    # A column's own CHECK: both backends take it in ADD COLUMN (rows already stored hold NULL).
    _ddl(conn, """
ALTER TABLE metric_readings ADD COLUMN url_link_clicks INTEGER
    CONSTRAINT ck_metric_readings_link_clicks CHECK (url_link_clicks IS NULL OR url_link_clicks >= 0)

ALTER TABLE metric_readings ADD COLUMN user_profile_clicks INTEGER
    CONSTRAINT ck_metric_readings_profile_clicks CHECK (user_profile_clicks IS NULL OR user_profile_clicks >= 0)
""")
    kinds = ", ".join(f"'{k}'" for k in BILLED_KINDS)
    if conn.dialect.name == "postgresql":
        _ddl(conn, f"""
ALTER TABLE billed_calls DROP CONSTRAINT ck_billed_calls_kind

ALTER TABLE billed_calls ADD CONSTRAINT ck_billed_calls_kind CHECK (kind IN ({kinds}))
""")
        return
    networks = ", ".join(f"'{n}'" for n in READING_NETWORKS)
    _ddl(conn, f"""
CREATE TABLE billed_calls_new (
    id {{serial}} PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    network VARCHAR(16) NOT NULL,
    kind VARCHAR(24) NOT NULL,
    units INTEGER NOT NULL,
    price_micro_usd BIGINT NOT NULL,
    at {{ts}} NOT NULL,
    post_id VARCHAR(160),
    CONSTRAINT fk_billed_calls_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE SET NULL,
    CONSTRAINT ck_billed_calls_kind CHECK (kind IN ({kinds})),
    CONSTRAINT ck_billed_calls_network CHECK (network IN ({networks})),
    CONSTRAINT ck_billed_calls_units CHECK (units >= 1),
    CONSTRAINT ck_billed_calls_price CHECK (price_micro_usd >= 0)
)

INSERT INTO billed_calls_new ({BILLED_COLUMNS}) SELECT {BILLED_COLUMNS} FROM billed_calls

DROP TABLE billed_calls

ALTER TABLE billed_calls_new RENAME TO billed_calls

CREATE INDEX ix_billed_calls_account ON billed_calls (account, at)
""")
