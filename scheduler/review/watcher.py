"""The service's periodic look at what awaits review: "awaiting review" told once per post and content, and "missed slot" when a slot comes that a post awaiting review would have taken."""

from __future__ import annotations


from datetime import datetime

from scheduler.config import Config
from scheduler.ledger.review import NewNotice
from scheduler.ledger.store import Store
from scheduler.review import policy as review
from scheduler.review.notices import AWAITING, MISSED, notices_of, post_payload


class ReviewWatcher:
    """The service's periodic look at what awaits review: queues "awaiting review" once per post and
    content, and "missed slot" when a slot comes that a post awaiting review would have taken.

    It remembers, between checks, the slot each waiting post would have had: a post whose slot has
    come (or came since the last check) without an approval has missed it."""

    def __init__(self) -> None:
        self._would_go: dict[str, tuple[str, datetime]] = {}

    def check(self, store: Store, config: Config, now: datetime) -> int:
        if not review.required(config):
            self._would_go = {}
            return 0
        items = review.waiting(store, config, now)
        queued: list[NewNotice] = []
        remembered = {}
        for item in items:
            post_id, digest = item.post.post_id, item.content_hash
            if item.status == review.AWAITING:
                payload = post_payload(item.post, digest, findings=[f.describe() for f in item.findings],
                                        would_go_at=item.would_go_at.isoformat() if item.would_go_at else None)
                queued.extend(notices_of(config, AWAITING, f"awaiting:{post_id}:{digest}", payload))
            missed = []
            before = self._would_go.get(post_id)
            if before is not None and before[0] == digest and before[1] <= now:
                missed.append(before[1])
            if item.would_go_at is not None and item.would_go_at <= now:
                missed.append(item.would_go_at)
            for at in sorted(set(missed)):
                payload = post_payload(item.post, digest, slot=at.isoformat(), status=item.status)
                queued.extend(notices_of(config, MISSED, f"missed:{post_id}:{digest}:{at.isoformat()}", payload))
            if item.would_go_at is not None:
                remembered[post_id] = (digest, item.would_go_at)
        self._would_go = remembered
        return store.add_notices(config.account, queued, now) if queued else 0
