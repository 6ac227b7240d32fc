"""Evergreen mode: when the queue runs dry, sent tips come back in another wording.

A tip is eligible once its latest publication is older than ``[queue] evergreen_cooldown``;
the oldest go first. Each comes back in the next template variant whose text was not sent within
the duplicate window (X refuses exact repeats). A recycled post's id is the tip's id plus how
many times the tip has gone out (``…-3-r2``; the next free number when a recycled post of it failed), so the
plan is the same whenever it is computed. A recycled post that failed, ended unknown or was removed does not
come back at once: its tip rests for a cooldown from then, and the next tip is proposed instead.

With review on (``[review] required``), a recycled wording is a new text nobody approved, so it is never
planned straight from here. Instead ``propose_for_review`` puts the next wordings in the ledger ahead of
time, as posts awaiting review, whenever fewer than ``[queue] evergreen_review_ahead`` approved posts wait for
a slot: the reviewer is told (an "awaiting review" notice) and approves them like any imported post. A wording
a person removed is not proposed again.

Learning (docs/insights.md): once the metric collector has read sent posts, the tips and wordings that did best
come back first. Among each page of eligible tips (the longest-unsent ``PAGE``), tips are taken by their score
(``domain.learning``: the mean engagement rate of their posts pulled toward the account's mean, plus an
exploration bonus; a tip never measured scores highest, so it is tried); ties keep the longest-unsent order,
which is the whole order while nothing is measured. A tip's wording is the acceptable template variant with the
best score over every post written with it (a template never measured first, then the next variant, as before).
Each recycled post carries ``why`` it was chosen, which `preview` shows.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from scheduler.config import Config
from scheduler.domain.errors import QueueError
from scheduler.domain.models import Article, PostState, QueuedPost, Tip, post_id_for, text_fingerprint
from scheduler.ledger import post_ids
from scheduler.ledger.store import NewPost, Store, TipSends
from scheduler.planning.evergreen_learning import Learned, learned
from scheduler.text.limits import rule_for

# Tips read at once (longest-unsent first) while looking for candidates; more pages are read as long as needed.
PAGE = 100
# A recycled post in one of these is waiting in the queue itself: its tip is not proposed a second time.
_WAITING = (PostState.QUEUED.value, PostState.RETRYING.value, PostState.SENDING.value)
# A recycled post that ended in one of these did not bring its tip back: the tip rests for a cooldown from then.
_ENDED = (PostState.FAILED.value, PostState.UNKNOWN.value, PostState.REMOVED.value)


def candidates(store: Store, config: Config, now: datetime, *, limit: int) -> list[QueuedPost]:
    """The next ``limit`` recycled posts, the longest-unsent tips first.

    A tip is eligible once its latest publication is older than the cooldown, and once its latest recycled post
    that failed, ended unknown or was removed ended longer ago than the cooldown too (so such a post never comes
    back at once, again and again: the next tip is proposed instead). It comes back in the next template
    variant whose text was not sent within the duplicate window and is not a wording a person removed, under
    the first ``-rN`` id no post of the tip holds."""
    cooldown_start = now - config["queue"]["evergreen_cooldown"]
    suffix = post_ids.planned_suffix(store, config)
    articles: dict[str, Article | None] = {}
    found: list[QueuedPost] = []
    offset = 0
    record: Learned | None = None
    while len(found) < limit:
        page = store.tips_sent_before(config.account, cooldown_start, offset=offset, limit=PAGE)
        offset += len(page)
        if page and record is None:
            record = learned(store, config.account)
        if record is not None and record.total:
            # The best-scoring tips of the page first; sorted() is stable: ties stay longest-unsent first.
            page = sorted(page, key=lambda sends: -record.tip(sends.article_key, sends.tip).value)
        for sends in page:
            if len(found) >= limit:
                break
            post = _candidate(store, config, sends, now, cooldown_start, suffix, articles, record or Learned())
            if post is not None:
                found.append(post)
        if len(page) < PAGE:
            break
    return found


def _candidate(store: Store, config: Config, sends: TipSends, now: datetime, cooldown_start: datetime,
               suffix: str, articles: dict[str, Article | None], record: Learned) -> QueuedPost | None:
    """The recycled post of one tip, or None when the tip is not to come back now."""
    from scheduler.compose.composer import compose_tip  # lazy: Jinja2 ~45-70 ms; only composing needs it, other commands load this module
    from scheduler.compose.templates import templates_for  # lazy: Jinja2 ~45-70 ms; only composing needs it, other commands load this module

    key = sends.article_key, sends.tip
    article = articles.setdefault(key[0], _article(store, config, key[0]))
    tip = next((t for t in article.tips if t.number == key[1]), None) if article else None
    if tip is None:
        return None  # the tip was edited out of its article: do not bring it back
    history = store.tip_history(config.account, sends)
    recycles = history.recycles
    if any(state in _WAITING for _, state, _, _ in recycles):
        return None  # a recycled wording of it waits in the queue already
    if any(state in _ENDED and ended >= cooldown_start for _, state, ended, _ in recycles):
        return None  # its last recycled post failed (or was removed) within the cooldown: it rests
    removed = {fingerprint for _, state, _, fingerprint in recycles if state == PostState.REMOVED.value}
    hashtags = article.hashtags or config["compose"]["hashtags"]
    env, rule, window = templates_for(config), rule_for(config), config["queue"]["duplicate_window"]

    def compose(step: int):
        return compose_tip(article, tip, handle=config.handle, hashtags=hashtags, variant=history.variant + step,
                           env=env, rule=rule, disclaimer=config["review"]["disclaimer"])

    first = compose(1)
    # The next variants of the tip's kind (its templates' folder), best-scoring first; ties (and everything,
    # while nothing is measured) in variant order, as before. Each is composed only when reached.
    kind = first.template.split("/", 1)[0]
    steps = range(1, len(env.variants(kind)) + 1)
    score_of = {step: record.template(env.pick(kind, history.variant + step)[1].name) for step in steps}
    chosen, best = None, None
    for step in sorted(steps, key=lambda step: (-score_of[step].value, step)):
        composed = first if step == 1 else compose(step)
        if text_fingerprint(composed.text) in removed:
            continue  # a person took this wording out once
        if store.find_duplicate(config.account, composed.text, now, window) is not None:
            continue  # sent within the duplicate window
        chosen, best = composed, record.template(composed.template)
        break
    if chosen is None:
        return None  # every wording was sent recently (or removed): wait for the window to pass
    composed = chosen
    why = (f"tip {key[0]}#{key[1]}: {record.tip(key[0], key[1]).why()}; "
           f"wording {composed.template}: {best.why()}") if record.total else None
    taken = {post_id for post_id, _, _, _ in recycles}
    number = sends.times_sent
    while f"{post_id_for(key[0], key[1])}-r{number}{suffix}" in taken:
        number += 1  # held by a recycled post that failed or was removed: the next number
    return QueuedPost(
        post_id=f"{post_id_for(key[0], key[1])}-r{number}{suffix}",
        account=config.account,
        text=composed.text,
        parts=composed.parts,
        weighted_length=composed.weighted_length,
        state=PostState.QUEUED,
        position=float("inf"),
        article_key=key[0],
        tip=key[1],
        template=composed.template,
        variant=composed.variant,
        media=composed.media,
        why=why,
    )


def next_due(store: Store, config: Config, now: datetime) -> datetime | None:
    """When the next tip comes out of its cooldown (strictly after ``now``), for a service with nothing to
    publish now to wake up at; None when no tip is resting (or evergreen plans nothing: off, or review on)."""
    if not config["queue"]["evergreen"] or config["review"]["required"]:
        return None
    cooldown = config["queue"]["evergreen_cooldown"]
    # A tip whose rest began at ``now - cooldown`` exactly may come back now; only later rests are waited for.
    began = store.tips_resting_since(config.account, now - cooldown + timedelta(microseconds=1))
    return None if began is None else began + cooldown


def materialize(store: Store, config: Config, post: QueuedPost, now: datetime) -> None:
    """Put a planned recycle post into the ledger, so it can be claimed like any other."""
    try:
        store.get(post.post_id)
        return
    except QueueError:
        pass
    store.add_post(config.account, NewPost(
        post_id=post.post_id, kind="recycle", text=post.text, parts=post.parts,
        weighted_length=post.weighted_length, article_key=post.article_key, tip=post.tip,
        template=post.template, variant=post.variant, media=post.media,
    ), now, duplicate_window=config["queue"]["duplicate_window"])


def _article(store: Store, config: Config, key: str) -> Article | None:
    row = store.article(config.account, key)
    if row is None or row.get("removed_at"):
        return None  # gone from the ledger, or removed by a person: its tips do not come back
    tips = tuple(Tip(t["number"], t["headline"], t["body"]) for t in row["tips"])
    return Article(title=row["title"], url=row["url"], tips=tips, source=row["source"],
                   hashtags=tuple(row["hashtags"]), id=key)






# Candidates read past those already proposed (waiting or removed) to find new ones.
SCAN_SKIP = 50
