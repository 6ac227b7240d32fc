"""A post's lifecycle: whether its content may still change.

ONE rule, used by every path that rewrites a post's text or parts (``queue edit``, the dashboard and the API's
PATCH through ``editing``, a re-import of its article, a re-import meeting a removed post): a post may change
only while nothing of it may be live on the network. Once a call for it may have reached the network, its
text is what the look-up searches for (``PublishingEngine._look_up``) and what the rest of a thread replies
to: changing it then makes the look-up miss the post that went out, and the service send it again, in the new
wording (which the network's duplicate check does not catch).

So a post's content is frozen when

- it is not waiting (``sending``, ``sent``, ``failed``, ``unknown``): it was handed to the network;
- it is uncertain: its last call lost its answer, and it is being looked up;
- part of its thread is already out (``part_ids``): the rest must be the replies that were planned.

A removed post may change (the re-import keeps its text current for a ``restore``) on the same two last
conditions. The ledger enforces the same invariant (trigger ``posts_content_frozen``, migration m012_lifecycle),
so no writer that forgets to ask can break it.
"""

from __future__ import annotations

from collections.abc import Sequence

from scheduler.domain.models import PostState

# States of a post waiting to be published (the queue): it may be claimed, edited, pinned, moved or removed.
PENDING = (PostState.QUEUED.value, PostState.RETRYING.value)

# States in which a post's content may still change (if nothing of it may be live).
OPEN_STATES = (PostState.QUEUED.value, PostState.RETRYING.value, PostState.REMOVED.value)

# What an import says of a post it left as it was because it may be live.
KEPT_LIVE = "kept: may already be live, settle it first"


def frozen_reason(state: str | PostState, uncertain: bool, part_ids: Sequence[str] | str | None) -> str | None:
    """Why this post's text and parts may no longer change (None: they may). Takes the row's own values, so the
    ledger's rows and ``PostRecord`` answer alike."""
    import json

    value = state.value if isinstance(state, PostState) else state
    ids = json.loads(part_ids) if isinstance(part_ids, str) else list(part_ids or ())
    if value not in OPEN_STATES:
        return f"it is {value}"
    if uncertain:
        return "its last call lost its answer, so it may already be live (it is being looked up)"
    if ids:
        return f"a thread partly sent ({len(ids)} part{'s' if len(ids) != 1 else ''} already live)"
    return None


def frozen_row(row) -> str | None:
    """``frozen_reason`` of a posts row (or ``PostRecord``)."""
    state = row.state
    return frozen_reason(state, bool(row.uncertain), row.part_ids)
