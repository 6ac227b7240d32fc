"""The dashboard keeps plans between requests (scheduler.planning.plan_cache) and must never show a stale one: a
change made by another process (the CLI) or the passing of time gives the next request the plan that
`preview --json` gives at that moment. Concurrent requests share one computation; the cache stays small."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta

from bs4 import BeautifulSoup

from scheduler.planning.plan_cache import PER_ACCOUNT, PlanCache, stable_until
from tests.helpers_web import LOOPBACK_CLIENT, REPO, TIP_IDS, csrf_of, web  # noqa: F401
from tests.test_web_api import cli_json
from tests.test_web_pages import calendar_cards, preview_between

WEEK = ("week", "2026-11-30", "2026-11-30T00:00:00-05:00", "2026-12-07T00:00:00-05:00")


def week_cards(client) -> list[dict]:
    response = client.get(f"/calendar?view={WEEK[0]}&date={WEEK[1]}")
    assert response.status_code == 200, response.text[:500]
    return calendar_cards(BeautifulSoup(response.text, "html.parser"))


def cli(web, *args) -> None:  # noqa: F811
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
           "SCHEDULER_HOME": str(web.home), "SCHEDULER_CONFIG": str(web.config_path)}
    subprocess.run([sys.executable, "-m", "scheduler", *args], env=env, capture_output=True, text=True,
                   timeout=60, cwd=REPO, check=True)


def test_a_change_made_with_the_cli_shows_on_the_next_request(web):  # noqa: F811
    app = web.app()
    from starlette.testclient import TestClient

    client = TestClient(app, base_url="http://127.0.0.1", client=LOOPBACK_CLIENT)
    cache = app.state.web.plan_cache
    before = week_cards(client)
    assert before == preview_between(web, *WEEK[2:])
    computed = cache.computed
    assert week_cards(client) == before
    assert cache.computed == computed  # nothing changed: served from the cache

    cli(web, "queue", "move", TIP_IDS[4], "--top")  # another process changes the ledger

    after = week_cards(client)
    assert after == preview_between(web, *WEEK[2:])
    assert after != before
    assert [c["post_id"] for c in after if c["post_id"]][0] == TIP_IDS[4]
    api = client.get("/api/v1/preview", params={"count": 3})
    assert [e["post_id"] for e in api.json()][0] == TIP_IDS[4]


def test_a_post_being_sent_leaves_the_cached_plan_at_once(web):  # noqa: F811
    """The publishing service claims a post before the call to X: from then on it is not planned."""
    from starlette.testclient import TestClient

    client = TestClient(web.app(), base_url="http://127.0.0.1", client=LOOPBACK_CLIENT)
    slot = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    web.now = slot - timedelta(seconds=1)  # the same now before and after the claim: only the ledger changes
    assert TIP_IDS[0] in [c["post_id"] for c in week_cards(client)]
    assert web.store.claim(TIP_IDS[0], "test-instance", slot, web.now)
    page = BeautifulSoup(client.get(f"/calendar?view=week&date={WEEK[1]}").text, "html.parser")
    assert TIP_IDS[0] not in [c["post_id"] for c in calendar_cards(page)]
    assert page.select_one(f'.card.sent[data-post-id="{TIP_IDS[0]}"]')["data-state"] == "sending"
    assert calendar_cards(page) == preview_between(web, *WEEK[2:])


def test_the_calendar_follows_time_with_now_passed_in(web):  # noqa: F811
    """Slots mon-fri 09:00, grace 15 minutes: at 09:05 the 09:00 slot is still due; at 09:20 it is gone and
    the first post moves to Tuesday. Each page equals the preview at that moment."""
    from starlette.testclient import TestClient

    client = TestClient(web.app(), base_url="http://127.0.0.1", client=LOOPBACK_CLIENT)
    pages = {}
    for clock in ("2026-11-30T00:00:00-05:00", "2026-11-30T08:59:59-05:00", "2026-11-30T09:05:00-05:00",
                  "2026-11-30T09:20:00-05:00"):
        web.now = datetime.fromisoformat(clock)
        pages[clock] = week_cards(client)
        assert pages[clock] == preview_between(web, *WEEK[2:]), clock
        api = client.get("/api/v1/preview", params={"count": 2}).json()  # no ?from=: the app's clock
        assert api == cli_json(web, "preview", "--from", web.now.isoformat(), "--count", "2")
    first = [c for c in pages["2026-11-30T09:20:00-05:00"] if c["post_id"]][0]
    assert first["post_id"] == TIP_IDS[0] and first["at"] == "2026-12-01T09:00:00-05:00"
    assert pages["2026-11-30T09:05:00-05:00"] != pages["2026-11-30T09:20:00-05:00"]


def test_stable_until_is_the_next_moment_time_alone_changes_the_plan(web):  # noqa: F811
    at = datetime.fromisoformat  # the account is in New York; slots mon-fri 09:00 and sat 11:30, grace 15 min
    # Monday 00:00: the next slot (09:00) comes before the next local midnight.
    assert stable_until(web.store, web.config, at("2026-11-30T00:00:00-05:00")) == at("2026-11-30T09:00:00-05:00")
    # 09:05: the 09:00 slot is the latest past one, due until it leaves the grace window at 09:15.
    assert stable_until(web.store, web.config, at("2026-11-30T09:05:00-05:00")) == at("2026-11-30T09:15:00-05:00")
    # 10:00: nothing happens before midnight, local time.
    assert stable_until(web.store, web.config, at("2026-11-30T10:00:00-05:00")) == at("2026-12-01T00:00:00-05:00")
    # A pin at 03:30 comes due then (and leaves the grace window at 03:45).
    web.store.pin(web.config.account, TIP_IDS[2], at("2026-11-30T03:30:00-05:00"), web.now)
    assert stable_until(web.store, web.config, at("2026-11-30T00:00:00-05:00")) == at("2026-11-30T03:30:00-05:00")
    assert stable_until(web.store, web.config, at("2026-11-30T03:30:00-05:00")) == at("2026-11-30T03:45:00-05:00")
    # What the caller adds (a page's range ending) counts too.
    extra = at("2026-11-30T01:00:00-05:00")
    assert stable_until(web.store, web.config, at("2026-11-30T00:00:00-05:00"), also=[extra]) == extra


def test_concurrent_requests_share_one_computation(web):  # noqa: F811
    cache = PlanCache()
    release = threading.Event()
    calls, results, entered = [], [], []

    def compute():
        calls.append(1)
        release.wait(30)
        return "the plan", ()

    def request():
        entered.append(1)
        results.append(cache.get(web.store, web.config, web.now, ("k",), compute))

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 30
    while (len(entered) < 6 or not calls) and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # the others are now waiting for the one computing
    release.set()
    for t in threads:
        t.join(30)
    assert results == ["the plan"] * 6
    assert len(calls) == 1 and cache.computed == 1


def test_a_failed_computation_is_not_kept_and_the_next_request_computes_again(web):  # noqa: F811
    cache = PlanCache()

    def broken():
        raise RuntimeError("ledger unreachable")

    try:
        cache.get(web.store, web.config, web.now, ("k",), broken)
    except RuntimeError:
        pass
    assert cache.get(web.store, web.config, web.now, ("k",), lambda: ("fine", ())) == "fine"


def test_the_cache_keeps_a_few_values_per_account_and_drops_old_revisions(web):  # noqa: F811
    cache = PlanCache()
    for n in range(PER_ACCOUNT + 5):
        cache.get(web.store, web.config, web.now, ("k", n), lambda n=n: (n, ()))
    assert len(cache._values[web.config.account]) == PER_ACCOUNT
    web.store.pin(web.config.account, TIP_IDS[1], web.now + timedelta(days=3), web.now)  # a new revision
    cache.get(web.store, web.config, web.now, ("k", 0), lambda: ("new", ()))
    assert len(cache._values[web.config.account]) == 1


def test_the_shared_calendar_part_carries_no_session(web):  # noqa: F811
    """Two signed-in people see the same cached calendar, each page with its own CSRF token and user."""
    from starlette.testclient import TestClient

    web.set_password("correct horse battery", "admin")
    web.set_password("another good password", "editor")
    app = web.app()
    pages = []
    for user, password in (("admin", "correct horse battery"), ("editor", "another good password")):
        client = TestClient(app, base_url="http://127.0.0.1", client=LOOPBACK_CLIENT)
        login = client.get("/login")
        token = BeautifulSoup(login.text, "html.parser").find("input", attrs={"name": "csrf"})["value"]
        client.post("/login", data={"csrf": token, "username": user, "password": password, "next": "/queue"})
        page = client.get(f"/calendar?view=week&date={WEEK[1]}")
        assert page.status_code == 200 and f"Sign out ({user})" in page.text
        pages.append((csrf_of(page.text), page.text))
    (csrf_a, html_a), (csrf_b, html_b) = pages
    assert csrf_a and csrf_b and csrf_a != csrf_b
    assert csrf_a not in html_b and csrf_b not in html_a
    assert app.state.web.plan_cache.computed == 1
