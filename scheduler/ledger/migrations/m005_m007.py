"""The review era (m005-m007): reviews, review links and notices, web access, publish keys."""

from __future__ import annotations

from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.ddl import _ddl

REVIEW_ACTIONS = ("approved", "changes requested", "link created", "link revoked", "link used")


NOTICE_KINDS = ("awaiting review", "missed slot", "changes requested")


def m005_review(conn: Connection) -> None:
    """Review before publishing: approvals bound to a content hash, an append-only decision log that
    the database refuses to rewrite, reviewer links, and the notice outbox."""
    actions = ", ".join(f"'{a}'" for a in REVIEW_ACTIONS)
    kinds = ", ".join(f"'{k}'" for k in NOTICE_KINDS)
    _ddl(conn, f"""
CREATE TABLE post_reviews (
    post_id VARCHAR(160) NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    approved_hash VARCHAR(64),
    approved_by TEXT,
    approved_at {{ts}},
    rejected_hash VARCHAR(64),
    rejected_by TEXT,
    rejected_at {{ts}},
    comment TEXT,
    CONSTRAINT fk_post_reviews_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE CASCADE,
    CONSTRAINT ck_post_reviews_approved CHECK (approved_hash IS NULL OR (approved_by IS NOT NULL
                                                                        AND approved_at IS NOT NULL)),
    CONSTRAINT ck_post_reviews_rejected CHECK (rejected_hash IS NULL OR (rejected_by IS NOT NULL
                                                                        AND rejected_at IS NOT NULL))
)

CREATE TABLE review_log (
    id {{serial}} PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    at {{ts}} NOT NULL,
    actor TEXT NOT NULL,
    action VARCHAR(32) NOT NULL,
    post_id VARCHAR(160),
    content_hash VARCHAR(64),
    parts JSON,
    media JSON,
    comment TEXT,
    findings JSON,
    CONSTRAINT ck_review_log_action CHECK (action IN ({actions})),
    CONSTRAINT ck_review_log_decision CHECK (action NOT IN ('approved', 'changes requested')
                                            OR (post_id IS NOT NULL AND content_hash IS NOT NULL
                                                AND parts IS NOT NULL))
)

CREATE INDEX ix_review_log_account ON review_log (account, id)

CREATE TABLE review_links (
    link_id VARCHAR(32) NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    purpose VARCHAR(16) NOT NULL,
    created_at {{ts}} NOT NULL,
    created_by TEXT NOT NULL,
    expires_at {{ts}} NOT NULL,
    revoked_at {{ts}},
    used_at {{ts}},
    CONSTRAINT ck_review_links_purpose CHECK (purpose IN ('review')),
    CONSTRAINT ck_review_links_expiry CHECK (expires_at > created_at)
)

CREATE TABLE link_keys (
    key_id INTEGER NOT NULL PRIMARY KEY,
    secret VARCHAR(128) NOT NULL,
    created_at {{ts}} NOT NULL,
    CONSTRAINT ck_link_keys_one CHECK (key_id = 1)
)

CREATE TABLE notices (
    id {{serial}} PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    kind VARCHAR(32) NOT NULL,
    channel VARCHAR(16) NOT NULL,
    dedupe_key VARCHAR(400) NOT NULL,
    payload JSON NOT NULL,
    state VARCHAR(16) NOT NULL,
    attempts INTEGER NOT NULL,
    created_at {{ts}} NOT NULL,
    next_attempt_at {{ts}},
    sent_at {{ts}},
    last_error TEXT,
    CONSTRAINT ck_notices_kind CHECK (kind IN ({kinds})),
    CONSTRAINT ck_notices_channel CHECK (channel IN ('email', 'webhook')),
    CONSTRAINT ck_notices_state CHECK (state IN ('pending', 'sent', 'failed')),
    CONSTRAINT ck_notices_pending_has_time CHECK (state <> 'pending' OR next_attempt_at IS NOT NULL),
    CONSTRAINT ck_notices_attempts CHECK (attempts >= 0)
)

CREATE UNIQUE INDEX ux_notices_fact ON notices (account, channel, dedupe_key)

CREATE INDEX ix_notices_due ON notices (account, state, next_attempt_at)
""")
    if conn.dialect.name == "postgresql":
        _ddl(conn, """
CREATE FUNCTION review_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'the review log is append-only: %% refused', TG_OP USING ERRCODE = 'check_violation';
END
$$ LANGUAGE plpgsql

CREATE TRIGGER review_log_append_only BEFORE UPDATE OR DELETE ON review_log
    FOR EACH ROW EXECUTE FUNCTION review_log_append_only()

CREATE TRIGGER review_log_no_truncate BEFORE TRUNCATE ON review_log
    FOR EACH STATEMENT EXECUTE FUNCTION review_log_append_only()
""")
    else:
        _ddl(conn, """
CREATE TRIGGER review_log_no_update BEFORE UPDATE ON review_log
BEGIN
    SELECT RAISE(ABORT, 'the review log is append-only: UPDATE refused');
END

CREATE TRIGGER review_log_no_delete BEFORE DELETE ON review_log
BEGIN
    SELECT RAISE(ABORT, 'the review log is append-only: DELETE refused');
END
""")


def m006_web_access(conn: Connection) -> None:
    """The dashboard's users, API tokens, sessions and audit trail (see scheduler/web)."""
    _ddl(conn, """
CREATE TABLE IF NOT EXISTS web_users (
    username VARCHAR(64) NOT NULL PRIMARY KEY,
    password_hash TEXT NOT NULL,
    updated_at {ts} NOT NULL
)

CREATE TABLE IF NOT EXISTS web_tokens (
    token_id VARCHAR(16) NOT NULL PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    token_hash VARCHAR(64) NOT NULL UNIQUE,
    created_at {ts} NOT NULL,
    last_used_at {ts},
    revoked_at {ts}
)

CREATE TABLE IF NOT EXISTS web_sessions (
    session_hash VARCHAR(64) NOT NULL PRIMARY KEY,
    username VARCHAR(64) NOT NULL,
    csrf VARCHAR(64) NOT NULL,
    created_at {ts} NOT NULL,
    expires_at {ts} NOT NULL
)

CREATE TABLE IF NOT EXISTS web_audit (
    id {serial} PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    at {ts} NOT NULL,
    actor VARCHAR(120) NOT NULL,
    action VARCHAR(40) NOT NULL,
    post_id VARCHAR(160),
    detail TEXT
)

CREATE INDEX IF NOT EXISTS ix_web_audit_account ON web_audit (account, id)
""")


def m007_publish_keys(conn: Connection) -> None:
    """Per-part idempotency keys (Bluesky record keys, Mastodon Idempotency-Keys), stored before the call."""
    _ddl(conn, """
CREATE TABLE publish_keys (
    post_id VARCHAR(160) NOT NULL,
    part INTEGER NOT NULL,
    publish_key VARCHAR(100) NOT NULL,
    created_at {ts} NOT NULL,
    PRIMARY KEY (post_id, part),
    CONSTRAINT fk_publish_keys_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE CASCADE,
    CONSTRAINT ck_publish_keys_part CHECK (part >= 0),
    CONSTRAINT ck_publish_keys_key CHECK (publish_key <> '')
)

CREATE UNIQUE INDEX ux_publish_keys_key ON publish_keys (publish_key)
""")
