"""The first migrations (m001-m004): posts, attempts and accounts, the time indexes, the invariants the
database enforces on them, and feeds."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.ddl import _ddl


def m001_initial(conn: Connection) -> None:
    _ddl(conn, """
CREATE TABLE IF NOT EXISTS accounts (
    account VARCHAR(64) NOT NULL PRIMARY KEY,
    paused BOOLEAN NOT NULL,
    pause_reason TEXT,
    paused_at {ts},
    revision BIGINT NOT NULL
)

CREATE TABLE IF NOT EXISTS articles (
    account VARCHAR(64) NOT NULL,
    article_key VARCHAR(100) NOT NULL,
    title TEXT NOT NULL,
    url TEXT,
    source TEXT NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    tips JSON NOT NULL,
    hashtags JSON NOT NULL,
    imported_at {ts} NOT NULL,
    PRIMARY KEY (account, article_key)
)

CREATE TABLE IF NOT EXISTS posts (
    post_id VARCHAR(160) NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    article_key VARCHAR(100),
    tip INTEGER,
    template TEXT,
    variant INTEGER NOT NULL,
    text TEXT NOT NULL,
    parts JSON NOT NULL,
    media JSON NOT NULL,
    weighted_length INTEGER NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    state VARCHAR(16) NOT NULL,
    position FLOAT NOT NULL,
    pinned_at {ts},
    next_attempt_at {ts},
    attempts INTEGER NOT NULL,
    uncertain BOOLEAN NOT NULL,
    slot_at {ts},
    claimed_by VARCHAR(80),
    claimed_at {ts},
    part_ids JSON NOT NULL,
    tweet_id VARCHAR(40),
    sent_at {ts},
    last_error TEXT,
    last_status INTEGER,
    created_at {ts} NOT NULL,
    updated_at {ts} NOT NULL
)

CREATE INDEX IF NOT EXISTS ix_posts_queue ON posts (account, state, position)

CREATE INDEX IF NOT EXISTS ix_posts_article ON posts (account, article_key, tip)

CREATE INDEX IF NOT EXISTS ix_posts_fingerprint ON posts (account, fingerprint)

CREATE INDEX IF NOT EXISTS ix_posts_sent ON posts (account, state, sent_at)

CREATE TABLE IF NOT EXISTS attempts (
    id {serial} PRIMARY KEY,
    post_id VARCHAR(160) NOT NULL,
    account VARCHAR(64) NOT NULL,
    part INTEGER NOT NULL,
    instance VARCHAR(80) NOT NULL,
    started_at {ts} NOT NULL,
    finished_at {ts},
    outcome VARCHAR(16) NOT NULL,
    http_status INTEGER,
    detail TEXT,
    tweet_id VARCHAR(40)
)

CREATE INDEX IF NOT EXISTS ix_attempts_post_id ON attempts (post_id)

CREATE TABLE IF NOT EXISTS instances (
    instance VARCHAR(80) NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    pid INTEGER NOT NULL,
    host VARCHAR(255) NOT NULL,
    started_at {ts} NOT NULL,
    beat_at {ts} NOT NULL,
    stopped_at {ts},
    last_outcome TEXT
)
""")


def m002_time_indexes(conn: Connection) -> None:
    """Planning reads publications by slot time and the posts that carry a time of their own;
    without these, a ledger of 100,000 posts is scanned whole on every preview."""
    for column in ("slot_at", "pinned_at", "next_attempt_at"):
        conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_posts_{column} ON posts (account, {column})"))


# The state changes a post may make, as m003 wrote them into post_transitions (models.TRANSITIONS must
# say the same: a test compares them). A later change of the rules is a new migration.
M003_TRANSITIONS = (
    ("queued", "sending"), ("queued", "removed"),
    ("retrying", "sending"), ("retrying", "removed"),
    ("sending", "sent"), ("sending", "failed"), ("sending", "unknown"), ("sending", "retrying"),
    ("sending", "queued"),
    ("unknown", "sent"), ("unknown", "retrying"),
    ("failed", "sent"), ("failed", "retrying"),
    ("removed", "queued"),
)


M003_POST_CHECKS = """
    CONSTRAINT ck_posts_state CHECK (state IN ('queued', 'sending', 'retrying', 'sent', 'failed', 'unknown',
                                               'removed')),
    CONSTRAINT ck_posts_kind CHECK (kind IN ('tip', 'adhoc', 'recycle')),
    CONSTRAINT ck_posts_sent_has_id CHECK (state <> 'sent' OR tweet_id IS NOT NULL),
    CONSTRAINT ck_posts_sending_is_claimed CHECK (state <> 'sending' OR claimed_by IS NOT NULL),
    CONSTRAINT ck_posts_retry_has_time CHECK (state <> 'retrying' OR next_attempt_at IS NOT NULL),
    CONSTRAINT ck_posts_attempts CHECK (attempts >= 0)"""


M003_ATTEMPT_CHECKS = """
    CONSTRAINT fk_attempts_post FOREIGN KEY (post_id) REFERENCES posts (post_id),
    CONSTRAINT ck_attempts_outcome CHECK (outcome IN ('sending', 'sent', 'reconciled', 'lost', 'retry',
        'rate_limited', 'failed', 'auth', 'unknown', 'abandoned', 'duplicate', 'resolved'))"""


M003_POST_COLUMNS = (
    "post_id, account, kind, article_key, tip, template, variant, text, parts, media, weighted_length, "
    "fingerprint, state, position, pinned_at, next_attempt_at, attempts, uncertain, slot_at, claimed_by, "
    "claimed_at, part_ids, tweet_id, sent_at, last_error, last_status, created_at, updated_at"
)


M003_ATTEMPT_COLUMNS = "id, post_id, account, part, instance, started_at, finished_at, outcome, http_status, detail, tweet_id"


def m003_invariants(conn: Connection) -> None:
    """The database itself refuses what must never happen: an unknown state, a transition the state
    machine does not allow, two posts for one calendar slot of an account, two posts at one queue
    position, an attempt of no post.

    ``calendar_slot`` is the calendar slot a post was claimed for (None for a pin or an ad-hoc send:
    several pins may share a second); ``slot_at`` stays the time it went out for."""
    _m003_repair(conn)
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("ALTER TABLE posts ADD COLUMN calendar_slot TIMESTAMP WITHOUT TIME ZONE")
        checks = M003_POST_CHECKS.strip().replace("CONSTRAINT", "ADD CONSTRAINT")
        conn.exec_driver_sql(f"ALTER TABLE posts {checks}")
        checks = M003_ATTEMPT_CHECKS.strip().replace("CONSTRAINT", "ADD CONSTRAINT")
        conn.exec_driver_sql(f"ALTER TABLE attempts {checks}")
    else:
        # SQLite cannot add a constraint to a table: build the table anew and copy the rows over.
        _ddl(conn, f"""
CREATE TABLE posts_new (
    post_id VARCHAR(160) NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    kind VARCHAR(16) NOT NULL,
    article_key VARCHAR(100),
    tip INTEGER,
    template TEXT,
    variant INTEGER NOT NULL,
    text TEXT NOT NULL,
    parts JSON NOT NULL,
    media JSON NOT NULL,
    weighted_length INTEGER NOT NULL,
    fingerprint VARCHAR(64) NOT NULL,
    state VARCHAR(16) NOT NULL,
    position FLOAT NOT NULL,
    pinned_at {{ts}},
    next_attempt_at {{ts}},
    attempts INTEGER NOT NULL,
    uncertain BOOLEAN NOT NULL,
    slot_at {{ts}},
    claimed_by VARCHAR(80),
    claimed_at {{ts}},
    part_ids JSON NOT NULL,
    tweet_id VARCHAR(40),
    sent_at {{ts}},
    last_error TEXT,
    last_status INTEGER,
    created_at {{ts}} NOT NULL,
    updated_at {{ts}} NOT NULL,
    calendar_slot {{ts}},{M003_POST_CHECKS}
)

INSERT INTO posts_new ({M003_POST_COLUMNS}) SELECT {M003_POST_COLUMNS} FROM posts

DROP TABLE posts

ALTER TABLE posts_new RENAME TO posts

CREATE TABLE attempts_new (
    id INTEGER NOT NULL PRIMARY KEY,
    post_id VARCHAR(160) NOT NULL,
    account VARCHAR(64) NOT NULL,
    part INTEGER NOT NULL,
    instance VARCHAR(80) NOT NULL,
    started_at {{ts}} NOT NULL,
    finished_at {{ts}},
    outcome VARCHAR(16) NOT NULL,
    http_status INTEGER,
    detail TEXT,
    tweet_id VARCHAR(40),{M003_ATTEMPT_CHECKS}
)

INSERT INTO attempts_new ({M003_ATTEMPT_COLUMNS}) SELECT {M003_ATTEMPT_COLUMNS} FROM attempts

DROP TABLE attempts

ALTER TABLE attempts_new RENAME TO attempts

CREATE INDEX ix_attempts_post_id ON attempts (post_id)

CREATE INDEX ix_posts_queue ON posts (account, state, position)

CREATE INDEX ix_posts_article ON posts (account, article_key, tip)

CREATE INDEX ix_posts_fingerprint ON posts (account, fingerprint)

CREATE INDEX ix_posts_sent ON posts (account, state, sent_at)

CREATE INDEX ix_posts_pinned_at ON posts (account, pinned_at)

CREATE INDEX ix_posts_next_attempt_at ON posts (account, next_attempt_at)
""")
    _ddl(conn, """
CREATE UNIQUE INDEX ux_posts_calendar_slot ON posts (account, calendar_slot)

CREATE UNIQUE INDEX ux_posts_position ON posts (account, position)

CREATE TABLE post_transitions (
    from_state VARCHAR(16) NOT NULL,
    to_state VARCHAR(16) NOT NULL,
    PRIMARY KEY (from_state, to_state)
)
""")
    for from_state, to_state in M003_TRANSITIONS:
        conn.execute(sa.text("INSERT INTO post_transitions (from_state, to_state) VALUES (:a, :b)"),
                     {"a": from_state, "b": to_state})
    if conn.dialect.name == "postgresql":
        _ddl(conn, """
CREATE FUNCTION posts_state_transition() RETURNS trigger AS $$
BEGIN
    IF NEW.state <> OLD.state AND NOT EXISTS (
        SELECT 1 FROM post_transitions WHERE from_state = OLD.state AND to_state = NEW.state
    ) THEN
        RAISE EXCEPTION 'post %% may not go from %% to %%', OLD.post_id, OLD.state, NEW.state
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql

CREATE TRIGGER posts_state_transition BEFORE UPDATE OF state ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_state_transition()
""")
    else:
        _ddl(conn, """
CREATE TRIGGER posts_state_transition BEFORE UPDATE OF state ON posts
FOR EACH ROW WHEN NEW.state <> OLD.state AND NOT EXISTS (
    SELECT 1 FROM post_transitions WHERE from_state = OLD.state AND to_state = NEW.state
)
BEGIN
    SELECT RAISE(ABORT, 'post state transition not allowed by post_transitions');
END
""")


def _m003_repair(conn: Connection) -> None:
    """Bring rows written before the constraints existed within them, keeping every order and meaning."""
    # Removing a queued post used to delete it, leaving its attempts pointing at nothing.
    conn.exec_driver_sql("DELETE FROM attempts WHERE post_id NOT IN (SELECT post_id FROM posts)")
    conn.exec_driver_sql("UPDATE posts SET claimed_by = 'unknown' WHERE state = 'sending' AND claimed_by IS NULL")
    conn.exec_driver_sql("UPDATE posts SET next_attempt_at = updated_at WHERE state = 'retrying' "
                         "AND next_attempt_at IS NULL")
    # Repeated moves could tie positions: renumber a tied account's posts 1..n in their current order.
    tied = conn.exec_driver_sql(
        "SELECT DISTINCT account FROM posts GROUP BY account, position HAVING COUNT(*) > 1").scalars().all()
    for account in tied:
        ids = conn.execute(sa.text("SELECT post_id FROM posts WHERE account = :a ORDER BY position, post_id"),
                           {"a": account}).scalars().all()
        for rank, post_id in enumerate(ids, start=1):
            conn.execute(sa.text("UPDATE posts SET position = :p WHERE post_id = :id"), {"p": float(rank), "id": post_id})


def m004_feeds(conn: Connection) -> None:
    """Followed feeds and every entry seen in them. The entry's primary key is recorded in the
    transaction that imports it, so a crash, a restart or a second service never imports it twice."""
    _ddl(conn, """
CREATE TABLE feeds (
    account VARCHAR(64) NOT NULL,
    url VARCHAR(2000) NOT NULL,
    title TEXT,
    added_at {ts} NOT NULL,
    etag TEXT,
    last_modified TEXT,
    checked_at {ts},
    next_check_at {ts} NOT NULL,
    failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
    state VARCHAR(16) NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'failing')),
    last_error TEXT,
    PRIMARY KEY (account, url)
)

CREATE INDEX ix_feeds_due ON feeds (next_check_at)

CREATE TABLE feed_entries (
    account VARCHAR(64) NOT NULL,
    feed_url VARCHAR(2000) NOT NULL,
    entry_key VARCHAR(500) NOT NULL,
    outcome VARCHAR(16) NOT NULL CHECK (outcome IN ('imported', 'seen', 'skipped')),
    link TEXT,
    title TEXT,
    article_key VARCHAR(100),
    reason TEXT,
    recorded_at {ts} NOT NULL,
    PRIMARY KEY (account, feed_url, entry_key),
    FOREIGN KEY (account, feed_url) REFERENCES feeds (account, url) ON DELETE CASCADE,
    CHECK (outcome <> 'skipped' OR reason IS NOT NULL)
)
""")
