"""Post ids per account, the same whatever the order of [[accounts]].

Post ids are unique in the whole ledger, and an article's tip becomes a post for each account it goes to. One
account keeps the plain ids ("massage-therapy-1"), as the single [account] always had; every other account's end in
``~`` and its ledger key ("massage-therapy-1~clinic.bsky.social"), stable when the account is renamed.

Which account holds the plain ids is recorded in the ledger (``plain_post_ids``) the first time it matters: the
account of a ledger's oldest plain id (the migration records it), else the first X account configured then. It
never changes after, so reordering [[accounts]] or adding an X account before the first leaves every id as it was,
and a re-import finds its posts instead of queueing them again.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.config import Config
from scheduler.ledger.store import Store


def suffix(store: Store, config: Config, now: datetime) -> str:
    """What ends the ids of posts the chosen account creates now ("" for the holder of the plain ids); records
    the holder if none is yet."""
    holder = store.plain_ids_account()
    if holder is None:
        first_x = config.first_x_account
        if first_x is None:
            return f"~{config.account}"  # no X account yet: an X account added later may still hold them
        holder = store.hold_plain_ids(first_x.key, now)
    return "" if holder == config.account else f"~{config.account}"


def planned_suffix(store: Store, config: Config) -> str:
    """``suffix`` without recording anything, for plans that only show posts (evergreen candidates)."""
    first_x = config.first_x_account
    holder = store.plain_ids_account() or (first_x.key if first_x else None)
    return "" if holder == config.account else f"~{config.account}"
