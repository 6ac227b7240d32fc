"""The ledger's part for articles and imports: an article's posts merged into the queue, articles taken out and put back.

A mixin of ``Store`` (one facade, SQL split by aggregate)."""

from __future__ import annotations


from collections.abc import Sequence
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from scheduler.domain.import_merge import Merge, merge_gone, merge_post
from scheduler.ledger import migrations as m
from scheduler.domain.errors import QueueError
from scheduler.domain.models import PostState
from scheduler.ledger.feeds import FeedEntry
from scheduler.ledger.records import ArticleImport, ArticleSummary, ImportReport, PENDING, _json, _json_safe


class ArticlesLedger:
    def import_article(self, account: str, *, now: datetime, **fields) -> ImportReport:
        """Add or update one article's posts (see ``import_articles``)."""
        return self.import_articles(account, [ArticleImport(**fields)], now)[0]

    def import_articles(self, account: str, items: Sequence[ArticleImport], now: datetime, *,
                        feed_entry: tuple[str, FeedEntry] | None = None) -> list[ImportReport]:
        """Add or update articles' posts, all in one transaction: a failure leaves the ledger as it was.

        Unsent posts follow the article's new text; sent ones stay as history; tips that
        disappeared lose their unsent posts. ``feed_entry`` (feed URL, entry): record that entry
        as imported in the same transaction; ``store_feeds.AlreadyRecorded`` (nothing imported)
        if it was recorded before.
        """
        with self.engine.begin() as conn:
            if feed_entry is not None:
                self._insert_entry(conn, account, feed_entry[0], feed_entry[1], now)
            self._ensure_account(conn, account)
            self._lock_queue(conn, account)  # first: before any article's _bump holds the account's row
            return [self._import_one(conn, account, item, now) for item in items]

    def _import_one(self, conn: Connection, account: str, item: ArticleImport, now: datetime) -> ImportReport:
        article_row = {
            "title": item.title,
            "url": item.url,
            "source": item.source,
            "fingerprint": item.fingerprint,
            "tips": list(item.tips),
            "hashtags": list(item.hashtags),
            "imported_at": now,
            "metadata": _json_safe(item.metadata or {}),
        }
        exists = conn.execute(
            sa.select(m.articles.c.article_key, m.articles.c.removed_at, m.articles.c.tips).where(
                m.articles.c.account == account, m.articles.c.article_key == item.article_key
            )
        ).first()
        if exists and exists.removed_at is not None:
            # Removed by a person: it stays out until `scheduler articles restore`.
            return ImportReport((), (), (), (), (), article_removed=True)
        if exists:
            conn.execute(
                m.articles.update()
                .where(m.articles.c.account == account, m.articles.c.article_key == item.article_key)
                .values(**article_row)
            )
        else:
            conn.execute(m.articles.insert().values(account=account, article_key=item.article_key, **article_row))

        # Locked (PostgreSQL; SQLite's writer lock covers it): a publisher cannot claim one of these, or mark it
        # uncertain, between the look below at whether it may change and the write.
        current = {
            row.post_id: row
            for row in conn.execute(
                sa.select(m.posts).where(
                    m.posts.c.account == account,
                    m.posts.c.article_key == item.article_key,
                    m.posts.c.kind == "tip",
                ).with_for_update()
            )
        }
        before = {tip["number"]: tip for tip in _json(exists.tips)} if exists else {}
        after = {tip["number"]: tip for tip in item.tips}

        def tip_changed(number: int | None) -> bool:
            return before.get(number) != after.get(number)

        report: dict[str, list[str]] = {name: [] for name in (
            "added", "updated", "unchanged", "removed", "kept_sent", "kept_edit", "kept_removed", "kept_live")}
        position = self._end_position(conn, account)
        for post in item.posts:
            row = current.pop(post.post_id, None)
            same = row is not None and row.text == post.text and tuple(_json(row.parts)) == post.parts
            action = merge_post(row, same=same, tip_changed=tip_changed(post.tip))
            if action is Merge.ADD:
                position += 1
                self._check_duplicate(conn, account, post.text, now, window=None, ignore=())
                conn.execute(m.posts.insert().values(**self._new_row(account, post, position, now)))
            elif action is Merge.REFRESH_REMOVED:
                conn.execute(
                    m.posts.update()
                    .where(m.posts.c.post_id == post.post_id, m.posts.c.state == PostState.REMOVED.value)
                    .values(**self._content_values(post), updated_at=now)
                )
            elif action is Merge.UPDATE:
                conn.execute(
                    m.posts.update()
                    .where(m.posts.c.post_id == post.post_id, m.posts.c.state.in_(PENDING))
                    .values(**self._content_values(post), updated_at=now)
                )
            if action.report:
                report[action.report].append(post.post_id)
        for post_id, row in current.items():
            action = merge_gone(row)
            if action is Merge.REMOVE:
                tried = conn.execute(sa.select(m.attempts.c.id).where(m.attempts.c.post_id == post_id).limit(1)).first()
                gone = m.posts.delete() if tried is None else m.posts.update().values(
                    state=PostState.REMOVED.value, slot_at=None, calendar_slot=None, next_attempt_at=None,
                    updated_at=now)
                conn.execute(gone.where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING)))
            if action.report:
                report[action.report].append(post_id)
        added, updated, removed = report["added"], report["updated"], report["removed"]
        if added or updated or removed:
            self._bump(conn, account)
        return ImportReport(tuple(added), tuple(updated), tuple(report["unchanged"]), tuple(removed),
                            tuple(report["kept_sent"]), tuple(report["kept_edit"]), tuple(report["kept_removed"]),
                            kept_live=tuple(report["kept_live"]))

    def article_keys(self, account: str) -> dict[str, str]:
        """Every article the ledger knows for the account, removed ones too: key -> the source it came from."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.articles.c.article_key, m.articles.c.source).where(m.articles.c.account == account)
            ).all()
        return {row.article_key: row.source for row in rows}

    def chosen_variants(self, account: str) -> dict[str, dict[int, int]]:
        """Template variants a person chose for unsent posts, by article and tip: re-imports keep them."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts.c.article_key, m.posts.c.tip, m.posts.c.variant).where(
                    m.posts.c.account == account,
                    m.posts.c.kind == "tip",
                    m.posts.c.edit_kind == "variant",
                    m.posts.c.state.in_(PENDING),
                )
            ).all()
        chosen: dict[str, dict[int, int]] = {}
        for row in rows:
            chosen.setdefault(row.article_key, {})[row.tip] = row.variant
        return chosen

    def remove_article(self, account: str, article_key: str, now: datetime) -> list[str]:
        """Take an article's waiting posts out of the queue (as ``remove`` does, one by one) and keep later
        imports from adding them; sent ones stay as history. Returns the posts taken out."""
        with self.engine.begin() as conn:
            self._article_row(conn, account, article_key, "remove")
            rows = conn.execute(
                sa.select(m.posts.c.post_id, m.posts.c.uncertain).where(
                    m.posts.c.account == account, m.posts.c.article_key == article_key, m.posts.c.state.in_(PENDING)
                ).order_by(m.posts.c.position)
            ).all()
            taken = [row.post_id for row in rows if not row.uncertain]  # an uncertain one may be live: settled first
            if taken:
                conn.execute(
                    m.posts.update().where(m.posts.c.post_id.in_(taken), m.posts.c.state.in_(PENDING))
                    .values(state=PostState.REMOVED.value, slot_at=None, calendar_slot=None, next_attempt_at=None,
                            updated_at=now)
                )
            conn.execute(
                m.articles.update()
                .where(m.articles.c.account == account, m.articles.c.article_key == article_key)
                .values(removed_at=now)
            )
            self._bump(conn, account)
        return taken

    def restore_article(self, account: str, article_key: str, now: datetime) -> list[str]:
        """Undo ``remove_article``: imports take the article again, and its removed posts go back in their places."""
        with self.engine.begin() as conn:
            self._article_row(conn, account, article_key, "restore")
            rows = conn.execute(
                sa.select(m.posts.c.post_id, m.posts.c.text).where(
                    m.posts.c.account == account, m.posts.c.article_key == article_key,
                    m.posts.c.state == PostState.REMOVED.value,
                ).order_by(m.posts.c.position)
            ).all()
            for row in rows:
                self._check_duplicate(conn, account, row.text, now, window=None, ignore=(row.post_id,))
            if rows:
                conn.execute(
                    m.posts.update()
                    .where(m.posts.c.post_id.in_([row.post_id for row in rows]),
                           m.posts.c.state == PostState.REMOVED.value)
                    .values(state=PostState.QUEUED.value, attempts=0, updated_at=now)
                )
            conn.execute(
                m.articles.update()
                .where(m.articles.c.account == account, m.articles.c.article_key == article_key)
                .values(removed_at=None)
            )
            self._bump(conn, account)
        return [row.post_id for row in rows]

    def _article_row(self, conn: Connection, account: str, article_key: str, verb: str):
        row = conn.execute(
            sa.select(m.articles).where(m.articles.c.account == account, m.articles.c.article_key == article_key)
        ).first()
        if row is None:
            raise QueueError(f"cannot {verb} article {article_key!r}: no such article; `scheduler articles list` shows them")
        return row

    def articles(self, account: str) -> list[ArticleSummary]:
        """Every article imported for the account, with its posts counted by state."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.articles).where(m.articles.c.account == account).order_by(m.articles.c.article_key)
            ).all()
            counts: dict[str, dict[str, int]] = {}
            for key, state, count in conn.execute(
                sa.select(m.posts.c.article_key, m.posts.c.state, sa.func.count())
                .where(m.posts.c.account == account, m.posts.c.article_key.is_not(None))
                .group_by(m.posts.c.article_key, m.posts.c.state)
            ):
                counts.setdefault(key, {})[state] = count
        return [
            ArticleSummary(r.article_key, r.title, r.url, r.source, r.imported_at, r.removed_at,
                           counts.get(r.article_key, {}), _json(r.metadata) or {})
            for r in rows
        ]

    def article(self, account: str, article_key: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(m.articles).where(m.articles.c.account == account, m.articles.c.article_key == article_key)
            ).first()
        if row is None:
            return None
        return {**row._mapping, "tips": _json(row.tips), "hashtags": _json(row.hashtags),
                "metadata": _json(row.metadata) or {}}
