"""Reviewer links: a signed, expiring, revocable, single-purpose token for reviewing on a phone.

    scheduler review link --expires 72h   ->   {link_base}/review/{token}

The token is ``{link id}.{expiry, epoch seconds}.{signature}``, the signature an HMAC-SHA256 of
(purpose, account, link id, expiry) under a key kept in the ledger (made on first use). It grants
one thing, the review page of one account: the posts that awaited review when it was made (or the
ones named), each as it was then (its content hash is recorded with the link), and a form to approve
them or request changes, logged under the name of the reviewer it was issued to (`--for NAME`). A post
added or changed after the link was made is not covered. It works once (the form's submission spends
it, in the transaction that records the decisions), until it expires, and until it is revoked
(``scheduler review revoke LINK_ID``). The token carries no secret of the account, and the page shows
nothing but the posts it covers.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from scheduler.config import Config
from scheduler.domain.errors import ReviewError
from scheduler.ledger.review import LinkRecord
from scheduler.ledger.store import Store
from scheduler.review import policy as review, signing_key

PURPOSE = "review"
MAX_EXPIRY = timedelta(days=30)
MAX_LINK_POSTS = 200  # the posts one link covers at most (those awaiting review first in the queue)


class LinkInvalid(ReviewError):
    """A reviewer link that cannot be used; the message says why, without revealing anything else."""

    def __init__(self, message: str, *, status: int = 410):
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Link:
    link_id: str
    token: str
    url: str
    expires_at: datetime
    reviewer: str = ""
    covers: tuple[str, ...] = ()  # the post ids it covers, each as it was when the link was made


def _secret(store: Store, now: datetime) -> bytes:
    return signing_key.current(store, now)


def _signature(secret: bytes, account: str, link_id: str, expires: int) -> str:
    message = f"{PURPOSE}\n{account}\n{link_id}\n{expires}".encode()
    digest = hmac.new(secret, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


MAX_REVIEWER_NAME = 80


def create(store: Store, config: Config, *, expires: timedelta, who: str, reviewer: str, now: datetime,
           post_ids: Sequence[str] | None = None) -> Link:
    """A link for ``reviewer`` (the name its decisions are logged with) covering the posts awaiting review now,
    or the named ones, each as it is now: a post added or changed later is not covered."""
    if expires <= timedelta(0):
        raise ReviewError("--expires must be a positive duration, e.g. 72h")
    if expires > MAX_EXPIRY:
        raise ReviewError(f"--expires {expires} is too long; a reviewer link lasts at most 30 days")
    reviewer = " ".join((reviewer or "").split())
    if not reviewer or len(reviewer) > MAX_REVIEWER_NAME:
        raise ReviewError(f"name the reviewer the link is for (1 to {MAX_REVIEWER_NAME} characters), e.g. "
                          "--for \"Dr Gleiber\": their decisions are logged under that name")
    if post_ids:
        items = review.items_for(store, config, post_ids, None)
        done = [i.post.post_id for i in items if i.status == review.APPROVED]
        if done:
            raise ReviewError(f"{', '.join(done)} is approved already, as it is: a link covers posts awaiting review")
    else:
        items = review.waiting(store, config, now, slots=False, limit=MAX_LINK_POSTS)
        if not items:
            raise ReviewError("nothing awaits review: a link covers the posts waiting when it is made, so make it "
                              "once there are some")
    covered = {i.post.post_id: i.content_hash for i in items}
    link_id = secrets.token_hex(8)
    expires_at = (now + expires).replace(microsecond=0)
    epoch = int(expires_at.timestamp())
    token = f"{link_id}.{epoch}.{_signature(_secret(store, now), config.account, link_id, epoch)}"
    store.add_link(config.account, link_id, purpose=PURPOSE, created_by=who, expires_at=expires_at, now=now,
                   reviewer=reviewer, covered=covered)
    return Link(link_id, token, f"{config['review']['link_base']}/review/{token}", expires_at, reviewer,
                tuple(covered))


def verify(store: Store, config: Config, token: str, now: datetime) -> LinkRecord:
    """The link a token stands for, if it may be used now; else ``LinkInvalid`` saying why."""
    pieces = token.split(".") if isinstance(token, str) else []
    if len(pieces) != 3 or not pieces[1].isdigit() or len(pieces[1]) > 12 or not pieces[0]:
        raise LinkInvalid("this is not a reviewer link", status=404)
    link_id, epoch_text, signature = pieces
    epoch = int(epoch_text)
    expected = _signature(_secret(store, now), config.account, link_id, epoch)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise LinkInvalid("this is not a reviewer link", status=404)
    record = store.link(link_id)
    if record is None or record.account != config.account or record.purpose != PURPOSE:
        raise LinkInvalid("this is not a reviewer link", status=404)
    if int(record.expires_at.timestamp()) != epoch:
        raise LinkInvalid("this is not a reviewer link", status=404)
    if record.revoked_at is not None:
        raise LinkInvalid("this reviewer link was revoked; ask for a new one")
    if record.used_at is not None:
        raise LinkInvalid("this reviewer link has been used; ask for a new one")
    if now >= record.expires_at or datetime.fromtimestamp(epoch, UTC) <= now:
        raise LinkInvalid("this reviewer link has expired; ask for a new one")
    return record


def revoke(store: Store, config: Config, link_id: str, *, who: str, now: datetime) -> None:
    store.revoke_link(config.account, link_id, actor=who, now=now)


def state_of(record: LinkRecord, now: datetime) -> str:
    if record.revoked_at is not None:
        return "revoked"
    if record.used_at is not None:
        return "used"
    if now >= record.expires_at:
        return "expired"
    return "active"
