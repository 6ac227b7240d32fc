"""OutboxPublisher: "publishes" each post as one JSON line in ``outbox.jsonl``.

The default without X credentials, so a schedule can run end to end (and be inspected) before
anyone touches X. It behaves like X where the engine can tell: ids are unique, ``find_post``
reads the posts back for reconciliation. Each line is written with one write() and fsync'd, so
a kill leaves at most a torn last line, which reading skips with a warning.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
from datetime import datetime, timezone
from pathlib import Path
from collections.abc import Sequence
from typing import Any, Callable, Iterator

from scheduler.networks.base import MetricsUnavailable, PublishedTweet, ReadResult, Rejected
from scheduler.networks.media import BLUESKY_MAX_IMAGE_BYTES as MAX_IMAGE_BYTES
from scheduler.networks.media import check_image
from scheduler.text.mastodon_length import DEFAULT_IMAGE_BYTES

OUTBOX_FILENAME = "outbox.jsonl"
ID_PREFIX = "outbox-"

log = logging.getLogger(__name__)


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class OutboxPublisher:
    name = "outbox"

    def __init__(self, path: Path, handle: str, *, clock: Callable[[], datetime] = _utc_now,
                 network: str = "x") -> None:
        """``path``: the outbox file, or a data directory to hold ``outbox.jsonl``; ``network``: whose image rules
        a dry run holds images to (x, bluesky, mastodon)."""
        self.network = network
        path = Path(path)
        self.path = path / OUTBOX_FILENAME if path.is_dir() else path
        self.handle = handle.lstrip("@")
        self._clock = clock
        self._media: dict[str, Path] = {}  # local media id -> image path, for this process's posts

    def create_post(self, text: str, *, reply_to: str | None = None, media_ids: tuple[str, ...] = (),
                    key: str | None = None) -> str:
        if not text.strip() and not media_ids:
            raise Rejected("a post needs text or media")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
        try:
            # The lock makes "read the last id, append the next" atomic across processes.
            fcntl.flock(fd, fcntl.LOCK_EX)
            existing = list(self._records())
            post_id = f"{ID_PREFIX}{1 + max((_number(r.get('id')) for r in existing), default=0)}"
            record = {
                "id": post_id,
                "text": text,
                "reply_to": reply_to,
                "media": [str(self._media.get(m, m)) for m in media_ids],
                "created_at": self._clock().astimezone(timezone.utc).isoformat(),
            }
            line = json.dumps(record, ensure_ascii=False) + "\n"
            # After a torn line (a kill mid-write), start on a fresh line so ours stays whole.
            if self.path.stat().st_size and not _ends_with_newline(fd):
                line = "\n" + line
            os.write(fd, line.encode("utf-8"))
            os.fsync(fd)
        finally:
            os.close(fd)  # also releases the lock
        return post_id

    def upload_media(self, path: Path) -> str:
        path = Path(path)
        # The account's network's rules, so a dry run catches a bad image too (a stock Mastodon server's limit).
        if self.network == "bluesky":
            check_image(path, max_bytes=MAX_IMAGE_BYTES, network="Bluesky")
        elif self.network == "mastodon":
            check_image(path, max_bytes=DEFAULT_IMAGE_BYTES, network="Mastodon")
        else:
            check_image(path)
        media_id = f"outbox-media-{len(self._media) + 1}"
        self._media[media_id] = path.resolve()
        return media_id

    def find_post(self, text: str, *, since: datetime, reply_to: str | None = None,
                  with_media: bool = False, key: str | None = None) -> str | None:
        for post in self.recent_posts(since):
            if post.text == text and (reply_to is None or post.in_reply_to == reply_to):
                return post.tweet_id
        return None

    def recent_posts(self, since: datetime) -> list[PublishedTweet]:
        posts = []
        for record in self._records():
            created = record["created_at"]
            if created >= since:
                posts.append(PublishedTweet(record["id"], record["text"], created, record.get("reply_to")))
        return posts

    def new_key(self, now: datetime) -> None:
        return None  # a post is looked up by its text, as on X

    def post_url(self, tweet_id: str) -> str:
        return f"{self.path.resolve().as_uri()}#{tweet_id}"

    metrics_batch = 100

    def read_metrics(self, remote_ids: Sequence[str]) -> ReadResult:
        raise MetricsUnavailable("posts in the outbox file were never published: there are no metrics to read")

    def read_followers(self) -> int | None:
        return None

    def close(self) -> None:
        """Nothing held open between posts."""

    def _records(self) -> Iterator[dict[str, Any]]:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return
        lines = raw.split(b"\n")
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict) or not {"id", "text", "created_at"} <= record.keys():
                    raise ValueError("not an outbox record")
                record["created_at"] = datetime.fromisoformat(record["created_at"])
            except (ValueError, TypeError):
                torn = number == len(lines)  # no newline after it: the write was cut short
                problem = "torn (an interrupted write)" if torn else "not a valid outbox record"
                log.warning("%s line %d is %s; skipping it", self.path, number, problem)
                continue
            yield record


def _number(post_id: Any) -> int:
    suffix = str(post_id).removeprefix(ID_PREFIX)
    return int(suffix) if suffix.isdigit() else 0


def _ends_with_newline(fd: int) -> bool:
    return os.pread(fd, 1, os.fstat(fd).st_size - 1) == b"\n"
