"""The account switcher in a real headless browser (Chromium from the operating system, driven by Playwright), against
`scheduler web` in a subprocess with three accounts in scheduler.toml: one on X, one on Bluesky, one on Mastodon (its
server a real stand-in on 127.0.0.1 with a 1,000-character limit). The switcher is shown; switching shows that
account's own posts on the calendar and the queue, each card with its network's handle and limit, and the live
counter counts as that network does. With one account there is no switcher.

Skipped without /usr/bin/chromium, failed under CI=true (as tests/test_web_browser.py).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from datetime import date, timedelta

import pytest

from scheduler.standins.mastodon import StandinMastodon
from tests.test_cli import CLI, POSTS
from tests.test_web_browser import PASSWORD, browser, dashboard, open_signed_in, shot, watch_problems  # noqa: F401
from tests.helpers_web import accounts_config
from tests.test_web_cli import call, free_port, wait_for

pytestmark = pytest.mark.slow

LONG_LINK = "https://example.com/blog/massage-therapy-for-lower-back-pain-what-the-studies-say"
# account: (network, handle on its cards, limit; the counter for "Read " + LONG_LINK, and for 600 letters)
ACCOUNTS = {
    "clinic": ("x", "@GleiberMD", 280, "28/280", "600/280: 320 too many"),  # a link counts 23
    "sky": ("bluesky", "@clinic.bsky.social", 300, "32/300", "600/300: 300 too many"),  # shown as example.com/blog/massage...
    "toot": ("mastodon", "@clinic@127.0.0.1", 1000, "28/1000", "600/1000"),  # a link counts 23; this server allows 1,000
}


@pytest.fixture
def three_accounts(tmp_path):
    with StandinMastodon(username="clinic", max_characters=1000) as mastodon:
        cli = CLI(tmp_path)
        cli.config.write_text(accounts_config("clinic", "sky", "toot", instance=mastodon.url, sky_timezone="America/New_York",
                                                    slots=("mon-fri 09:00",)), encoding="utf-8")
        cli.run("import", str(POSTS))  # every account imports: each gets its own posts on its own calendar
        subprocess.run([sys.executable, "-m", "scheduler", "web", "passwd", "--password-stdin"], input=PASSWORD + "\n",
                       env=cli.env, cwd=cli.tmp, check=True, capture_output=True, text=True)
        token = cli.run("web", "token", "create", "browser-test").stdout.strip()
        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "scheduler", "web", "--port", str(port)], env=cli.env,
                                cwd=cli.tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            wait_for(port, token, proc, path="/api/v1/revision?account=clinic")
            yield cli, port, token
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)


def planned(port, token, account) -> list[dict]:
    return call(port, f"/api/v1/preview?count=20&account={account}", token)[1]


def test_the_switcher_shows_each_accounts_own_posts_as_its_network_does(three_accounts, browser):  # noqa: F811
    from playwright.sync_api import expect

    cli, port, token = three_accounts
    page, problems = open_signed_in(browser, port)
    plans = {name: planned(port, token, name) for name in ACCOUNTS}
    queues = {name: [p["post_id"] for p in call(port, f"/api/v1/queue?account={name}", token)[1]] for name in ACCOUNTS}
    assert all(len(q) == 5 for q in queues.values())
    assert not set(queues["clinic"]) & set(queues["sky"]) and not set(queues["sky"]) & set(queues["toot"])
    # The week of the latest first post: with five weekday posts each, every account has posts in it.
    first = max(date.fromisoformat(next(e for e in plan if e["post_id"])["at"][:10]) for plan in plans.values())
    monday = first - timedelta(days=first.weekday())
    page.goto(f"http://127.0.0.1:{port}/calendar?view=week&date={monday}")

    switcher = page.get_by_label("Account", exact=True)
    expect(switcher).to_be_visible()
    assert page.eval_on_selector_all("#account-switch option", "os => os.map(o => o.value)") == list(ACCOUNTS)
    for name, (network, handle, limit, _, _) in ACCOUNTS.items():
        switcher.select_option(name)
        with page.expect_navigation():
            page.get_by_role("button", name="Switch").click()
        assert f"account={name}" in page.url and f"date={monday}" in page.url  # the same week, the other account
        expect(page.locator("header .account")).to_have_text(handle)
        week = [e for e in plans[name] if monday <= date.fromisoformat(e["at"][:10]) < monday + timedelta(days=7)]
        cards = page.eval_on_selector_all(
            ".card.planned, .slot.empty",
            "els => els.map(e => [e.dataset.at, e.dataset.postId || null, e.dataset.reason || null])")
        assert cards == [[e["at"], e["post_id"], e["reason"]] for e in week]
        assert any(e["post_id"] for e in week), name
        shown = page.eval_on_selector_all(".card.planned .tweet", """els => els.map(e => [e.dataset.network,
            e.querySelector('.handle').textContent, e.querySelector('.len').textContent.split('/')[1]])""")
        assert shown and set(map(tuple, shown)) == {(network, handle, str(limit))}
        shot(page, f"calendar-{network}")  # the README's screenshots, with SCHEDULER_SCREENSHOTS=DIR

        # The queue (the main menu keeps the account): its posts, and the counter as its network counts.
        page.get_by_role("link", name="Queue").click()
        page.wait_for_url(f"**/queue?account={name}")
        ids = page.eval_on_selector_all("#queue-list > li", "els => els.map(e => e.dataset.postId)")
        assert ids == queues[name]
        lens = page.eval_on_selector_all("#queue-list .tweet .len", "els => els.map(e => e.textContent.split('/')[1])")
        assert set(lens) == {str(limit)}
        box = page.get_by_label("Text", exact=True)
        box.fill("Read " + LONG_LINK)
        expect(page.locator("#new-count output")).to_have_text(ACCOUNTS[name][3])
        box.fill("a" * 600)
        expect(page.locator("#new-count output")).to_have_text(ACCOUNTS[name][4])
        page.goto(f"http://127.0.0.1:{port}/calendar?view=week&date={monday}&account={name}")
    assert not problems, problems


def test_with_one_account_there_is_no_switcher_and_cards_say_280(dashboard, browser):  # noqa: F811
    cli, port, token = dashboard
    page, problems = open_signed_in(browser, port)
    assert page.locator("#account-switch").count() == 0
    assert page.locator("form.switch-account").count() == 0
    lens = page.eval_on_selector_all("#queue-list .tweet .len", "els => els.map(e => e.textContent.split('/')[1])")
    assert lens and set(lens) == {"280"}
    page.goto(f"http://127.0.0.1:{port}/calendar")
    assert page.locator("#account-switch").count() == 0
    assert not problems, problems
