"""Editing the queue by hand: a post seen whole, its text or template variant changed, posts and articles taken
out and put back.

The command line and the web dashboard call these same functions. Each returns what changed (the updated
``PostRecord``, or the posts concerned) and raises ``QueueError`` with a message that says what to do. What a
person changes stays changed: an edited text is never overwritten by a re-import, a chosen variant is kept when
the article is composed again, and a removed post stays removed until it is restored.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.config import Config
from scheduler.domain.errors import QueueError, TextError
from scheduler.domain.models import Article, PostState, Tip
from scheduler.ledger.store import ArticleSummary, PostRecord, Store
from scheduler.planning import agenda
from scheduler.text.limits import rule_for
from scheduler.text.x_length import INVALID_CHARACTERS

# How far ahead `queue show` plans to find a post's time; a post further back shows none.
PLAN_LIMIT = 500
# A pin this little in the past was meant as "now" (typing it took that long); earlier is a mistake.
PAST_PIN_TOLERANCE = timedelta(minutes=1)
PIN_HORIZON = timedelta(days=731)  # a pin may be at most two years ahead: further is a typo (README, "The queue")


@dataclass(frozen=True)
class PostDetail:
    """Everything about one post, as `scheduler queue show` presents it."""

    record: PostRecord
    planned_at: datetime | None  # its place in the plan, for a waiting post within the next PLAN_LIMIT
    article_title: str | None
    variants: tuple[str, ...]  # the templates a tip post can switch to (`--variant N` is the N-th)


def show(store: Store, config: Config, post_id: str, now: datetime) -> PostDetail:
    """The post whole, with its planned time and the template variants it may switch to."""
    record = store.get(post_id)
    if record.account != config.account:
        raise QueueError(f"no post with id {post_id!r}; `scheduler queue list` shows the ids")
    planned = None
    if record.state.is_pending:
        ahead = _place_in_queue(store, config, record)
        if ahead is not None:
            planned = agenda.planned_times(store, config, now, count=ahead + 1).get(post_id)
    article = store.article(config.account, record.article_key) if record.article_key else None
    return PostDetail(record, planned, article["title"] if article else None, _variant_names(store, config, record))


def edit_text(store: Store, config: Config, post_id: str, text: str | Sequence[str], now: datetime) -> PostRecord:
    """Replace a waiting post's text (a list of texts makes it a thread), checked like any post: each part within
    X's 280, no character X refuses, not a duplicate of a post sent or queued within the duplicate window.

    The post is marked as edited: a re-import of its article keeps this text."""
    rule = rule_for(config)
    parts = [text] if isinstance(text, str) else list(text)
    parts = [part.strip() for part in parts]
    if not parts or not all(parts):
        raise TextError(f"cannot edit {post_id!r}: the new text is empty (a thread's parts must each say something)")
    check_text(config, parts)
    _own(store, config, post_id)
    return store.edit_post(
        config.account, post_id, now, text=parts[0], parts=parts, weighted_length=rule.measure(parts[0]),
        edit_kind="text", duplicate_window=config["queue"]["duplicate_window"],
    )


def check_text(config: Config, parts: Sequence[str]) -> None:
    """The one check of a typed text, whether it is added or edited: no character X refuses, each part within
    the account's network's limit. Raises TextError (the API's 422 on POST and PATCH alike)."""
    rule = rule_for(config)
    for number, part in enumerate(parts, start=1):
        where = f"part {number} of the thread" if len(parts) > 1 else "the post"
        bad = sorted({f"U+{ord(c):04X}" for c in part if c in INVALID_CHARACTERS})
        if bad:
            raise TextError(f"{where} holds characters X refuses ({', '.join(bad)}): remove them")
        if problem := rule.too_long(part, where):
            raise TextError(problem)


def switch_variant(store: Store, config: Config, post_id: str, variant: int, now: datetime) -> PostRecord:
    """Compose a waiting tip post again with template variant ``variant`` (1 is the first file of its kind).

    Re-imports of the article keep the chosen variant (and compose the tip's new text with it)."""
    from scheduler.compose.composer import compose_tip  # lazy: Jinja2 ~45-70 ms; only composing needs it, other commands load this module

    record = _own(store, config, post_id)
    article = _article_of(store, config, record)
    tip = next((t for t in article.tips if t.number == record.tip), None)
    if tip is None:
        raise QueueError(f"cannot switch {post_id!r}: tip {record.tip} is no longer in its article; edit its --text")
    names = _variant_names(store, config, record)
    if not 1 <= variant <= len(names):
        raise QueueError(
            f"there is no variant {variant} for {post_id}: choose 1 to {len(names)} "
            f"({', '.join(f'{n} {name}' for n, name in enumerate(names, start=1))})"
        )

    composed = compose_tip(article, tip, handle=config.handle, hashtags=_hashtags(config, article),
                           variant=variant - 1, env=_templates(config), rule=rule_for(config),
                           disclaimer=config["review"]["disclaimer"])
    return store.edit_post(
        config.account, post_id, now, text=composed.text, parts=composed.parts,
        weighted_length=composed.weighted_length, edit_kind="variant", template=composed.template,
        variant=composed.variant, duplicate_window=config["queue"]["duplicate_window"],
    )


def remove(store: Store, config: Config, post_id: str, now: datetime) -> None:
    """Take a waiting post out of the queue; re-imports leave it out until ``restore``."""
    store.remove(config.account, post_id, now)


def restore(store: Store, config: Config, post_id: str, now: datetime) -> PostRecord:
    """Put a removed post back in the queue, in the place it had."""
    store.restore(config.account, post_id, now)
    return store.get(post_id)


def articles(store: Store, config: Config) -> list[ArticleSummary]:
    return store.articles(config.account)


def remove_article(store: Store, config: Config, article_key: str, now: datetime) -> list[str]:
    """Take an article's unsent posts out of the queue (sent ones stay as history) and keep re-imports from
    adding them again; returns the posts taken out."""
    return store.remove_article(config.account, article_key, now)


def restore_article(store: Store, config: Config, article_key: str, now: datetime) -> list[str]:
    """Undo ``remove_article``: its removed posts go back in their places, and imports take it again."""
    return store.restore_article(config.account, article_key, now)


def removed_posts(store: Store, config: Config) -> list[PostRecord]:
    """Posts a person took out of the queue (or whose tip left its article after an attempt)."""
    return store.posts_in_state(config.account, PostState.REMOVED)


def pin(store: Store, config: Config, post_id: str, at: datetime | None, now: datetime) -> list[str]:
    """Pin a waiting post to ``at`` (None unpins it). A time more than a minute past is refused: pin to ``now``
    for "as soon as possible". Returns warnings, such as a pin that the daily or monthly cap will hold back."""
    check_pin(config, at, now)
    store.pin(config.account, post_id, at, now)
    return pin_warnings(store, config, post_id, at, now)


def check_pin(config: Config, at: datetime | None, now: datetime, *, asap: str = "--now") -> None:
    """Refuse a pin more than a minute past, or more than two years ahead (``PIN_HORIZON``): the CLI, the
    dashboard and the API all check here. ``asap`` names the caller's way to say "as soon as possible"."""
    if at is not None and at > now + PIN_HORIZON:
        raise QueueError(
            f"{at.astimezone(config.tz).isoformat()} is more than two years ahead (it is now "
            f"{now.astimezone(config.tz):%Y-%m-%d %H:%M %Z}): a pin may be at most two years ahead; check the year"
        )
    if at is not None and at < now - PAST_PIN_TOLERANCE:
        raise QueueError(
            f"{at.astimezone(config.tz).isoformat()} is in the past (it is now "
            f"{now.astimezone(config.tz):%Y-%m-%d %H:%M:%S %Z}): give a later time, or {asap} to post it as soon "
            "as possible"
        )


def pin_warnings(store: Store, config: Config, post_id: str, at: datetime | None, now: datetime) -> list[str]:
    """What to tell the person who just pinned ``post_id`` at ``at``: another post pinned to the same second (as the
    calendar warns of a full day), and a cap that will hold it back."""
    if at is None:
        return []
    same = sorted(p.post_id for p in store.scheduled_pending(config.account)
                  if p.post_id != post_id and p.pinned_at is not None and p.pinned_at == at)
    clash = [f"{post_id} is pinned at {at.astimezone(config.tz):%Y-%m-%d %H:%M:%S %Z}, the very second "
             f"{', '.join(same)} {'is' if len(same) == 1 else 'are'} pinned to: they go out one right after the other; "
             "pin one of them to another time if that is not what you meant"] if same else []
    waiting = sum(1 for _ in zip(range(PLAN_LIMIT), store.iter_pending(config.account)))
    for entry in agenda.upcoming(store, config, now, count=waiting + 1):
        if entry.at == at and entry.source == "pin" and entry.reason in ("daily cap", "monthly cap"):
            cap, period = ("daily", "day") if entry.reason == "daily cap" else ("monthly", "month")
            return clash + [
                f"{post_id} is pinned at {at.astimezone(config.tz).isoformat()}, but that {period} already has its "
                f"{config['quota'][cap]} posts ([quota] {cap}): it will wait for the next free slot instead; pin "
                f"it to another {period}, or raise the cap"
            ]
        if entry.at > at:
            break
    return clash


# -- helpers --------------------------------------------------------------------------------------


def _own(store: Store, config: Config, post_id: str) -> PostRecord:
    """The account's post, if it is still waiting to go out."""
    record = store.get(post_id)
    if record.account != config.account:
        raise QueueError(f"no post with id {post_id!r}; `scheduler queue list` shows the ids")
    if record.state is PostState.REMOVED:
        raise QueueError(f"{post_id} was removed from the queue: `scheduler queue restore {post_id}` first")
    if not record.state.is_pending:
        if record.state is PostState.SENDING:
            raise QueueError(f"{post_id} is being sent right now: it can no longer be edited")
        raise QueueError(f"{post_id} is {record.state.value}: only posts waiting in the queue can be edited")
    return record


def _place_in_queue(store: Store, config: Config, record: PostRecord) -> int | None:
    """How many waiting posts come before this one (pins and retries count too), up to PLAN_LIMIT."""
    ahead = 0
    for post in store.iter_pending(config.account):
        if post.post_id == record.post_id:
            return ahead
        ahead += 1
        if ahead >= PLAN_LIMIT:
            return None
    return None


def _article_of(store: Store, config: Config, record: PostRecord):
    if record.kind == "adhoc" or record.article_key is None or record.tip is None:
        raise QueueError(
            f"{record.post_id} was written by hand (`scheduler queue add`): it has no template variants; "
            "change it with --text"
        )
    row = store.article(config.account, record.article_key)
    if row is None:
        raise QueueError(f"the article of {record.post_id} is no longer in the ledger; change the post with --text")
    tips = tuple(Tip(t["number"], t["headline"], t["body"]) for t in row["tips"])
    return Article(title=row["title"], url=row["url"], tips=tips, source=row["source"],
                   hashtags=tuple(row["hashtags"]), id=record.article_key)


def _variant_names(store: Store, config: Config, record: PostRecord) -> tuple[str, ...]:
    if record.kind == "adhoc" or record.template is None:
        return ()
    kind = record.template.split("/", 1)[0]
    templates = _templates(config)
    if not templates.has(kind):
        return ()
    return tuple(variant.name for variant in templates.variants(kind))


def _templates(config: Config):
    from scheduler.compose.templates import templates_for  # lazy: Jinja2 ~45-70 ms; only composing needs it, other commands load this module

    return templates_for(config)


def _hashtags(config: Config, article) -> Sequence[str]:
    return article.hashtags or config["compose"]["hashtags"]
