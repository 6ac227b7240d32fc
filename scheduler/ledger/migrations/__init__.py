"""The ledger's schema, as an ordered list of small migrations.

Each migration runs once, inside the transaction that records it in ``schema_migrations``; the
store applies the missing ones whenever it opens. Never edit a migration that has shipped: add one
(in the newest era's module, or a new one) and put it at the end of MIGRATIONS below.

The Table objects (tables.py, re-exported here: the store's modules query them as ``m.posts``)
describe the newest schema, for the store's queries. Migrations never use them: each is frozen DDL,
so a ledger created today and one migrated from the first release end up with the same schema,
whatever later migrations add. A migration that built tables from them would create columns that a
later migration then adds again.

    tables.py       the newest schema as Table objects
    ddl.py          running a block of frozen DDL
    m001_m004.py    posts, attempts, time indexes, invariants, feeds
    m005_m007.py    review, web access, publish keys
    m008_m015.py    editing, slot index, article metadata, plain post ids, lifecycle, review duties,
                    web sessions, look-ups, operations
    m016_insights.py metric readings and billed calls
    m017_metric_state.py where each sent post stands in its reading schedule, deleted parts, collection per account
    m018_wakeups.py  PostgreSQL: a notification on every change of an account's queue (wake-ups)
    m019_x_private_metrics.py X's link and profile clicks with each reading; the followers read billed
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.engine import Connection

from scheduler.ledger.migrations.m001_m004 import m001_initial, m002_time_indexes, m003_invariants, m004_feeds
from scheduler.ledger.migrations.m005_m007 import m005_review, m006_web_access, m007_publish_keys
from scheduler.ledger.migrations.m008_m015 import (
    m008_editing,
    m009_slot_index,
    m010_article_metadata,
    m011_plain_post_ids,
    m012_lifecycle,
    m012a_review_duties,
    m013_web_sessions,
    m014_lookups,
    m015_ops,
)
from scheduler.ledger.migrations.m016_insights import m016_insights
from scheduler.ledger.migrations.m017_metric_state import m017_metric_state
from scheduler.ledger.migrations.m018_wakeups import m018_wakeups
from scheduler.ledger.migrations.m019_x_private_metrics import m019_x_private_metrics
from scheduler.ledger.migrations.tables import (
    metadata,
    schema_migrations,
    accounts,
    articles,
    posts,
    attempts,
    post_transitions,
    instances,
    web_users,
    web_tokens,
    web_sessions,
    web_audit,
    web_login_limits,
    plain_post_ids,
    feeds,
    feed_entries,
    post_reviews,
    review_log,
    review_links,
    review_link_posts,
    post_authors,
    review_requirements,
    link_keys,
    notices,
    publish_keys,
    lookups,
    metric_readings,
    billed_calls,
    metric_posts,
    metric_deleted,
    metric_accounts,
)

__all__ = ["MIGRATIONS", "metadata", "schema_migrations", "accounts", "articles", "posts", "attempts", "post_transitions", "instances", "web_users", "web_tokens", "web_sessions", "web_audit", "web_login_limits", "plain_post_ids", "feeds", "feed_entries", "post_reviews", "review_log", "review_links", "review_link_posts", "post_authors", "review_requirements", "link_keys", "notices", "publish_keys", "lookups", "metric_readings", "billed_calls", "metric_posts", "metric_deleted", "metric_accounts"]


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
    ("m016_insights", m016_insights),
    ("m017_metric_state", m017_metric_state),
    ("m018_wakeups", m018_wakeups),
    ("m019_x_private_metrics", m019_x_private_metrics),
]
