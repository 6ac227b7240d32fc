"""What a re-import does to each post already in the ledger: the rule (scheduler.domain.import_merge) as a table,
over every state a post can be in, so the ledger can only carry it out."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from scheduler.domain.import_merge import Merge, merge_gone, merge_post


def row(state="queued", *, edit_kind=None, uncertain=False, parts_sent=()):
    return SimpleNamespace(state=state, edit_kind=edit_kind, uncertain=uncertain, part_ids=json.dumps(list(parts_sent)))


@pytest.mark.parametrize("post, same, tip_changed, expected", [
    (None, False, True, Merge.ADD),
    (row("queued"), True, False, Merge.UNCHANGED),
    (row("queued"), False, True, Merge.UPDATE),
    (row("retrying"), False, True, Merge.UPDATE),
    (row("queued", edit_kind="text"), False, True, Merge.KEPT_EDIT),  # a person's text stays, and the import says so
    (row("queued", edit_kind="text"), False, False, Merge.UNCHANGED),
    (row("queued", edit_kind="variant"), False, True, Merge.UPDATE),
    (row("retrying", uncertain=True), False, True, Merge.KEPT_LIVE),  # the look-up searches for what went out
    (row("queued", parts_sent=("1",)), False, True, Merge.KEPT_LIVE),  # a thread partly sent is finished as begun
    (row("sending"), False, True, Merge.KEPT_SENT),
    (row("sent"), False, True, Merge.KEPT_SENT),
    (row("failed"), False, True, Merge.KEPT_SENT),
    (row("unknown"), False, True, Merge.KEPT_SENT),
    (row("sent"), True, False, Merge.UNCHANGED),
    (row("removed"), False, True, Merge.REFRESH_REMOVED),  # stays out, with the new text for a restore
    (row("removed"), True, False, Merge.KEEP_REMOVED),
    (row("removed", edit_kind="text"), False, True, Merge.KEEP_REMOVED),
    (row("removed", uncertain=True), False, True, Merge.KEEP_REMOVED),
    (row("removed", parts_sent=("1",)), False, True, Merge.KEEP_REMOVED),
])
def test_a_post_of_the_article_imported_again(post, same, tip_changed, expected):
    assert merge_post(post, same=same, tip_changed=tip_changed) is expected


@pytest.mark.parametrize("post, expected", [
    (row("queued"), Merge.REMOVE),
    (row("retrying"), Merge.REMOVE),
    (row("queued", edit_kind="text"), Merge.KEPT_EDIT),
    (row("retrying", uncertain=True), Merge.KEPT_LIVE),
    (row("queued", parts_sent=("1",)), Merge.KEPT_LIVE),
    (row("sent"), Merge.NOTHING),
    (row("sending"), Merge.NOTHING),
    (row("removed"), Merge.NOTHING),
])
def test_a_post_whose_tip_left_the_article(post, expected):
    assert merge_gone(post) is expected


def test_every_decision_but_nothing_is_named_in_the_import_report():
    assert {m for m in Merge if m.report is None} == {Merge.NOTHING}
    assert {m.report for m in Merge} - {None} == {
        "added", "updated", "unchanged", "removed", "kept_sent", "kept_edit", "kept_live", "kept_removed"}
