"""Following a blog's feed, in process against a real local web site and a real ledger: entries
become queued posts once, 304s cost nothing, broken feeds and entries are recorded with reasons."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import escape

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.articles import feeds
from scheduler.config import parse_config
from scheduler.domain.errors import FeedError, FetchError
from scheduler.articles.fetching import Fetcher, FetchSettings, Page
from scheduler.ledger.store import Store
from tests.feed_site import Blog, Post
from tests.helpers_ledger import approve_shown
from tests.web_site import WebSite

NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


@pytest.fixture
def site():
    with WebSite() as web:
        yield web


@pytest.fixture
def config(tmp_path):
    return parse_config('[account]\nhandle = "GleiberMD"\n[fetch]\ntimeout = "2s"\n\n[feeds]\ninterval = "1h"\nbackoff_max = "6h"\n\n'
                        '[quota]\ndaily = 0\nmonthly = 0\n', source=None, env={"SCHEDULER_HOME": str(tmp_path)})


@pytest.fixture
def ledger(sqlite_store):
    return sqlite_store  # the uniqueness that matters is tested on PostgreSQL too, in test_store_feeds


@pytest.fixture
def web(config):
    fetcher = Fetcher(FetchSettings.from_config(config))
    yield fetcher
    fetcher.close()


def queued(store: Store, config) -> list[str]:
    return [p.post_id for p in store.queue_page(config.account, limit=1000)]


def poll(store, config, at, web):
    return feeds.poll_due(store, config, at, web)


# --- Reading feeds ----------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_rss_and_atom_entries_are_read_oldest_first_with_their_links_resolved(site, kind):
    blog = Blog(site, kind)
    blog.publish(Post("lift-safely"), Post("sit-well"), Post("sleep-better"))
    page = Fetcher(FetchSettings(timedelta(seconds=3), 100_000, "t")).get(blog.feed_url)
    parsed = feeds.parse_feed(page)
    assert parsed.title == ("Clinic blog" if kind == "rss" else "Clinic blog (Atom)")
    assert [e.link for e in parsed.entries] == [site.url(f"/blog/{s}/") for s in ("lift-safely", "sit-well",
                                                                                     "sleep-better")]
    prefix = "post-" if kind == "rss" else "urn:clinic:"
    assert [e.key for e in parsed.entries] == [f"{prefix}{s}" for s in ("lift-safely", "sit-well", "sleep-better")]
    assert parsed.entries[0].categories == (("back pain",) if kind == "rss" else ("spine care",))


def test_an_entry_without_id_is_known_by_its_link_and_without_both_by_a_hash(site):
    site.page("/f.xml", '<rss version="2.0"><channel><title>T</title>'
              "<item><title>A</title><link>/a/</link></item><item><title>B</title><description>d</description>"
              "</item></channel></rss>", content_type="application/rss+xml")
    parsed = feeds.parse_feed(Fetcher(FetchSettings(timedelta(seconds=3), 100_000, "t")).get(site.url("/f.xml")))
    keys = {e.title: e.key for e in parsed.entries}
    assert keys["A"] == site.url("/a/")
    assert keys["B"].startswith("sha256:") and len(keys["B"]) == 71


@pytest.mark.parametrize(
    ("body", "content_type", "expected"),
    [
        ('<?xml version="1.0"?><rss version="2.0"><channel><title>B</title><item><title>Cut',
         "application/rss+xml", "not well-formed XML (line 1, column"),
        ("this is not a feed at all", "text/plain", "not an RSS or Atom feed"),
        ('<html><head><link rel="alternate" type="application/rss+xml" href="/blog/feed/"></head>'
         "<body><p>Blog</p></body></html>", "text/html", "a web page, not a feed. Its feed seems to be {base}/blog/feed/"),
    ],
)
def test_what_is_not_a_feed_is_a_clear_error_and_following_it_writes_nothing(site, ledger, config, body,
                                                                            content_type, expected):
    site.page("/f", body, content_type=content_type)
    with pytest.raises(FeedError) as error:
        feeds.follow(ledger, config, site.url("/f"), NOW)
    assert str(error.value).startswith(site.url("/f") + ": ")
    assert expected.format(base=site.base) in str(error.value)
    assert ledger.feeds(config.account) == []


def test_following_a_missing_feed_writes_nothing(site, ledger, config):
    with pytest.raises(FetchError, match="not found"):
        feeds.follow(ledger, config, site.url("/nope.xml"), NOW)
    assert ledger.feeds(config.account) == []


def test_feeds_are_for_the_configured_account(site, ledger, config):
    with pytest.raises(FeedError, match="@someoneelse is not the configured account"):
        feeds.follow(ledger, config, site.url("/f"), NOW, account="someoneelse")


# --- Following and checking ----------------------------------------------------------------


def test_adding_marks_existing_entries_seen_and_later_entries_are_imported_once(site, ledger, config, web):
    blog = Blog(site)
    blog.publish(Post("old-one"), Post("old-two"))
    parsed, result = feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    assert len(parsed.entries) == 2 and result.imported == []
    assert queued(ledger, config) == []
    assert poll(ledger, config, NOW + HOUR / 2, web) == []  # not due yet

    blog.publish(Post("new-one", tips=2))
    [result] = poll(ledger, config, NOW + HOUR, web)
    assert [(e.title, key, added) for e, key, added in result.imported] == [("2 ways to new one", "new-one", 2)]
    assert queued(ledger, config) == ["new-one-1", "new-one-2"]
    assert len(site.requested("/blog/old-one/")) == 0  # seen entries are never fetched

    blog.refresh()  # a new ETag, same entries: nothing more
    [again] = poll(ledger, config, NOW + 2 * HOUR, web)
    assert again.imported == [] and queued(ledger, config) == ["new-one-1", "new-one-2"]
    assert len(site.requested("/blog/new-one/")) == 1
    [feed] = ledger.feeds(config.account)
    assert feed.counts == {"imported": 1, "seen": 2, "skipped": 0} and feed.state == "ok"


@pytest.mark.parametrize("kind", ["rss", "atom"])
def test_backfill_imports_the_newest_n_entries_in_publication_order(site, ledger, config, web, kind):
    blog = Blog(site, kind)
    blog.publish(Post("first", tips=2), Post("second", tips=2), Post("third", tips=2))
    feeds.follow(ledger, config, blog.feed_url, NOW, backfill=2, fetcher=web)
    assert queued(ledger, config) == ["second-1", "second-2", "third-1", "third-2"]
    assert ledger.feeds(config.account)[0].counts == {"imported": 2, "seen": 1, "skipped": 0}


def test_an_unchanged_feed_answers_304_and_nothing_else_is_fetched(site, ledger, config, web):
    blog = Blog(site)
    blog.publish(Post("only"))
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    requests_before = len(site.requests)
    [result] = poll(ledger, config, NOW + HOUR, web)
    assert result.state == "unchanged"
    new = site.requests[requests_before:]
    assert [r.path for r in new] == ["/feed.xml"] and new[0].headers["If-None-Match"] == '"v1"'
    [feed] = ledger.feeds(config.account)
    assert feed.checked_at == NOW + HOUR and feed.next_check_at == NOW + 2 * HOUR


def test_an_entry_without_tips_is_skipped_with_its_reason_once_and_never_retried(site, ledger, config, web):
    blog = Blog(site)
    blog.refresh()
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    blog.publish(Post("musings", tips=0, title="Musings on posture"))
    [result] = poll(ledger, config, NOW + HOUR, web)
    [(entry, reason)] = result.skipped
    assert entry.title == "Musings on posture" and "no numbered tips found. Tried:" in reason
    blog.refresh()
    poll(ledger, config, NOW + 2 * HOUR, web)
    assert len(site.requested("/blog/musings/")) == 1
    [(url, recorded)] = ledger.feed_entries(config.account, outcomes=("skipped",))
    assert recorded.title == "Musings on posture" and recorded.reason == reason


@pytest.mark.parametrize(
    ("options", "reason"),
    [({"status": 404}, "not found (HTTP 404)"), ({"content_type": "application/pdf"}, "not an HTML page")],
)
def test_an_entry_whose_page_cannot_be_used_is_skipped_with_the_reason(site, ledger, config, web, options, reason):
    blog = Blog(site)
    blog.refresh()
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    blog.publish(Post("broken-page"), page_options=options)
    [result] = poll(ledger, config, NOW + HOUR, web)
    assert reason in result.skipped[0][1]
    assert queued(ledger, config) == []


@pytest.mark.slow
def test_a_page_that_times_out_is_retried_at_the_next_check_even_though_the_feed_is_unchanged(site, ledger,
                                                                                               config, web):
    blog = Blog(site)
    blog.refresh()
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    blog.publish(Post("slow-page", tips=2), page_options={"delay": 4})
    [result] = poll(ledger, config, NOW + HOUR, web)
    assert result.imported == [] and "timed out" in result.pending[0][1]
    assert ledger.feed_entries(config.account) == []  # nothing recorded: it is not settled
    site.page("/blog/slow-page/", site.routes["/blog/slow-page/"].body)  # the page is quick now
    [again] = poll(ledger, config, NOW + 2 * HOUR, web)
    assert [key for _, key, _ in again.imported] == ["slow-page"]
    assert queued(ledger, config) == ["slow-page-1", "slow-page-2"]


def test_a_pending_entry_keeps_the_old_validators_so_a_304_cannot_hide_it(site, ledger, config, web):
    blog = Blog(site)
    blog.refresh()
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    etag_before = ledger.feeds(config.account)[0].etag
    blog.publish(Post("flaky"), page_options={"status": 503})
    [result] = poll(ledger, config, NOW + HOUR, web)
    assert "HTTP 503" in result.pending[0][1]
    assert ledger.feeds(config.account)[0].etag == etag_before


def test_a_broken_feed_backs_off_is_logged_once_per_change_and_never_stops_the_others(site, ledger, config, web,
                                                                                     caplog):
    good, bad = Blog(site, path="/good.xml"), Blog(site, path="/bad.xml")
    good.refresh()
    bad.refresh()
    feeds.follow(ledger, config, bad.feed_url, NOW, fetcher=web)
    feeds.follow(ledger, config, good.feed_url, NOW, fetcher=web)
    site.page("/bad.xml", b"", status=404)
    good.publish(Post("still-works", tips=1))
    caplog.set_level(logging.INFO, logger="scheduler.feeds")

    at = NOW + HOUR
    results = {r.url: r for r in poll(ledger, config, at, web)}
    assert results[bad.feed_url].state == "failing" and "HTTP 404" in results[bad.feed_url].error
    assert [key for _, key, _ in results[good.feed_url].imported] == ["still-works"]
    failing = next(f for f in ledger.feeds(config.account) if f.url == bad.feed_url)
    assert failing.state == "failing" and failing.next_check_at == at + 2 * HOUR  # backoff: the wait doubles

    for hours in (3, 7, 13, 19):  # waits 4h, then 6h (backoff_max), 6h...
        poll(ledger, config, NOW + hours * HOUR, web)
    failing = next(f for f in ledger.feeds(config.account) if f.url == bad.feed_url)
    assert failing.failures == 5 and failing.next_check_at == NOW + 25 * HOUR

    bad.refresh()  # fixed
    poll(ledger, config, NOW + 25 * HOUR, web)
    lines = [r.getMessage() for r in caplog.records if bad.feed_url in r.getMessage()]
    assert lines == [f"feed {bad.feed_url} is failing: {results[bad.feed_url].error}",
                     f"feed {bad.feed_url} works again"]


def test_a_failing_feed_is_shown_in_status_and_feeds_list(site, ledger, config, web):
    from scheduler.app import health
    from scheduler.app import views

    blog = Blog(site)
    blog.refresh()
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    site.page("/feed.xml", "<rss version='2.0'><channel><item>", content_type="application/rss+xml")
    poll(ledger, config, NOW + HOUR, web)
    report = health.status(ledger, config, NOW + HOUR)
    [feed] = report["feeds"]
    assert feed["state"] == "failing" and "not well-formed XML" in feed["last_error"]
    assert any(item.startswith(f"feed {blog.feed_url} is failing (1 checks): ") for item in report["attention"])
    assert "FAILING (1 checks)" in views.feeds_text(views.feeds_report(ledger, config))


def test_removing_a_feed_stops_its_checks_and_keeps_its_posts(site, ledger, config, web):
    blog = Blog(site)
    blog.refresh()
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    blog.publish(Post("kept", tips=1))
    poll(ledger, config, NOW + HOUR, web)
    feeds.unfollow(ledger, config, blog.feed_url)
    blog.publish(Post("not-followed", tips=1))
    assert poll(ledger, config, NOW + 3 * HOUR, web) == []
    assert queued(ledger, config) == ["kept-1"]


# --- Properties ----------------------------------------------------------------------------------

_ITEM = st.fixed_dictionaries({
    "title": st.text(max_size=20), "link": st.text(max_size=20), "guid": st.text(max_size=20),
})


@settings(max_examples=150, deadline=None)
@given(body=st.one_of(
    st.binary(max_size=300),
    st.text(max_size=300).map(str.encode),
    st.lists(_ITEM, max_size=4).map(lambda items: (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>T</title>' + "".join(
            f"<item><title>{escape(i['title'])}</title><link>{escape(i['link'])}</link>"
            f"<guid>{escape(i['guid'])}</guid></item>" for i in items) + "</channel></rss>").encode()),
))
def test_any_response_gives_entries_with_unique_keys_or_a_feed_error(body):
    page = Page(url="http://127.0.0.1:9/feed.xml", status=200, content=body, media_type="application/rss+xml",
                charset=None, etag=None, last_modified=None)
    try:
        parsed = feeds.parse_feed(page)
    except FeedError as error:
        assert str(error).startswith("http://127.0.0.1:9/feed.xml: ")
        return
    keys = [entry.key for entry in parsed.entries]
    assert len(keys) == len(set(keys)) and all(0 < len(key) <= 500 for key in keys)


def test_with_review_on_a_new_entry_becomes_drafts_awaiting_review_not_planned_posts(site, ledger, tmp_path, web):
    from scheduler.planning import agenda
    from scheduler.review import policy as review

    config = parse_config('[account]\nhandle = "GleiberMD"\n[fetch]\ntimeout = "2s"\n\n[feeds]\ninterval = "1h"\n\n[review]\nrequired = true\n\n'
                          '[calendar]\nslots = ["daily 09:00"]\n\n[quota]\ndaily = 0\nmonthly = 0\n',
                          source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    blog = Blog(site)
    blog.publish(Post("older-advice"))
    feeds.follow(ledger, config, blog.feed_url, NOW, fetcher=web)
    blog.publish(Post("fresh-advice", tips=2))
    [result] = poll(ledger, config, NOW + HOUR, web)
    assert [key for _, key, _ in result.imported] == ["fresh-advice"]
    waiting = [item.post.post_id for item in review.waiting(ledger, config, NOW + HOUR)]
    assert waiting == ["fresh-advice-1", "fresh-advice-2"]
    planned = [e for e in agenda.upcoming(ledger, config, NOW + HOUR, count=5) if e.post is not None]
    assert planned == []  # nothing goes out until a reviewer approves it
    approve_shown(ledger, config, ["fresh-advice-1"], who="dr-test", now=NOW + HOUR)
    planned = [e.post.post_id for e in agenda.upcoming(ledger, config, NOW + HOUR, count=5) if e.post is not None]
    assert planned == ["fresh-advice-1"]
