"""Articles straight from their web pages: fetching within limits, reading the main content, and
`scheduler import https://...` as a user runs it (a subprocess against a real local web site)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest

from scheduler.articles.web_page import article_from_html, read_url
from scheduler.domain.errors import ArticleError, FetchError
from scheduler.articles.fetching import HTML_TYPES, Fetcher, FetchSettings
from tests.web_site import WebSite

WEB = Path(__file__).parent / "data" / "web"
ARTICLE_HTML = (WEB / "sleep-article.html").read_text(encoding="utf-8")
CANONICAL = "https://clinic.example/blog/sleep-better-with-back-pain/"
UA = "tip-scheduler/test (+mailto:ops@clinic.example)"


@pytest.fixture
def site():
    with WebSite() as web:
        yield web


def fetcher(timeout: float = 3, max_bytes: int = 100_000) -> Fetcher:
    return Fetcher(FetchSettings(timeout=timedelta(seconds=timeout), max_bytes=max_bytes, user_agent=UA))


# --- Fetching -----------------------------------------------------------------------------


def test_a_page_is_fetched_with_a_clear_user_agent_after_following_redirects(site):
    site.page("/blog/sleep/", ARTICLE_HTML)
    site.redirect("/old-address", "/blog/sleep/")
    page = fetcher().get(site.url("/old-address"), kinds=HTML_TYPES)
    assert page.status == 200 and page.url == site.url("/blog/sleep/")
    assert page.media_type == "text/html" and page.charset == "utf-8"
    assert site.requested("/blog/sleep/")[0].headers["User-Agent"] == UA


def test_the_default_user_agent_names_the_tool_and_its_version():
    from scheduler.articles.fetching import default_user_agent

    assert default_user_agent().startswith("tip-scheduler/0.")


@pytest.mark.parametrize(
    ("setup", "expected", "transient"),
    [
        (lambda s: s.page("/p", b"", status=404), "not found (HTTP 404). Check the address.", False),
        (lambda s: s.page("/p", b"", status=410), "not found (HTTP 410)", False),
        (lambda s: s.page("/p", b"%PDF-1.7", content_type="application/pdf"),
         "not an HTML page (the server says application/pdf)", False),
        (lambda s: s.page("/p", b"x" * 200_001), "larger than 100,000 bytes ([fetch] max_bytes)", False),
        (lambda s: s.page("/p", b"<p>" + b"x" * 200_000, hide_length=True), "larger than 100,000 bytes", False),
        (lambda s: s.page("/p", b"", status=503, headers={"Retry-After": "120"}), "answered HTTP 503", True),
        (lambda s: s.page("/p", b"", status=403), "refused access (HTTP 403)", False),
        (lambda s: [s.redirect(f"/p{'x' * n}", f"/p{'x' * (n + 1)}") for n in range(8)] and s.redirect("/p", "/px"),
         "more than 5 redirects", False),
    ],
)
def test_fetch_errors_say_what_is_wrong_and_whether_trying_later_helps(site, setup, expected, transient):
    setup(site)
    with pytest.raises(FetchError) as error:
        fetcher().get(site.url("/p"), kinds=HTML_TYPES)
    assert str(error.value).startswith(site.url("/p") + ": ")
    assert expected in str(error.value)
    assert error.value.transient is transient


def test_a_server_that_asks_to_wait_is_told_apart(site):
    site.page("/p", b"", status=429, headers={"Retry-After": "120"})
    with pytest.raises(FetchError) as error:
        fetcher().get(site.url("/p"))
    assert error.value.transient and error.value.retry_after == timedelta(seconds=120)


@pytest.mark.slow
@pytest.mark.parametrize("options", [{"delay": 4}, {"trickle": 0.5}])
def test_a_slow_reply_times_out_with_the_limit_named(site, options):
    # delay: nothing arrives for longer than the limit; trickle: bytes keep coming, too slowly to finish.
    site.page("/p", "<p>" + "slow " * 20 + "</p>", **options)
    with pytest.raises(FetchError) as error:
        fetcher(timeout=1).get(site.url("/p"))
    assert "timed out after 1 s ([fetch] timeout)" in str(error.value)
    assert error.value.transient


def test_nothing_listening_is_a_transient_connection_error(site):
    url = site.url("/p")
    site.__exit__(None, None, None)
    with pytest.raises(FetchError, match="cannot connect") as error:
        fetcher().get(url)
    assert error.value.transient


def test_only_web_addresses_are_fetched():
    with pytest.raises(FetchError, match=r"file:///etc/passwd: only http:// and https:// addresses"):
        fetcher().get("file:///etc/passwd")


def test_robots_txt_is_honoured_for_our_agent_only(site):
    site.page("/robots.txt", "User-agent: tip-scheduler\nDisallow: /private/\n\nUser-agent: *\nDisallow: /\n",
              content_type="text/plain")
    site.page("/private/p", ARTICLE_HTML)
    site.page("/blog/p", ARTICLE_HTML)
    with pytest.raises(FetchError, match="robots.txt asks 'tip-scheduler' not to fetch this page"):
        fetcher().get(site.url("/private/p"))
    assert site.requested("/private/p") == []
    assert fetcher().get(site.url("/blog/p")).status == 200  # the "*" group is for other agents


def test_robots_txt_is_read_once_per_site_and_fetcher(site):
    site.page("/a", ARTICLE_HTML)
    site.page("/b", ARTICLE_HTML)
    one = fetcher()
    one.get(site.url("/a"))
    one.get(site.url("/b"))
    assert len(site.requested("/robots.txt")) == 1


def test_conditional_requests_get_304_while_the_validators_hold(site):
    site.page("/feed.xml", "<rss/>", content_type="application/rss+xml", etag='"v1"',
              last_modified="Mon, 02 Nov 2026 10:00:00 GMT")
    first = fetcher().get(site.url("/feed.xml"))
    assert first.status == 200 and first.etag == '"v1"'
    again = fetcher().get(site.url("/feed.xml"), etag=first.etag, last_modified=first.last_modified)
    assert again.status == 304 and again.content == b""
    assert site.requested("/feed.xml")[-1].headers["If-None-Match"] == '"v1"'


# --- Reading the article on a page ----------------------------------------------------------


def test_the_main_content_gives_the_tips_and_the_page_gives_title_canonical_url_and_metadata():
    article = article_from_html(ARTICLE_HTML.encode(), url="http://127.0.0.1:9/blog/sleep/", source="page")
    assert article.title == "Sleep Better With Back Pain: 4 Tips"
    assert article.url == CANONICAL and article.key == "sleep-better-with-back-pain"
    assert [t.headline for t in article.tips] == [
        "Sleep on your side with a pillow between your knees.",
        "Choose a medium-firm mattress.",
        "Stretch gently for five minutes before bed.",
        "Keep the same bedtime every night.",
    ]
    # Menus, comments, the sidebar's numbered list and the footer are not tips or tip text.
    text = " ".join(f"{t.headline} {t.body}" for t in article.tips) + article.intro + article.conclusion
    for chrome in ("Popular posts", "desk habits", "Great advice", "Privacy", "Contact"):
        assert chrome not in text
    assert article.metadata["tags"] == ["back pain", "sleep hygiene"]
    assert article.metadata["date"] == "2026-03-14"
    assert article.warnings == ()


def test_a_page_without_a_canonical_link_is_known_by_its_address():
    html = ARTICLE_HTML.replace(f'<link rel="canonical" href="{CANONICAL}">', "")
    article = article_from_html(html, url="http://127.0.0.1:9/blog/sleep-tips/", source="page")
    assert article.url == "http://127.0.0.1:9/blog/sleep-tips/" and article.key == "sleep-tips"


def test_a_page_of_prose_without_numbered_tips_names_the_styles_tried(site):
    site.page("/essay/", "<html><body><article><h1>On sleep</h1>" + "<p>Sleep matters a great deal.</p>" * 5 +
              "</article></body></html>")
    with pytest.raises(ArticleError) as error:
        read_url(site.url("/essay/"), fetcher())
    message = str(error.value)
    assert message.startswith(site.url("/essay/"))
    for style in ("'1. Headline'", "Markdown ordered lists", "<ol><li>"):
        assert style in message


# --- `scheduler import URL` as a user runs it -------------------------------------------------


class Run:
    def __init__(self, tmp: Path):
        self.tmp = tmp
        (tmp / "scheduler.toml").write_text(
            '[account]\nhandle = "GleiberMD"\ntimezone = "America/New_York"\n\n[compose]\nhashtags_from = ["tags"]\n\n'
            '[fetch]\ntimeout = "2s"\nmax_bytes = 200000\n',
            encoding="utf-8",
        )
        self.env = {"SCHEDULER_HOME": str(tmp / "home"), "SCHEDULER_CONFIG": str(tmp / "scheduler.toml"),
                    "PATH": "/usr/bin:/bin"}

    def __call__(self, *args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scheduler", *args], env=self.env, capture_output=True,
                              text=True, timeout=60)

    def queue(self) -> list[dict]:
        return json.loads(self("queue", "list", "--json").stdout)


@pytest.mark.slow
def test_import_by_url_queues_the_tips_like_a_file_and_again_adds_nothing(site, tmp_path):
    run = Run(tmp_path)
    site.page("/blog/sleep/", ARTICLE_HTML)
    result = run("import", site.url("/blog/sleep/"), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)[0]
    assert report["source"] == site.url("/blog/sleep/")
    assert report["article"] == "sleep-better-with-back-pain" and report["tips"] == 4
    assert report["metadata"]["tags"] == ["back pain", "sleep hygiene"]
    queue = run.queue()
    assert [p["post_id"] for p in queue] == [f"sleep-better-with-back-pain-{n}" for n in range(1, 5)]
    assert all("#BackPain" in p["text"] for p in queue)  # the page's tags, as configured
    assert site.requested("/blog/sleep/")[0].headers["User-Agent"].startswith("tip-scheduler/")

    again = run("import", site.url("/blog/sleep/"))
    assert again.returncode == 0 and "0 added, 0 updated, 4 unchanged" in again.stdout


@pytest.mark.slow
def test_import_by_url_errors_are_actionable_and_write_nothing(site, tmp_path):
    run = Run(tmp_path)
    good = tmp_path / "good.md"
    good.write_text("# Good\n\n1. A tip that would be queued.\n\n2. Another tip to queue.\n", encoding="utf-8")
    site.page("/report.pdf", b"%PDF-1.7", content_type="application/pdf")
    site.page("/essay/", "<article><h1>On sleep</h1>" + "<p>Sleep matters a great deal to all.</p>" * 4 +
              "</article>")
    site.page("/huge/", "<p>" + "x" * 300_000 + "</p>")
    site.page("/slow/", ARTICLE_HTML, delay=5)
    cases = [
        ("/missing/", "not found (HTTP 404)"),
        ("/report.pdf", "not an HTML page (the server says application/pdf)"),
        ("/essay/", "no numbered tips"),
        ("/huge/", "larger than 200,000 bytes"),
        ("/slow/", "timed out after 2 s"),
    ]
    for path, expected in cases:
        result = run("import", str(good), site.url(path))
        assert result.returncode == 1, (path, result.stdout)
        assert result.stderr.startswith(f"Error: {site.url(path)}: "), result.stderr
        assert expected in result.stderr, result.stderr
        assert "Traceback" not in result.stderr
    assert run.queue() == []  # not even the good file's tips: an import is all or nothing
