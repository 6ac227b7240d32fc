"""What evergreen learns from the metrics: each tip's and each wording's record, scored by ``domain.learning``.

A post's result is its engagement rate at its newest reading (its parts added up, ``domain.post_curve``), on the
account's main basis (impressions on X, followers elsewhere; a post on another basis, or with none, is left out
rather than compared with the rest). A tip's record is the rates of every post of it (first sending and recycled
ones); a wording's is the rates of every post written with that template, whichever the tip, so a template that
does well for some tips is tried for others. The prior is the account's mean rate over the same posts.
"""

from __future__ import annotations

import threading
import weakref
from collections import Counter
from dataclasses import dataclass, field

from scheduler.domain import post_curve
from scheduler.domain.learning import Score, prior_of, score
from scheduler.ledger import insights as ledger
from scheduler.ledger.store import Store


@dataclass(frozen=True)
class Learned:
    tips: dict[tuple[str, int], list[float]] = field(default_factory=dict)
    templates: dict[str, list[float]] = field(default_factory=dict)
    prior: float = 0.0
    total: int = 0
    basis: str | None = None

    def tip(self, article_key: str, number: int) -> Score:
        return score(self.tips.get((article_key, number), ()), prior=self.prior, total=self.total)

    def template(self, name: str | None) -> Score:
        return score(self.templates.get(name or "", ()), prior=self.prior, total=self.total)


# Per store, per account: (readings mark, record). Every plan with evergreen on asks; the record is read again
# only when a reading was added (a sent post's tip and template never change).
_memo: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_memo_lock = threading.Lock()


def learned(store: Store, account: str) -> Learned:
    """The account's record, from the newest reading of every part of its sent posts (kept while no reading is
    added: ``ledger.insights.readings_mark``)."""
    mark = ledger.readings_mark(store, account)
    if mark[0] == 0:
        return Learned()
    with _memo_lock:
        known = _memo.get(store, {}).get(account)
    if known is not None and known[0] == mark:
        return known[1]
    record = _read(store, account)
    with _memo_lock:
        _memo.setdefault(store, {})[account] = (mark, record)
    return record


def _read(store: Store, account: str) -> Learned:
    parts: dict[str, list] = {}
    made: dict[str, ledger.SentPost] = {}
    for reading, post in ledger.latest_part_readings(store, account):
        parts.setdefault(post.post_id, []).append(reading)
        made[post.post_id] = post
    results = []
    for post_id, readings in parts.items():
        point = post_curve.latest(readings)
        if point is not None and point.engagement.rate is not None and point.engagement.basis is not None:
            results.append((made[post_id], point.engagement.basis.value, point.engagement.rate))
    if not results:
        return Learned()
    basis = Counter(b for _, b, _ in results).most_common(1)[0][0]
    tips: dict[tuple[str, int], list[float]] = {}
    templates: dict[str, list[float]] = {}
    for post, post_basis, rate in results:
        if post_basis != basis:
            continue
        if post.article_key is not None and post.tip is not None:
            tips.setdefault((post.article_key, post.tip), []).append(rate)
        if post.template:
            templates.setdefault(post.template, []).append(rate)
    prior, total = prior_of({post.post_id: [rate] for post, b, rate in results if b == basis})
    return Learned(tips, templates, prior, total, basis)
