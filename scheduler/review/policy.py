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
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime

from scheduler.config import Config
from scheduler.domain.content_hash import hash_of
from scheduler.domain.content_rules import Finding, RuleSet, blocking, rules_from_config
from scheduler.domain.errors import QueueError, ReviewError
from scheduler.domain.models import PostState
from scheduler.ledger.review import APPROVED, CHANGES_REQUESTED, Decision, LogEntry, ReviewRecord
from scheduler.ledger.store import PostRecord, Store
from scheduler.planning import agenda
from scheduler.review import notices

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


def agree_with_ledger(store: Store, config: Config, now: datetime, *, who: str = "service") -> None:
    """Before a process publishes for the account: its ``[review] required`` must agree with the ledger's.

    The ledger keeps the requirement per account, so every process on it obeys the same rule. Turning
    review on is always safe: a config asking for it records it (the first start, or a config changed to
    ask for it). A config without it, on a ledger that requires it, is refused: turning review off takes
    an explicit, recorded command (`scheduler review require off`)."""
    wanted = required(config)
    recorded = store.review_requirement(config.account)
    if recorded is None or (wanted and not recorded.required):
        recorded = store.set_review_requirement(config.account, wanted, actor=who, now=now,
                                                only_if_unset=not wanted)
    if recorded.required and not wanted:
        where = f" ({config.source})" if config.source else ""
        raise ReviewError(
            f"the ledger says posts of @{config.handle} need review (recorded "
            f"{recorded.changed_at.astimezone(config.tz):%Y-%m-%d %H:%M %Z} by {recorded.changed_by}), but this "
            f"configuration{where} has [review] required = false, so this process would send unapproved posts: "
            "it does not start. Set `required = true` under [review], or, to publish without review from now on, "
            f"turn it off in the ledger with `scheduler --account {config.account_name} review require off` "
            "(recorded in the History)")


def set_requirement(store: Store, config: Config, on: bool, *, who: str, now: datetime):
    """`scheduler review require on|off`: the ledger's setting for the account (recorded in the History)."""
    return store.set_review_requirement(config.account, on, actor=who, now=now)


def rules(config: Config) -> RuleSet:
    return rules_from_config(config["review"])


def actor(name: str | None) -> str:
    """Who acts on the command line: the name given, else the operating system's user running it (by its uid,
    not the LOGNAME a shell can set). Approvals and text changes use the latter only."""
    if name and name.strip():
        return name.strip()
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError, AttributeError):
        pass
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


def waits_for_reviewer(config: Config, status: str) -> bool:
    """The one answer to "is this post waiting for a reviewer?": review is on and the post is not approved as it
    is now. With review off nothing waits (every queued post takes its slot, as `preview` and the service plan
    it); the Review page, `review list`, the calendar's drafts, status and the notices all read it through
    ``waiting``."""
    return required(config) and status != APPROVED


def waiting(store: Store, config: Config, now: datetime, *, limit: int = 200, slots: bool = True) -> list[ReviewItem]:
    """Pending posts waiting for a reviewer (``waits_for_reviewer``), in queue order, each with its findings
    and (``slots``: for the first ``SLOTS_FOR``) the slot it would get if it alone were approved now. Empty
    when review is off."""
    if not required(config):
        return []
    pending = store.queue_page(config.account, limit=limit)
    reviews = store.reviews(p.post_id for p in pending)
    ruleset = rules(config)
    items = []
    for post in pending:
        digest = hash_of(post)
        status = status_of(digest, reviews.get(post.post_id))
        if waits_for_reviewer(config, status):
            items.append(ReviewItem(post, digest, status, reviews.get(post.post_id), ruleset.check(post.parts)))
    if not items or not slots:
        return items
    _, found = agenda.upcoming_with_drafts(store, config, now, count=1, drafts=SLOTS_FOR)
    where = {slot.post.post_id: slot for slot in found}
    return [_with_slot(item, where.get(item.post.post_id)) for item in items]


def held(store: Store, config: Config, *, limit: int = 200) -> list[ReviewItem]:
    """With review off: the pending posts a content rule holds back (agenda.HeldByRule, the plan's own test), in
    queue order, each with its findings. With review on a blocked post simply cannot be approved (``waiting``)."""
    if required(config):
        return []
    rule = agenda.HeldByRule(config)
    items = []
    for post in store.queue_page(config.account, limit=limit):
        if rule(post):
            items.append(ReviewItem(post, hash_of(post), HELD, None, rule.rules.check(post.parts)))
    return items


HELD = agenda.HELD
RELEASE = ("edit its text so no blocking rule matches (Queue page, `scheduler queue edit ID`), or change the rule "
           "under [review] in scheduler.toml if it is wrong; it then takes the next free slot")


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


# Who may decide on a post (approve it or request changes), among the roles (domain.roles.ROLES).
DECIDERS = ("reviewer", "admin")


class NotAllowed(ReviewError):
    """The identity may not make this decision (its role, or separation of duties)."""


def may_decide(role: str, who: str) -> None:
    if role not in DECIDERS:
        raise NotAllowed(f"{who} has the role {role!r}, which cannot approve posts or request changes: only a "
                         "reviewer or an admin can (`scheduler web token create NAME --role reviewer`, "
                         "`scheduler web passwd --user NAME --role reviewer`)")


def approve(store: Store, config: Config, post_ids: Sequence[str], *, who: str, role: str, now: datetime,
            expected: Mapping[str, str], comment: str | None = None) -> Outcome:
    """Approve posts exactly as they were shown to ``who`` (``expected``: post id -> the content hash shown),
    all or none. Refused when ``role`` cannot approve, a hash is missing or stale (the post changed since it
    was shown), a post has a ``block`` finding or is not pending, or (``[review] separate_duties``) ``who``
    is the identity that last changed the text."""
    may_decide(role, who)
    items = items_for(store, config, post_ids, _required_hashes(post_ids, expected))
    blocked = [(i, f) for i in items for f in blocking(i.findings)]
    if blocked:
        lines = "; ".join(f"{i.post.post_id}: {f.describe()}" for i, f in blocked)
        raise ReviewError(f"cannot approve: {lines}. A blocking finding has to go before approval: change the "
                          "text (its approval request starts again), or change the rule in [review] if it is wrong")
    already = tuple(i.post.post_id for i in items if i.status == APPROVED)
    todo = [i for i in items if i.status != APPROVED]
    _refuse_own_edits(store, config, todo, who)
    if todo:
        store.record_decisions(config.account, [decision_for(i) for i in todo], action=APPROVED, actor=who,
                               comment=comment, now=now)
    return Outcome(tuple(i.post.post_id for i in todo), already)


def _required_hashes(post_ids: Sequence[str], expected: Mapping[str, str] | None) -> dict[str, str]:
    """Every approval names the content hash its reviewer saw: approving "whatever it says now" is not offered."""
    missing = [p for p in dict.fromkeys(post_ids) if not (expected or {}).get(p)]
    if missing:
        raise ReviewError(f"name the content hash you reviewed for {', '.join(missing)}: an approval covers exactly "
                          "the text shown (`scheduler review show ID` prints it; `review approve ID --hash HASH`, "
                          'the API\'s {"content_hashes": {"ID": "HASH"}})')
    return {p: expected[p] for p in post_ids}


def _refuse_own_edits(store: Store, config: Config, items: Sequence[ReviewItem], who: str) -> None:
    """``[review] separate_duties``: the identity that last changed a post's text cannot approve it."""
    if not config["review"]["separate_duties"] or not items:
        return
    authors = store.authors(i.post.post_id for i in items)
    own = [i.post.post_id for i in items
           if authors.get(i.post.post_id) == (i.content_hash, who)]
    if own:
        raise NotAllowed(f"{who} last changed the text of {', '.join(own)}, so another reviewer has to approve it "
                         "([review] separate_duties = true; set it to false where one person both writes and "
                         "approves)")


def record_change(store: Store, config: Config, post_ids: Sequence[str], *, who: str, now: datetime) -> None:
    """Remember that ``who`` gave these posts the text they hold now (called by the CLI and the web after an
    add, edit or import), so separation of duties can refuse their own approval."""
    ids = list(dict.fromkeys(post_ids))
    if not ids:
        return
    changes = {}
    for post_id in ids:
        try:
            post = store.get(post_id)
        except Exception:
            continue
        changes[post_id] = hash_of(post)
    store.record_authors(config.account, changes, actor=who, now=now)


def request_changes(store: Store, config: Config, post_ids: Sequence[str], *, who: str, role: str, comment: str,
                    now: datetime, expected: Mapping[str, str] | None = None) -> Outcome:
    """Send posts back to their author with a comment (the notice goes to ``[notify] authors``)."""
    may_decide(role, who)
    if not comment or not comment.strip():
        raise ReviewError("say what has to change: --comment TEXT is required when requesting changes")
    items = items_for(store, config, post_ids, expected)
    store.record_decisions(config.account, [decision_for(i) for i in items], action=CHANGES_REQUESTED, actor=who,
                           comment=comment.strip(), now=now,
                           notices=notices.changes_requested(config, items, who=who, comment=comment.strip()))
    return Outcome(tuple(i.post.post_id for i in items))


def items_for_link(store: Store, config: Config, post_ids: Sequence[str], now: datetime) -> list[ReviewItem]:
    """The posts among ``post_ids`` still pending and not approved, in queue order (a reviewer link's page)."""
    if not post_ids:
        return []
    wanted = set(post_ids)
    return [i for i in waiting(store, config, now, limit=100000) if i.post.post_id in wanted]


def items_for(store: Store, config: Config, post_ids: Sequence[str], expected: Mapping[str, str] | None) -> list[ReviewItem]:
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
    try:
        return store.get(post_id)
    except QueueError:
        raise ReviewError(f"no post with id {post_id!r}; `scheduler review list` shows the posts awaiting "
                          "review") from None


def decision_for(item: ReviewItem) -> Decision:
    return Decision(item.post.post_id, item.content_hash, tuple(f.as_dict() for f in item.findings))


def log(store: Store, config: Config, *, limit: int = 100, post_id: str | None = None) -> list[LogEntry]:
    return store.review_log(config.account, limit=limit, post_id=post_id)
