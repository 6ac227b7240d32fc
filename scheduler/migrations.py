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
    # Taken off with `scheduler articles remove` (m0xx_editing): imports skip it until it is restored.
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
    # A person changed it (m0xx_editing): when, and how ("text": never overwritten by a re-import; "variant": a
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


# Posts taken out of the queue by a person (m0xx_editing): a re-import does not queue them again, and
# `scheduler queue restore` puts them back from what is kept here.
removed_posts = sa.Table(
    "removed_posts",
    metadata,
    sa.Column("post_id", sa.String(160), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("article_key", sa.String(100)),
    sa.Column("tip", sa.Integer),
    sa.Column("removed_at", UTCDateTime, nullable=False),
    sa.Column("post", sa.Text, nullable=False),  # the post's content as JSON
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


def m0xx_editing(conn: Connection) -> None:
    """Editing the queue: hand edits that re-imports keep, removals that stay removed, removed articles."""
    # A ledger created from the Table objects above already has the new columns; older ones get them here.
    columns = {
        table: {column["name"] for column in sa.inspect(conn).get_columns(table)} for table in ("posts", "articles")
    }
    for table, column, ddl in (
        ("posts", "edited_at", "ALTER TABLE posts ADD COLUMN edited_at TIMESTAMP"),
        ("posts", "edit_kind", "ALTER TABLE posts ADD COLUMN edit_kind VARCHAR(16)"),
        ("articles", "removed_at", "ALTER TABLE articles ADD COLUMN removed_at TIMESTAMP"),
    ):
        if column not in columns[table]:
            conn.execute(sa.text(ddl))
    conn.execute(sa.text(
        "CREATE TABLE IF NOT EXISTS removed_posts ("
        " post_id VARCHAR(160) NOT NULL PRIMARY KEY,"
        " account VARCHAR(64) NOT NULL,"
        " article_key VARCHAR(100),"
        " tip INTEGER,"
        " removed_at TIMESTAMP NOT NULL,"
        " post TEXT NOT NULL)"
    ))
    conn.execute(sa.text(
        "CREATE INDEX IF NOT EXISTS ix_removed_posts_article ON removed_posts (account, article_key)"
    ))


MIGRATIONS: list[tuple[str, Callable[[Connection], None]]] = [
    ("m001_initial", m001_initial),
    ("m002_time_indexes", m002_time_indexes),
    ("m0xx_editing", m0xx_editing),
]
