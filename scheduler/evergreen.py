"""Evergreen mode: when the queue runs dry, sent tips come back in another wording.

A tip is eligible once its latest publication is older than ``[queue] evergreen_cooldown``;
the oldest go first. Each comes back in the next template variant whose text was not sent within
the duplicate window (X refuses exact repeats). A recycled post's id is the tip's id plus how
many times the tip has gone out (``…-3-r2``), so the plan is the same whenever it is computed.

With review on (``[review] required``), a recycled wording is a new text nobody approved, so it is never
planned straight from here. Instead ``propose_for_review`` puts the next wordings in the ledger ahead of
time, as posts awaiting review, whenever fewer than ``[queue] evergreen_review_ahead`` approved posts wait for
a slot: the reviewer is told (an "awaiting review" notice) and approves them like any imported post. A wording
a person removed is not proposed again.
"""

from __future__ import annotations

from datetime import datetime

from scheduler.config import Config
from scheduler.models import Article, PostState, QueuedPost, Tip, post_id_for
from scheduler.store import NewPost, PostRecord, Store

# Sent posts read to find candidates: far more than a preview asks for.
SCAN_LIMIT = 2000


def candidates(store: Store, config: Config, now: datetime, *, limit: int) -> list[QueuedPost]:
    from scheduler.compose import compose_tip
    from scheduler.post_length import rule_for
    from scheduler import post_ids
    from scheduler.templates import templates_for

    cooldown_start = now - config["queue"]["evergreen_cooldown"]
    window = config["queue"]["duplicate_window"]
    latest: dict[tuple[str, int], PostRecord] = {}
    times_sent: dict[tuple[str, int], int] = {}
    for post in store.sent_posts_before(config.account, now, limit=SCAN_LIMIT):
        if post.article_key is None or post.tip is None:
            continue
        key = (post.article_key, post.tip)
        latest[key] = post  # oldest first, so the last one seen is the latest
        times_sent[key] = times_sent.get(key, 0) + 1
    suffix = post_ids.planned_suffix(store, config)
    env = None
    articles: dict[str, Article | None] = {}
    found: list[QueuedPost] = []
    for key, post in sorted(latest.items(), key=lambda item: item[1].sent_at):
        if post.sent_at >= cooldown_start or len(found) >= limit:
            continue
        article = articles.setdefault(key[0], _article(store, config, key[0]))
        tip = next((t for t in article.tips if t.number == key[1]), None) if article else None
        if tip is None:
            continue  # the tip was edited out of its article: do not bring it back
        env = env or templates_for(config)
        rule = rule_for(config)
        hashtags = article.hashtags or config["compose"]["hashtags"]
        for step in range(1, 8):
            composed = compose_tip(article, tip, handle=config.handle, hashtags=hashtags,
                                   variant=post.variant + step, env=env, rule=rule,
                                   disclaimer=config["review"]["disclaimer"])
            if store.find_duplicate(config.account, composed.text, now, window) is None:
                break
        else:
            continue  # every wording was sent recently: wait for the window to pass
        found.append(QueuedPost(
            post_id=f"{post_id_for(key[0], key[1])}-r{times_sent[key]}{suffix}",
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
        ))
    return found


def materialize(store: Store, config: Config, post: QueuedPost, now: datetime) -> None:
    """Put a planned recycle post into the ledger, so it can be claimed like any other."""
    from scheduler.errors import QueueError

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


def propose_for_review(store: Store, config: Config, now: datetime) -> list[str]:
    """With review and evergreen on: put recycled wordings in the ledger as posts awaiting review, so that
    ``[queue] evergreen_review_ahead`` posts (approved or awaiting) stand ready when the approved queue runs
    short. Returns the ids of the posts added now; calling it again adds nothing until more are needed."""
    from scheduler import agenda, review

    if not (config["queue"]["evergreen"] and review.required(config)):
        return []
    ahead = config["queue"]["evergreen_review_ahead"]
    with store.snapshot():
        approved, waiting = agenda.queue_window(store, config.account, ahead, review=True)
        ready = sum(1 for p in approved if p.pinned_at is None and p.next_attempt_at is None)
        # Recycled wordings already awaiting review count toward what is wanted.
        proposed = len(store.pending_ids(config.account, kind="recycle") - {p.post_id for p in approved})
    want = ahead - ready - proposed
    added: list[str] = []
    if want <= 0:
        return added
    for post in candidates(store, config, now, limit=ahead + SCAN_SKIP):  # the longest-unsent tips first
        if len(added) >= want:
            break
        if _exists(store, post.post_id):
            continue  # proposed before: waiting, approved, or removed by a person (not proposed again)
        materialize(store, config, post, now)
        added.append(post.post_id)
    return added


def _exists(store: Store, post_id: str) -> bool:
    from scheduler.errors import QueueError

    try:
        store.get(post_id)
    except QueueError:
        return False
    return True


# Candidates read past those already proposed (waiting or removed) to find new ones.
SCAN_SKIP = 50
