"""Review before publishing: nothing goes out unapproved when ``[review] required = true``.

An approval is bound to the hash of exactly what will be sent (content_hash.py: every thread part,
the bytes of every image, the reply settings). A post needs review when review is on and the hash
it was approved for is not the hash of what it holds now; so every new, imported, edited,
re-imported or re-composed post is a draft awaiting review without any code marking it so, and an
approval is void the moment the text changes, whoever changes it.

- The plan is filled only with approved posts (agenda.py); a slot whose post is not approved goes
  to the next approved post, or stays empty with the reason "awaiting review".
- The publishing engine claims a post only if it still hashes to its approval, inside the claim's
  transaction (store.claim_post): an edit made between the plan and the send, by any process,
  stops the send.
- A reviewer approves (several at once) or requests changes with a comment, which goes back to the
  post's author (notices.py). Content rules (content_rules.py) are shown beside each post; a
  ``block`` finding cannot be approved until the text changes.
- Every decision is appended to the review log, which the database refuses to rewrite.

A post's review status:

    approved            its approved hash is its current hash
    changes requested   a reviewer sent exactly this content back; it waits for its author
    awaiting review     anything else (new, edited, or never reviewed)
"""

from __future__ import annotations

import getpass
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from scheduler.config import Config
from scheduler.content_hash import hash_of
from scheduler.content_rules import Finding, RuleSet, blocking, rules_from_config
from scheduler.errors import ReviewError
from scheduler.models import PostState
from scheduler.store import PostRecord, Store
from scheduler.store_review import APPROVED, CHANGES_REQUESTED, Decision, LogEntry, ReviewRecord

AWAITING = "awaiting review"
STATUSES = (APPROVED, CHANGES_REQUESTED, AWAITING)

# Posts awaiting review whose would-be slot is computed (each costs one planning pass).
SLOTS_FOR = 20


@dataclass(frozen=True)
class ReviewItem:
    """A post as a reviewer sees it."""

    post: PostRecord
    content_hash: str
    status: str
    review: ReviewRecord | None
    findings: tuple[Finding, ...]
    would_go_at: datetime | None = None  # the slot it would get if approved now (None: not within the plan)
    would_go_source: str | None = None

    @property
    def blocked(self) -> bool:
        return bool(blocking(self.findings))


def required(config: Config) -> bool:
    return bool(config["review"]["required"])


def rules(config: Config) -> RuleSet:
    return rules_from_config(config["review"])


def actor(name: str | None) -> str:
    """Who decides: the name given, else the logged-in user."""
    if name and name.strip():
        return name.strip()
    try:
        return getpass.getuser()
    except Exception:
        return "unknown"


def status_of(current_hash: str, review: ReviewRecord | None) -> str:
    if review is not None and review.approved_hash == current_hash:
        return APPROVED
    if review is not None and review.rejected_hash == current_hash:
        return CHANGES_REQUESTED
    return AWAITING


def findings_for(config: Config, parts: Sequence[str], *, ruleset: RuleSet | None = None) -> tuple[Finding, ...]:
    """Content-rule findings for a text being composed, edited or reviewed."""
    return (ruleset or rules(config)).check(parts)


def waiting(store: Store, config: Config, now: datetime, *, limit: int = 200, slots: bool = True) -> list[ReviewItem]:
    """Pending posts that are not approved as they are now, in queue order, each with its findings and
    (``slots``: for the first ``SLOTS_FOR``) the slot it would get if it alone were approved now."""
    from scheduler import agenda

    pending = store.queue_page(config.account, limit=limit)
    reviews = store.reviews(p.post_id for p in pending)
    ruleset = rules(config)
    items = []
    for post in pending:
        digest = hash_of(post)
        status = status_of(digest, reviews.get(post.post_id))
        if status != APPROVED:
            items.append(ReviewItem(post, digest, status, reviews.get(post.post_id), ruleset.check(post.parts)))
    if not items or not slots:
        return items
    _, found = agenda.upcoming_with_drafts(store, config, now, count=1, drafts=SLOTS_FOR)
    where = {slot.post.post_id: slot for slot in found}
    return [_with_slot(item, where.get(item.post.post_id)) for item in items]


def _with_slot(item: ReviewItem, slot) -> ReviewItem:
    if slot is None or slot.content_hash != item.content_hash:
        return item
    return ReviewItem(item.post, item.content_hash, item.status, item.review, item.findings, slot.at, slot.source)


def item(store: Store, config: Config, post_id: str, now: datetime) -> ReviewItem:
    """One post as a reviewer sees it, whatever its status."""
    post = _get(store, config, post_id)
    if post.account != config.account:
        raise ReviewError(f"no post with id {post_id!r} for @{config.handle}")
    digest = hash_of(post)
    review = store.reviews([post_id]).get(post_id)
    found = ReviewItem(post, digest, status_of(digest, review), review, findings_for(config, post.parts))
    if found.status != APPROVED and post.state.is_pending:
        listed = {i.post.post_id: i for i in waiting(store, config, now)}
        return listed.get(post_id, found)
    return found


@dataclass(frozen=True)
class Outcome:
    decided: tuple[str, ...]
    already: tuple[str, ...] = ()  # already approved as they are: nothing recorded


def approve(store: Store, config: Config, post_ids: Sequence[str], *, who: str, now: datetime,
            comment: str | None = None, expected: dict[str, str] | None = None) -> Outcome:
    """Approve posts as they are now (or, with ``expected``, as they were shown: post id -> hash), all or
    none. Refused when a post has a ``block`` finding, is not pending, or changed since it was shown."""
    items = items_for(store, config, post_ids, expected)
    blocked = [(i, f) for i in items for f in blocking(i.findings)]
    if blocked:
        lines = "; ".join(f"{i.post.post_id}: {f.describe()}" for i, f in blocked)
        raise ReviewError(f"cannot approve: {lines}. A blocking finding has to go before approval: change the "
                          "text (its approval request starts again), or change the rule in [review] if it is wrong")
    already = tuple(i.post.post_id for i in items if i.status == APPROVED)
    todo = [i for i in items if i.status != APPROVED]
    if todo:
        store.record_decisions(config.account, [decision_for(i) for i in todo], action=APPROVED, actor=who,
                               comment=comment, now=now)
    return Outcome(tuple(i.post.post_id for i in todo), already)


def request_changes(store: Store, config: Config, post_ids: Sequence[str], *, who: str, comment: str,
                    now: datetime, expected: dict[str, str] | None = None) -> Outcome:
    """Send posts back to their author with a comment (the notice goes to ``[notify] authors``)."""
    from scheduler import notices

    if not comment or not comment.strip():
        raise ReviewError("say what has to change: --comment TEXT is required when requesting changes")
    items = items_for(store, config, post_ids, expected)
    store.record_decisions(config.account, [decision_for(i) for i in items], action=CHANGES_REQUESTED, actor=who,
                           comment=comment.strip(), now=now,
                           notices=notices.changes_requested(config, items, who=who, comment=comment.strip()))
    return Outcome(tuple(i.post.post_id for i in items))


def items_for(store: Store, config: Config, post_ids: Sequence[str], expected: dict[str, str] | None) -> list[ReviewItem]:
    if not post_ids:
        raise ReviewError("name at least one post id; `scheduler review list` shows the posts awaiting review")
    ids = list(dict.fromkeys(post_ids))
    ruleset = rules(config)
    items = []
    reviews = store.reviews(ids)
    for post_id in ids:
        post = _get(store, config, post_id)
        if post.account != config.account:
            raise ReviewError(f"no post with id {post_id!r} for @{config.handle}")
        if post.state not in (PostState.QUEUED, PostState.RETRYING):
            raise ReviewError(f"post {post_id} is {post.state.value}, not waiting to be sent: there is nothing "
                              "to review")
        digest = hash_of(post, fresh=True)
        if expected is not None and expected.get(post_id) != digest:
            raise ReviewError(f"post {post_id} changed since it was shown to you; look at it again")
        items.append(ReviewItem(post, digest, status_of(digest, reviews.get(post_id)), reviews.get(post_id),
                                ruleset.check(post.parts)))
    return items


def _get(store: Store, config: Config, post_id: str) -> PostRecord:
    from scheduler.errors import QueueError

    try:
        return store.get(post_id)
    except QueueError:
        raise ReviewError(f"no post with id {post_id!r}; `scheduler review list` shows the posts awaiting "
                          "review") from None


def decision_for(item: ReviewItem) -> Decision:
    return Decision(item.post.post_id, item.content_hash, tuple(f.as_dict() for f in item.findings))


def log(store: Store, config: Config, *, limit: int = 100, post_id: str | None = None) -> list[LogEntry]:
    return store.review_log(config.account, limit=limit, post_id=post_id)
