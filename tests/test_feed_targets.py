"""A feed's entry links are its author's choice: they may not make us fetch this machine or a private network
(issue 18). Real local web sites stand in for the dashboard on 127.0.0.1 and for a blog; made-up names
(blog.example, ...) resolve through the Fetcher's resolver hook (``Fetcher(settings, resolve=...)``), since the
tests cannot change the machine's DNS."""

from __future__ import annotations

import socket
from datetime import UTC, datetime
from xml.sax.saxutils import escape

import pytest

from scheduler.articles import feeds
from scheduler.config import parse_config
from scheduler.domain.errors import FetchError
from scheduler.articles.fetching import AddressGuard, Fetcher, FetchSettings, Page, system_resolver
from scheduler.ledger.store import Store
from tests.feed_site import Post, article_html
from tests.web_site import WebSite

NOW = datetime(2026, 11, 2, 10, tzinfo=UTC)
PUBLIC = "93.184.215.14"  # a global address; never connected to (every test refuses it or never gets there)
NAMES = {
    "blog.example": ["127.0.0.1"],  # a blog on this machine, by name
    "public.example": [PUBLIC],
    "tips.example": ["127.0.0.1"],  # a public-looking name that points at this machine
    "mixed.example": [PUBLIC, "127.0.0.1"],  # one address public, one not: refused
}


def resolve(host: str, port: int) -> list[str]:
    if host in NAMES:
        return NAMES[host]
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host.strip("[]"))
    except OSError:
        if host != "localhost":
            raise socket.gaierror(socket.EAI_NONAME, f"{host}: no such name in the test") from None
    return system_resolver(host, port)  # an IP literal or localhost: no DNS query leaves the machine


@pytest.fixture
def config(tmp_path):
    return parse_config('[account]\nhandle = "GleiberMD"\n[fetch]\ntimeout = "5s"\n\n[feeds]\ninterval = "1h"\n\n'
                        '[quota]\ndaily = 0\nmonthly = 0\n', source=None, env={"SCHEDULER_HOME": str(tmp_path)})


@pytest.fixture
def fetcher(config):
    made = Fetcher(FetchSettings.from_config(config), resolve=resolve)
    yield made
    made.close()


@pytest.fixture
def blog():
    with WebSite() as site:
        yield site


@pytest.fixture
def dashboard():
    """Stands in for the password-less dashboard on 127.0.0.1: must never be asked anything."""
    with WebSite() as site:
        site.page("/", "<html><body>queue</body></html>")
        yield site


def rss(links: list[str]) -> bytes:
    items = "".join(f"<item><title>Entry {n}</title><link>{escape(link)}</link><guid>e{n}</guid></item>"
                    for n, link in enumerate(links))
    return (f'<?xml version="1.0"?><rss version="2.0"><channel><title>Blog</title><link>https://x/</link>'
            f"<description>d</description>{items}</channel></rss>").encode()


def port_of(site: WebSite) -> int:
    return int(site.base.rsplit(":", 1)[1])


def test_a_public_feeds_entries_cannot_make_us_fetch_this_machine_or_a_private_network(sqlite_store: Store, config,
                                                                                      fetcher, dashboard):
    port = port_of(dashboard)
    links = [
        dashboard.url("/"),  # 127.0.0.1
        f"http://localhost:{port}/",
        f"http://tips.example:{port}/",  # a public-looking name that resolves here
        f"http://mixed.example:{port}/",  # one of its addresses is here
        f"http://[::1]:{port}/",
        f"http://0.0.0.0:{port}/",
        "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service (link-local)
        "http://10.1.2.3/admin",
    ]
    # The feed as check() hands it on after fetching it from a public address.
    page = Page(url="https://public.example/feed.xml", status=200, content=rss(links),
                media_type="application/rss+xml", charset=None, etag=None, last_modified=None, address=PUBLIC)
    assert AddressGuard.for_feed(page) == AddressGuard()
    sqlite_store.add_feed(config.account, page.url, title="Blog", now=NOW, next_check_at=NOW, etag=None,
                          last_modified=None, seen=[])
    result = feeds._settle(sqlite_store, config, config.account, page.url, page, feeds.parse_feed(page), NOW, fetcher)

    assert result.imported == [] and result.pending == []
    reasons = {entry.link: reason for entry, reason in result.skipped}
    assert set(reasons) == set(links)
    for link, reason in reasons.items():
        assert reason.startswith(f"{link}: not fetched: ") and "public addresses" in reason, reason
    assert "loopback" in reasons[dashboard.url("/")] and "tips.example is at 127.0.0.1" in reasons[links[2]]
    assert "link-local" in reasons[links[6]] and "private network" in reasons[links[7]]
    assert dashboard.requests == []  # not even robots.txt
    assert sqlite_store.queue_page(config.account, limit=10) == []


def test_a_feed_on_this_machine_may_link_to_its_own_host_only_redirects_included(sqlite_store: Store, config,
                                                                              fetcher, blog, dashboard):
    port = port_of(blog)
    home = f"http://blog.example:{port}"
    blog.page("/blog/ok/", article_html(Post("stretch-daily"), home + "/blog/ok/"))
    blog.redirect("/blog/moved/", dashboard.url("/"), status=302)
    blog.page("/feed.xml", rss([
        home + "/blog/ok/",  # its own host: fetched (from 127.0.0.1, the address checked: the machine's DNS
        # does not know blog.example)
        blog.url("/blog/ok/"),  # the same server by another name (127.0.0.1): not the feed's host
        home + "/blog/moved/",  # its own host, redirecting to the dashboard: refused at the redirect
        f"http://blog.example:{port_of(dashboard)}/",  # its host name, another port: the dashboard
    ]), content_type="application/rss+xml")

    parsed, result = feeds.follow(sqlite_store, config, home + "/feed.xml", NOW, backfill=4, fetcher=fetcher)

    assert [(entry.link, key) for entry, key, _ in result.imported] == [(home + "/blog/ok/", "ok")]
    reasons = {entry.link: reason for entry, reason in result.skipped}
    assert set(reasons) == {blog.url("/blog/ok/"), home + "/blog/moved/", f"http://blog.example:{port_of(dashboard)}/"}
    assert "127.0.0.1, a loopback address" in reasons[blog.url("/blog/ok/")]
    assert "its own host blog.example:" in reasons[home + "/blog/moved/"]
    assert dashboard.requests == []
    assert [r.headers.get("Host") for r in blog.requested("/blog/ok/")] == [f"blog.example:{port}"]


def test_a_page_a_person_names_is_fetched_from_anywhere(fetcher, blog):
    """`scheduler import URL` and `feeds add URL` are a person's choice: no guard."""
    blog.page("/p/", "<html><body>hello</body></html>")
    assert fetcher.get(blog.url("/p/")).status == 200
    assert fetcher.get(f"http://tips.example:{port_of(blog)}/p/").address == "127.0.0.1"
    with pytest.raises(FetchError, match=r"^http://127\.0\.0\.1:\d+/p/: not fetched: 127\.0\.0\.1, a loopback"):
        fetcher.get(blog.url("/p/"), guard=AddressGuard())


def test_entries_on_the_feeds_own_host_go_to_the_server_the_feed_came_from(sqlite_store: Store, config, blog):
    """The feed's host name answering differently later (DNS rebinding) changes nothing: its entries are fetched
    from the address the feed came from."""
    port = port_of(blog)
    home = f"http://moving.example:{port}"
    blog.page("/blog/ok/", article_html(Post("walk-more"), home + "/blog/ok/"))
    blog.page("/feed.xml", rss([home + "/blog/ok/"]), content_type="application/rss+xml")
    def rebinding(host: str, port_: int) -> list[str]:
        if host != "moving.example":
            return resolve(host, port_)
        return ["10.255.255.1"] if blog.requested("/feed.xml") else ["127.0.0.1"]  # moves once the feed is read

    fetcher = Fetcher(FetchSettings.from_config(config), resolve=rebinding)
    try:
        _, result = feeds.follow(sqlite_store, config, home + "/feed.xml", NOW, backfill=1, fetcher=fetcher)
    finally:
        fetcher.close()
    assert [key for _, key, _ in result.imported] == ["ok"], result.skipped
    assert len(blog.requested("/blog/ok/")) == 1


@pytest.mark.parametrize("closing", ["HTTP/1.0", "Connection: close"])
def test_a_private_feed_whose_server_closes_each_connection_may_still_link_to_its_own_host(sqlite_store: Store, config,
                                                                                           fetcher, closing):
    """The address a response came from is known however the server ends the connection (an HTTP/1.0 server, or
    `Connection: close`, has it closed before the body is read): a private feed's own entries are fetched."""
    with WebSite(protocol="HTTP/1.0" if closing == "HTTP/1.0" else "HTTP/1.1") as blog:
        close = {"Connection": "close"} if closing == "Connection: close" else {}
        home = f"http://blog.example:{port_of(blog)}"
        blog.page("/blog/ok/", article_html(Post("stretch-daily"), home + "/blog/ok/"), headers=close)
        blog.page("/feed.xml", rss([home + "/blog/ok/"]), content_type="application/rss+xml", headers=close)

        assert fetcher.get(home + "/feed.xml").address == "127.0.0.1"
        parsed, result = feeds.follow(sqlite_store, config, home + "/feed.xml", NOW, backfill=1, fetcher=fetcher)

    assert result.skipped == []
    assert [(entry.link, key) for entry, key, _ in result.imported] == [(home + "/blog/ok/", "ok")]
