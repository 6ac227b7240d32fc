"""Post text as its network shows it: links, mentions and hashtags marked as that network finds them, every
character escaped; and ``Look``, what a post card needs to show a post as it will look on the account's network.

- X: twitter-text's links (scheduler.text.x_length), @mentions of up to 15 word characters, #hashtags.
- Bluesky: the text as it is sent (scheduler.text.bluesky_length.rich_text: long links shortened, as the app shows
  them), its facets (link, mention, tag) marked; a shortened link keeps the full URL in its title.
- Mastodon: links with their scheme (twitter-text's, as the server finds them) shown as Mastodon shows them,
  without ``https://`` or ``www.`` and cut after 30 characters with "…"; @user and @user@server; #hashtags.

Lengths and limits are the network's one rule (scheduler.text.limits.rule_for), measured here on the server, the
same rule the composer, the editors and the live counter (/compose/count) use.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from scheduler.app.views import local_label
from scheduler.text.bluesky_length import rich_text
from scheduler.text.limits import rule_for
from scheduler.text.x_length import url_spans

_MENTION_OR_TAG = re.compile(r"(?<![\w@#])(@\w{1,15}|#\w*[^\W\d]\w*)")
# Mastodon's MENTION_RE and (simplified) HASHTAG_RE: a mention may name its server; a tag holds a non-digit.
_MASTODON_MENTION_OR_TAG = re.compile(r"(?<![=/\w])(@\w+(?:@[\w.-]+\w)?|#\w*[^\W\d]\w*)")
_MASTODON_PREFIX = re.compile(r"https?://(?:www\.)?", re.IGNORECASE)
MASTODON_SHOWN = 30  # Mastodon's TextFormatter shows this much of a link (after the scheme and www.)
NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}


_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def code_spans(text: str) -> Markup:
    """A message written for the terminal (`scheduler ...` in backticks) on a page: escaped, each backticked
    span as <code> (the ``code_spans`` filter; Needs you on the Status page)."""
    return Markup(_CODE_SPAN.sub(lambda m: f"<code>{m.group(1)}</code>", str(escape(text))))


def when_html(value: str | datetime | None, zone: str) -> Markup:
    """A moment on a page (the ``when`` filter): ``local_label`` in the account's zone ``zone``, the ISO value
    in <time datetime> and its title. Empty for no moment; a value that is not a date-time is shown as it is."""
    if not value:
        return Markup("")
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        return Markup(escape(str(value)))
    if at.tzinfo is None:
        return Markup(f'<time datetime="{escape(at.isoformat())}">{escape(str(value))}</time>')
    stamp = at.isoformat(timespec="seconds")
    label = local_label(at, ZoneInfo(zone)) if zone else local_label(at, at.tzinfo)
    return Markup(f'<time datetime="{escape(stamp)}" title="{escape(stamp)}">{escape(label)}</time>')


def post_html(text: str, network: str = "x") -> Markup:
    """HTML for a post's text as ``network`` shows it: every character escaped; links, @mentions and #hashtags
    wrapped in spans (classes link, mention, hashtag)."""
    if network == "bluesky":
        return _bluesky_html(text)
    if network == "mastodon":
        return _mastodon_html(text)
    return _x_html(text)


def _x_html(text: str) -> Markup:
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    pos = 0
    for start, end in url_spans(text):
        out.append(_words(text[pos:start], _MENTION_OR_TAG))
        out.append(f'<span class="link">{escape(text[start:end])}</span>')
        pos = end
    out.append(_words(text[pos:], _MENTION_OR_TAG))
    return Markup("".join(out))


def _bluesky_html(text: str) -> Markup:
    sent = rich_text(text)  # what the publisher sends: facets are byte ranges of this text
    data = sent.text.encode("utf-8")
    out: list[str] = []
    pos = 0
    for facet in sent.facets:
        out.append(str(escape(data[pos:facet.byte_start].decode("utf-8"))))
        shown = data[facet.byte_start:facet.byte_end].decode("utf-8")
        if facet.kind == "link":
            out.append(f'<span class="link" title="{escape(facet.value)}">{escape(shown)}</span>')
        else:
            out.append(f'<span class="{"mention" if facet.kind == "mention" else "hashtag"}">{escape(shown)}</span>')
        pos = facet.byte_end
    out.append(str(escape(data[pos:].decode("utf-8"))))
    return Markup("".join(out))


def _mastodon_html(text: str) -> Markup:
    text = unicodedata.normalize("NFC", text)
    out: list[str] = []
    pos = 0
    for start, end in url_spans(text):
        url = text[start:end]
        prefix = _MASTODON_PREFIX.match(url)
        if prefix is None:
            continue  # Mastodon links a URL written with its scheme only; the rest is text
        out.append(_words(text[pos:start], _MASTODON_MENTION_OR_TAG))
        rest = url[prefix.end():]
        shown = rest[:MASTODON_SHOWN] + ("…" if len(rest) > MASTODON_SHOWN else "")
        out.append(f'<span class="link" title="{escape(url)}">{escape(shown)}</span>')
        pos = end
    out.append(_words(text[pos:], _MASTODON_MENTION_OR_TAG))
    return Markup("".join(out))


def _words(text: str, pattern: re.Pattern) -> str:
    out: list[str] = []
    pos = 0
    for match in pattern.finditer(text):
        out.append(str(escape(text[pos:match.start()])))
        kind = "mention" if match.group(1).startswith("@") else "hashtag"
        out.append(f'<span class="{kind}">{escape(match.group(1))}</span>')
        pos = match.end()
    out.append(str(escape(text[pos:])))
    return "".join(out)


@dataclass
class Look:
    """The chosen account of ``config`` as its network shows its posts: who posts, the text, the length and
    the limit, and where a sent post is."""

    config: object  # scheduler.config.Config with an account chosen

    @property
    def network(self) -> str:
        return self.config.network

    @property
    def name(self) -> str:
        """The network's name: X, Bluesky, Mastodon."""
        return NAMES.get(self.network, self.network)

    @property
    def display_name(self) -> str:
        return self.config.handle

    @property
    def handle(self) -> str:
        """The account as its network writes it: @GleiberMD, @clinic.bsky.social, @clinic@mastodon.example."""
        account = self.config.chosen
        if self.network == "mastodon":
            from urllib.parse import urlsplit

            return f"@{account.handle}@{urlsplit(account.instance).hostname}"
        return f"@{account.handle}"

    @cached_property
    def rule(self):
        return rule_for(self.config)

    @property
    def limit(self) -> int:
        return self.rule.limit

    @property
    def counting(self) -> str:
        return self.rule.counting

    def length(self, text: str) -> int:
        return self.rule.measure(text)

    def fits(self, text: str) -> bool:
        return self.rule.fits(text)

    def html(self, text: str) -> Markup:
        return post_html(text, self.network)
