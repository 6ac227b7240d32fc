"""The dashboard with several accounts, in-process on a real ledger file: every page and API route works on
the account ``?account=NAME`` names (else the default one), an unknown name is a 404 naming the known ones, the
switcher is in the header only when there are several, links and forms keep the choice, and a change made
through the web touches the chosen account's posts only."""

from __future__ import annotations

import warnings
from urllib.parse import parse_qs, urlsplit

import pytest
from bs4 import BeautifulSoup

from tests.helpers_web import LOOPBACK_CLIENT, POSTS, TIP_IDS, WebEnv, accounts_config, csrf_of, web  # noqa: F401
from tests.test_web_api import cli_json



class Accounts(WebEnv):
    def __init__(self, tmp, monkeypatch, default: str = ""):
        super().__init__(tmp, monkeypatch)
        self.config_path.write_text(accounts_config("clinic", "sky", head=default, service=True), encoding="utf-8")
        from scheduler.config import load_config
        from scheduler.articles.library import import_articles

        self.config = load_config(str(self.config_path))
        for each in self.config.each_account():
            import_articles(self.store, each, [POSTS], self.now)
        self.clinic = self.config.for_account("clinic")
        self.sky = self.config.for_account("sky")

    def ids(self, config) -> list[str]:
        return [p.post_id for p in self.store.queue_page(config.account, limit=1000)]

    def client(self, **kwargs):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from starlette.testclient import TestClient
        return TestClient(self.app(), base_url="http://127.0.0.1", client=LOOPBACK_CLIENT, follow_redirects=False,
                          **kwargs)


@pytest.fixture
def two(tmp_path, monkeypatch):
    env = Accounts(tmp_path, monkeypatch)
    yield env
    env.store.close()


def page(response) -> BeautifulSoup:
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def site_urls(html: BeautifulSoup) -> list[str]:
    """Every address on the page that leads back to this site (links, forms, htmx requests, images)."""
    urls = []
    for el in html.find_all(True):
        for attr in ("href", "action", "hx-get", "hx-post", "src"):
            value = el.get(attr)
            if value and value.startswith("/") and not value.startswith("/static/"):
                urls.append(value)
    return urls


def account_of(url: str) -> list[str]:
    return parse_qs(urlsplit(url).query).get("account", [])


def test_api_reads_are_the_cli_json_of_the_chosen_account(two):
    api = two.client(headers={"Authorization": f"Bearer {two.token()}"})
    queue = api.get("/api/v1/queue", params={"account": "sky"})
    assert queue.status_code == 200
    def unplanned(rows):  # planned_at depends on the clock: the app's is fixed, the CLI's is the real one
        return [{k: v for k, v in r.items() if k != "planned_at"} for r in rows]

    assert unplanned(queue.json()) == unplanned(cli_json(two, "--account", "sky", "queue", "list"))
    assert {(r["account"], r["network"]) for r in queue.json()} == {("sky", "bluesky")}
    assert [r["post_id"] for r in queue.json()] == two.ids(two.sky)
    assert not set(two.ids(two.sky)) & set(two.ids(two.clinic))  # each account its own posts
    preview = api.get("/api/v1/preview", params={"account": "clinic", "from": "2026-11-30T00:00:00-05:00"})
    assert preview.json() == cli_json(two, "--account", "clinic", "preview", "--from", "2026-11-30T00:00:00-05:00")
    assert preview.json()[0]["account"] == "clinic"
    status = api.get("/api/v1/status", params={"account": "@clinic.bsky.social"})  # a handle works as on the CLI
    assert (status.json()["account"], status.json()["network"]) == ("sky", "bluesky")
    one = api.get(f"/api/v1/queue/{two.ids(two.sky)[0]}", params={"account": "sky"})
    assert one.status_code == 200 and one.json()["text"] == two.store.get(two.ids(two.sky)[0]).text



@pytest.fixture
def two_reviewed(tmp_path, monkeypatch):
    """``two`` with review on: with review off nothing waits for a reviewer (review.policy.waits_for_reviewer)."""
    env = Accounts(tmp_path, monkeypatch, default="[review]\nrequired = true")
    yield env
    env.store.close()


def test_review_json_carries_the_account_on_the_api_and_the_cli(two_reviewed):
    two = two_reviewed
    api = two.client(headers={"Authorization": f"Bearer {two.token()}"})
    sky_ids = two.ids(two.sky)
    from scheduler.domain.content_hash import hash_of

    approved = api.post("/api/v1/review/approve", params={"account": "sky"},
                        json={"post_ids": sky_ids[:1], "content_hashes": {sky_ids[0]: hash_of(two.store.get(sky_ids[0]))}})
    assert approved.status_code == 200, approved.text
    waiting = api.get("/api/v1/review", params={"account": "sky"}).json()
    log = api.get("/api/v1/review/log", params={"account": "sky"}).json()
    assert waiting and log
    for rows in (waiting, log):
        assert {(r["account"], r["network"]) for r in rows} == {("sky", "bluesky")}
    cli_waiting = cli_json(two, "--account", "sky", "review", "list")
    assert [(r["post_id"], r["account"], r["network"]) for r in cli_waiting] == [
        (r["post_id"], r["account"], r["network"]) for r in waiting]
    assert cli_json(two, "--account", "sky", "review", "log") == log
    shown = cli_json(two, "--account", "sky", "review", "show", sky_ids[0])
    assert (shown["account"], shown["network"]) == ("sky", "bluesky")
    link = cli_json(two, "--account", "sky", "review", "link", "--for", "Dr Gleiber", "--expires", "1h")
    links = cli_json(two, "--account", "sky", "review", "links")
    assert link["account"] == "sky"
    assert [(r["link_id"], r["account"]) for r in links] == [(link["link_id"], "sky")]
    composed = cli_json(two, "--account", "sky", "compose", str(POSTS / "massage-therapy-for-back-pain.md"))
    assert composed and {(r["account"], r["network"]) for r in composed} == {("sky", "bluesky")}

def test_an_unknown_account_is_a_404_naming_the_known_ones(two):
    api = two.client(headers={"Authorization": f"Bearer {two.token()}"})
    missing = api.get("/api/v1/queue", params={"account": "nope"})
    assert missing.status_code == 404
    message = missing.json()["error"]["message"]
    assert "'nope'" in message and "clinic, sky" in message
    html = two.client().get("/queue?account=nope")
    assert html.status_code == 404
    alert = BeautifulSoup(html.text, "html.parser").select_one("[role=alert]").get_text()
    assert "'nope'" in alert and "clinic, sky" in alert


def test_the_api_asks_for_an_account_when_several_and_no_default(two):
    api = two.client(headers={"Authorization": f"Bearer {two.token()}"})
    answer = api.get("/api/v1/history")
    assert answer.status_code == 400
    assert "?account=NAME" in answer.json()["error"]["message"] and "clinic, sky" in answer.json()["error"]["message"]
    # A change without an account is refused, and changes nothing.
    before = two.ids(two.clinic), two.ids(two.sky)
    assert api.post("/api/v1/queue", json={"text": "Which account? Neither."}).status_code == 400
    assert (two.ids(two.clinic), two.ids(two.sky)) == before


def test_default_account_is_used_without_a_choice(tmp_path, monkeypatch):
    env = Accounts(tmp_path, monkeypatch, default='default_account = "sky"')
    try:
        api = env.client(headers={"Authorization": f"Bearer {env.token()}"})
        rows = api.get("/api/v1/queue").json()
        assert [r["post_id"] for r in rows] == env.ids(env.sky) and rows[0]["account"] == "sky"
        header = page(env.client().get("/queue"))
        assert header.select_one("#account-switch option[selected]")["value"] == "sky"
        assert header.select_one("header .account").get_text() == "@clinic.bsky.social"
    finally:
        env.store.close()


def test_switcher_is_a_labelled_form_and_every_link_keeps_the_choice(two):
    client = two.client()
    first = page(client.get("/calendar"))  # no choice, no default: the first account
    switch = first.select_one("header form.switch-account")
    assert switch["method"] == "get"
    select = switch.select_one("select[name=account]")
    assert first.select_one(f'label[for="{select["id"]}"]').get_text() == "Account"
    assert [o["value"] for o in select.select("option")] == ["clinic", "sky"]
    assert select.select_one("option[selected]")["value"] == "clinic"
    assert switch.select_one("button[type=submit]") is not None  # no script needed: keyboard and Enter work
    for path in ("/calendar", "/queue", "/articles", "/history", "/status", "/review"):
        html = page(client.get(path, params={"account": "sky"}))
        assert html.select_one("header .account").get_text() == "@clinic.bsky.social"
        assert html.select_one("#account-switch option[selected]")["value"] == "sky"
        assert html.select_one("form.switch-account")["action"] == path  # the same page, for the other account
        html.select_one("form.switch-account").decompose()  # its select names the account
        urls = [u for u in site_urls(html) if not u.startswith("/logout")]
        assert urls, path
        assert all(account_of(u) == ["sky"] for u in urls), [u for u in urls if account_of(u) != ["sky"]]
    queue = page(client.get("/queue?account=sky"))
    assert {li["data-post-id"] for li in queue.select("#queue-list li")} == set(two.ids(two.sky))
    assert queue.select_one('meta[name="account"]')["content"] == "sky"  # app.js's drag and drop names it too


def test_one_account_has_no_switcher_and_plain_links(web):  # noqa: F811
    html = page(web.client().get("/queue"))
    assert html.select_one("form.switch-account") is None
    assert not any(account_of(u) for u in site_urls(html))
    from starlette.testclient import TestClient

    api = TestClient(web.app(), base_url="http://127.0.0.1", client=LOOPBACK_CLIENT,
                     headers={"Authorization": f"Bearer {web.token()}"})
    assert api.get("/api/v1/queue?account=GleiberMD").json() == api.get("/api/v1/queue").json()
    assert web.client().get("/queue?account=other").status_code == 404


def test_page_changes_apply_to_the_chosen_account_only(two):
    client = two.client()
    token = csrf_of(page(client.get("/queue?account=sky")).decode())
    clinic_before = [(p.post_id, p.state, p.text, p.position) for p in
                     two.store.queue_page(two.clinic.account, limit=1000, states=("queued", "removed"))]
    added = client.post("/queue?account=sky", data={"csrf": token, "text": "Stretch before you shovel snow."})
    assert added.status_code == 303 and account_of(added.headers["location"]) == ["sky"]
    sky_posts = two.store.queue_page(two.sky.account, limit=1000)
    assert "Stretch before you shovel snow." in [p.text for p in sky_posts]
    target = two.ids(two.sky)[0]
    moved = client.post(f"/queue/{target}/move?account=sky", data={"csrf": token, "to": "bottom"})
    assert moved.status_code == 303 and two.ids(two.sky)[-1] == target
    client.post(f"/queue/{target}/pin?account=sky", data={"csrf": token, "at": "2026-12-03T18:20"})
    assert two.store.get(target).pinned_at.isoformat() == "2026-12-03T17:20:00+00:00"  # Berlin's 18:20
    client.post("/queue/pause?account=sky", data={"csrf": token, "reason": "holiday"})
    assert two.store.account_state(two.sky.account).paused
    assert not two.store.account_state(two.clinic.account).paused
    # A post of the other account cannot be touched from this one's pages.
    other = two.ids(two.clinic)[0]
    refused = client.post(f"/queue/{other}/remove?account=sky", data={"csrf": token})
    assert refused.status_code == 404
    clinic_after = [(p.post_id, p.state, p.text, p.position) for p in
                    two.store.queue_page(two.clinic.account, limit=1000, states=("queued", "removed"))]
    assert clinic_after == clinic_before
    history = page(client.get("/history?account=sky"))
    assert "holiday" in history.get_text()
    assert "holiday" not in page(client.get("/history?account=clinic")).get_text()


def test_pages_answer_404_naming_the_account_for_another_accounts_post_and_change_nothing(two):
    """As the API does: from sky's pages, clinic's post is no post of this account (not a post whose state refuses
    the change), whichever change is asked, by a form or by htmx."""
    client = two.client()
    token = csrf_of(page(client.get("/queue?account=sky")).decode())
    other, removed = two.ids(two.clinic)[:2]
    two.store.remove(two.clinic.account, removed, two.now)

    def clinic_rows():
        return [(p.post_id, p.state, p.text, p.position, p.pinned_at) for p in
                two.store.queue_page(two.clinic.account, limit=1000, states=("queued", "removed"))]

    before = clinic_rows()
    asked = [("edit", other, {"text": "Not yours to change."}), ("pin", other, {"at": "2026-12-03T18:20"}),
             ("remove", other, {}), ("restore", removed, {}), ("move", other, {"to": "top"})]
    for action, post_id, form in asked:
        for headers in ({}, {"HX-Request": "true"}):
            answer = client.post(f"/queue/{post_id}/{action}?account=sky", data={"csrf": token, **form},
                                 headers=headers)
            assert answer.status_code == 404, (action, headers, answer.status_code, answer.text[:300])
            text = answer.text if headers else BeautifulSoup(answer.text, "html.parser").get_text()
            assert f"no post {post_id!r}" in text and "'sky'" in text, (action, text[:500])
    assert clinic_rows() == before
    # Settling an unknown outcome from sky's History page: clinic's unknown post stays unknown.
    unknown = two.ids(two.clinic)[2]
    assert two.store.claim_post(unknown, "test", two.now, two.now) is not None
    two.store.mark_unknown(unknown, "test", "the answer was lost", two.now)
    for form in ({"retry": "1"}, {"tweet_id": "1234567890"}):
        answer = client.post(f"/history/{unknown}/resolve?account=sky", data={"csrf": token, **form})
        assert answer.status_code == 404, (form, answer.status_code)
        assert f"no post {unknown!r}" in BeautifulSoup(answer.text, "html.parser").get_text()
    assert two.store.get(unknown).state.value == "unknown" and two.store.get(unknown).tweet_id is None
    api = two.client(headers={"Authorization": f"Bearer {two.token()}"})
    assert api.get("/api/v1/audit", params={"account": "sky"}).json() == []


def test_api_changes_apply_to_the_chosen_account_only(two):
    api = two.client(headers={"Authorization": f"Bearer {two.token()}"})
    mine, other = two.ids(two.sky)[0], two.ids(two.clinic)[0]
    edited = api.patch(f"/api/v1/queue/{mine}", params={"account": "sky"}, json={"text": "Short and new #backpain"})
    assert edited.status_code == 200 and edited.json()["account"] == "sky"
    assert two.store.get(mine).text == "Short and new #backpain"
    before = two.store.get(other).text
    assert api.patch(f"/api/v1/queue/{other}", params={"account": "sky"}, json={"text": "no"}).status_code == 404
    assert api.delete(f"/api/v1/queue/{other}", params={"account": "sky"}).status_code == 404
    assert two.store.get(other).text == before and two.store.get(other).state.value == "queued"
    assert [a["action"] for a in api.get("/api/v1/audit", params={"account": "sky"}).json()] == ["edit"]
    assert api.get("/api/v1/audit", params={"account": "clinic"}).json() == []


def test_upload_imports_for_the_chosen_account_only(two):
    client = two.client()
    token = csrf_of(page(client.get("/articles?account=sky")).decode())
    article = ("---\ntitle: Desk posture\n---\n# Desk posture\n\n"
               "1. Raise your screen to eye level. A stack of books will do.\n"
               "2. Stand up. Every hour, walk for two minutes.\n")
    clinic_before = two.ids(two.clinic)
    answer = client.post("/articles?account=sky", data={"csrf": token},
                         files={"file": ("desk.md", article.encode(), "text/markdown")})
    assert answer.status_code == 303, answer.text[:300]
    assert account_of(answer.headers["location"]) == ["sky"]
    assert two.ids(two.clinic) == clinic_before
    assert sum("eye level" in two.store.get(i).text for i in two.ids(two.sky)) == 1


def test_the_counter_counts_as_the_chosen_network_does(two):
    client = two.client()
    token = csrf_of(page(client.get("/queue?account=sky")).decode())
    text = "é" * 290  # 290 graphemes: fits Bluesky's 300, over X's 280 (each counts 1 on X too, but 290 > 280)
    sky = BeautifulSoup(client.post("/compose/count?account=sky", data={"csrf": token, "text": text}).text,
                        "html.parser").output
    x = BeautifulSoup(client.post("/compose/count?account=clinic", data={"csrf": token, "text": text}).text,
                      "html.parser").output
    assert sky.get_text() == "290/300" and "over" not in sky["class"]
    assert x.get_text().startswith("290/280") and "over" in x["class"]


def test_live_poller_keeps_the_account(two):
    client = two.client()
    html = page(client.get("/status?account=sky"))
    live = html.select_one("#live")["hx-get"]
    assert account_of(live) == ["sky"]
    fresh = client.get("/live?rev=-1&account=sky")
    assert account_of(BeautifulSoup(fresh.text, "html.parser").select_one("#live")["hx-get"]) == ["sky"]
    assert client.get(live).status_code == 204  # the sky account's revision stands


@pytest.fixture
def reviewed(tmp_path, monkeypatch):
    env = Accounts(tmp_path, monkeypatch)
    env.config_path.write_text(env.config_path.read_text() + "\n[review]\nrequired = true\n", encoding="utf-8")
    from scheduler.config import load_config

    env.config = load_config(str(env.config_path))
    env.clinic, env.sky = env.config.for_account("clinic"), env.config.for_account("sky")
    yield env
    env.store.close()


def review_status(env, config, post_id) -> str:
    from scheduler.review import policy as review

    return review.item(env.store, config, post_id, env.now).status


def test_review_decisions_and_reviewer_links_stay_with_their_account(reviewed):
    from scheduler.review import links as review_link
    from scheduler.domain.content_hash import hash_of

    env = reviewed
    client = env.client()
    html = page(client.get("/review?account=sky"))
    shown = {box["value"] for box in html.select('input[type=checkbox][name=post]')}
    assert shown == set(env.ids(env.sky))
    chosen = env.ids(env.sky)[:2]
    form = {"csrf": csrf_of(html.decode()), "action": "approve", "post": chosen,
            **{f"hash-{i}": hash_of(env.store.get(i)) for i in chosen}}
    done = client.post("/review?account=sky", data=form)
    assert done.status_code == 303 and account_of(done.headers["location"]) == ["sky"]
    assert [review_status(env, env.sky, i) for i in chosen] == ["approved", "approved"]
    assert {review_status(env, env.clinic, i) for i in env.ids(env.clinic)} == {"awaiting review"}
    # A clinic post cannot be decided from the sky account's page: refused, nothing decided.
    other = env.ids(env.clinic)[0]
    refused = client.post("/review?account=sky", data={**form, "post": [other], f"hash-{other}":
                                                       hash_of(env.store.get(other))})
    assert refused.status_code >= 400
    assert review_status(env, env.clinic, other) == "awaiting review"
    # A reviewer link opens its own account's review page, whatever the dashboard's default is.
    link = review_link.create(env.store, env.sky, expires=__import__("datetime").timedelta(hours=1), who="me",
                              reviewer="Dr Gleiber", now=env.now)
    reviewer = client.get(f"/review/{link.token}")
    assert reviewer.status_code == 200
    on_page = {el.get("name", "")[len("hash-"):] for el in
               BeautifulSoup(reviewer.text, "html.parser").select('input[name^="hash-"]')}
    assert on_page == set(env.ids(env.sky)[2:])  # the sky posts still awaiting review, and no clinic post
