"""Re-importing an article: what becomes of each of its posts already in the ledger.

An article imported again may have changed: a tip reworded, added or gone. Each of its posts in the ledger is
decided here, by the rules below, and the ledger only carries the decision out (``ledger.articles``):

- a post new to the ledger is queued (``ADD``);
- a post a person removed stays out, with the article's new text should it be restored (``REFRESH_REMOVED``),
  unless a person wrote its text or part of it may be live (``KEEP_REMOVED``);
- a post whose text is the same is left alone (``UNCHANGED``);
- a post already handed to the network keeps what went out (``KEPT_SENT``);
- a post whose text a person wrote keeps it (``KEPT_EDIT`` when its tip changed under it, so the import says so);
- a waiting post that may be live (a lost answer being looked up, a thread partly sent) keeps the text that went
  out, so the look-up finds it (``KEPT_LIVE``; the rule is ``domain.lifecycle``);
- any other waiting post takes the new text (``UPDATE``).

A post whose tip left the article is removed (``REMOVE``) if it is waiting, nothing of it may be live and no person
wrote it; otherwise it stays as it is (``KEPT_EDIT``, ``KEPT_LIVE``), and a post already out is not touched
(``NOTHING``).
"""

from __future__ import annotations

from enum import Enum

from scheduler.domain import lifecycle
from scheduler.domain.models import PostState



class Merge(Enum):
    ADD = "add"
    UPDATE = "update"
    UNCHANGED = "unchanged"
    REMOVE = "remove"
    KEPT_SENT = "kept_sent"
    KEPT_EDIT = "kept_edit"
    KEPT_LIVE = "kept_live"
    REFRESH_REMOVED = "refresh_removed"  # stays removed, with the new text
    KEEP_REMOVED = "keep_removed"  # stays removed, as it was
    NOTHING = "nothing"

    @property
    def report(self) -> str | None:
        """The import report's list that names this post (None: none)."""
        return _REPORT.get(self)


_REPORT = {
    Merge.ADD: "added", Merge.UPDATE: "updated", Merge.UNCHANGED: "unchanged", Merge.REMOVE: "removed",
    Merge.KEPT_SENT: "kept_sent", Merge.KEPT_EDIT: "kept_edit", Merge.KEPT_LIVE: "kept_live",
    Merge.REFRESH_REMOVED: "kept_removed", Merge.KEEP_REMOVED: "kept_removed",
}


def merge_post(row, *, same: bool, tip_changed: bool) -> Merge:
    """A post of the article as imported now, against its ledger row (None: not in the ledger).
    ``same``: the row holds exactly the new text and parts; ``tip_changed``: the article's tip differs from the
    one last imported."""
    if row is None:
        return Merge.ADD
    if row.state == PostState.REMOVED.value:
        if row.edit_kind != "text" and not same and lifecycle.frozen_row(row) is None:
            return Merge.REFRESH_REMOVED
        return Merge.KEEP_REMOVED
    if same:
        return Merge.UNCHANGED
    if row.state not in lifecycle.PENDING:
        return Merge.KEPT_SENT
    if row.edit_kind == "text":
        return Merge.KEPT_EDIT if tip_changed else Merge.UNCHANGED
    if lifecycle.frozen_row(row) is not None:
        return Merge.KEPT_LIVE
    return Merge.UPDATE


def merge_gone(row) -> Merge:
    """A post in the ledger whose tip is no longer in the article."""
    if row.state not in lifecycle.PENDING:
        return Merge.NOTHING
    if row.edit_kind == "text":
        return Merge.KEPT_EDIT  # its tip left the article, but a person wrote this post
    if lifecycle.frozen_row(row) is not None:
        return Merge.KEPT_LIVE  # it may be live: settle it first
    return Merge.REMOVE
