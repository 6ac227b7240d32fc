"""Queue changes that need more than one ledger call: adding a post by its text."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from scheduler.app.editing import check_pin, check_text
from scheduler.config import Config
from scheduler.domain.errors import QueueError, TextError
from scheduler.domain.models import adhoc_post_id
from scheduler.ledger import post_ids
from scheduler.ledger.store import NewPost, PostRecord, Store
from scheduler.networks.base import Rejected
from scheduler.text.limits import instance_limits, rule_for

MAX_IMAGES = 4  # per post, on X, Bluesky (app.bsky.embed.images) and Mastodon (a stock server)


def add_text(store: Store, config: Config, text: str, now: datetime, *, at: datetime | None = None,
             media: Sequence[Path] = ()) -> PostRecord:
    """Queue an ad-hoc post; refused if too long for the account's network or a duplicate within the window."""
    rule = rule_for(config)
    text = text.strip()
    if not text:
        raise TextError("the post text is empty")
    check_pin(config, at, now)
    check_text(config, [text])
    length = rule.measure(text)
    if len(media) > MAX_IMAGES:
        raise QueueError(f"{len(media)} images: a post holds at most {MAX_IMAGES} on X, Bluesky and Mastodon")
    for path in media:
        _check_image(Path(path), config)
    post = NewPost(
        post_id=adhoc_post_id(text, now) + post_ids.suffix(store, config, now),
        kind="adhoc",
        text=text,
        parts=(text,),
        weighted_length=length,
        media=tuple(str(Path(m).resolve()) for m in media),
        pinned_at=at,
    )
    return store.add_post(config.account, post, now, duplicate_window=config["queue"]["duplicate_window"])


def _check_image(path: Path, config: Config) -> None:
    """Refuse a bad image when it is queued, not when its slot comes: by the rules of the account's network (its
    size limit: X's per type, Bluesky's 1,000,000 bytes, the Mastodon server's own)."""
    from scheduler.networks.media import check_image  # lazy: Pillow and requests ~55 ms only when a post carries an image

    limit: dict = {}
    if config.network == "bluesky":
        from scheduler.networks.media import BLUESKY_MAX_IMAGE_BYTES as MAX_IMAGE_BYTES  # lazy: Pillow and requests ~55 ms only when a post carries an image

        limit = {"max_bytes": MAX_IMAGE_BYTES, "network": "Bluesky"}
    elif config.network == "mastodon":
        limits = instance_limits(config.chosen.instance, config["fetch"]["timeout"].total_seconds())
        limit = {"max_bytes": limits.image_size_limit, "network": "Mastodon"}
    try:
        check_image(path, **limit)
    except Rejected as exc:
        fix = "attach a smaller image (scaled down, or as JPEG)" if " limit " in exc.detail else \
            "attach a PNG, JPEG, GIF or WebP image"
        raise QueueError(f"{exc.detail}; {fix}") from None
