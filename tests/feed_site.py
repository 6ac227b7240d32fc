"""A blog on the local test web site: article pages of numbered tips, and their RSS or Atom feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from xml.sax.saxutils import escape

from tests.web_site import WebSite

START = datetime(2026, 10, 1, 9, tzinfo=UTC)


@dataclass
class Post:
    slug: str
    tips: int = 3  # 0: a page of prose
    title: str = ""

    @property
    def heading(self) -> str:
        return self.title or f"{self.tips} ways to {self.slug.replace('-', ' ')}"


def article_html(post: Post, canonical: str) -> str:
    tips = "".join(
        f"<h2>{n}. Step {n} of {post.slug.replace('-', ' ')}: keep at it daily.</h2>"
        f"<p>Practice number {n} for {post.slug.replace('-', ' ')} takes five minutes and helps your back.</p>"
        for n in range(1, post.tips + 1)
    ) or "<p>Thoughts on posture, without any list at all, written as one long essay about the back.</p>" * 3
    return (
        f"<!DOCTYPE html><html><head><title>{escape(post.heading)} | Blog</title>"
        f'<link rel="canonical" href="{canonical}"></head><body><nav><a href="/">Home</a></nav>'
        f"<article><h1>{escape(post.heading)}</h1><p>An introduction to {post.slug.replace('-', ' ')} "
        f"for readers with back pain, from our physicians.</p>{tips}</article>"
        "<footer>Clinic</footer></body></html>"
    )


class Blog:
    """Posts published on ``site``; ``publish`` adds one and refreshes the feed (with a new ETag)."""

    def __init__(self, site: WebSite, kind: str = "rss", path: str = "/feed.xml"):
        self.site = site
        self.kind = kind
        self.path = path
        self.posts: list[Post] = []
        self.version = 0

    @property
    def feed_url(self) -> str:
        return self.site.url(self.path)

    def page_path(self, post: Post) -> str:
        return f"/blog/{post.slug}/"

    def publish(self, *posts: Post, page_options: dict | None = None) -> None:
        for post in posts:
            self.posts.append(post)
            self.site.page(self.page_path(post), article_html(post, self.site.url(self.page_path(post))),
                           **(page_options or {}))
        self.refresh()

    def refresh(self) -> None:
        self.version += 1
        body = self.rss() if self.kind == "rss" else self.atom()
        content_type = "application/rss+xml" if self.kind == "rss" else "application/atom+xml"
        self.site.page(self.path, body, content_type=content_type, etag=f'"v{self.version}"')

    def when(self, n: int) -> datetime:
        return START + timedelta(days=n)

    def rss(self) -> str:
        items = "".join(
            f"<item><title>{escape(p.heading)}</title><link>{self.site.url(self.page_path(p))}</link>"
            f'<guid isPermaLink="false">post-{p.slug}</guid><pubDate>{format_datetime(self.when(n))}</pubDate>'
            f"<category>back pain</category></item>"
            for n, p in reversed(list(enumerate(self.posts)))  # newest first, as blogs write them
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Clinic blog</title>'
                f"<link>{self.site.base}/</link><description>Tips</description>{items}</channel></rss>")

    def atom(self) -> str:
        entries = "".join(
            f"<entry><title>{escape(p.heading)}</title><id>urn:clinic:{p.slug}</id>"
            f'<link rel="alternate" href="{self.page_path(p)}"/><updated>{self.when(n).isoformat()}</updated>'
            f'<category term="spine care"/></entry>'
            for n, p in reversed(list(enumerate(self.posts)))
        )
        return (f'<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom">'
                f"<title>Clinic blog (Atom)</title><id>urn:clinic</id><updated>{START.isoformat()}</updated>"
                f'<link rel="self" href="{self.feed_url}"/>{entries}</feed>')
