"""Migrations of the insights era: what each sent post did on its network, and what each billed call cost."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.ddl import _ddl

READING_NETWORKS = ("x", "bluesky", "mastodon")
BILLED_KINDS = ("post", "post_with_link", "metric_read", "lookup_read")


def m016_insights(conn: Connection) -> None:
    """Metric readings (one row per post part per reading, never updated: a reading is a snapshot) and billed
    calls (one row per call a network bills, with its price in millionths of a dollar, so sums are exact)."""
    networks = ", ".join(f"'{n}'" for n in READING_NETWORKS)
    kinds = ", ".join(f"'{k}'" for k in BILLED_KINDS)
    _ddl(conn, f"""
CREATE TABLE metric_readings (
    id {{serial}} PRIMARY KEY,
    post_id VARCHAR(160) NOT NULL,
    account VARCHAR(64) NOT NULL,
    network VARCHAR(16) NOT NULL,
    remote_id VARCHAR(300) NOT NULL,
    read_at {{ts}} NOT NULL,
    impressions INTEGER,
    likes INTEGER NOT NULL,
    reposts INTEGER NOT NULL,
    replies INTEGER NOT NULL,
    quotes INTEGER NOT NULL,
    bookmarks INTEGER,
    followers INTEGER,
    CONSTRAINT fk_metric_readings_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE CASCADE,
    CONSTRAINT uq_metric_readings UNIQUE (post_id, remote_id, read_at),
    CONSTRAINT ck_metric_readings_network CHECK (network IN ({networks})),
    CONSTRAINT ck_metric_readings_counts CHECK (likes >= 0 AND reposts >= 0 AND replies >= 0 AND quotes >= 0
        AND (impressions IS NULL OR impressions >= 0) AND (bookmarks IS NULL OR bookmarks >= 0)
        AND (followers IS NULL OR followers >= 0)),
    CONSTRAINT ck_metric_readings_remote CHECK (remote_id <> '')
)

CREATE INDEX ix_metric_readings_account ON metric_readings (account, read_at)

CREATE INDEX ix_metric_readings_post ON metric_readings (post_id, read_at)

CREATE TABLE billed_calls (
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

CREATE INDEX ix_billed_calls_account ON billed_calls (account, at)
""")
