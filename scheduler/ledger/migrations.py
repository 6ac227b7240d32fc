"""The ledger's schema, as an ordered list of small migrations.

Each migration runs once, inside the transaction that records it in ``schema_migrations``; the
store applies the missing ones whenever it opens. Never edit a migration that has shipped: add one.

The Table objects describe the newest schema, for the store's queries. Migrations never use them:
each is frozen DDL, so a ledger created today and one migrated from the first release end up with
the same schema, whatever later migrations add.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.ledger.types import UTCDateTime

metadata = sa.MetaData()

schema_migrations = sa.Table(
    "schema_migrations",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("applied_at", UTCDateTime, nullable=False),
)

accounts = sa.Table(
    "accounts",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("paused", sa.Boolean, nullable=False, default=False),
    sa.Column("pause_reason", sa.Text),
    sa.Column("paused_at", UTCDateTime),
    # Bumped by every change to the account's queue: the service re-plans when it moves.
    sa.Column("revision", sa.BigInteger, nullable=False, default=0),
)

articles = sa.Table(
    "articles",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("article_key", sa.String(100), primary_key=True),
    sa.Column("title", sa.Text, nullable=False),
    sa.Column("url", sa.Text),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    # The tips as imported ([{number, headline, body}]): evergreen recycling composes from them.
    sa.Column("tips", sa.JSON, nullable=False),
    sa.Column("hashtags", sa.JSON, nullable=False),
    sa.Column("imported_at", UTCDateTime, nullable=False),
    # Front matter the scheduler does not use itself (author, date, tags...), as the blog wrote it (m010).
    sa.Column("metadata", sa.JSON),
    # Taken off with `scheduler articles remove` (m008_editing): imports skip it until it is restored.
    sa.Column("removed_at", UTCDateTime),
)

posts = sa.Table(
    "posts",
    metadata,
    sa.Column("post_id", sa.String(160), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # tip | adhoc | recycle
    sa.Column("article_key", sa.String(100)),
    sa.Column("tip", sa.Integer),
    sa.Column("template", sa.Text),
    sa.Column("variant", sa.Integer, nullable=False, default=0),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("parts", sa.JSON, nullable=False),  # every text to send; more than one = a thread
    sa.Column("media", sa.JSON, nullable=False),
    sa.Column("weighted_length", sa.Integer, nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("position", sa.Float, nullable=False),
    sa.Column("pinned_at", UTCDateTime),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("attempts", sa.Integer, nullable=False, default=0),
    # An attempt's response was lost: look the post up on X before any new attempt.
    sa.Column("uncertain", sa.Boolean, nullable=False, default=False),
    sa.Column("slot_at", UTCDateTime),
    sa.Column("claimed_by", sa.String(80)),
    sa.Column("claimed_at", UTCDateTime),
    sa.Column("part_ids", sa.JSON, nullable=False),  # X ids of the parts already sent, in order
    sa.Column("tweet_id", sa.String(40)),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
    sa.Column("last_status", sa.Integer),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    # The calendar slot it was claimed for (unique per account: m003); None for pins and ad-hoc sends.
    sa.Column("calendar_slot", UTCDateTime),
    # A person changed it (m008_editing): when, and how ("text": never overwritten by a re-import; "variant": a
    # template variant chosen, kept when the article is composed again).
    sa.Column("edited_at", UTCDateTime),
    sa.Column("edit_kind", sa.String(16)),
    sa.Index("ix_posts_queue", "account", "state", "position"),
    sa.Index("ix_posts_fingerprint", "account", "fingerprint"),
    sa.Index("ix_posts_sent", "account", "state", "sent_at"),
    sa.Index("ix_posts_article", "account", "article_key", "tip"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id"), nullable=False, index=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("instance", sa.String(80), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    # sending (in flight) | sent | reconciled | lost | retry | rate_limited | failed | auth | unknown | abandoned
    # | duplicate | resolved (the CHECK in m003 lists them)
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("detail", sa.Text),
    sa.Column("tweet_id", sa.String(40)),
)

post_transitions = sa.Table(
    "post_transitions",
    metadata,
    sa.Column("from_state", sa.String(16), primary_key=True),
    sa.Column("to_state", sa.String(16), primary_key=True),
)

instances = sa.Table(
    "instances",
    metadata,
    sa.Column("instance", sa.String(80), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("host", sa.String(255), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("beat_at", UTCDateTime, nullable=False),
    sa.Column("stopped_at", UTCDateTime),
    sa.Column("last_outcome", sa.Text),
    sa.Column("machine", sa.String(120)),  # m015: boot id and PID namespace of the process (liveness.this_machine)
)


# The dashboard (scheduler.web): who may sign in, API tokens, open sessions, and the record of every change
# made through the web. Secrets are stored only as hashes (passwords: scrypt; tokens and sessions: SHA-256 of
# 256 random bits, which no search can invert).
web_users = sa.Table(
    "web_users",
    metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("password_hash", sa.Text, nullable=False),
    sa.Column("updated_at", UTCDateTime, nullable=False),
    sa.Column("role", sa.String(16), nullable=False, default="admin"),  # editor | reviewer | admin (m012a)
)

web_tokens = sa.Table(
    "web_tokens",
    metadata,
    sa.Column("token_id", sa.String(16), primary_key=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("last_used_at", UTCDateTime),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("role", sa.String(16), nullable=False, default="admin"),  # editor | reviewer | admin (m012a)
)

web_sessions = sa.Table(
    "web_sessions",
    metadata,
    sa.Column("session_hash", sa.String(64), primary_key=True),
    sa.Column("username", sa.String(64), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Index("ix_web_sessions_expires", "expires_at"),
)

web_audit = sa.Table(
    "web_audit",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.String(120), nullable=False),
    sa.Column("action", sa.String(40), nullable=False),
    sa.Column("post_id", sa.String(160)),
    sa.Column("detail", sa.Text),
    sa.Index("ix_web_audit_account", "account", "id"),
)

# Sign-in attempts per client address ("ip:ADDRESS") and per user name ("user:NAME") (m013): each attempt is
# counted here before its password is checked, in one transaction every dashboard process shares; past a few
# failures the key is blocked until ``blocked_until`` (exponential back-off; scheduler.app.access).
web_login_limits = sa.Table(
    "web_login_limits",
    metadata,
    sa.Column("limit_key", sa.String(200), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("last_at", UTCDateTime, nullable=False),
    sa.Column("blocked_until", UTCDateTime),
)

# Which account's post ids carry no "~KEY" suffix (m011): recorded once, so that reordering [[accounts]] or adding
# an X account before the first never changes an existing account's ids (a re-import would queue duplicates).
plain_post_ids = sa.Table(
    "plain_post_ids",
    metadata,
    sa.Column("slot", sa.Integer, primary_key=True),  # always 1: one row at most
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)


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


# Migrations are frozen DDL: they never read the Table objects above, which describe the newest schema.
# A migration that built tables from them would create columns that a later migration then adds again.

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


# -- followed feeds (issue 13) ----------------------------------------------------------------

feeds = sa.Table(
    "feeds",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("url", sa.String(2000), primary_key=True),
    sa.Column("title", sa.Text),
    sa.Column("added_at", UTCDateTime, nullable=False),
    sa.Column("etag", sa.Text),
    sa.Column("last_modified", sa.Text),
    sa.Column("checked_at", UTCDateTime),
    sa.Column("next_check_at", UTCDateTime, nullable=False),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # ok | failing
    sa.Column("last_error", sa.Text),
)

# One row per (feed, entry) ever seen: the UNIQUE key that makes each entry's import happen once.
feed_entries = sa.Table(
    "feed_entries",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("feed_url", sa.String(2000), primary_key=True),
    sa.Column("entry_key", sa.String(500), primary_key=True),
    sa.Column("outcome", sa.String(16), nullable=False),  # imported | seen | skipped
    sa.Column("link", sa.Text),
    sa.Column("title", sa.Text),
    sa.Column("article_key", sa.String(100)),
    sa.Column("reason", sa.Text),
    sa.Column("recorded_at", UTCDateTime, nullable=False),
)


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


# -- review before publishing (issue 12) ---------------------------------------------------------

# The approval of a post: the content hash a reviewer approved (content_hash.py). The hash of what
# is there now is never stored: readers recompute it, so any change of the post voids the approval.
post_reviews = sa.Table(
    "post_reviews",
    metadata,
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("approved_hash", sa.String(64)),
    sa.Column("approved_by", sa.Text),
    sa.Column("approved_at", UTCDateTime),
    # Changes requested for exactly this content: the post goes back to its author until it changes.
    sa.Column("rejected_hash", sa.String(64)),
    sa.Column("rejected_by", sa.Text),
    sa.Column("rejected_at", UTCDateTime),
    sa.Column("comment", sa.Text),
)

# Every decision, append-only: the database refuses UPDATE and DELETE (triggers in m005).
review_log = sa.Table(
    "review_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # approved | changes requested | link created | ...
    sa.Column("post_id", sa.String(160)),
    sa.Column("content_hash", sa.String(64)),
    sa.Column("parts", sa.JSON),  # the exact text decided on
    sa.Column("media", sa.JSON),
    sa.Column("comment", sa.Text),
    sa.Column("findings", sa.JSON),  # content-rule findings shown to the reviewer
)

review_links = sa.Table(
    "review_links",
    metadata,
    sa.Column("link_id", sa.String(32), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("purpose", sa.String(16), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("expires_at", UTCDateTime, nullable=False),
    sa.Column("revoked_at", UTCDateTime),
    sa.Column("used_at", UTCDateTime),
    sa.Column("reviewer", sa.Text),  # who it was issued to (m012a); NULL: a link made before, which covers nothing
)

# The posts a reviewer link covers, as they were when it was issued (m012a): it can decide on nothing else.
review_link_posts = sa.Table(
    "review_link_posts",
    metadata,
    sa.Column("link_id", sa.String(32), sa.ForeignKey("review_links.link_id", ondelete="CASCADE"),
              primary_key=True),
    sa.Column("post_id", sa.String(160), primary_key=True),
    sa.Column("content_hash", sa.String(64), nullable=False),
)

# Who last changed a post's text, and the content hash it then had (m012a): separation of duties.
post_authors = sa.Table(
    "post_authors",
    metadata,
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("content_hash", sa.String(64), nullable=False),
    sa.Column("actor", sa.Text, nullable=False),
    sa.Column("at", UTCDateTime, nullable=False),
)

# Whether the account's posts need review, recorded in the ledger (m012a): every process on it obeys it.
review_requirements = sa.Table(
    "review_requirements",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("required", sa.Boolean, nullable=False),
    sa.Column("changed_at", UTCDateTime, nullable=False),
    sa.Column("changed_by", sa.Text, nullable=False),
)

# The key that signs reviewer links: one row, made on first use.
link_keys = sa.Table(
    "link_keys",
    metadata,
    sa.Column("key_id", sa.Integer, primary_key=True),
    sa.Column("secret", sa.String(128), nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
)

# Notices to reviewers and authors, one row per (fact, channel): an outbox delivered apart from
# publishing, retried with backoff. The unique key makes each fact told once per channel.
notices = sa.Table(
    "notices",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),  # awaiting review | missed slot | changes requested
    sa.Column("channel", sa.String(16), nullable=False),  # email | webhook
    sa.Column("dedupe_key", sa.String(400), nullable=False),
    sa.Column("payload", sa.JSON, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # pending | sent | failed
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("created_at", UTCDateTime, nullable=False),
    sa.Column("next_attempt_at", UTCDateTime),
    sa.Column("sent_at", UTCDateTime),
    sa.Column("last_error", sa.Text),
)

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


# The idempotency key of each part of a post, chosen before its first attempt and kept for every later
# one: a Bluesky record key, a Mastodon Idempotency-Key (X has none: no row). Unique across the ledger,
# so a key can never settle another post's outcome.
publish_keys = sa.Table(
    "publish_keys",
    metadata,
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("part", sa.Integer, primary_key=True),
    sa.Column("publish_key", sa.String(100), nullable=False, unique=True),
    sa.Column("created_at", UTCDateTime, nullable=False),
)


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




# Failed look-ups of a post whose outcome is uncertain (one row while they fail; gone once one succeeds or a person
# settles the post): the engine spaces them, honours the network's reset time, and after
# [publisher] lookup_max_failures or lookup_give_up_after leaves the post ``unknown`` for a person.
lookups = sa.Table(
    "lookups",
    metadata,
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("failures", sa.Integer, nullable=False),
    sa.Column("first_failed_at", UTCDateTime, nullable=False),
    sa.Column("last_failed_at", UTCDateTime, nullable=False),
    sa.Column("last_error", sa.Text, nullable=False),
)


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


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("m001_initial", m001_initial),
    ("m002_time_indexes", m002_time_indexes),
    ("m003_invariants", m003_invariants),
    ("m004_feeds", m004_feeds),
    ("m005_review", m005_review),
    ("m006_web_access", m006_web_access),
    ("m007_publish_keys", m007_publish_keys),
    ("m008_editing", m008_editing),
    ("m009_slot_index", m009_slot_index),
    ("m010_article_metadata", m010_article_metadata),
    ("m011_plain_post_ids", m011_plain_post_ids),
    ("m012_lifecycle", m012_lifecycle),
    ("m012a_review_duties", m012a_review_duties),
    ("m013_web_sessions", m013_web_sessions),
    ("m014_lookups", m014_lookups),
    ("m015_ops", m015_ops),
]
