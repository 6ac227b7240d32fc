"""The later migrations (m008-m015): editing, the slot index, article metadata, plain post ids, the
lifecycle rule, review duties, web sessions, look-ups and operations."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.ddl import _ddl


def m008_editing(conn: Connection) -> None:
    """Editing by hand: when and how a person changed a post (an edited text is never overwritten by a re-import;
    a chosen variant is kept), and articles a person removed (imports skip them until restored)."""
    _ddl(conn, """
ALTER TABLE posts ADD COLUMN edited_at {ts}

ALTER TABLE posts ADD COLUMN edit_kind VARCHAR(16) CHECK (edit_kind IN ('text', 'variant'))

ALTER TABLE articles ADD COLUMN removed_at {ts}
""")


def m009_slot_index(conn: Connection) -> None:
    """m003 rebuilt the SQLite posts table and recreated its indexes, all but m002's ``ix_posts_slot_at``:
    every plan (published_since, consumed_slots) then scanned the whole ledger, ~60 ms more per preview
    on 100,000 posts. PostgreSQL kept it (m003 altered the table there)."""
    conn.execute(sa.text("CREATE INDEX IF NOT EXISTS ix_posts_slot_at ON posts (account, slot_at)"))


def m010_article_metadata(conn: Connection) -> None:
    """An article's front matter beyond what the scheduler uses (author, date, tags...), kept with it."""
    _ddl(conn, "ALTER TABLE articles ADD COLUMN metadata JSON")


def m011_plain_post_ids(conn: Connection) -> None:
    """The account holding the plain post ids (the others' end in "~" and their ledger key), recorded rather than
    taken from the order of [[accounts]]. A ledger that has posts already records the account of its oldest post
    with a plain id: the single [account], or the X account that was first when it imported."""
    _ddl(conn, """
CREATE TABLE plain_post_ids (
    slot INTEGER NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    recorded_at {ts} NOT NULL,
    CONSTRAINT ck_plain_post_ids_one_row CHECK (slot = 1),
    CONSTRAINT ck_plain_post_ids_account CHECK (account <> '')
)
""")
    conn.execute(sa.text(
        "INSERT INTO plain_post_ids (slot, account, recorded_at) "
        "SELECT 1, account, created_at FROM posts WHERE post_id NOT LIKE '%~%' ORDER BY created_at, post_id LIMIT 1"
    ))


def m013_web_sessions(conn: Connection) -> None:
    """Sign-in limits kept in the ledger (shared by every dashboard process, reserved before the password check),
    and an index to prune expired sessions by."""
    _ddl(conn, """
CREATE TABLE web_login_limits (
    limit_key VARCHAR(200) NOT NULL PRIMARY KEY,
    failures INTEGER NOT NULL,
    last_at {ts} NOT NULL,
    blocked_until {ts},
    CONSTRAINT ck_web_login_limits_failures CHECK (failures >= 0),
    CONSTRAINT ck_web_login_limits_key CHECK (limit_key <> '')
)

CREATE INDEX ix_web_sessions_expires ON web_sessions (expires_at)
""")


def m015_ops(conn: Connection) -> None:
    """Where each service instance runs (boot id and PID namespace): its pid is probed only on that machine, and a
    host name proves nothing (containers share names; other PID namespaces reuse pids)."""
    _ddl(conn, "ALTER TABLE instances ADD COLUMN machine VARCHAR(120)")


def m014_lookups(conn: Connection) -> None:
    """Failed look-ups of an uncertain post, counted, so they end (in ``unknown``) instead of repeating forever."""
    _ddl(conn, """
CREATE TABLE lookups (
    post_id VARCHAR(160) NOT NULL PRIMARY KEY,
    failures INTEGER NOT NULL,
    first_failed_at {ts} NOT NULL,
    last_failed_at {ts} NOT NULL,
    last_error TEXT NOT NULL,
    CONSTRAINT fk_lookups_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE CASCADE,
    CONSTRAINT ck_lookups_failures CHECK (failures >= 1),
    CONSTRAINT ck_lookups_times CHECK (last_failed_at >= first_failed_at)
)
""")


ROLES = ("editor", "reviewer", "admin")


def m012a_review_duties(conn: Connection) -> None:
    """Separation of duties in review: a role for every dashboard user and API token (those there already are
    admins, as they could do everything before), who last changed each post's text, reviewer links bound to
    a reviewer and to the posts (and their hashes) pending when issued, and the review requirement kept in
    the ledger per account rather than in each process's config."""
    roles = ", ".join(f"'{r}'" for r in ROLES)
    _ddl(conn, f"""
ALTER TABLE web_users ADD COLUMN role VARCHAR(16) DEFAULT 'admin' NOT NULL
    CONSTRAINT ck_web_users_role CHECK (role IN ({roles}))

ALTER TABLE web_tokens ADD COLUMN role VARCHAR(16) DEFAULT 'admin' NOT NULL
    CONSTRAINT ck_web_tokens_role CHECK (role IN ({roles}))

ALTER TABLE review_links ADD COLUMN reviewer TEXT

CREATE TABLE review_link_posts (
    link_id VARCHAR(32) NOT NULL,
    post_id VARCHAR(160) NOT NULL,
    content_hash VARCHAR(64) NOT NULL,
    PRIMARY KEY (link_id, post_id),
    CONSTRAINT fk_review_link_posts_link FOREIGN KEY (link_id) REFERENCES review_links (link_id) ON DELETE CASCADE
)

CREATE TABLE post_authors (
    post_id VARCHAR(160) NOT NULL PRIMARY KEY,
    account VARCHAR(64) NOT NULL,
    content_hash VARCHAR(64) NOT NULL,
    actor TEXT NOT NULL,
    at {{ts}} NOT NULL,
    CONSTRAINT fk_post_authors_post FOREIGN KEY (post_id) REFERENCES posts (post_id) ON DELETE CASCADE,
    CONSTRAINT ck_post_authors_actor CHECK (actor <> '')
)

CREATE TABLE review_requirements (
    account VARCHAR(64) NOT NULL PRIMARY KEY,
    required BOOLEAN NOT NULL,
    changed_at {{ts}} NOT NULL,
    changed_by TEXT NOT NULL
)
""")


def m012_lifecycle(conn: Connection) -> None:
    """The ledger refuses to change the text or parts of a post that may already be live (scheduler/domain/lifecycle.py
    states the rule; every writer asks it first): one handed to the network (not queued, retrying or removed),
    one whose last call lost its answer (uncertain), or a thread partly sent. A writer that forgot to ask (a
    re-import once did) cannot make the look-up search for a text that never went out, and send the post twice.

    And an index that covers evergreen's look at each tip's latest send (``Store.tips_sent_before``: grouped by
    tip over the whole history, in one pass over this index rather than the table)."""
    conn.execute(sa.text(
        "CREATE INDEX IF NOT EXISTS ix_posts_tip_sends ON posts (account, state, article_key, tip, sent_at)"))
    if conn.dialect.name == "postgresql":
        _ddl(conn, """
CREATE FUNCTION posts_content_frozen() RETURNS trigger AS $$
BEGIN
    IF (NEW.text IS DISTINCT FROM OLD.text OR NEW.parts::text IS DISTINCT FROM OLD.parts::text)
       AND (OLD.state NOT IN ('queued', 'retrying', 'removed') OR OLD.uncertain
            OR json_array_length(OLD.part_ids) > 0) THEN
        RAISE EXCEPTION 'post %% may already be live: its text may no longer change', OLD.post_id
            USING ERRCODE = 'check_violation';
    END IF;
    RETURN NEW;
END
$$ LANGUAGE plpgsql

CREATE TRIGGER posts_content_frozen BEFORE UPDATE OF text, parts ON posts
    FOR EACH ROW EXECUTE FUNCTION posts_content_frozen()
""")
    else:
        _ddl(conn, """
CREATE TRIGGER posts_content_frozen BEFORE UPDATE OF text, parts ON posts
FOR EACH ROW WHEN (NEW.text IS NOT OLD.text OR NEW.parts IS NOT OLD.parts)
    AND (OLD.state NOT IN ('queued', 'retrying', 'removed') OR OLD.uncertain
         OR json_array_length(OLD.part_ids) > 0)
BEGIN
    SELECT RAISE(ABORT, 'post may already be live: its text may no longer change');
END
""")
