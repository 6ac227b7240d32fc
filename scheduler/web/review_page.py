"""The page a reviewer link opens: the posts awaiting review as cards, with Approve and Request changes.

The dashboard's server mounts it (``GET`` and ``POST`` on ``/review/<token>``, scheduler/web/review_routes.py);
this module has no server of its own: ``handle`` is a plain function from (token, method, form) to a
response.

Usable on a phone without an account: the token in the URL is the only credential (review_link.py).
The page shows the posts the link covers (those awaiting review when it was made, unchanged since),
their images inline (data: URLs of the very bytes hashed into each card's hash, only bytes that are
PNG, JPEG, GIF or WebP), and nothing else; decisions are logged under the name the link was issued to; one form sends every decision at once, and its
submission spends the link. Each card carries the hash of the text shown, so a decision about a
text that changed meanwhile is refused, not applied to the new text. Responses are never cached
and send no Referer (the token is in the URL). The page runs no script at all and takes its one
stylesheet from the dashboard's /static/ files: its Content-Security-Policy is stricter than the
dashboard's (no script source whatever, no inline style).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from jinja2 import Environment

from scheduler.config import Config
from scheduler.domain.content_hash import hash_from_digests, read_media
from scheduler.domain.errors import ReviewError
from scheduler.ledger.store import Store
from scheduler.review import links as review_link, notices, policy as review
from scheduler.web.render import when_html

HEADERS = {
    "Content-Type": "text/html; charset=utf-8",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Images are shown inline as data: URLs (only bytes that sniff as PNG, JPEG, GIF or WebP; never SVG).
    "Content-Security-Policy": ("default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                                "frame-ancestors 'none'; base-uri 'none'"),
}

PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<link rel="stylesheet" href="/static/review.css">
<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">
</head>
<body>
<main>
<h1>{{ title }}</h1>
{% if error %}<p class="error">{{ error }}</p>{% endif %}
{% if message %}<p class="notice">{{ message }}</p>{% endif %}
{% if items is not none %}
{% if not items %}<p>Nothing this link covers awaits review now.</p>{% else %}
<form method="post">
<p class="meta">Each post goes out only with your approval of exactly this text. Choose for each, then send
your decisions once: the link then stops working. It expires {{ expires }}.</p>
{% if changed %}<p class="meta">{{ changed }} post(s) this link was made for changed since, or were decided
elsewhere: they are not shown; ask for a new link to review them as they are now.</p>{% endif %}
{% for item in items %}
<div class="card">
  <div class="meta">{{ item.post.post_id }} &middot; {{ item.status }}
    {% if item.would_go_at %}&middot; would go out {{ local(item.would_go_at) }} if approved now{% endif %}</div>
  {% for part in item.post.parts %}
  <div class="text{% if not loop.first %} reply{% endif %}">{{ part }}</div>
  {% endfor %}
  {% for image in images[item.post.post_id] %}
  {% if image.src %}<figure class="image"><img src="{{ image.src }}" alt="image {{ loop.index }} of the post: {{ image.name }}">
    <figcaption class="meta">image: {{ image.name }}</figcaption></figure>
  {% else %}<div class="meta">image: {{ image.name }} ({{ image.problem }})</div>{% endif %}
  {% endfor %}
  {% if item.review and item.review.comment and item.status == "changes requested" %}
  <div class="meta">changes requested by {{ item.review.rejected_by }}: {{ item.review.comment }}</div>{% endif %}
  {% for f in item.findings %}
  <div class="{{ f.severity }}">{{ "Blocks approval" if f.severity == "block" else "Check" }}: "{{ f.match }}" &ndash; {{ f.message }}</div>
  {% endfor %}
  <input type="hidden" name="hash-{{ item.post.post_id }}" value="{{ shown[item.post.post_id] }}">
  <div class="choices">
    <label><input type="radio" name="decision-{{ item.post.post_id }}" value="approve"{% if item.blocked %} disabled{% endif %}> Approve</label>
    <label><input type="radio" name="decision-{{ item.post.post_id }}" value="changes"> Request changes</label>
    <label><input type="radio" name="decision-{{ item.post.post_id }}" value="leave" checked> Decide later</label>
  </div>
  <label class="comment" for="comment-{{ item.post.post_id }}">What should change? (needed to request changes)</label>
  <textarea id="comment-{{ item.post.post_id }}" name="comment-{{ item.post.post_id }}" rows="2"></textarea>
</div>
{% endfor %}
<p class="meta">Your decisions are logged as {{ reviewer }}.</p>
<p><button type="submit">Send my decisions</button></p>
</form>
{% endif %}
{% endif %}
</main>
</body>
</html>
"""


@dataclass(frozen=True)
class Response:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=lambda: dict(HEADERS))


def handle(store: Store, config: Config, token: str, method: str, form: Mapping[str, str], now: datetime) -> Response:
    """``GET``: the waiting posts as cards. ``POST``: record the decisions and spend the link."""
    try:
        link = review_link.verify(store, config, token, now)
    except review_link.LinkInvalid as exc:
        return _render(config, exc.status, error=str(exc))
    if method == "GET":
        return _page(store, config, link, now)
    if method != "POST":
        return Response(405, "method not allowed", {**HEADERS, "Content-Type": "text/plain", "Allow": "GET, POST"})
    try:
        message = _decide(store, config, link, form, now)
    except ReviewError as exc:
        return _page(store, config, link, now, status=400, error=str(exc))
    return _render(config, 200, message=message)


# Images shown inline at most this large each (X's largest, an animated GIF); a larger one is named only.
MAX_SHOWN_IMAGE = 15 * 1024 * 1024
_IMAGE_TYPES = ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"), (b"GIF87a", "image/gif"),
                (b"GIF89a", "image/gif"))


def _sniff(data: bytes) -> str | None:
    """The image type of these bytes by their first bytes, never by a file name; None: not one shown inline."""
    for magic, mime in _IMAGE_TYPES:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


@dataclass(frozen=True)
class Shown:
    name: str
    src: str | None  # a data: URL of exactly the bytes hashed into the card's content hash
    problem: str | None = None


def _shown(item) -> tuple[str, list[Shown]]:
    """The images of a card, each read once: the card's hash is computed from the very bytes it shows, so an
    image swapped while the page is made is shown as it was hashed, and a decision about it is refused."""
    import base64
    import os

    digests, images = [], []
    for path in item.post.media:
        data, digest = read_media(path)
        digests.append(digest)
        name = os.path.basename(path)
        mime = _sniff(data) if data is not None else None
        if data is None:
            images.append(Shown(name, None, "missing or unreadable"))
        elif mime is None:
            images.append(Shown(name, None, "not a PNG, JPEG, GIF or WebP image: not shown"))
        elif len(data) > MAX_SHOWN_IMAGE:
            images.append(Shown(name, None, "too large to show here"))
        else:
            images.append(Shown(name, f"data:{mime};base64,{base64.b64encode(data).decode()}"))
    digest = hash_from_digests(item.post.parts, digests, getattr(item.post, "reply_settings", None))
    return digest, images


def covered_items(store, config, link, now):
    """The posts of the link still awaiting review exactly as they were when it was made; and how many of
    its posts are not (changed, decided, sent or removed since)."""
    covered = store.link_posts(link.link_id) if link.reviewer else {}
    waiting = review.items_for_link(store, config, list(covered), now)
    items = [i for i in waiting if covered.get(i.post.post_id) == i.content_hash]
    return items, len(covered) - len(items)


def _page(store, config, link, now, *, status: int = 200, error: str | None = None) -> Response:
    items, changed = covered_items(store, config, link, now)
    shown, images = {}, {}
    for item in items:
        shown[item.post.post_id], images[item.post.post_id] = _shown(item)
    return _render(config, status, items=items, error=error, changed=changed, shown=shown, images=images,
                   reviewer=link.reviewer,
                   expires=link.expires_at.astimezone(config.tz).strftime("%a %d %b %H:%M %Z"))


def _decide(store: Store, config: Config, link, form: Mapping[str, str], now: datetime) -> str:
    # The name the link was issued to: never one typed on the page.
    who = f"{link.reviewer} (link {link.link_id})"
    chosen = {key.removeprefix("decision-"): value for key, value in form.items()
              if key.startswith("decision-") and value in ("approve", "changes")}
    if not chosen:
        raise ReviewError("choose Approve or Request changes for at least one post")
    covered = store.link_posts(link.link_id) if link.reviewer else {}
    outside = [post_id for post_id in chosen if post_id not in covered]
    if outside:
        raise ReviewError(f"this link does not cover {', '.join(outside)}; it covers the posts awaiting review "
                          "when it was made")
    expected = {}
    for post_id in chosen:
        if not form.get(f"hash-{post_id}"):
            raise ReviewError(f"the form is missing the text shown for {post_id}; reload the page")
        expected[post_id] = form[f"hash-{post_id}"]
    try:
        items = {i.post.post_id: i for i in review.items_for(store, config, list(chosen), expected)}
    except ReviewError as exc:
        raise ReviewError(f"{exc}. Nothing was recorded; the page below shows the posts as they are now") from None
    approvals, changes, back = [], [], []
    for post_id, value in chosen.items():
        item = items[post_id]
        if value == "approve":
            if item.blocked:
                raise ReviewError(f"{post_id} has a finding that blocks approval; request changes instead")
            approvals.append(review.decision_for(item))
        else:
            comment = (form.get(f"comment-{post_id}") or "").strip()
            if not comment:
                raise ReviewError(f"say what should change in {post_id} (the box under it)")
            changes.append((review.decision_for(item), comment[:2000]))
            back.extend(notices.changes_requested(config, [item], who=who, comment=comment[:2000]))
    store.record_link_decisions(config.account, link.link_id, approvals, changes, actor=who, now=now, notices=back)
    return (f"Thank you. {len(approvals)} approved, {len(changes)} sent back with your comments. "
            "This link has now been used; ask for a new one to review more.")


def _render(config: Config, status: int, **values) -> Response:
    import os

    env = Environment(autoescape=True)
    template = env.from_string(PAGE)
    values.setdefault("items", None)
    values.setdefault("changed", 0)
    values.setdefault("shown", {})
    values.setdefault("images", {})
    values.setdefault("reviewer", None)
    body = template.render(title=f"Posts awaiting review for @{config.handle}", error=values.pop("error", None),
                           message=values.pop("message", None), basename=os.path.basename,
                           local=lambda at: when_html(at, config.tz.key) + f" ({config.tz.key})", **values)
    return Response(status, body)
