"""Following a blog's feed: each new entry's article becomes queued posts, exactly once.

    follow(store, config, url, now, backfill=0)   # `scheduler feeds add`
    unfollow(store, config, url)                  # `scheduler feeds remove`
    poll_due(store, config, now, fetcher)         # one pass over the feeds due; `feeds poll`, the service
    start_polling(store, get_configs, stopping, clock)   # the service's one polling thread, all accounts

A check fetches the feed with its ETag / Last-Modified (a 304 costs nothing) and parses it with
feedparser (RSS 0.9x/1.0/2.0 and Atom). Entries are taken oldest first; each is known by its id,
else its link, else a hash of its title and summary. A new entry's page is fetched and read like
`scheduler import URL` (``article_web``), composed, and imported in one transaction with the
record of the entry (``Store.import_articles(feed_entry=)``): the ledger's primary key on
(account, feed, entry) makes a second import impossible, whether after a crash, a restart or by a
second service polling at the same moment (who also loses the claim on the check first).

What becomes of an entry:
  imported  its tips are queued (posts it already had are left as they are)
  skipped   recorded with the reason and never retried: no numbered tips, page not found or not
            HTML or too large, no link, robots.txt says no, a post the ledger refuses as duplicate
  (none)    a transient failure (timeout, 5xx): nothing recorded, and the feed's validators are
            not saved either, so the next check sees the entry again

A feed that fails (404, invalid XML, timeout...) is checked less often: the wait doubles from
``[feeds] interval`` up to ``[feeds] backoff_max`` (at least what a 429/503's Retry-After asks).
Its state (ok / failing) is in the ledger, shown by `feeds list` and `status`, and logged once
per change, not once per check. One feed's failure never stops the others or the service.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from scheduler.articles.fetching import AddressGuard, Fetcher, FetchSettings, Page
from scheduler.articles.library import article_import, compose_read
from scheduler.articles.web_page import read_url
from scheduler.config import Config
from scheduler.domain.errors import FeedError, FetchError, SchedulerError
from scheduler.ledger import post_ids
from scheduler.ledger.feeds import AlreadyRecorded, FeedEntry, FeedRecord
from scheduler.ledger.store import Store

log = logging.getLogger("scheduler.feeds")
# The service's handlers show these lines; a CLI command (which prints its own report) stays quiet.
log.addHandler(logging.NullHandler())

_ACCEPT_FEED = "application/rss+xml, application/atom+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
_MAX_KEY = 500  # longer ids and links are kept as their hash (the key column's width)
_LONGEST_TICK = timedelta(seconds=60)


@dataclass(frozen=True)
class Entry:
    key: str
    link: str | None
    title: str | None
    categories: tuple[str, ...] = ()
    author: str | None = None
    published: str | None = None


@dataclass(frozen=True)
class ParsedFeed:
    title: str | None
    entries: tuple[Entry, ...]  # oldest first


@dataclass
class CheckResult:
    """What one check of one feed did (for the log, `feeds poll` and `feeds add`)."""

    url: str
    state: str  # ok | unchanged | failing | busy (another process is checking it)
    error: str | None = None
    imported: list[tuple[Entry, str, int]] = field(default_factory=list)  # (entry, article key, posts added)
    skipped: list[tuple[Entry, str]] = field(default_factory=list)  # (entry, reason)
    pending: list[tuple[Entry, str]] = field(default_factory=list)  # transient failures, seen again next check


# --- Following ---------------------------------------------------------------------------------


def follow(store: Store, config: Config, url: str, now: datetime, *, backfill: int = 0,
           account: str | None = None, fetcher: Fetcher | None = None) -> tuple[ParsedFeed, CheckResult]:
    """Follow the feed at ``url``: its current entries are marked seen, except the newest
    ``backfill``, which are imported now. Nothing is written if the feed cannot be read."""
    account = _account(config, account)
    _check_url(url)
    with _fetcher(config, fetcher) as web:
        page = web.get(url, accept=_ACCEPT_FEED)
        parsed = parse_feed(page)
        seen = parsed.entries[: max(len(parsed.entries) - backfill, 0)]
        store.add_feed(account, url, title=parsed.title, now=now, next_check_at=now + config["feeds"]["interval"],
                       etag=None, last_modified=None,
                       seen=[FeedEntry(e.key, e.link, e.title, outcome="seen") for e in seen])
        result = _settle(store, config, account, url, page, parsed, now, web)
    return parsed, result


def unfollow(store: Store, config: Config, url: str, *, account: str | None = None) -> int:
    return store.remove_feed(_account(config, account), url)


# --- Checking ----------------------------------------------------------------------------------


def poll_due(store: Store, config: Config, now: datetime, fetcher: Fetcher, *,
             stopping: threading.Event | None = None, every: bool = False) -> list[CheckResult]:
    """Check each of the account's feeds that is due (``every``: all of them), one after another."""
    results = []
    feeds = store.feeds(config.account, due_at=None if every else now)
    for feed in feeds:
        if stopping is not None and stopping.is_set():
            break
        results.append(check(store, config, feed, now, fetcher, force=every))
    return results


def check(store: Store, config: Config, feed: FeedRecord, now: datetime, fetcher: Fetcher, *,
          force: bool = False) -> CheckResult:
    """Check one feed, if this process wins its claim; never raises for the feed's own failures."""
    interval = config["feeds"]["interval"]
    claim_at = max(now, feed.next_check_at) if force else now
    if not store.claim_feed_check(feed.account, feed.url, claim_at, now + interval):
        return CheckResult(feed.url, "busy")
    try:
        page = fetcher.get(feed.url, accept=_ACCEPT_FEED, etag=feed.etag, last_modified=feed.last_modified)
        if page.status == 304:
            store.record_feed_check(feed.account, feed.url, now, next_check_at=now + interval, keep_validators=True)
            _log_change(feed.url, feed.state, "ok", None)
            return CheckResult(feed.url, "unchanged")
        parsed = parse_feed(page)
    except (FetchError, FeedError) as exc:
        return _failed(store, config, feed, now, exc)
    return _settle(store, config, feed.account, feed.url, page, parsed, now, fetcher, before=feed.state)


def _settle(store: Store, config: Config, account: str, url: str, page: Page, parsed: ParsedFeed,
            now: datetime, fetcher: Fetcher, *, before: str = "ok") -> CheckResult:
    result = CheckResult(url, "ok")
    recorded = store.recorded_entry_keys(account, url)
    # Entry links are the feed author's choice: public addresses only (the feed's own host too, if it is private).
    guard = AddressGuard.for_feed(page)
    for entry in parsed.entries:
        if entry.key not in recorded:
            _take(store, config, account, url, entry, now, fetcher, result, guard)
    # Validators only when every entry is settled: else a 304 would hide the pending ones next time.
    store.record_feed_check(account, url, now, next_check_at=now + config["feeds"]["interval"], title=parsed.title,
                            etag=page.etag, last_modified=page.last_modified, keep_validators=bool(result.pending))
    _log_change(url, before, "ok", None)
    return result


def _take(store: Store, config: Config, account: str, url: str, entry: Entry, now: datetime, fetcher: Fetcher,
          result: CheckResult, guard: AddressGuard) -> None:
    """Import one new entry, or record why not."""
    if not entry.link:
        _skip(store, account, url, entry, now, result, "the entry has no link to an article page")
        return
    try:
        article = _with_entry_metadata(read_url(entry.link, fetcher, guard=guard), entry)
        item = article_import(compose_read(config, article), post_ids.suffix(store, config, now))
        report = store.import_articles(
            account, [item], now,
            feed_entry=(url, FeedEntry(entry.key, entry.link, entry.title, article_key=item.article_key)),
        )[0]
    except AlreadyRecorded:
        return  # another process imported (or skipped) it first: nothing to do
    except FetchError as exc:
        if exc.transient:
            result.pending.append((entry, str(exc)))
            log.warning("feed %s: entry %r not imported yet, will try again: %s", url, entry.title, exc)
            return
        _skip(store, account, url, entry, now, result, str(exc))
        return
    except SchedulerError as exc:  # no tips, a template that cannot fit a tip, a duplicate post
        _skip(store, account, url, entry, now, result, str(exc))
        return
    result.imported.append((entry, item.article_key, len(report.added)))
    log.info("feed %s: imported %r as %s (%d posts queued)", url, entry.title, item.article_key, len(report.added),
             extra={"fields": {"feed": url, "entry": entry.key, "article": item.article_key,
                               "added": len(report.added)}})


def _skip(store: Store, account: str, url: str, entry: Entry, now: datetime, result: CheckResult,
          reason: str) -> None:
    if store.record_feed_entry(account, url, FeedEntry(entry.key, entry.link, entry.title, outcome="skipped",
                                                       reason=reason), now):
        result.skipped.append((entry, reason))
        log.warning("feed %s: skipped %r: %s", url, entry.title, reason,
                    extra={"fields": {"feed": url, "entry": entry.key, "reason": reason}})


def _failed(store: Store, config: Config, feed: FeedRecord, now: datetime, error: SchedulerError) -> CheckResult:
    settings = config["feeds"]
    wait = min(settings["interval"] * 2 ** (feed.failures + 1), max(settings["backoff_max"], settings["interval"]))
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        wait = max(wait, retry_after)
    message = str(error).removeprefix(f"{feed.url}: ")  # shown beside the feed's URL everywhere
    change = store.record_feed_check(feed.account, feed.url, now, next_check_at=now + wait, error=message)
    if change is not None:
        _log_change(feed.url, change[0], change[1], message)
    return CheckResult(feed.url, "failing", error=message)


def _log_change(url: str, before: str, after: str, error: str | None) -> None:
    """One line per change of a feed's state, not one per check."""
    fields = {"feed": url, "state": after}
    if after == "failing" and before != "failing":
        log.warning("feed %s is failing: %s", url, error, extra={"fields": {**fields, "error": error}})
    elif after == "ok" and before == "failing":
        log.info("feed %s works again", url, extra={"fields": fields})
    elif after == "failing":
        log.debug("feed %s still failing: %s", url, error)


# --- Parsing -------------------------------------------------------------------------------------


def parse_feed(page: Page) -> ParsedFeed:
    """The feed's title and entries, oldest first; FeedError when it is not a well-formed feed."""
    import feedparser  # lazy: feedparser ~50 ms only when a feed is read; listing feeds need not pay it

    parsed = feedparser.parse(page.content, response_headers={"content-location": page.url,
                                                              "content-type": page.media_type or "application/xml"})
    problem = parsed.get("bozo_exception") if parsed.get("bozo") else None
    if not parsed.get("version"):
        hint = _feed_link(page)
        if hint:
            raise FeedError(f"{page.url}: a web page, not a feed. Its feed seems to be {hint}")
        detail = f" ({_xml_problem(problem)})" if problem is not None else ""
        raise FeedError(f"{page.url}: not an RSS or Atom feed{detail}. Check the address of the feed.")
    if problem is not None and type(problem).__name__ == "SAXParseException":
        raise FeedError(f"{page.url}: the feed is not well-formed XML ({_xml_problem(problem)}). "
                        "It may be cut off or broken; it is checked again later.")
    entries = [_entry(raw) for raw in parsed.entries]
    dated = [raw.get("published_parsed") or raw.get("updated_parsed") for raw in parsed.entries]
    if entries and all(dated):
        order = sorted(range(len(entries)), key=lambda i: (tuple(dated[i]), -i))
    else:
        order = list(reversed(range(len(entries))))  # feeds list the newest first
    unique: dict[str, Entry] = {}
    for i in order:
        unique.setdefault(entries[i].key, entries[i])
    return ParsedFeed(parsed.feed.get("title") or None, tuple(unique.values()))


def _entry(raw) -> Entry:
    key = raw.get("id") or raw.get("link") or "sha256:" + hashlib.sha256(
        f"{raw.get('title', '')}\0{raw.get('summary', '')}".encode()).hexdigest()
    if len(key) > _MAX_KEY:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return Entry(
        key=key,
        link=raw.get("link") or None,
        title=raw.get("title") or None,
        categories=tuple(t.get("term") for t in raw.get("tags", ()) if t.get("term")),
        author=raw.get("author") or None,
        published=raw.get("published") or raw.get("updated") or None,
    )


def _with_entry_metadata(article, entry: Entry):
    """The feed's own facts about the entry fill what the page did not say."""
    import dataclasses

    extra = {"categories": list(entry.categories), "author": entry.author, "date": entry.published}
    metadata = {**{k: v for k, v in extra.items() if v}, **article.metadata}
    return dataclasses.replace(article, metadata=metadata)


def _xml_problem(problem) -> str:
    if hasattr(problem, "getLineNumber"):
        return f"line {problem.getLineNumber()}, column {problem.getColumnNumber()}: {problem.getMessage()}"
    return str(problem)


def _feed_link(page: Page) -> str | None:
    """The feed a web page announces (<link rel="alternate" type="application/rss+xml">)."""
    if b"<html" not in page.content[:2048].lower():
        return None
    from urllib.parse import urljoin

    from bs4 import BeautifulSoup  # lazy: BeautifulSoup ~100 ms only when a feed entry carries HTML

    soup = BeautifulSoup(page.content, "html.parser")
    for link in soup.find_all("link", rel="alternate"):
        if link.get("type") in ("application/rss+xml", "application/atom+xml") and link.get("href"):
            return urljoin(page.url, link["href"])
    return None


# --- The service's polling thread ----------------------------------------------------------------


def start_polling(store: Store, get_configs: Callable[[], Sequence[Config]], stopping: threading.Event,
                  clock: Callable[[], datetime]) -> threading.Thread:
    """Check the due feeds of every account (``get_configs``: one configuration per account) until ``stopping`` is
    set, in ONE daemon thread whatever the number of accounts: a fetch in flight never holds up the service's
    exit, and the ledger's transactions make stopping at any point safe."""
    thread = threading.Thread(target=_poll_forever, args=(FeedPoller(store), get_configs, stopping, clock),
                              name="feeds", daemon=True)
    thread.start()
    return thread


class FeedPoller:
    """One pass over the feeds due of all accounts: one read finds them (every account's), each is checked with
    its own account's settings, one after another; one fetcher per distinct fetch setting, kept between passes."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._fetchers: dict[FetchSettings, Fetcher] = {}

    def poll(self, configs: Sequence[Config], now: datetime, *,
             stopping: threading.Event | None = None) -> list[CheckResult]:
        by_account = {config.account: config for config in configs}
        results = []
        for feed in self.store.feeds(due_at=now):
            if stopping is not None and stopping.is_set():
                break
            config = by_account.get(feed.account)
            if config is None:
                continue  # an account this service does not publish for
            try:
                results.append(check(self.store, config, feed, now, self._fetcher(config)))
            except Exception:
                log.exception("checking the feed %s failed; trying again at the next pass", feed.url)
        return results

    def _fetcher(self, config: Config) -> Fetcher:
        settings = FetchSettings.from_config(config)  # a SIGHUP reload applies from the next pass
        if settings not in self._fetchers:
            self._fetchers[settings] = Fetcher(settings)
        return self._fetchers[settings]


def _poll_forever(poller: FeedPoller, get_configs: Callable[[], Sequence[Config]], stopping: threading.Event,
                  clock: Callable[[], datetime]) -> None:
    while not stopping.is_set():
        configs = get_configs()
        try:
            poller.poll(configs, clock(), stopping=stopping)
        except Exception:
            log.exception("checking feeds failed; trying again at the next pass")
        stopping.wait(min(tick(config) for config in configs).total_seconds())


def tick(config: Config) -> timedelta:
    """How often the service looks for feeds due: each feed has its own time, checked this often."""
    return min(config["feeds"]["interval"], _LONGEST_TICK)


# --- Helpers -------------------------------------------------------------------------------------


def _account(config: Config, account: str | None) -> str:
    if account is None or account.lstrip("@").lower() == config.account:
        return config.account
    raise FeedError(
        f"@{account.lstrip('@')} is not the configured account (@{config.handle}); "
        "feeds are followed for the account in scheduler.toml."
    )


def _check_url(url: str) -> None:
    if not url.startswith(("http://", "https://")):
        raise FeedError(f"{url}: a feed is followed by its http:// or https:// address.")


class _fetcher:
    """The given fetcher, or one made (and closed) for this call."""

    def __init__(self, config: Config, given: Fetcher | None):
        self.given = given
        self.made = None if given is not None else Fetcher(FetchSettings.from_config(config))

    def __enter__(self) -> Fetcher:
        return self.given or self.made

    def __exit__(self, *exc) -> None:
        if self.made is not None:
            self.made.close()


def describe(results: Sequence[CheckResult]) -> list[str]:
    """One readable line per check and per entry, for the CLI."""
    lines = []
    for result in results:
        if result.state == "failing":
            lines.append(f"{result.url}: failing - {result.error}")
            continue
        if result.state in ("unchanged", "busy"):
            lines.append(f"{result.url}: {'unchanged' if result.state == 'unchanged' else 'being checked elsewhere'}")
            continue
        lines.append(f"{result.url}: {len(result.imported)} imported, {len(result.skipped)} skipped, "
                     f"{len(result.pending)} to retry")
        lines += [f"  imported {e.title or e.link!r} as {key} ({added} posts queued)" for e, key, added in result.imported]
        lines += [f"  skipped {e.title or e.link!r}: {reason}" for e, reason in result.skipped]
        lines += [f"  not yet {e.title or e.link!r}: {reason}" for e, reason in result.pending]
    return lines
