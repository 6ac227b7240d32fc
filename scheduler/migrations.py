"""The ledger's schema, as an ordered list of small migrations.

Each migration runs once, inside the transaction that records it in ``schema_migrations``; the
store applies the missing ones whenever it opens. Never edit a migration that has shipped: add one.
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.store_types import UTCDateTime

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
    sa.Index("ix_posts_queue", "account", "state", "position"),
    sa.Index("ix_posts_fingerprint", "account", "fingerprint"),
    sa.Index("ix_posts_sent", "account", "state", "sent_at"),
    sa.Index("ix_posts_article", "account", "article_key", "tip"),
)

attempts = sa.Table(
    "attempts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("post_id", sa.String(160), nullable=False, index=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("part", sa.Integer, nullable=False),
    sa.Column("instance", sa.String(80), nullable=False),
    sa.Column("started_at", UTCDateTime, nullable=False),
    sa.Column("finished_at", UTCDateTime),
    # sending (in flight) | sent | reconciled | lost | retry | rate_limited | failed | auth | unknown | abandoned
    sa.Column("outcome", sa.String(16), nullable=False),
    sa.Column("http_status", sa.Integer),
    sa.Column("detail", sa.Text),
    sa.Column("tweet_id", sa.String(40)),
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
)


def m001_initial(conn: Connection) -> None:
    for table in (accounts, articles, posts, attempts, instances):
        table.create(conn, checkfirst=True)


def m002_time_indexes(conn: Connection) -> None:
    """Planning reads publications by slot time and the posts that carry a time of their own;
    without these, a ledger of 100,000 posts is scanned whole on every preview."""
    # Plain DDL: an sa.Index here would attach itself to the shared ``posts`` Table object.
    for column in ("slot_at", "pinned_at", "next_attempt_at"):
        conn.execute(sa.text(f"CREATE INDEX IF NOT EXISTS ix_posts_{column} ON posts (account, {column})"))


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


def m003_feeds(conn: Connection) -> None:
    """Followed feeds and every entry seen in them. The entry's primary key is recorded in the
    transaction that imports it, so a crash, a restart or a second service never imports it twice."""
    conn.execute(sa.text("""
        CREATE TABLE feeds (
            account VARCHAR(64) NOT NULL,
            url VARCHAR(2000) NOT NULL,
            title TEXT,
            added_at TIMESTAMP NOT NULL,
            etag TEXT,
            last_modified TEXT,
            checked_at TIMESTAMP,
            next_check_at TIMESTAMP NOT NULL,
            failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0),
            state VARCHAR(16) NOT NULL DEFAULT 'ok' CHECK (state IN ('ok', 'failing')),
            last_error TEXT,
            PRIMARY KEY (account, url)
        )"""))
    conn.execute(sa.text("CREATE INDEX ix_feeds_due ON feeds (next_check_at)"))
    conn.execute(sa.text("""
        CREATE TABLE feed_entries (
            account VARCHAR(64) NOT NULL,
            feed_url VARCHAR(2000) NOT NULL,
            entry_key VARCHAR(500) NOT NULL,
            outcome VARCHAR(16) NOT NULL CHECK (outcome IN ('imported', 'seen', 'skipped')),
            link TEXT,
            title TEXT,
            article_key VARCHAR(100),
            reason TEXT,
            recorded_at TIMESTAMP NOT NULL,
            PRIMARY KEY (account, feed_url, entry_key),
            FOREIGN KEY (account, feed_url) REFERENCES feeds (account, url) ON DELETE CASCADE,
            CHECK (outcome <> 'skipped' OR reason IS NOT NULL)
        )"""))


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("m001_initial", m001_initial),
    ("m002_time_indexes", m002_time_indexes),
    ("m003_feeds", m003_feeds),
]
