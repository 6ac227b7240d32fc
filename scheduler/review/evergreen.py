"""Evergreen with review on: recycled wordings are put up for review ahead of need, so approved posts stand ready."""

from __future__ import annotations

from datetime import datetime

from scheduler.config import Config
from scheduler.domain.errors import QueueError
from scheduler.ledger.store import Store
from scheduler.planning import agenda
from scheduler.planning.evergreen import SCAN_SKIP, candidates, materialize
from scheduler.review import policy as review


def propose_for_review(store: Store, config: Config, now: datetime) -> list[str]:
    """With review and evergreen on: put recycled wordings in the ledger as posts awaiting review, so that
    ``[queue] evergreen_review_ahead`` posts (approved or awaiting) stand ready when the approved queue runs
    short. Returns the ids of the posts added now; calling it again adds nothing until more are needed."""
    if not (config["queue"]["evergreen"] and review.required(config)):
        return []
    ahead = config["queue"]["evergreen_review_ahead"]
    with store.snapshot():
        approved, waiting = agenda.queue_window(store, config.account, ahead, review=True)
        ready = sum(1 for p in approved if p.pinned_at is None and p.next_attempt_at is None)
        # Recycled wordings already awaiting review count toward what is wanted.
        proposed = len(store.pending_ids(config.account, kind="recycle") - {p.post_id for p in approved})
    want = ahead - ready - proposed
    added: list[str] = []
    if want <= 0:
        return added
    for post in candidates(store, config, now, limit=ahead + SCAN_SKIP):  # the longest-unsent tips first
        if len(added) >= want:
            break
        if _exists(store, post.post_id):
            continue  # proposed before: waiting, approved, or removed by a person (not proposed again)
        materialize(store, config, post, now)
        added.append(post.post_id)
    return added


def _exists(store: Store, post_id: str) -> bool:
    try:
        store.get(post_id)
    except QueueError:
        return False
    return True
