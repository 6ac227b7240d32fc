"""The ledger: the one module that speaks SQL.

Everything the program knows lives here: queued posts, their state machine, every attempt to
publish them, pause state, and the heartbeats of running services. The ledger, not the
scheduler's memory, is the truth: a service that dies and restarts reads where it was from here.

State machine of a post (see models.PostState)::

    queued --claim--> sending --> sent
      ^                 |  \\--> failed   (permanent, with reason)
      |                 |   \\-> unknown  (outcome lost and not verifiable: a person decides)
      +---- retrying <--+      (transient error, rate limit, or a lost response to look up)

Taking a post is one conditional UPDATE (``state IN (queued, retrying)``), so two publishers on
one ledger can never both send it. Every later transition is conditional on ``state = sending
AND claimed_by = <this instance>``: a publisher that lost its claim cannot overwrite anything.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, nullcontext
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scheduler import migrations as m
from scheduler.errors import DuplicateError, QueueError, StoreError
from scheduler.models import PostState, QueuedPost, text_fingerprint
from scheduler.store_feeds import FeedEntry, FeedLedger
from scheduler.store_lookups import LookupLedger, forget_lookups
from scheduler.store_review import ReviewLedger
from scheduler.store_types import UTCDateTime
from scheduler.store_web import WebLedger

PENDING = (PostState.QUEUED.value, PostState.RETRYING.value)
# The advisory-lock key space of queue positions (two-int keys: (this, hash of the account)); the single-key
# space holds the migration lock (727274), which two-int keys never meet.
_QUEUE_LOCKS = 727275
_THIS_MACHINE: Any = object()  # Store.beat's default: the machine the calling process runs on


@dataclass(frozen=True)
class NewPost:
    post_id: str
    kind: str  # tip | adhoc | recycle
    text: str
    parts: tuple[str, ...]
    weighted_length: int
    article_key: str | None = None
    tip: int | None = None
    template: str | None = None
    variant: int = 0
    media: tuple[str, ...] = ()
    pinned_at: datetime | None = None


@dataclass(frozen=True)
class ArticleImport:
    article_key: str
    title: str
    url: str | None
    source: str
    fingerprint: str
    tips: Sequence[dict]
    posts: Sequence[NewPost]
    hashtags: Sequence[str] = ()
    metadata: dict | None = None  # front matter the scheduler does not use (author, date, tags...)


@dataclass(frozen=True)
class ImportReport:
    added: tuple[str, ...]
    updated: tuple[str, ...]
    unchanged: tuple[str, ...]
    removed: tuple[str, ...]
    kept_sent: tuple[str, ...]  # sent posts whose tip changed: left as history
    kept_edit: tuple[str, ...] = ()  # posts a person edited: their text stays as edited
    kept_removed: tuple[str, ...] = ()  # posts a person removed from the queue: they stay removed
    article_removed: bool = False  # the article was removed with `articles remove`: nothing was imported


@dataclass(frozen=True)
class ArticleSummary:
    article_key: str
    title: str
    url: str | None
    source: str
    imported_at: datetime
    removed_at: datetime | None
    counts: dict[str, int]  # its posts, by state ("removed": taken out of the queue by a person)
    metadata: dict = None  # type: ignore[assignment]  # front matter kept as the blog wrote it


@dataclass(frozen=True)
class PostRecord:
    """A full ledger row, for history, status and the publishing engine."""

    post_id: str
    account: str
    kind: str
    article_key: str | None
    tip: int | None
    template: str | None
    variant: int
    text: str
    parts: tuple[str, ...]
    media: tuple[str, ...]
    weighted_length: int
    state: PostState
    position: float
    pinned_at: datetime | None
    next_attempt_at: datetime | None
    attempts: int
    uncertain: bool
    slot_at: datetime | None
    claimed_by: str | None
    claimed_at: datetime | None
    part_ids: tuple[str, ...]
    tweet_id: str | None
    sent_at: datetime | None
    last_error: str | None
    last_status: int | None
    created_at: datetime
    updated_at: datetime
    edited_at: datetime | None = None  # when a person last changed it
    edit_kind: str | None = None  # "text" (kept by re-imports) or "variant" (a template chosen)

    def as_queued(self) -> QueuedPost:
        return QueuedPost(
            post_id=self.post_id,
            account=self.account,
            text=self.text,
            parts=self.parts,
            weighted_length=self.weighted_length,
            state=self.state,
            position=self.position,
            article_key=self.article_key,
            tip=self.tip,
            pinned_at=self.pinned_at,
            next_attempt_at=self.next_attempt_at,
            template=self.template,
            variant=self.variant,
            media=self.media,
        )


@dataclass(frozen=True)
class AttemptRecord:
    id: int
    post_id: str
    part: int
    instance: str
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    http_status: int | None
    detail: str | None
    tweet_id: str | None


@dataclass(frozen=True)
class AccountState:
    account: str
    paused: bool
    pause_reason: str | None
    paused_at: datetime | None
    revision: int


@dataclass(frozen=True)
class InstanceRecord:
    instance: str
    pid: int
    host: str
    started_at: datetime
    beat_at: datetime
    stopped_at: datetime | None
    last_outcome: str | None
    machine: str | None = None  # where it ran (liveness.this_machine()), when it recorded that
    server_age: timedelta | None = None  # its heartbeat's age on the database's clock (PostgreSQL), read with it

    def age(self, now: datetime) -> timedelta:
        """How old the last heartbeat is: on the database's clock when the ledger has one (PostgreSQL, which
        also wrote it), else ``now`` (this machine's clock, which wrote it on SQLite)."""
        return self.server_age if self.server_age is not None else now - self.beat_at


def _record(row) -> PostRecord:
    return PostRecord(
        post_id=row.post_id,
        account=row.account,
        kind=row.kind,
        article_key=row.article_key,
        tip=row.tip,
        template=row.template,
        variant=row.variant,
        text=row.text,
        parts=tuple(_json(row.parts)),
        media=tuple(_json(row.media)),
        weighted_length=row.weighted_length,
        state=PostState(row.state),
        position=row.position,
        pinned_at=row.pinned_at,
        next_attempt_at=row.next_attempt_at,
        attempts=row.attempts,
        uncertain=bool(row.uncertain),
        slot_at=row.slot_at,
        claimed_by=row.claimed_by,
        claimed_at=row.claimed_at,
        part_ids=tuple(_json(row.part_ids)),
        tweet_id=row.tweet_id,
        sent_at=row.sent_at,
        last_error=row.last_error,
        last_status=row.last_status,
        created_at=row.created_at,
        updated_at=row.updated_at,
        edited_at=row.edited_at,
        edit_kind=row.edit_kind,
    )


# What the planner reads of a pending post (QueuedPost's fields), and nothing more.
_QUEUED_COLUMNS = tuple(getattr(m.posts.c, name) for name in (
    "post_id", "account", "text", "parts", "weighted_length", "state", "position", "article_key", "tip",
    "pinned_at", "next_attempt_at", "template", "variant", "media"))
# Publications: sent, being sent, or sent with the outcome unknown.
_PUBLISHED = (PostState.SENT.value, PostState.SENDING.value, PostState.UNKNOWN.value)


def _queued(row) -> QueuedPost:
    """A row of ``_QUEUED_COLUMNS`` (unpacked by position: a plan builds thousands of these)."""
    (post_id, account, text, parts, weighted_length, state, position, article_key, tip, pinned_at,
     next_attempt_at, template, variant, media) = row
    return QueuedPost(post_id, account, text, tuple(_json(parts)), weighted_length, PostState(state), position,
                      article_key, tip, pinned_at, next_attempt_at, template, variant,
                      tuple(_json(media)) if media else ())


def _attempt(row) -> AttemptRecord:
    return AttemptRecord(row.id, row.post_id, row.part, row.instance, row.started_at, row.finished_at,
                         row.outcome, row.http_status, row.detail, row.tweet_id)


def _json_safe(value):
    """Front matter as JSON can hold it: YAML dates and other values become their text."""
    return json.loads(json.dumps(value, default=str))


def _json(value):
    return json.loads(value) if isinstance(value, str) else value


# The detail of an attempt whose process was gone before its call answered (recorded when a post is taken over).
STOPPED_MID_CALL = "the publishing process stopped mid-call"


class Store(FeedLedger, ReviewLedger, WebLedger, LookupLedger):
    """The ledger. Open with ``Store.open(url)``; every public method is one transaction."""

    def __init__(self, engine: Engine):
        self._engine = engine
        # Set inside ``snapshot()``: every read of this thread then uses that one transaction.
        self._snapshot: ContextVar[Connection | None] = ContextVar(f"snapshot-{id(self)}", default=None)
        # Set inside ``unit()``: every method of this thread then reads and writes in that one transaction.
        self._unit: ContextVar[_Unit | None] = ContextVar(f"unit-{id(self)}", default=None)

    @property
    def engine(self) -> Engine:
        """The database; inside ``unit()``, one that runs every ``begin()`` in the unit's transaction."""
        unit = self._unit.get()
        return self._engine if unit is None else unit

    @contextmanager
    def unit(self) -> Iterator[None]:
        """Every method called inside (in this thread) is part of ONE transaction, committed when the block
        ends and rolled back, all of it, when it raises: the dashboard records a change and its audit row
        together, so neither can land without the other. Each method's own transaction becomes a savepoint
        of the unit (a method that fails undoes its own writes only, as before). The transaction starts at
        the first use, so work done before any read or write (a network call) holds no lock."""
        if self._unit.get() is not None:
            yield
            return
        unit = _Unit(self._engine)
        token = self._unit.set(unit)
        try:
            yield
            unit.commit()
        except BaseException:
            unit.rollback()
            raise
        finally:
            self._unit.reset(token)
            unit.close()

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, url: str) -> Store:
        try:
            engine = _create_engine(url)
            store = cls(engine)
            store._migrate()
        except sa.exc.OperationalError as exc:
            raise StoreError(f"cannot open the ledger at {_safe_url(url)}: {exc.orig}") from None
        except sa.exc.ArgumentError as exc:
            raise StoreError(f"bad database URL {_safe_url(url)}: {exc}") from None
        return store

    def close(self) -> None:
        self._engine.dispose()

    def _read(self):
        conn = self._snapshot.get()
        if conn is not None:
            return nullcontext(conn)
        unit = self._unit.get()
        if unit is not None:
            return nullcontext(unit.connection())
        # Plain BEGIN for reads: on SQLite they then never wait for the write lock.
        return self.engine.connect().execution_options(read_only=True)

    @contextmanager
    def snapshot(self) -> Iterator[None]:
        """Every read inside sees the ledger as of one moment (one read transaction), so a plan built
        from several reads never mixes states from before and after another process's write."""
        if self._snapshot.get() is not None or self._unit.get() is not None:
            yield  # a unit is one transaction already: its reads see its own writes
            return
        conn = self.engine.connect().execution_options(read_only=True)
        if self.engine.dialect.name == "postgresql":
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        token = self._snapshot.set(conn)
        try:
            with conn.begin():
                yield
        finally:
            self._snapshot.reset(token)
            conn.close()

    def _migrate(self) -> None:
        if self._pending_migrations():
            with self.engine.begin() as conn:
                if self.engine.dialect.name == "postgresql":
                    # Two processes opening a new database at once: one migrates, the other waits.
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(727274)"))
                m.schema_migrations.create(conn, checkfirst=True)
                applied = set(conn.execute(sa.select(m.schema_migrations.c.name)).scalars())
                for name, migration in m.MIGRATIONS:
                    if name not in applied:
                        migration(conn)
                        conn.execute(m.schema_migrations.insert().values(name=name, applied_at=_db_now()))

    def _pending_migrations(self) -> bool:
        if not sa.inspect(self.engine).has_table("schema_migrations"):
            return True
        return bool({name for name, _ in m.MIGRATIONS} - self._applied_migrations())

    def _applied_migrations(self) -> set[str]:
        with self._read() as conn:
            return set(conn.execute(sa.select(m.schema_migrations.c.name)).scalars())

    # -- accounts ------------------------------------------------------------------------------

    def account_state(self, account: str) -> AccountState:
        with self._read() as conn:
            row = conn.execute(sa.select(m.accounts).where(m.accounts.c.account == account)).first()
        if row is None:
            return AccountState(account, False, None, None, 0)
        return AccountState(account, bool(row.paused), row.pause_reason, row.paused_at, row.revision)

    def revision(self, account: str) -> int:
        with self._read() as conn:
            value = conn.execute(sa.select(m.accounts.c.revision).where(m.accounts.c.account == account)).scalar()
        return value or 0

    def pause(self, account: str, reason: str, now: datetime) -> None:
        self._set_paused(account, paused=True, pause_reason=reason, paused_at=now)

    def resume(self, account: str) -> None:
        self._set_paused(account, paused=False, pause_reason=None, paused_at=None)

    def _set_paused(self, account: str, **values) -> None:
        with self.engine.begin() as conn:
            self._ensure_account(conn, account)
            conn.execute(m.accounts.update().where(m.accounts.c.account == account).values(**values))
            self._bump(conn, account)

    def _ensure_account(self, conn: Connection, account: str) -> None:
        exists = conn.execute(sa.select(m.accounts.c.account).where(m.accounts.c.account == account)).first()
        if not exists:
            try:
                with conn.begin_nested():
                    conn.execute(m.accounts.insert().values(account=account, paused=False, revision=0))
            except sa.exc.IntegrityError:
                pass  # created by a concurrent writer

    def _bump(self, conn: Connection, account: str) -> None:
        bump = m.accounts.update().where(m.accounts.c.account == account).values(revision=m.accounts.c.revision + 1)
        if not conn.execute(bump).rowcount:
            self._ensure_account(conn, account)
            conn.execute(bump)

    # -- post ids ------------------------------------------------------------------------------

    def plain_ids_account(self) -> str | None:
        """The account whose post ids carry no "~KEY" suffix, when one is recorded."""
        with self._read() as conn:
            return conn.execute(sa.select(m.plain_post_ids.c.account)).scalar()

    def hold_plain_ids(self, account: str, now: datetime) -> str:
        """The account holding the plain post ids: the one recorded, else ``account``, recorded now (for good)."""
        query = sa.select(m.plain_post_ids.c.account)
        with self.engine.begin() as conn:
            held = conn.execute(query).scalar()
            if held is None:
                try:
                    with conn.begin_nested():
                        conn.execute(m.plain_post_ids.insert().values(slot=1, account=account, recorded_at=now))
                    held = account
                except sa.exc.IntegrityError:
                    held = conn.execute(query).scalar()  # recorded by a concurrent import
        return held

    # -- importing and queueing ---------------------------------------------------------------

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
        added, updated, unchanged, removed, kept_sent, kept_edit = [], [], [], [], [], []
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

        current = {
            row.post_id: row
            for row in conn.execute(
                sa.select(m.posts).where(
                    m.posts.c.account == account,
                    m.posts.c.article_key == item.article_key,
                    m.posts.c.kind == "tip",
                )
            )
        }
        before = {tip["number"]: tip for tip in _json(exists.tips)} if exists else {}
        after = {tip["number"]: tip for tip in item.tips}

        def tip_changed(number: int | None) -> bool:
            return before.get(number) != after.get(number)

        kept_removed = []
        position = self._end_position(conn, account)
        for post in item.posts:
            row = current.pop(post.post_id, None)
            if row is None:
                position += 1
                self._check_duplicate(conn, account, post.text, now, window=None, ignore=())
                conn.execute(m.posts.insert().values(**self._new_row(account, post, position, now)))
                added.append(post.post_id)
            elif row.state == PostState.REMOVED.value:
                # Taken out by a person: it stays out (with the article's new text, should it come back).
                if row.edit_kind != "text" and (row.text != post.text or tuple(_json(row.parts)) != post.parts):
                    conn.execute(
                        m.posts.update()
                        .where(m.posts.c.post_id == post.post_id, m.posts.c.state == PostState.REMOVED.value)
                        .values(**self._content_values(post), updated_at=now)
                    )
                kept_removed.append(post.post_id)
            elif row.text == post.text and tuple(_json(row.parts)) == post.parts:
                unchanged.append(post.post_id)
            elif row.state in PENDING and row.edit_kind == "text":
                # A person's text stays; say so when the article's tip changed under it.
                (kept_edit if tip_changed(post.tip) else unchanged).append(post.post_id)
            elif row.state in PENDING:
                conn.execute(
                    m.posts.update()
                    .where(m.posts.c.post_id == post.post_id, m.posts.c.state.in_(PENDING))
                    .values(**self._content_values(post), updated_at=now)
                )
                updated.append(post.post_id)
            else:
                kept_sent.append(post.post_id)
        for post_id, row in current.items():
            if row.state in PENDING and row.edit_kind == "text":
                kept_edit.append(post_id)  # its tip left the article, but a person wrote this post
            elif row.state in PENDING and not row.uncertain:  # an uncertain post may be live: settle it first
                tried = conn.execute(sa.select(m.attempts.c.id).where(m.attempts.c.post_id == post_id).limit(1)).first()
                gone = m.posts.delete() if tried is None else m.posts.update().values(
                    state=PostState.REMOVED.value, slot_at=None, calendar_slot=None, next_attempt_at=None,
                    updated_at=now)
                conn.execute(gone.where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING)))
                removed.append(post_id)
        if added or updated or removed:
            self._bump(conn, account)
        return ImportReport(tuple(added), tuple(updated), tuple(unchanged), tuple(removed), tuple(kept_sent),
                            tuple(kept_edit), tuple(kept_removed))

    # -- editing: what a person changes by hand (see scheduler.editing) --------------------------------

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

    def edit_post(self, account: str, post_id: str, now: datetime, *, text: str, parts: Sequence[str],
                  weighted_length: int, edit_kind: str, template: str | None = None, variant: int | None = None,
                  duplicate_window: timedelta | None = None) -> PostRecord:
        """Change a waiting post's content by hand, checked for duplicates like a new one, in one transaction."""
        with self.engine.begin() as conn:
            row = self._pending_row(conn, account, post_id, "edit")
            if row.uncertain or _json(row.part_ids):
                raise QueueError(
                    f"cannot edit {post_id!r}: part of it may already be on X ({'its last attempt lost its answer' if row.uncertain else 'a thread partly sent'}); "
                    "let the service settle it first"
                )
            self._check_duplicate(conn, account, text, now, window=duplicate_window, ignore=(post_id,))
            values = {
                "text": text,
                "parts": list(parts),
                "weighted_length": weighted_length,
                "fingerprint": text_fingerprint(text),
                "edited_at": now,
                "edit_kind": edit_kind,
                "updated_at": now,
            }
            if variant is not None:
                values.update(template=template, variant=variant)
            done = conn.execute(
                m.posts.update()
                .where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING), sa.not_(m.posts.c.uncertain))
                .values(**values)
            ).rowcount
            if not done:
                self._explain_not_pending(conn, account, post_id, "edit")
            self._bump(conn, account)
        return self.get(post_id)

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

    def add_post(
        self, account: str, post: NewPost, now: datetime, *, duplicate_window: timedelta | None = None
    ) -> PostRecord:
        """Queue one post at the end; refuse a text sent or queued within the window."""
        with self.engine.begin() as conn:
            self._ensure_account(conn, account)
            self._lock_queue(conn, account)  # before the duplicate check too: two adds of one text, one queued
            if conn.execute(sa.select(m.posts.c.post_id).where(m.posts.c.post_id == post.post_id)).first():
                raise DuplicateError(f"post {post.post_id} is already in the ledger")
            self._check_duplicate(conn, account, post.text, now, window=duplicate_window, ignore=())
            position = self._end_position(conn, account) + 1
            conn.execute(m.posts.insert().values(**self._new_row(account, post, position, now)))
            self._bump(conn, account)
        return self.get(post.post_id)

    def find_duplicate(
        self, account: str, text: str, now: datetime, window: timedelta | None, ignore: Sequence[str] = ()
    ) -> PostRecord | None:
        with self._read() as conn:
            row = self._duplicate_row(conn, account, text, now, window, ignore)
        return _record(row) if row else None

    def _check_duplicate(self, conn, account, text, now, window, ignore) -> None:
        row = self._duplicate_row(conn, account, text, now, window, ignore)
        if row is not None:
            when = f"sent {row.sent_at:%Y-%m-%d %H:%M} UTC" if row.state == "sent" else f"{row.state}"
            raise DuplicateError(
                f"the same text is already in the ledger as post {row.post_id} ({when}); "
                "an account posts a text once within [queue] duplicate_window (X refuses a repeat outright): change "
                "the text, or remove that post first"
            )

    def _duplicate_row(self, conn, account, text, now, window, ignore):
        active = m.posts.c.state.in_((*PENDING, PostState.SENDING.value, PostState.UNKNOWN.value))
        if window is None:
            recent = m.posts.c.state == PostState.SENT.value
        else:
            recent = sa.and_(m.posts.c.state == PostState.SENT.value, m.posts.c.sent_at >= now - window)
        query = sa.select(m.posts).where(
            m.posts.c.account == account,
            m.posts.c.fingerprint == text_fingerprint(text),
            sa.or_(active, recent),
        )
        if ignore:
            query = query.where(m.posts.c.post_id.not_in(list(ignore)))
        return conn.execute(query.limit(1)).first()

    def _lock_queue(self, conn: Connection, account: str) -> None:
        """Hold the account's queue-position lock until this transaction ends: every writer that picks a position
        in the account's queue takes it first, so two of them never read the same free position (on PostgreSQL
        56 of 100 concurrent adds read one highest position and hit ux_posts_position). A transaction-scoped
        advisory lock, not the ``accounts`` row: a claim locks its post and then that row (``_bump``), so a
        writer holding the row while it waits for a post would deadlock with it. SQLite needs no lock: its
        write transactions (BEGIN IMMEDIATE) run one at a time already."""
        if conn.dialect.name == "postgresql":
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(:space, hashtext(:account))"),
                         {"space": _QUEUE_LOCKS, "account": account})

    def _end_position(self, conn: Connection, account: str) -> float:
        """The highest position of the account's queue, read under the queue's lock (``_lock_queue``)."""
        self._lock_queue(conn, account)
        value = conn.execute(sa.select(sa.func.max(m.posts.c.position)).where(m.posts.c.account == account)).scalar()
        return float(value or 0)

    @staticmethod
    def _content_values(post: NewPost) -> dict:
        return {
            "text": post.text,
            "parts": list(post.parts),
            "media": list(post.media),
            "weighted_length": post.weighted_length,
            "fingerprint": text_fingerprint(post.text),
            "template": post.template,
            "variant": post.variant,
        }

    def _new_row(self, account: str, post: NewPost, position: float, now: datetime) -> dict:
        return {
            "post_id": post.post_id,
            "account": account,
            "kind": post.kind,
            "article_key": post.article_key,
            "tip": post.tip,
            "state": PostState.QUEUED.value,
            "position": position,
            "pinned_at": post.pinned_at,
            "attempts": 0,
            "uncertain": False,
            "part_ids": [],
            "created_at": now,
            "updated_at": now,
            **self._content_values(post),
        }

    # -- reading -------------------------------------------------------------------------------

    def article(self, account: str, article_key: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(m.articles).where(m.articles.c.account == account, m.articles.c.article_key == article_key)
            ).first()
        if row is None:
            return None
        return {**row._mapping, "tips": _json(row.tips), "hashtags": _json(row.hashtags),
                "metadata": _json(row.metadata) or {}}

    def get(self, post_id: str) -> PostRecord:
        with self._read() as conn:
            row = conn.execute(sa.select(m.posts).where(m.posts.c.post_id == post_id)).first()
        if row is None:
            raise QueueError(f"no post with id {post_id!r}; `scheduler queue list` shows the ids")
        return _record(row)

    def iter_pending(self, account: str, page: int = 500) -> Iterator[QueuedPost]:
        """Pending posts in queue order, read a page at a time (the planner stops early).

        Positions are unique per account (the ledger refuses a tie), so paging on them never skips
        or repeats a post. Only the planner's columns are read (``_QUEUED_COLUMNS``): a plan reads
        thousands of these, and the rest of a row (six more timestamps, the part ids) is not needed."""
        last = float("-inf")
        while True:
            with self._read() as conn:
                rows = self._in_queue_order(conn, account, PENDING, after=last, limit=page, columns=_QUEUED_COLUMNS)
            for row in rows:
                yield _queued(row)
            if len(rows) < page:
                return
            last = rows[-1].position

    def scheduled_pending(self, account: str) -> list[QueuedPost]:
        """Pending posts that carry a time of their own (pinned or retrying), wherever they are queued."""
        found: dict[str, QueuedPost] = {}
        with self._read() as conn:
            for column in (m.posts.c.pinned_at, m.posts.c.next_attempt_at):
                rows = conn.execute(
                    sa.select(*_QUEUED_COLUMNS).where(
                        m.posts.c.account == account, column.is_not(None), m.posts.c.state.in_(PENDING)
                    )
                ).all()
                found.update((row.post_id, _queued(row)) for row in rows)
        return sorted(found.values(), key=lambda p: p.position)

    def own_moments(self, account: str) -> list[datetime]:
        """The pin and retry times of the pending posts (only those columns): the moments at which time
        alone changes a plan (plan_cache.stable_until)."""
        moments: list[datetime] = []
        with self._read() as conn:
            for column in (m.posts.c.pinned_at, m.posts.c.next_attempt_at):  # one indexed query each
                moments += conn.execute(sa.select(column).where(
                    m.posts.c.account == account, column.is_not(None), m.posts.c.state.in_(PENDING))).scalars()
        return moments

    def queue_page(self, account: str, *, offset: int = 0, limit: int = 50, states: Sequence[str] = PENDING) -> list[PostRecord]:
        with self._read() as conn:
            rows = self._in_queue_order(conn, account, states, limit=offset + limit)[offset:]
        return [_record(row) for row in rows]

    @staticmethod
    def _in_queue_order(conn: Connection, account: str, states: Sequence[str], *, after: float | None = None,
                        limit: int, columns: Sequence | None = None) -> list:
        """The first ``limit`` posts in ``states`` (after position ``after``), in queue order.

        One query per state, merged: each walks ix_posts_queue (account, state, position) in order and
        stops at ``limit``. A single ``state IN (...)`` query leads SQLite to walk ux_posts_position
        (account, position) instead, through every sent post of the account's history: ~25 ms on a
        100,000-post ledger for every plan, queue page and dashboard poll, whatever ANALYZE says."""
        import heapq

        streams = []
        for state in dict.fromkeys(states):
            query = sa.select(*(columns or (m.posts,))).where(m.posts.c.account == account, m.posts.c.state == state)
            if after is not None:
                query = query.where(m.posts.c.position > after)
            streams.append(conn.execute(query.order_by(m.posts.c.position).limit(limit)).all())
        return list(heapq.merge(*streams, key=lambda row: row.position))[:limit]

    def published_since(self, account: str, since: datetime) -> list[PostRecord]:
        """Posts sent (or being sent) for a slot at or after ``since``: caps and spacing.

        Every publication starts with a claim, which records its slot time."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts)
                .where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= since,
                    m.posts.c.state.in_(_PUBLISHED),
                )
                .order_by(m.posts.c.slot_at)
            ).all()
        return [_record(row) for row in rows]

    def sent_since(self, account: str, since: datetime) -> list:
        """``published_since`` reduced to what spacing and caps need: (post_id, article_key, slot_at, number
        of parts) per publication, oldest first; no full records (a plan reads a day or two of them, a
        monthly cap a whole month)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts.c.post_id, m.posts.c.article_key, m.posts.c.slot_at, m.posts.c.parts)
                .where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= since,
                    m.posts.c.state.in_(_PUBLISHED),
                )
                .order_by(m.posts.c.slot_at)
            ).all()
        return [(row.post_id, row.article_key, row.slot_at, len(_json(row.parts))) for row in rows]

    def published_slots(self, account: str, start: datetime, end: datetime) -> list[tuple[str, datetime]]:
        """(post_id, slot_at) of the posts sent (or being sent) for a slot in ``[start, end)``, in slot order:
        two columns, so a calendar can count a month of them and read in full only those it lists
        (``posts_by_id``)."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts.c.post_id, m.posts.c.slot_at)
                .where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= start,
                    m.posts.c.slot_at < end,
                    m.posts.c.state.in_(_PUBLISHED),
                )
                .order_by(m.posts.c.slot_at)
            ).all()
        return [(row.post_id, row.slot_at) for row in rows]

    def posts_by_id(self, post_ids: Sequence[str]) -> dict[str, PostRecord]:
        """Full records of these posts (those that exist), by id."""
        found: dict[str, PostRecord] = {}
        ids = list(dict.fromkeys(post_ids))
        with self._read() as conn:
            for i in range(0, len(ids), 500):
                rows = conn.execute(sa.select(m.posts).where(m.posts.c.post_id.in_(ids[i:i + 500]))).all()
                found.update((row.post_id, _record(row)) for row in rows)
        return found

    def consumed_slots(self, account: str, since: datetime) -> set[datetime]:
        """Slot times already used by a publication (any outcome), so they are not filled twice.

        A post being retried keeps the slot it was claimed for: the next post waits for its own slot
        instead of taking that one seconds before the retry."""
        with self._read() as conn:
            values = conn.execute(
                sa.select(m.posts.c.slot_at).where(
                    m.posts.c.account == account,
                    m.posts.c.slot_at >= since,
                    m.posts.c.state != PostState.QUEUED.value,
                )
            ).scalars()
            return set(values)

    def history(self, account: str, *, limit: int = 50, states: Sequence[str] | None = None) -> list[PostRecord]:
        done = states or (PostState.SENT.value, PostState.FAILED.value, PostState.UNKNOWN.value)
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts)
                .where(m.posts.c.account == account, m.posts.c.state.in_(list(done)))
                .order_by(sa.func.coalesce(m.posts.c.sent_at, m.posts.c.updated_at).desc())
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]

    def pending_ids(self, account: str, *, kind: str) -> set[str]:
        """Ids of the account's queued or retrying posts of one kind (``recycle``: evergreen's proposals)."""
        with self._read() as conn:
            rows = conn.execute(sa.select(m.posts.c.post_id).where(
                m.posts.c.account == account, m.posts.c.kind == kind, m.posts.c.state.in_(PENDING))).all()
        return {row.post_id for row in rows}

    def sent_posts_before(self, account: str, before: datetime, *, limit: int) -> list[PostRecord]:
        """Sent tip posts last sent before ``before``, oldest first: evergreen candidates."""
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts)
                .where(
                    m.posts.c.account == account,
                    m.posts.c.state == PostState.SENT.value,
                    m.posts.c.kind.in_(("tip", "recycle")),
                    m.posts.c.sent_at < before,
                )
                .order_by(m.posts.c.sent_at)
                .limit(limit)
            ).all()
        return [_record(row) for row in rows]

    def counts(self, account: str) -> dict[str, int]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts.c.state, sa.func.count())
                .where(m.posts.c.account == account)
                .group_by(m.posts.c.state)
            ).all()
        return {state: count for state, count in rows}

    def posts_in_state(self, account: str, state: PostState) -> list[PostRecord]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.posts)
                .where(m.posts.c.account == account, m.posts.c.state == state.value)
                .order_by(m.posts.c.updated_at)
            ).all()
        return [_record(row) for row in rows]

    def attempts(self, post_id: str) -> list[AttemptRecord]:
        with self._read() as conn:
            rows = conn.execute(
                sa.select(m.attempts).where(m.attempts.c.post_id == post_id).order_by(m.attempts.c.id)
            ).all()
        return [_attempt(row) for row in rows]

    # -- queue commands ------------------------------------------------------------------------

    def remove(self, account: str, post_id: str, now: datetime) -> None:
        """Take a pending post out of the queue. It stays in the ledger as ``removed`` (with its attempts),
        so a re-import does not queue it again; ``restore`` puts it back in its place."""
        with self.engine.begin() as conn:
            row = self._pending_row(conn, account, post_id, "remove")
            if row.uncertain:
                raise QueueError(
                    f"cannot remove {post_id!r}: its last call to X got no answer, so it may be live; it is "
                    "being looked up on X (or run `scheduler resolve` once you know)"
                )
            conn.execute(
                m.posts.update().where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING))
                .values(state=PostState.REMOVED.value, slot_at=None, calendar_slot=None, next_attempt_at=None,
                        updated_at=now)
            )
            self._bump(conn, account)

    def restore(self, account: str, post_id: str, now: datetime) -> None:
        """Put a removed post back in the queue, at the place it had."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(m.posts.c.state).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
            ).first()
            if row is None:
                raise QueueError(f"cannot restore {post_id!r}: no such post; `scheduler history` lists posts")
            if row.state != PostState.REMOVED.value:
                raise QueueError(f"cannot restore {post_id!r}: it is {row.state}, not removed")
            self._check_duplicate(conn, account, self._text_of(conn, post_id), now, window=None, ignore=(post_id,))
            conn.execute(
                m.posts.update().where(m.posts.c.post_id == post_id, m.posts.c.state == PostState.REMOVED.value)
                .values(state=PostState.QUEUED.value, attempts=0, updated_at=now)
            )
            self._bump(conn, account)

    @staticmethod
    def _text_of(conn: Connection, post_id: str) -> str:
        return conn.execute(sa.select(m.posts.c.text).where(m.posts.c.post_id == post_id)).scalar_one()

    def move(self, account: str, post_id: str, *, before: str | None = None, after: str | None = None,
             top: bool = False, bottom: bool = False) -> None:
        """Reorder: place the post before/after another pending post, or at the top/bottom."""
        with self.engine.begin() as conn:
            self._lock_queue(conn, account)
            self._pending_row(conn, account, post_id, "move")
            anchor = None
            if before or after:
                anchor = self._pending_row(conn, account, before or after, "move next to").position
            new = self._free_position(conn, account, post_id, anchor, before=bool(before) or top)
            if new is None:
                # Halving the gap between two neighbours runs out of float precision after ~50 moves.
                self._renumber(conn, account)
                if anchor is not None:
                    anchor = self._pending_row(conn, account, before or after, "move next to").position
                new = self._free_position(conn, account, post_id, anchor, before=bool(before) or top)
            if new is not None:
                conn.execute(m.posts.update().where(m.posts.c.post_id == post_id).values(position=new))
            self._bump(conn, account)

    def _free_position(self, conn: Connection, account: str, post_id: str, anchor: float | None, *,
                       before: bool) -> float | None:
        """A position no other post of the account holds, right before/after ``anchor`` (None: the top or
        bottom of the whole queue). None when no float fits between the two neighbours."""
        others = sa.select(m.posts.c.position).where(m.posts.c.account == account, m.posts.c.post_id != post_id)
        if anchor is None:
            edge = conn.execute(
                sa.select(sa.func.min(m.posts.c.position) if before else sa.func.max(m.posts.c.position))
                .where(m.posts.c.account == account, m.posts.c.post_id != post_id)
            ).scalar()
            return (edge or 0.0) + (-1.0 if before else 1.0)
        if before:
            neighbour = conn.execute(
                others.where(m.posts.c.position < anchor).order_by(m.posts.c.position.desc()).limit(1)
            ).scalar()
            new = (anchor + neighbour) / 2 if neighbour is not None else anchor - 1.0
        else:
            neighbour = conn.execute(
                others.where(m.posts.c.position > anchor).order_by(m.posts.c.position).limit(1)
            ).scalar()
            new = (anchor + neighbour) / 2 if neighbour is not None else anchor + 1.0
        return new if new != anchor and new != neighbour else None

    def _renumber(self, conn: Connection, account: str) -> None:
        """Spread the account's positions to 1..n in their current order (every position stays unique
        at every step: first all move above both ranges, then each takes its rank)."""
        low, high, n = conn.execute(
            sa.select(sa.func.min(m.posts.c.position), sa.func.max(m.posts.c.position), sa.func.count())
            .where(m.posts.c.account == account)
        ).one()
        shift = max(high, n) - low + 1
        conn.execute(m.posts.update().where(m.posts.c.account == account)
                     .values(position=m.posts.c.position + shift))
        ids = conn.execute(
            sa.select(m.posts.c.post_id).where(m.posts.c.account == account).order_by(m.posts.c.position)
        ).scalars().all()
        conn.execute(
            m.posts.update().where(m.posts.c.post_id == sa.bindparam("id")).values(position=sa.bindparam("rank")),
            [{"id": post_id, "rank": float(rank)} for rank, post_id in enumerate(ids, start=1)],
        )

    def pin(self, account: str, post_id: str, at: datetime | None, now: datetime) -> None:
        """Pin a pending post to an exact time (``None`` unpins it)."""
        with self.engine.begin() as conn:
            self._pending_row(conn, account, post_id, "pin")
            conn.execute(
                m.posts.update().where(m.posts.c.post_id == post_id).values(pinned_at=at, updated_at=now)
            )
            self._bump(conn, account)

    def _pending_row(self, conn: Connection, account: str, post_id: str | None, verb: str):
        row = conn.execute(
            sa.select(m.posts).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
        ).first()
        if row is None or row.state not in PENDING:
            self._explain_not_pending(conn, account, post_id, verb)
        return row

    def _explain_not_pending(self, conn: Connection, account: str, post_id: str | None, verb: str) -> None:
        # Another account's post is no post of this one (not a post whose state refuses the change).
        row = conn.execute(
            sa.select(m.posts.c.state).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
        ).first()
        if row is None:
            raise QueueError(f"cannot {verb} {post_id!r}: no such post; `scheduler queue list` shows the ids")
        raise QueueError(f"cannot {verb} {post_id!r}: it is {row.state}, not waiting in the queue")

    # -- publishing: the state machine ---------------------------------------------------------

    def claim(self, post_id: str, instance: str, slot_at: datetime, now: datetime) -> bool:
        """Take a pending post for sending. One atomic conditional update: true for exactly one taker."""
        return self.claim_post(post_id, instance, slot_at, now) is not None

    def claim_post(self, post_id: str, instance: str, slot_at: datetime, now: datetime, *,
                   calendar_slot: bool = False, keep_slot: bool = False,
                   require_approval: bool = False) -> PostRecord | None:
        """``claim``, returning the claimed row (read in the same transaction), or None.

        ``calendar_slot``: ``slot_at`` is a slot of the calendar, which only one post of the account
        may ever hold (the ledger's unique index refuses a second, whatever two planners decided:
        then None). ``keep_slot``: a retry, which goes out for the slot it was first claimed for.
        ``require_approval`` (review is on): the row about to be sent must hash to its approved hash,
        checked inside this transaction, after the UPDATE locked the row; otherwise nothing is
        claimed and ``NotApproved`` is raised. The engine sends the returned row, so what goes out
        is exactly what was checked."""
        if keep_slot:
            values = dict(slot_at=sa.func.coalesce(m.posts.c.slot_at, sa.literal(slot_at, UTCDateTime)))
        else:
            values = dict(slot_at=slot_at, calendar_slot=slot_at if calendar_slot else None)
        try:
            with self.engine.begin() as conn:
                taken = conn.execute(
                    m.posts.update()
                    .where(m.posts.c.post_id == post_id, m.posts.c.state.in_(PENDING))
                    .values(state=PostState.SENDING.value, claimed_by=instance, claimed_at=now, updated_at=now,
                            **values)
                ).rowcount
                if taken != 1:
                    return None
                row = conn.execute(sa.select(m.posts).where(m.posts.c.post_id == post_id)).one()
                # Review as the ledger records it too: a process started without it sends nothing unapproved.
                if ((require_approval or self.review_required_in(conn, row.account))
                        and not self.approved_for_sending(conn, row)):
                    raise NotApproved(post_id)  # rolls the claim back
                # The post left the queue and its slot is taken: every plan changed (a cached one too).
                self._bump(conn, row.account)
                return _record(row)
        except sa.exc.IntegrityError:
            return None

    def slot_holder(self, account: str, slot_at: datetime) -> str | None:
        """The post that holds a calendar slot, if any."""
        with self._read() as conn:
            return conn.execute(
                sa.select(m.posts.c.post_id).where(m.posts.c.account == account, m.posts.c.calendar_slot == slot_at)
            ).scalar()

    def take_over(self, post_id: str, dead_instance: str | None, instance: str, now: datetime) -> bool:
        """Claim a post left ``sending`` by an instance that is gone (crash recovery)."""
        with self.engine.begin() as conn:
            taken = conn.execute(
                m.posts.update()
                .where(
                    m.posts.c.post_id == post_id,
                    m.posts.c.state == PostState.SENDING.value,
                    m.posts.c.claimed_by == dead_instance
                    if dead_instance is not None
                    else m.posts.c.claimed_by.is_(None),
                )
                .values(claimed_by=instance, claimed_at=now, updated_at=now)
            ).rowcount
            if taken:
                conn.execute(
                    m.attempts.update()
                    .where(m.attempts.c.post_id == post_id, m.attempts.c.outcome == "sending")
                    .values(outcome="lost", finished_at=now, detail=STOPPED_MID_CALL)
                )
        return taken == 1

    def begin_attempt(self, post_id: str, account: str, part: int, instance: str, now: datetime) -> int:
        """Record that a call is about to go out (committed before the call)."""
        with self.engine.begin() as conn:
            self._owned(conn, post_id, instance)
            result = conn.execute(
                m.attempts.insert().values(
                    post_id=post_id, account=account, part=part, instance=instance, started_at=now, outcome="sending"
                )
            )
            return result.inserted_primary_key[0]

    def keep_publish_key(self, post_id: str, instance: str, part: int, key: str, now: datetime) -> str:
        """The idempotency key of a part: the one stored, else ``key``, stored now (committed before
        the call, so every later attempt, after a crash too, carries the same one)."""
        with self.engine.begin() as conn:
            self._owned(conn, post_id, instance)
            stored = self._publish_keys(conn, post_id).get(part)
            if stored is not None:
                return stored
            conn.execute(m.publish_keys.insert().values(post_id=post_id, part=part, publish_key=key, created_at=now))
            return key

    def publish_keys(self, post_id: str) -> dict[int, str]:
        """Part number -> its idempotency key, for the parts that have one."""
        with self._read() as conn:
            return self._publish_keys(conn, post_id)

    @staticmethod
    def _publish_keys(conn: Connection, post_id: str) -> dict[int, str]:
        rows = conn.execute(sa.select(m.publish_keys.c.part, m.publish_keys.c.publish_key)
                            .where(m.publish_keys.c.post_id == post_id))
        return {row.part: row.publish_key for row in rows}

    def end_attempt(self, attempt_id: int, outcome: str, now: datetime, *, status: int | None = None,
                    detail: str | None = None, tweet_id: str | None = None,
                    uncertain: tuple[str, str] | None = None) -> None:
        """Close an attempt. ``uncertain`` ((post_id, instance)): in the same transaction, mark the post uncertain
        (a lost answer: no kill between the two can leave the loss recorded but the post thought settled)."""
        with self.engine.begin() as conn:
            conn.execute(
                m.attempts.update()
                .where(m.attempts.c.id == attempt_id)
                .values(outcome=outcome, finished_at=now, http_status=status, detail=detail, tweet_id=tweet_id)
            )
            if uncertain is not None:
                post_id, instance = uncertain
                self._update_owned(conn, post_id, instance, uncertain=True, updated_at=now)

    def finish_part(self, attempt_id: int, post_id: str, instance: str, part_ids: Sequence[str], now: datetime) -> None:
        """A part went out: close its attempt and remember its id in one transaction, so no crash
        can leave a sent part that the ledger neither knows nor treats as uncertain."""
        with self.engine.begin() as conn:
            self._close_sent_attempt(conn, attempt_id, part_ids[-1], now)
            self._update_owned(conn, post_id, instance, part_ids=list(part_ids), updated_at=now)

    @staticmethod
    def _close_sent_attempt(conn: Connection, attempt_id: int, tweet_id: str, now: datetime) -> None:
        conn.execute(
            m.attempts.update()
            .where(m.attempts.c.id == attempt_id)
            .values(outcome="sent", finished_at=now, tweet_id=tweet_id)
        )

    def open_attempts(self, post_id: str) -> list[AttemptRecord]:
        return [a for a in self.attempts(post_id) if a.outcome == "sending"]

    def record_part(self, post_id: str, instance: str, part_ids: Sequence[str], now: datetime, *,
                    uncertain: bool = False) -> None:
        """A part went out (or was found on X): remember its id before anything else happens."""
        with self.engine.begin() as conn:
            self._update_owned(conn, post_id, instance, part_ids=list(part_ids), uncertain=uncertain, updated_at=now)

    def set_uncertain(self, post_id: str, instance: str, uncertain: bool, now: datetime) -> None:
        with self.engine.begin() as conn:
            self._update_owned(conn, post_id, instance, uncertain=uncertain, updated_at=now)

    def mark_sent(self, post_id: str, instance: str, part_ids: Sequence[str], now: datetime) -> None:
        with self.engine.begin() as conn:
            self._mark_sent(conn, post_id, instance, part_ids, now)

    def finish_post(self, attempt_id: int, post_id: str, instance: str, part_ids: Sequence[str],
                    now: datetime) -> None:
        """The last part went out: close its attempt and mark the post sent in one transaction."""
        with self.engine.begin() as conn:
            self._close_sent_attempt(conn, attempt_id, part_ids[-1], now)
            self._mark_sent(conn, post_id, instance, part_ids, now)

    def _mark_sent(self, conn: Connection, post_id: str, instance: str, part_ids: Sequence[str],
                   now: datetime) -> None:
        account = self._update_owned(
            conn,
            post_id,
            instance,
            state=PostState.SENT.value,
            part_ids=list(part_ids),
            tweet_id=part_ids[0],
            sent_at=now,
            uncertain=False,
            next_attempt_at=None,
            last_error=None,
            last_status=None,
            claimed_by=None,
            updated_at=now,
        )
        self._bump(conn, account)

    def mark_retrying(self, post_id: str, instance: str, at: datetime, now: datetime, *, error: str | None,
                      status: int | None, count_attempt: bool) -> None:
        with self.engine.begin() as conn:
            values = dict(
                state=PostState.RETRYING.value,
                next_attempt_at=at,
                last_error=error,
                last_status=status,
                claimed_by=None,
                updated_at=now,
            )
            if count_attempt:
                values["attempts"] = m.posts.c.attempts + 1
            account = self._update_owned(conn, post_id, instance, **values)
            self._bump(conn, account)

    def release(self, post_id: str, instance: str, now: datetime, *, error: str | None = None,
                status: int | None = None) -> None:
        """Give a post back to the queue untouched (account paused mid-flight): it keeps its place."""
        with self.engine.begin() as conn:
            account = self._update_owned(
                conn, post_id, instance, state=PostState.QUEUED.value, slot_at=None, calendar_slot=None,
                claimed_by=None,
                last_error=error, last_status=status, updated_at=now,
            )
            self._bump(conn, account)

    def mark_failed(self, post_id: str, instance: str, reason: str, status: int | None, now: datetime) -> None:
        self._finish(post_id, instance, PostState.FAILED, reason, status, now)

    def mark_unknown(self, post_id: str, instance: str, reason: str, now: datetime) -> None:
        self._finish(post_id, instance, PostState.UNKNOWN, reason, None, now)

    def _finish(self, post_id, instance, state: PostState, reason, status, now) -> None:
        with self.engine.begin() as conn:
            account = self._update_owned(
                conn, post_id, instance, state=state.value, last_error=reason, last_status=status,
                next_attempt_at=None, claimed_by=None, updated_at=now,
            )
            self._bump(conn, account)

    def _owned(self, conn: Connection, post_id: str, instance: str):
        row = conn.execute(
            sa.select(m.posts.c.account).where(
                m.posts.c.post_id == post_id,
                m.posts.c.state == PostState.SENDING.value,
                m.posts.c.claimed_by == instance,
            )
        ).first()
        if row is None:
            raise LostClaim(post_id)
        return row

    def _update_owned(self, conn: Connection, post_id: str, instance: str, **values) -> str:
        row = conn.execute(
            m.posts.update()
            .where(
                m.posts.c.post_id == post_id,
                m.posts.c.state == PostState.SENDING.value,
                m.posts.c.claimed_by == instance,
            )
            .values(**values)
            .returning(m.posts.c.account)
        ).first()
        if row is None:
            raise LostClaim(post_id)
        return row.account

    def resolve(self, account: str, post_id: str, *, sent_tweet_id: str | None, retry: bool, now: datetime,
                live_instances: dict[str, str] | None = None) -> None:
        """A person settles a post whose outcome is unknown (or failed, or left ``sending`` by a process
        that is gone). ``live_instances``: the running services (instance id -> description); a post
        one of them holds is refused, since its call to X may still be in flight."""
        with self.engine.begin() as conn:
            row = conn.execute(
                sa.select(m.posts).where(m.posts.c.account == account, m.posts.c.post_id == post_id)
            ).first()
            if row is None:
                raise QueueError(f"no post with id {post_id!r}")
            # A post still ``retrying`` whose look-ups are failing is as uncertain as an ``unknown`` one, only not
            # given up on yet: a person who knows may settle it now (``status`` says so).
            looking = (row.state == PostState.RETRYING.value and row.uncertain and conn.execute(
                sa.select(m.lookups.c.post_id).where(m.lookups.c.post_id == post_id)).first() is not None)
            if row.state not in (PostState.UNKNOWN.value, PostState.FAILED.value, PostState.SENDING.value) \
                    and not looking:
                raise QueueError(f"post {post_id} is {row.state}; only unknown or failed posts, or retrying ones "
                                 "whose look-ups are failing, need resolving")
            holder = (live_instances or {}).get(row.claimed_by) if row.state == PostState.SENDING.value else None
            if holder is not None:
                raise QueueError(
                    f"post {post_id} is being sent right now by the running service {row.claimed_by} ({holder}); "
                    "it will settle it itself: wait for `scheduler status`, or stop that service first"
                )
            if sent_tweet_id:
                ids = list(_json(row.part_ids))
                ids.append(sent_tweet_id)
                values = dict(state=PostState.SENT.value, tweet_id=ids[0], part_ids=ids, sent_at=now,
                              uncertain=False, last_error=f"resolved by hand as sent ({sent_tweet_id})")
                if len(ids) < len(_json(row.parts)):
                    # A thread: the rest still has to go out, as replies.
                    values.update(state=PostState.RETRYING.value, next_attempt_at=now, sent_at=None)
            else:
                values = dict(state=PostState.RETRYING.value, next_attempt_at=now, uncertain=False, attempts=0,
                              last_error="retry requested by hand")
            settled = conn.execute(
                m.posts.update()
                .where(m.posts.c.post_id == post_id, m.posts.c.state == row.state,
                       m.posts.c.claimed_by.is_(None) if row.claimed_by is None
                       else m.posts.c.claimed_by == row.claimed_by)
                .values(claimed_by=None, updated_at=now, **values)
            ).rowcount
            if not settled:
                raise QueueError(f"post {post_id} changed while resolving it; look at `scheduler status` and try again")
            forget_lookups(conn, post_id)  # settled by a person: earlier failed look-ups no longer count
            conn.execute(
                m.attempts.update()
                .where(m.attempts.c.post_id == post_id, m.attempts.c.outcome == "sending")
                .values(outcome="lost", finished_at=now, detail="settled by a person after the process stopped")
            )
            conn.execute(
                m.attempts.insert().values(
                    post_id=post_id, account=account, part=len(_json(row.part_ids)), instance="person",
                    started_at=now, finished_at=now, outcome="resolved",
                    detail=f"sent as {sent_tweet_id}" if sent_tweet_id else "retry", tweet_id=sent_tweet_id,
                )
            )
            self._bump(conn, account)

    # -- service instances ---------------------------------------------------------------------

    def beat(self, instance: str, account: str, pid: int, host: str, now: datetime,
             last_outcome: str | None = None, *, machine: str | None = _THIS_MACHINE) -> None:
        """Record that ``instance`` is alive. ``machine``: where it runs (default: here, ``liveness.this_machine()``).
        On PostgreSQL the time recorded is the database's (``_beat_clock``), whatever ``now`` says."""
        if machine is _THIS_MACHINE:
            from scheduler.liveness import this_machine

            machine = this_machine()
        with self.engine.begin() as conn:
            at = self._beat_clock(conn, now)
            values = {"beat_at": at, "stopped_at": None, "machine": machine}
            if last_outcome is not None:
                values["last_outcome"] = last_outcome
            done = conn.execute(
                m.instances.update().where(m.instances.c.instance == instance).values(**values)
            ).rowcount
            if not done:
                conn.execute(
                    m.instances.insert().values(
                        instance=instance, account=account, pid=pid, host=host, started_at=at, beat_at=at,
                        last_outcome=last_outcome, machine=machine,
                    )
                )

    @staticmethod
    def _beat_clock(conn: Connection, now: datetime):
        """The clock of heartbeats: the database's on PostgreSQL (services on several machines share it, and each
        machine's own clock may be off), stored as naive UTC like every time; ``now`` on SQLite."""
        if conn.dialect.name == "postgresql":
            return sa.func.timezone("UTC", sa.func.clock_timestamp())
        return now

    def stop_instance(self, instance: str, now: datetime) -> None:
        with self.engine.begin() as conn:
            conn.execute(m.instances.update().where(m.instances.c.instance == instance).values(stopped_at=now))

    def instances(self, account: str) -> list[InstanceRecord]:
        """The account's service instances, newest heartbeat first; on PostgreSQL each with its heartbeat's age
        on the database's clock (``InstanceRecord.age``)."""
        columns = [m.instances]
        if self.engine.dialect.name == "postgresql":
            age = sa.func.timezone("UTC", sa.func.clock_timestamp()) - m.instances.c.beat_at
            columns.append(age.label("server_age"))
        with self._read() as conn:
            rows = conn.execute(
                sa.select(*columns).where(m.instances.c.account == account).order_by(m.instances.c.beat_at.desc())
            ).all()
        return [
            InstanceRecord(r.instance, r.pid, r.host, r.started_at, r.beat_at, r.stopped_at, r.last_outcome,
                           r.machine, getattr(r, "server_age", None))
            for r in rows
        ]

    def last_attempt(self, account: str) -> AttemptRecord | None:
        with self._read() as conn:
            row = conn.execute(
                sa.select(m.attempts).where(m.attempts.c.account == account).order_by(m.attempts.c.id.desc()).limit(1)
            ).first()
        return _attempt(row) if row else None


class LostClaim(Exception):
    """This instance no longer holds the post (another took over, or a person resolved it)."""


class NotApproved(Exception):
    """Review is on and what the post would send is not what a reviewer approved: it was not claimed."""


def _db_now() -> datetime:
    # Only for the bookkeeping column of schema_migrations, which nothing reads for decisions.
    from datetime import UTC

    return datetime.now(UTC)


def _safe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except Exception:
        return "<unparseable database URL>"


def _enable_wal(cursor, attempts: int = 600) -> None:
    """WAL is a property of the file, set once; switching does not honour busy_timeout, so wait here."""
    import sqlite3
    import time

    for _ in range(attempts):
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0].lower() == "wal":
                return
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            time.sleep(0.05)
    raise sqlite3.OperationalError("database is locked: could not switch the ledger to WAL mode in 30 s")


class _Unit:
    """The engine as ``Store.unit()`` lends it: ``begin()`` is a savepoint in the unit's one transaction,
    which begins at the first use (a write transaction: on SQLite, BEGIN IMMEDIATE)."""

    def __init__(self, engine: Engine):
        self._engine = engine
        self._conn: Connection | None = None
        self._transaction = None

    def __getattr__(self, name):  # dialect, url...: the real engine's
        return getattr(self._engine, name)

    def connection(self) -> Connection:
        if self._conn is None:
            self._conn = self._engine.connect()
            self._transaction = self._conn.begin()
        return self._conn

    @contextmanager
    def begin(self) -> Iterator[Connection]:
        conn = self.connection()
        with conn.begin_nested():
            yield conn

    def connect(self):
        return nullcontext(self.connection())

    def commit(self) -> None:
        if self._transaction is not None:
            self._transaction.commit()

    def rollback(self) -> None:
        if self._transaction is not None and self._transaction.is_active:
            self._transaction.rollback()

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = sa.engine.make_url(url).database
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 30})

        @sa.event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _record):
            # WAL: readers never block the publisher; busy_timeout: writers queue instead of failing.
            dbapi_conn.isolation_level = None
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _enable_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @sa.event.listens_for(engine, "begin")
        def _begin_immediate(conn):
            # Writers take the lock at BEGIN, so read-then-write transactions cannot deadlock.
            read_only = conn.get_execution_options().get("read_only")
            conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    return sa.create_engine(url, pool_pre_ping=True)
