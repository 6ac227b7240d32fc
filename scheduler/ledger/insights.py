"""The ledger's reads for insights and learning: sent posts with what made them (tip, wording, template), and
the newest reading of each part of each post.

Plain functions over a ``Store`` (they read only), so the store's class is left as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from scheduler.domain.metrics import MetricReading
from scheduler.domain.models import PostState
from scheduler.ledger import migrations as m


@dataclass(frozen=True)
class SentPost:
    """What a sent post was made of, for grouping its results."""

    post_id: str
    account: str
    kind: str  # tip | adhoc | recycle
    article_key: str | None
    tip: int | None
    template: str | None
    variant: int
    text: str
    sent_at: datetime  # aware UTC


_NAMES = ("post_id", "account", "kind", "article_key", "tip", "template", "variant", "text", "sent_at")
_POST_COLUMNS = tuple(m.posts.c[name].label(f"p_{name}") for name in _NAMES)


def _sent(row) -> SentPost:
    return SentPost(*(row._mapping[f"p_{name}"] for name in _NAMES))


def _reading(row) -> MetricReading:
    return MetricReading(post_id=row.post_id, account=row.account, network=row.network, remote_id=row.remote_id,
                         read_at=row.read_at, likes=row.likes, reposts=row.reposts, replies=row.replies,
                         quotes=row.quotes, impressions=row.impressions, bookmarks=row.bookmarks,
                         followers=row.followers, url_link_clicks=row.url_link_clicks,
                         user_profile_clicks=row.user_profile_clicks)


def sent_posts(store, account: str, *, since: datetime | None = None) -> list[SentPost]:
    """The account's sent posts (sent at or after ``since``), the newest first."""
    query = (sa.select(*_POST_COLUMNS)
             .where(m.posts.c.account == account, m.posts.c.state == PostState.SENT.value,
                    m.posts.c.sent_at.is_not(None))
             .order_by(m.posts.c.sent_at.desc(), m.posts.c.post_id))
    if since is not None:
        query = query.where(m.posts.c.sent_at >= since)
    with store._read() as conn:
        return [_sent(row) for row in conn.execute(query).all()]


def latest_part_readings(store, account: str) -> list[tuple[MetricReading, SentPost]]:
    """The newest reading of every part of the account's sent posts, each with its post: what evergreen's
    score reads (one row per part, however many readings the ledger holds)."""
    r = m.metric_readings
    newest = (sa.select(r.c.post_id, r.c.remote_id, sa.func.max(r.c.read_at).label("read_at"))
              .where(r.c.account == account).group_by(r.c.post_id, r.c.remote_id).subquery())
    query = (sa.select(r, *_POST_COLUMNS)
             .join(newest, sa.and_(r.c.post_id == newest.c.post_id, r.c.remote_id == newest.c.remote_id,
                                   r.c.read_at == newest.c.read_at))
             .join(m.posts, m.posts.c.post_id == r.c.post_id)
             .where(r.c.account == account, m.posts.c.state == PostState.SENT.value,
                    m.posts.c.sent_at.is_not(None))
             .order_by(r.c.post_id, r.c.remote_id))
    with store._read() as conn:
        rows = conn.execute(query).all()
    return [(_reading(row), _sent(row)) for row in rows]


def readings_mark(store, account: str) -> tuple[int, int | None]:
    """How many readings the account has and the newest one's id: readings are only ever added (a post's are
    deleted with it), so while this mark stands, whatever was learned from them stands too."""
    r = m.metric_readings
    with store._read() as conn:
        count, newest = conn.execute(sa.select(sa.func.count(), sa.func.max(r.c.id)).where(r.c.account == account)).one()
    return int(count), newest
