"""Migration of the collection era: where each sent post stands in its schedule of metric readings, which of its
parts the network no longer has, and each account's collection state (paused, waiting for a reset, held by a
service)."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.ddl import _ddl


def m017_metric_state(conn: Connection) -> None:
    """metric_posts: per sent post, its newest reading and that reading's age after sending in whole seconds (what
    the due rule of domain/metric_schedule.py tests), and when every part was found deleted (never read again).
    metric_deleted: a part the network says no longer exists, recorded once (its primary key). metric_accounts: a
    refused token pauses an account's metrics (never its publishing), a 429 or a failing network makes it wait,
    and one service at a time collects it (a lease, as a claim)."""
    _ddl(conn, """
CREATE TABLE metric_posts (
    post_id VARCHAR(160) NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    read_at {ts},
    read_age_s BIGINT,
    gone_at {ts},
    CONSTRAINT fk_metric_posts_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE CASCADE,
    CONSTRAINT ck_metric_posts_age CHECK (read_age_s IS NULL OR read_age_s >= 0),
    CONSTRAINT ck_metric_posts_read CHECK ((read_at IS NULL AND read_age_s IS NULL)
        OR (read_at IS NOT NULL AND read_age_s IS NOT NULL))
)

CREATE INDEX ix_metric_posts_account ON metric_posts (account, read_at)

CREATE TABLE metric_deleted (
    post_id VARCHAR(160) NOT NULL,
    remote_id VARCHAR(300) NOT NULL,
    account VARCHAR(64) NOT NULL,
    deleted_at {ts} NOT NULL,
    CONSTRAINT pk_metric_deleted PRIMARY KEY (post_id, remote_id),
    CONSTRAINT fk_metric_deleted_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE CASCADE,
    CONSTRAINT ck_metric_deleted_remote CHECK (remote_id <> '')
)

CREATE TABLE metric_accounts (
    account VARCHAR(64) NOT NULL PRIMARY KEY,
    paused_at {ts},
    pause_reason TEXT,
    wait_until {ts},
    failures INTEGER NOT NULL,
    last_error TEXT,
    collector VARCHAR(80),
    lease_until {ts},
    CONSTRAINT ck_metric_accounts_paused CHECK ((paused_at IS NULL AND pause_reason IS NULL)
        OR (paused_at IS NOT NULL AND pause_reason IS NOT NULL)),
    CONSTRAINT ck_metric_accounts_failures CHECK (failures >= 0),
    CONSTRAINT ck_metric_accounts_lease CHECK ((collector IS NULL AND lease_until IS NULL)
        OR (collector IS NOT NULL AND lease_until IS NOT NULL))
)
""")
