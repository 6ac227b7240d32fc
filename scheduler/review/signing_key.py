"""The ledger's signing key: it signs reviewer links (scheduler.review.links) and the password-less dashboard's
session cookies and sign-in's device cookies (scheduler.app.access). Made on first use and kept in the ledger, so every process signs and checks
with the same key; ``scheduler web rotate-key`` replaces it, and whatever the old key signed stops working."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime


def current(store, now: datetime) -> bytes:
    """The key (made now if the ledger has none yet)."""
    return store.link_secret(now, secrets.token_hex(32)).encode()


@dataclass(frozen=True)
class Rotated:
    revoked_links: tuple[tuple[str, str], ...]  # (account, link id) of the reviewer links that were still usable


def rotate(store, now: datetime, *, actor: str) -> Rotated:
    """Replace the key. Reviewer links still usable are revoked in the same transaction (each logged in the review
    log), since their signatures no longer verify; cookies of the password-less dashboard stop working (the page
    hands out a new one on the next load)."""
    return Rotated(tuple(store.rotate_link_secret(now, secrets.token_hex(32), actor=actor)))
