"""Session rows and the signing key: a password-less dashboard writes no session row for a page load, expired
sessions leave the ledger, and `scheduler web rotate-key` makes what the old key signed stop working."""

from __future__ import annotations

from datetime import timedelta

import requests
import sqlalchemy as sa

from scheduler.ledger import migrations as m
from tests.helpers_web import TIP_IDS, csrf_of, web  # noqa: F401
from tests.test_cli import CLI, POSTS
from tests.test_web_proxy import running_dashboard

PASSWORD = "correct horse battery"
REVIEW = '\n[review]\nrequired = true\nlink_base = "https://dash.example.com"\n'


def rows(store, table) -> int:
    with store.engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table)).scalar()


def test_cookie_less_page_loads_without_a_password_write_no_session_row(web):  # noqa: F811
    for n in range(100):
        page = web.client().get(("/queue", "/calendar", "/history", "/status")[n % 4])  # a new browser each time
        assert page.status_code == 200
    assert rows(web.store, m.web_sessions) == 0

    # The page's CSRF token still guards its forms, and still works.
    client = web.client()
    page = client.get("/queue")
    assert client.post(f"/queue/{TIP_IDS[0]}/remove", data={"csrf": "forged"}).status_code == 403
    done = client.post(f"/queue/{TIP_IDS[0]}/remove", data={"csrf": csrf_of(page.text)}, follow_redirects=False)
    assert done.status_code == 303 and TIP_IDS[0] not in web.queue_ids()
    assert rows(web.store, m.web_sessions) == 0


def test_expired_sessions_leave_the_ledger(web):  # noqa: F811
    from tests.test_web_security import login

    web.set_password(PASSWORD)
    client = web.client()
    assert login(client).status_code == 303
    assert rows(web.store, m.web_sessions) == 1
    web.now += timedelta(hours=11)
    assert client.get("/queue").status_code == 200
    assert rows(web.store, m.web_sessions) == 1  # still valid: kept

    web.now += timedelta(hours=2)  # the session has expired; nobody signs in again
    assert client.get("/login").status_code == 200
    assert rows(web.store, m.web_sessions) == 0


def test_old_sign_in_counts_are_forgotten(web):  # noqa: F811
    from scheduler.app.access import FORGET_FAILURES, LoginLimiter

    LoginLimiter(web.store).reserve("203.0.113.5", "admin", web.now)
    client = web.client()
    client.get("/login")
    assert rows(web.store, m.web_login_limits) == 2  # counted just now: kept
    web.now += FORGET_FAILURES
    client.get("/login")
    assert rows(web.store, m.web_login_limits) == 0


def test_rotate_key_stops_old_links_and_cookies(tmp_path):
    cli = CLI(tmp_path)
    cli.config.write_text(cli.config.read_text() + REVIEW, encoding="utf-8")
    cli.run("import", str(POSTS))
    link = cli.json("review", "link", "--for", "Dr Gleiber", "--expires", "72h")
    token = link["url"].rsplit("/", 1)[1]
    with running_dashboard(cli) as port:
        base = f"http://127.0.0.1:{port}"
        assert requests.get(f"{base}/review/{token}", timeout=30).status_code == 200
        browser = requests.Session()
        csrf = csrf_of(browser.get(f"{base}/queue", timeout=30).text)

        rotated = cli.run("web", "rotate-key")
        assert "no longer work" in rotated.stdout and link["link_id"] in rotated.stdout
        assert "scheduler review link" in rotated.stdout

        old_link = requests.get(f"{base}/review/{token}", timeout=30)
        assert old_link.status_code in (404, 410) and "reviewer link" in old_link.text
        assert [(r["link_id"], r["state"]) for r in cli.json("review", "links")] == [(link["link_id"], "revoked")]
        assert any("rotate" in (e["comment"] or "") for e in cli.json("review", "log"))

        stale = browser.post(f"{base}/queue/{TIP_IDS[0]}/remove", data={"csrf": csrf}, allow_redirects=False,
                             timeout=30)
        assert stale.status_code == 403 and "reload the page" in stale.text
        assert TIP_IDS[0] in cli.queue_ids()
        fresh = csrf_of(browser.get(f"{base}/queue", timeout=30).text)  # a reload hands out a new cookie
        done = browser.post(f"{base}/queue/{TIP_IDS[0]}/remove", data={"csrf": fresh}, allow_redirects=False,
                            timeout=30)
        assert done.status_code == 303 and TIP_IDS[0] not in cli.queue_ids()

        new_link = cli.json("review", "link", "--for", "Dr Gleiber", "--expires", "72h")
        assert requests.get(f"{base}/review/{new_link['url'].rsplit('/', 1)[1]}", timeout=30).status_code == 200

    again = cli.json("web", "rotate-key")
    assert again["rotated"] is True and [r["link_id"] for r in again["revoked_links"]] == [new_link["link_id"]]
