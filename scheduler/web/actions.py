"""Every change the dashboard and the API can make, each the CLI's own domain call plus an audit record.

Pages and API routes call these and nothing else to change the ledger, so both check input exactly
as the CLI does, and every change made through the web is recorded (who, when, what) for the
History page. A change and its audit row are one transaction (``Store.unit``): neither lands without
the other.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from scheduler.app import editing, queueing
from scheduler.articles.library import ARTICLE_SUFFIXES, import_articles
from scheduler.config import Config
from scheduler.domain.errors import ArticleError, QueueError, SchedulerError
from scheduler.ledger.store import PostRecord, Store
from scheduler.networks.post_links import NAMES, remote_id_from
from scheduler.publishing.engine import live_instances
from scheduler.review import policy as review
from scheduler.text.limits import rule_for

MAX_UPLOAD_BYTES = 2 * 1024 * 1024


@dataclass
class Actions:
    store: Store
    config: Config
    actor: str  # "user:NAME", "token:NAME" or "local"
    clock: Callable[[], datetime]
    role: str = "admin"  # the user's or token's role (editor, reviewer, admin): who may decide on review

    def _audit(self, action: str, post_id: str | None = None, detail: str | None = None) -> None:
        """Record the change; call inside ``self.store.unit()``, in the change's own transaction."""
        self.store.record_audit(self.config.account, self.actor, action, self.clock(), post_id=post_id,
                                detail=detail)

    def _wrote(self, post_ids: list[str]) -> None:
        """Who gave these posts their text (separation of duties in review); inside the change's unit."""
        review.record_change(self.store, self.config, post_ids, who=self.actor, now=self.clock())

    def _limit(self) -> int:
        """The account's network's limit, as its posts are measured (X 280, Bluesky 300, a Mastodon server's)."""
        return rule_for(self.config).limit

    def _local(self, at: datetime | None) -> str:
        """A moment in an audit row, kept for good: the account's local date, time and zone, written as people read
        it (the History shows it as it is), e.g. "2027-01-13 09:00 EST"."""
        return f"{at.astimezone(self.config.tz):%Y-%m-%d %H:%M %Z}" if at else "-"

    def add(self, text: str, at: datetime | None) -> PostRecord:
        limit = self._limit()  # before the transaction: a Mastodon server's limit may need a request
        with self.store.unit():
            record = queueing.add_text(self.store, self.config, text, self.clock(), at=at)
            self._wrote([record.post_id])
            self._audit("add", record.post_id, f"queued ({record.weighted_length}/{limit})" +
                        (f", pinned at {self._local(at)}" if at else ""))
        return record

    def edit(self, post_id: str, text: str) -> PostRecord:
        limit = self._limit()
        with self.store.unit():
            before = self.store.get(post_id)
            editing.edit_text(self.store, self.config, post_id, text, self.clock())
            self._wrote([post_id])
            after = self.store.get(post_id)
            self._audit("edit", post_id, f"text changed ({before.weighted_length} -> {after.weighted_length}/{limit})")
        return after

    def remove(self, post_id: str) -> None:
        with self.store.unit():
            self.store.remove(self.config.account, post_id, self.clock())
            self._audit("remove", post_id)

    def restore(self, post_id: str) -> None:
        with self.store.unit():
            self.store.restore(self.config.account, post_id, self.clock())
            self._audit("restore", post_id)

    def move(self, post_id: str, *, before: str | None = None, after: str | None = None, top: bool = False,
             bottom: bool = False) -> str:
        """Move a queued post; returns where to, as words ("to the top", "before ID")."""
        if sum(bool(x) for x in (before, after, top, bottom)) != 1:
            raise QueueError("say where to move the post: exactly one of before, after, top, bottom")
        where = (f"before {before}" if before else f"after {after}" if after else "to the top" if top
                 else "to the bottom")
        with self.store.unit():
            self.store.move(self.config.account, post_id, before=before, after=after, top=top, bottom=bottom)
            self._audit("move", post_id, where)
        return where

    def pin(self, post_id: str, at: datetime | None, *, warn: bool = True) -> list[str]:
        """As `scheduler queue pin`: a time more than a minute past is refused; returns its warnings (a cap)
        unless ``warn`` is false (they need a plan: not inside a caller's longer transaction)."""
        now = self.clock()
        editing.check_pin(self.config, at, now, asap="the current time")
        with self.store.unit():
            self.store.pin(self.config.account, post_id, at, now)
            self._audit("pin" if at else "unpin", post_id, f"at {self._local(at)}" if at else None)
        return editing.pin_warnings(self.store, self.config, post_id, at, now) if warn else []

    def pause(self, reason: str) -> None:
        reason = reason.strip() or "paused from the dashboard"
        with self.store.unit():
            self.store.pause(self.config.account, reason, self.clock())
            self._audit("pause", None, reason)

    def resume(self) -> None:
        with self.store.unit():
            self.store.resume(self.config.account)
            self._audit("resume")

    def resolve(self, post_id: str, *, tweet_id: str | None, retry: bool) -> None:
        if bool(tweet_id) == bool(retry):
            raise QueueError(f"say how it ended: the post's id on {NAMES[self.config.network]} if it went out, "
                             "or retry if it did not")
        if tweet_id:
            try:
                tweet_id = remote_id_from(self.config, tweet_id)
            except ValueError as exc:
                raise QueueError(str(exc)) from None
        now = self.clock()
        live = live_instances(self.store, self.config.account, now, self.config["service"]["heartbeat"] * 3)
        with self.store.unit():
            self.store.resolve(self.config.account, post_id, sent_tweet_id=tweet_id, retry=retry, now=now,
                               live_instances=live)
            self._audit("resolve", post_id, f"sent as {tweet_id}" if tweet_id else "retry")

    def approve(self, post_ids: list[str], *, expected: dict[str, str] | None, comment: str | None = None):
        """`scheduler review approve`: all or none, exactly as shown (``expected``: post id -> content hash)."""
        with self.store.unit():
            outcome = review.approve(self.store, self.config, post_ids, who=self.actor, role=self.role,
                                     now=self.clock(), comment=comment, expected=expected or {})
            for post_id in outcome.decided:
                self._audit("approve", post_id, comment)
        return outcome

    def request_changes(self, post_ids: list[str], *, comment: str, expected: dict[str, str] | None = None):
        """`scheduler review reject --comment`: back to the author, out of the plan until the text changes."""
        with self.store.unit():
            outcome = review.request_changes(self.store, self.config, post_ids, who=self.actor, role=self.role,
                                             comment=comment,
                                             now=self.clock(), expected=expected)
            for post_id in outcome.decided:
                self._audit("request changes", post_id, comment.strip())
        return outcome

    def import_upload(self, filename: str, data: bytes) -> list:
        """Store an uploaded article under the data directory's uploads/ and import it like `scheduler import`."""
        name = Path(filename or "").name
        suffix = Path(name).suffix.lower()
        if suffix not in ARTICLE_SUFFIXES:
            raise ArticleError(f"{name or 'the upload'}: not an article file; upload one ending in "
                               f"{', '.join(ARTICLE_SUFFIXES)}")
        if len(data) > MAX_UPLOAD_BYTES:
            raise ArticleError(f"{name}: {len(data):,} bytes; articles up to {MAX_UPLOAD_BYTES:,} bytes can be uploaded")
        if not data.strip():
            raise ArticleError(f"{name}: the file is empty")
        folder = self.config.data_dir / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        safe = re.sub(r"[^A-Za-z0-9._-]+", "-", Path(name).stem).strip(".-")[:80] or "article"
        path = folder / f"{safe}{suffix}"
        previous = path.read_bytes() if path.exists() else None
        path.write_bytes(data)
        self._limit()  # a Mastodon server's limit is read (once) before the transaction, not inside it
        try:
            with self.store.unit():
                results = import_articles(self.store, self.config, [path], self.clock())
                self._wrote([i for r in results for i in (*r.report.added, *r.report.updated)])
                for r in results:
                    self._audit("import", None, f"{name}: \"{r.article.title}\", {len(r.report.added)} added, "
                                f"{len(r.report.updated)} updated, {len(r.report.unchanged)} unchanged" +
                                (f", kept (may already be live): {', '.join(r.report.kept_live)}"
                                 if r.report.kept_live else ""))
        except Exception as exc:
            # Nothing half-written: the import wrote nothing, and the file goes back to what it was.
            if previous is None:
                path.unlink(missing_ok=True)
            else:
                path.write_bytes(previous)
            if isinstance(exc, SchedulerError):  # said to the person who uploaded it: their file, not our disk
                exc.args = (_without_paths(str(exc), name, path, self.config.data_dir),)
            raise
        return results


def _without_paths(message: str, name: str, path: Path, data_dir: Path) -> str:
    """``message`` with the server's file ``path`` shown as the uploaded ``name``, and no other place on the server's
    disk (the data directory, wherever it is mentioned) named at all."""
    for place, shown in ((path, name), (path.resolve(), name), (data_dir.resolve(), "the data directory"),
                         (data_dir, "the data directory")):
        message = message.replace(str(place), shown)
    return message
