"""Reviewer links: the token (signed, expiring, revocable, single-purpose) and the page it opens, served
over real HTTP on 127.0.0.1 by the dashboard's own app (uvicorn, as `scheduler web` runs it)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from html import unescape

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scheduler.review import policy as review
from scheduler.review import links as review_link
from scheduler.config import parse_config
from scheduler.domain.errors import ReviewError
from tests.helpers_ledger import ACCOUNT, FakeClock, new_post
from tests.helpers_ledger import approve_shown
from tests.helpers_web import serving

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)


def make_config():
    return parse_config(f"""
[account]
handle = "{ACCOUNT}"
timezone = "UTC"
[calendar]
slots = ["daily 09:00"]
series_gap = "0s"
[review]
required = true
link_base = "https://dash.example.com"
[notify]
authors = ["writer@example.com"]
webhook = "http://127.0.0.1:9/hook"
""", source=None)


@pytest.fixture
def served(store):
    """The dashboard on a real HTTP server, no password (as on a laptop); ``clock`` moves the server's time."""
    from scheduler.web.app import create_app

    config = make_config()
    clock = FakeClock(T0)
    with serving(create_app(config, store, local_only=True, clock=clock)) as base:
        yield config, clock, base


def path_of(link) -> str:
    return link.url.removeprefix("https://dash.example.com")


def form_fields(html: str) -> dict[str, str]:
    return {unescape(n): unescape(v) for n, v in re.findall(r'type="hidden" name="([^"]+)" value="([^"]*)"', html)}


def test_the_link_shows_the_waiting_posts_and_works_once(store, served):
    config, clock, base = served
    store.add_post(ACCOUNT, new_post("ok", "Walk ten minutes after each meal <daily>."), T0)
    store.add_post(ACCOUNT, new_post("dose", "Take 400 mg before bed."), T0)
    store.add_post(ACCOUNT, new_post("vague", "Massage cures back pain."), T0)
    store.add_post(ACCOUNT, new_post("approved", "Already approved words."), T0)
    approve_shown(store, config, ["approved"], who="Dr G", now=T0)
    link = review_link.create(store, config, expires=timedelta(hours=72), who="editor", reviewer="Dr Gleiber", now=T0)
    assert link.url.startswith("https://dash.example.com/review/")

    page = requests.get(base + path_of(link), timeout=10)
    assert page.status_code == 200
    assert page.headers["Cache-Control"] == "no-store" and page.headers["Referrer-Policy"] == "no-referrer"
    html = page.text
    assert "Walk ten minutes after each meal &lt;daily&gt;." in html  # escaped, exactly as sent
    assert "Already approved words." not in html  # only what awaits review
    assert "Blocks approval" in html and "400 mg" in html
    assert re.search(r'name="decision-dose" value="approve" disabled', html)
    fields = form_fields(html)
    assert set(fields) == {"hash-ok", "hash-dose", "hash-vague"}

    # Refused decisions record nothing and leave the link usable.
    bad = requests.post(base + path_of(link), data={**fields, "decision-vague": "changes"}, timeout=10)
    assert bad.status_code == 400 and "say what should change in vague" in bad.text
    bad = requests.post(base + path_of(link), data={**fields, "decision-dose": "approve"}, timeout=10)
    assert bad.status_code == 400 and "blocks approval" in bad.text
    assert [e.action for e in store.review_log(ACCOUNT)] == ["link created", "approved"]  # nothing new

    done = requests.post(base + path_of(link), timeout=10, data={
        **fields, "reviewer": "Dr Gleiber", "decision-ok": "approve", "decision-vague": "changes",
        "comment-vague": "Say it may help.", "decision-dose": "leave"})
    assert done.status_code == 200 and "1 approved, 1 sent back" in done.text
    assert review.item(store, config, "ok", T0).status == "approved"
    assert review.item(store, config, "vague", T0).review.comment == "Say it may help."
    assert review.item(store, config, "dose", T0).status == "awaiting review"
    actions = [(e.action, e.actor) for e in store.review_log(ACCOUNT)]
    who = f"Dr Gleiber (link {link.link_id})"
    assert actions[:3] == [("changes requested", who), ("approved", who), ("link used", who)]
    assert [n.kind for n in store.notices(ACCOUNT)] == ["changes requested"]

    for method in (requests.get, requests.post):
        again = method(base + path_of(link), timeout=10, data=fields)
        assert again.status_code == 410 and "has been used" in again.text


def test_a_decision_on_a_text_changed_after_the_page_was_shown_is_refused(store, served):
    config, clock, base = served
    store.add_post(ACCOUNT, new_post("p", "Shown words."), T0)
    link = review_link.create(store, config, expires=timedelta(hours=1), who="editor", reviewer="Dr Gleiber", now=T0)
    fields = form_fields(requests.get(base + path_of(link), timeout=10).text)
    with store.engine.begin() as conn:
        import sqlalchemy as sa

        conn.execute(sa.text("UPDATE posts SET parts = '[\"Swapped words.\"]' WHERE post_id = 'p'"))
    answer = requests.post(base + path_of(link), data={**fields, "decision-p": "approve"}, timeout=10)
    assert answer.status_code == 400 and "changed since it was shown" in answer.text
    assert review.item(store, config, "p", T0).status == "awaiting review"
    assert review_link.verify(store, config, link.token, T0).used_at is None  # not spent


def test_the_link_expires(store, served):
    config, clock, base = served
    store.add_post(ACCOUNT, new_post("p", "Words awaiting review."), T0)  # a link covers the posts waiting
    link = review_link.create(store, config, expires=timedelta(hours=72), who="editor", reviewer="Dr Gleiber", now=T0)
    clock.set(T0 + timedelta(hours=71, minutes=59))
    assert requests.get(base + path_of(link), timeout=10).status_code == 200
    clock.set(T0 + timedelta(hours=72))
    expired = requests.get(base + path_of(link), timeout=10)
    assert expired.status_code == 410 and "expired" in expired.text


def test_a_revoked_link_stops_at_once(store, served):
    config, clock, base = served
    store.add_post(ACCOUNT, new_post("p", "Words awaiting review."), T0)  # a link covers the posts waiting
    link = review_link.create(store, config, expires=timedelta(hours=72), who="editor", reviewer="Dr Gleiber", now=T0)
    review_link.revoke(store, config, link.link_id, who="editor", now=T0)
    answer = requests.get(base + path_of(link), timeout=10)
    assert answer.status_code == 410 and "revoked" in answer.text
    with pytest.raises(ReviewError, match="already revoked"):
        review_link.revoke(store, config, link.link_id, who="editor", now=T0)
    assert [e.action for e in store.review_log(ACCOUNT)] == ["link revoked", "link created"]


def test_a_forged_or_altered_token_opens_nothing(store, served):
    config, clock, base = served
    store.add_post(ACCOUNT, new_post("p", "Secret draft words."), T0)
    link = review_link.create(store, config, expires=timedelta(hours=1), who="editor", reviewer="Dr Gleiber", now=T0)
    link_id, expiry, signature = link.token.split(".")
    forged = [
        f"{link_id}.{int(expiry) + 86400}.{signature}",  # a longer life
        f"{link_id}.{expiry}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}",
        f"{'0' * 16}.{expiry}.{signature}",
        "nonsense", "",
    ]
    for token in forged:
        answer = requests.get(f"{base}/review/{token}", timeout=10)
        assert answer.status_code == 404, token
        assert "Secret draft words." not in answer.text


def test_the_link_opens_its_page_and_nothing_else(store, served):
    from scheduler.app.access import hash_password

    config, clock, base = served
    store.set_password("admin", hash_password("a long enough password"), T0)
    store.add_post(ACCOUNT, new_post("p", "Draft words."), T0)
    link = review_link.create(store, config, expires=timedelta(hours=1), who="editor", reviewer="Dr Gleiber", now=T0)
    with requests.Session() as phone:
        page = phone.get(base + path_of(link), timeout=10)
        assert page.status_code == 200 and "Draft words." in page.text
        assert "set-cookie" not in page.headers and not phone.cookies  # no session comes with a link
        csp = page.headers["Content-Security-Policy"]
        assert "script-src" not in csp and "default-src 'none'" in csp and "unsafe-inline" not in csp
        assert phone.get(f"{base}/status", timeout=10, allow_redirects=False).headers["location"].startswith("/login")
        assert phone.get(f"{base}/api/v1/queue", timeout=10).status_code == 401
        assert phone.post(f"{base}/queue", data={"text": "sneaked in"}, timeout=10,
                          allow_redirects=False).status_code in (401, 403)
        assert phone.post(f"{base}/review", data={"post": "p", "action": "approve", "hash-p": "x"},
                          timeout=10, allow_redirects=False).status_code in (401, 403)
    assert review.item(store, config, "p", T0).status == "awaiting review"
    assert [p.post_id for p in store.queue_page(ACCOUNT, limit=10)] == ["p"]


def test_an_oversized_form_is_refused_and_the_link_stays_usable(store, served):
    config, clock, base = served
    store.add_post(ACCOUNT, new_post("p", "Some words."), T0)
    link = review_link.create(store, config, expires=timedelta(hours=1), who="editor", reviewer="Dr Gleiber", now=T0)
    fields = form_fields(requests.get(base + path_of(link), timeout=10).text)
    answer = requests.post(base + path_of(link), timeout=10,
                           data={**fields, "decision-p": "approve", "reviewer": "x" * 1_100_000})
    assert answer.status_code == 413 and answer.headers["Referrer-Policy"] == "no-referrer"
    assert review.item(store, config, "p", T0).status == "awaiting review"
    assert review_link.verify(store, config, link.token, T0).used_at is None


def test_link_lifetime_is_bounded(store):
    config = make_config()
    with pytest.raises(ReviewError, match="at most 30 days"):
        review_link.create(store, config, expires=timedelta(days=31), who="editor", reviewer="Dr Gleiber", now=T0)
    with pytest.raises(ReviewError, match="positive"):
        review_link.create(store, config, expires=timedelta(0), who="editor", reviewer="Dr Gleiber", now=T0)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=120))
def test_any_string_is_refused_cleanly(sqlite_store, token):  # verify only reads (the signing key is made once)
    config = make_config()
    with pytest.raises(review_link.LinkInvalid):
        review_link.verify(sqlite_store, config, token, T0)
