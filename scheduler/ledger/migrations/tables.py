"""The newest schema, as SQLAlchemy Table objects, for the store's queries.

Migrations never use these (each migration is frozen DDL): a change to the schema is a new migration and,
when the queries need it, a matching change here.
"""

from __future__ import annotations

import sqlalchemy as sa

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


metric_readings = sa.Table(
    "metric_readings",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="CASCADE"), nullable=False),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("network", sa.String(16), nullable=False),
    sa.Column("remote_id", sa.String(300), nullable=False),  # one part's id as posts.part_ids holds it (X id, Bluesky record key, Mastodon status id)
    sa.Column("read_at", UTCDateTime, nullable=False),
    sa.Column("impressions", sa.Integer),  # X only; None where the network gives none
    sa.Column("likes", sa.Integer, nullable=False),
    sa.Column("reposts", sa.Integer, nullable=False),
    sa.Column("replies", sa.Integer, nullable=False),
    sa.Column("quotes", sa.Integer, nullable=False),
    sa.Column("bookmarks", sa.Integer),
    sa.Column("followers", sa.Integer),  # the account's followers at the time of the reading, where known
    # m019: X's non_public_metrics (own posts under 30 days, user-context auth); None where X gave none.
    sa.Column("url_link_clicks", sa.Integer),
    sa.Column("user_profile_clicks", sa.Integer),
)


billed_calls = sa.Table(
    "billed_calls",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("network", sa.String(16), nullable=False),
    sa.Column("kind", sa.String(24), nullable=False),  # post | post_with_link | metric_read | lookup_read | user_read
    sa.Column("units", sa.Integer, nullable=False),  # resources billed (posts read, posts created)
    sa.Column("price_micro_usd", sa.BigInteger, nullable=False),  # the whole call's price, in millionths of a dollar
    sa.Column("at", UTCDateTime, nullable=False),
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="SET NULL")),
)


# m017: where each sent post stands in its schedule of metric readings (domain/metric_schedule.py tests read_age_s).
metric_posts = sa.Table(
    "metric_posts",
    metadata,
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("read_at", UTCDateTime),  # its newest reading
    sa.Column("read_age_s", sa.BigInteger),  # read_at - sent_at, whole seconds: the offsets that reading covers
    sa.Column("gone_at", UTCDateTime),  # every part deleted on the network: never read again
)


# A part the network says no longer exists, recorded once.
metric_deleted = sa.Table(
    "metric_deleted",
    metadata,
    sa.Column("post_id", sa.String(160), sa.ForeignKey("posts.post_id", ondelete="CASCADE"), primary_key=True),
    sa.Column("remote_id", sa.String(300), primary_key=True),
    sa.Column("account", sa.String(64), nullable=False),
    sa.Column("deleted_at", UTCDateTime, nullable=False),
)


# Each account's collection: paused by a refused token (publishing goes on), waiting for a 429's reset or after
# failures, and the service collecting it now (a lease: two services on one ledger never read one account twice).
metric_accounts = sa.Table(
    "metric_accounts",
    metadata,
    sa.Column("account", sa.String(64), primary_key=True),
    sa.Column("paused_at", UTCDateTime),
    sa.Column("pause_reason", sa.Text),
    sa.Column("wait_until", UTCDateTime),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
    sa.Column("last_error", sa.Text),
    sa.Column("collector", sa.String(80)),
    sa.Column("lease_until", UTCDateTime),
)
