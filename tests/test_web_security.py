"""The dashboard's security rules, each with a test: tokens, sessions, CSRF, login limits, cookie flags,
the bind rule, escaping and the Content-Security-Policy."""

from __future__ import annotations

import html
import re

import pytest
from bs4 import BeautifulSoup
from hypothesis import given
from hypothesis import strategies as st

from tests.helpers_web import TIP_IDS, csrf_of, web  # noqa: F401

PASSWORD = "correct horse battery"
PAGES = ["/calendar", "/calendar?view=month", "/queue", "/articles", "/articles/massage-therapy-for-back-pain",
         "/review", "/history", "/status"]


def test_api_without_a_token_is_401_and_changes_nothing(web):  # noqa: F811
    client = web.client()
    for method, path, body in [("get", "/api/v1/queue", None), ("get", "/api/v1/preview", None),
                               ("post", "/api/v1/queue", {"text": "sneaky"}),
                               ("delete", f"/api/v1/queue/{TIP_IDS[0]}", None)]:
        kwargs = {"json": body} if body else {}
        for headers in ({}, {"Authorization": "Bearer tsk_wrong"}, {"Authorization": "Basic YWRtaW46eA=="}):
            response = getattr(client, method)(path, headers=headers, **kwargs)
            assert response.status_code == 401, (path, headers)
            assert "scheduler web token create" in response.json()["error"]["message"]
    assert web.queue_ids() == TIP_IDS
    assert web.store.audit(web.config.account) == []


def test_a_revoked_token_is_refused_from_the_next_request(web):  # noqa: F811
    secret = web.token("ci")
    client = web.client()
    auth = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/queue", headers=auth).status_code == 200
    web.store.revoke_token("ci", web.now)
    assert client.get("/api/v1/queue", headers=auth).status_code == 401


def test_a_tokens_last_use_is_recorded_to_the_minute(web):  # noqa: F811
    """`web token list` shows when a token was last used; a script polling every second does not write the
    ledger every second for it."""
    from datetime import timedelta

    secret = web.token("ci")
    client = web.client()
    auth = {"Authorization": f"Bearer {secret}"}

    def last_used():
        return next(t.last_used_at for t in web.store.tokens() if t.name == "ci")

    assert last_used() is None
    first = web.now
    assert client.get("/api/v1/queue", headers=auth).status_code == 200
    assert last_used() == first
    web.now = first + timedelta(seconds=30)
    assert client.get("/api/v1/queue", headers=auth).status_code == 200
    assert last_used() == first  # within the minute: not written again
    web.now = first + timedelta(seconds=61)
    assert client.get("/api/v1/queue", headers=auth).status_code == 200
    assert last_used() == web.now
    web.store.revoke_token("ci", web.now)
    web.now += timedelta(seconds=5)
    assert client.get("/api/v1/queue", headers=auth).status_code == 401


def test_secrets_are_stored_only_as_hashes(web):  # noqa: F811
    import sqlalchemy as sa

    secret = web.token("ci")
    web.set_password(PASSWORD)
    with web.store.engine.connect() as conn:
        dump = " ".join(str(row) for table in ("web_users", "web_tokens")
                        for row in conn.execute(sa.text(f"SELECT * FROM {table}")))
    random_part = secret.split("_", 2)[2]  # tsk_<id>_<random>: the id is stored, the random part never
    assert PASSWORD not in dump and secret not in dump and random_part not in dump
    assert web.store.password_hash("admin").startswith("scrypt$16384$8$1$")


def test_a_form_post_without_csrf_is_403_and_changes_nothing(web):  # noqa: F811
    client = web.client()
    page = client.get("/queue")  # the open (no password, loopback) mode gives this browser a session
    assert page.status_code == 200
    token = csrf_of(page.text)
    for data in ({}, {"csrf": "forged"}):
        refused = client.post(f"/queue/{TIP_IDS[0]}/remove", data=data)
        assert refused.status_code == 403
        assert "CSRF" in refused.text
    # The API with a session cookie needs the header as well.
    assert client.delete(f"/api/v1/queue/{TIP_IDS[0]}").status_code == 403
    assert client.post("/api/v1/queue", json={"text": "from a session"}).status_code == 403
    assert web.queue_ids() == TIP_IDS and web.store.audit(web.config.account) == []

    done = client.post(f"/queue/{TIP_IDS[0]}/remove", data={"csrf": token}, follow_redirects=False)
    assert done.status_code == 303
    assert TIP_IDS[0] not in web.queue_ids()
    assert client.delete(f"/api/v1/queue/{TIP_IDS[1]}", headers={"X-CSRF-Token": token}).status_code == 200
    assert [(a.actor, a.action) for a in web.store.audit(web.config.account)] == [("local", "remove")] * 2


def test_multipart_upload_needs_csrf_too(web):  # noqa: F811
    client = web.client()
    token = csrf_of(client.get("/articles").text)
    article = b"# Sleep\n\n1. Keep a schedule.\n2. Dim the lights.\n"
    refused = client.post("/articles", files={"file": ("sleep.md", article, "text/markdown")})
    assert refused.status_code == 403
    assert web.store.article_summaries(web.config.account)[0]["article"] == "massage-therapy-for-back-pain"
    ok = client.post("/articles", data={"csrf": token}, files={"file": ("sleep.md", article, "text/markdown")},
                     follow_redirects=False)
    assert ok.status_code == 303


def test_with_a_password_pages_need_a_login_and_the_api_a_token(web):  # noqa: F811
    web.set_password(PASSWORD)
    client = web.client()
    for path in PAGES:
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/login?next=")
    assert client.get("/api/v1/queue").status_code == 401
    assert client.post(f"/queue/{TIP_IDS[0]}/remove", data={"csrf": "x"}).status_code == 401
    assert web.queue_ids() == TIP_IDS


def login(client, password=PASSWORD, user="admin", next_="/queue"):
    page = client.get("/login")
    token = BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
    return client.post("/login", data={"csrf": token, "username": user, "password": password, "next": next_},
                       follow_redirects=False)


def test_login_sets_a_strict_httponly_cookie_and_logout_ends_the_session(web):  # noqa: F811
    web.set_password(PASSWORD)
    client = web.client()
    response = login(client)
    assert response.status_code == 303 and response.headers["location"] == "/queue"
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("tsid="))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback: a Secure cookie would never come back
    page = client.get("/queue")
    assert page.status_code == 200 and "Sign out (admin)" in page.text
    session = client.cookies.get("tsid")

    client.post("/logout", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    client.cookies.set("tsid", session)  # even a copy of the old cookie no longer works
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_cookies_are_secure_over_https(web):  # noqa: F811
    web.set_password(PASSWORD)
    client = web.client(local_only=False, base_url="https://dashboard.example")
    response = login(client)
    cookie = next(c for c in response.headers.get_list("set-cookie") if c.startswith("tsid="))
    assert "; Secure" in cookie


def test_login_is_refused_after_five_failures_even_with_the_right_password(web):  # noqa: F811
    web.set_password(PASSWORD)
    client = web.client()
    for _ in range(5):
        assert login(client, password="wrong password!").status_code == 401
    blocked = login(client)
    assert blocked.status_code == 429 and "too many failed sign-ins" in blocked.text
    assert "tsid" not in client.cookies
    web.now = web.now.replace(hour=web.now.hour + 1)  # the window has passed
    assert login(client).status_code == 303


def test_login_form_needs_its_own_csrf_and_next_stays_on_this_site(web):  # noqa: F811
    web.set_password(PASSWORD)
    client = web.client()
    forged = client.post("/login", data={"username": "admin", "password": PASSWORD})
    assert forged.status_code == 403 and "tsid" not in client.cookies
    assert login(client, next_="https://evil.example/").headers["location"] == "/calendar"
    assert login(client, next_="//evil.example/").headers["location"] == "/calendar"


def test_a_session_from_open_mode_stops_working_once_a_password_is_set(web):  # noqa: F811
    client = web.client()
    assert client.get("/queue").status_code == 200
    web.set_password(PASSWORD)
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_open_mode_answers_only_to_a_loopback_host(web):  # noqa: F811
    evil = web.client(base_url="http://rebound.example")
    response = evil.get("/queue")
    assert response.status_code == 400 and "127.0.0.1" in response.text
    assert web.client(base_url="http://localhost:8040").get("/queue").status_code == 200


def test_a_non_loopback_bind_without_password_refuses_to_start(web):  # noqa: F811
    from scheduler.domain.errors import AccessError
    from scheduler.web.server import check_bind, make_server

    for host in ("0.0.0.0", "192.0.2.10", "::"):
        with pytest.raises(AccessError, match="scheduler web passwd"):
            make_server(web.config, web.store, host, 8040)
    check_bind(web.store, "127.0.0.1")
    check_bind(web.store, "::1")
    web.set_password(PASSWORD)
    check_bind(web.store, "0.0.0.0")


HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)> @bob #Tip https://example.com/?a=<b>'


def test_a_hostile_post_is_shown_as_text_everywhere(web):  # noqa: F811
    client = web.client()
    token = csrf_of(client.get("/queue").text)
    assert client.post("/queue", data={"csrf": token, "text": HOSTILE}, follow_redirects=False).status_code == 303
    web.store.move(web.config.account, web.queue_ids()[-1], top=True)
    for path in ("/queue", "/calendar", "/calendar?view=month", "/review", "/history"):
        page = client.get(path).text
        soup = BeautifulSoup(page, "html.parser")
        assert all(tag.get("src") for tag in soup.find_all("script")), path  # no inline script at all
        assert not soup.find("img", attrs={"onerror": True}), path
        assert "<script>alert" not in page and "onerror=alert(1)>" not in page, path
    queue_text = BeautifulSoup(client.get("/queue").text, "html.parser").find("li", class_="item").find(
        "p", class_="text").get_text()
    assert queue_text == HOSTILE


def test_every_page_sends_a_csp_that_forbids_inline_script(web):  # noqa: F811
    client = web.client()
    for path in [*PAGES, "/login", "/api/v1/queue"]:
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        script_src = re.search(r"script-src ([^;]+)", csp).group(1)
        assert script_src.strip() == "'self'", path
        assert "unsafe" not in csp and "frame-ancestors 'none'" in csp
        assert response.headers["x-content-type-options"] == "nosniff"


@given(st.text(max_size=300))
def test_post_html_escapes_any_text_and_keeps_it_whole(text):
    import unicodedata

    from scheduler.web.render import post_html

    rendered = str(post_html(text))
    without_spans = re.sub(r'<span class="(?:link|mention|hashtag)">|</span>', "", rendered)
    assert "<" not in without_spans and ">" not in without_spans
    assert html.unescape(without_spans) == unicodedata.normalize("NFC", text)
