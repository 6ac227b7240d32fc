"""The dashboard's pages in-process against a real ledger file: the calendar is the preview, the queue's
forms do what the CLI's queue commands do (the keyboard path of drag and drop), uploads import,
history shows sent posts, failures and the audit, and a page learns of a ledger change by polling."""

from __future__ import annotations

import re
import subprocess
import sys
from datetime import datetime

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from bs4 import BeautifulSoup

from scheduler.config import load_config
from tests.helpers_web import REPO, TIP_IDS, csrf_of, web  # noqa: F401
from tests.test_web_api import cli_json


def soup(response):
    assert response.status_code == 200, response.text[:500]
    return BeautifulSoup(response.text, "html.parser")


def calendar_cards(page) -> list[dict]:
    cards = []
    for el in page.select(".card.planned, .slot.empty"):
        cards.append({"at": el["data-at"], "post_id": el.get("data-post-id"), "reason": el.get("data-reason"),
                      "source": el.get("data-source")})
    return cards


def preview_between(web, start: str, end: str) -> list[dict]:  # noqa: F811
    plan = cli_json(web, "preview", "--from", web.now.isoformat(), "--count", "200")
    lo, hi = datetime.fromisoformat(start), datetime.fromisoformat(end)
    return [{"at": e["at"], "post_id": e["post_id"], "reason": e["reason"],
             "source": e["source"] if e["post_id"] else None}
            for e in plan if lo <= datetime.fromisoformat(e["at"]) < hi]


@pytest.mark.parametrize("view, day, start, end", [
    ("week", "2026-11-30", "2026-11-30T00:00:00-05:00", "2026-12-07T00:00:00-05:00"),
    ("month", "2026-12-15", "2026-11-30T00:00:00-05:00", "2027-01-04T00:00:00-05:00"),
])
def test_calendar_shows_exactly_what_preview_gives(web, view, day, start, end):  # noqa: F811
    web.store.pin(web.config.account, TIP_IDS[3], datetime.fromisoformat("2026-12-01T15:45:00-05:00"), web.now)
    page = soup(web.client().get(f"/calendar?view={view}&date={day}"))
    expected = preview_between(web, start, end)
    assert calendar_cards(page) == expected
    assert sum(1 for e in expected if e["post_id"]) == 5
    assert any(e["reason"] == "queue empty" for e in expected)
    pinned = page.select_one(f'.card.pinned[data-post-id="{TIP_IDS[3]}"]')
    assert pinned is not None and "pinned" in pinned.get_text()
    day_of_pin = pinned.find_parent("section")
    assert day_of_pin["aria-label"] == "Tuesday 01 December 2026"  # the account's local day


def test_calendar_week_card_looks_like_the_post_on_x(web):  # noqa: F811
    page = soup(web.client().get("/calendar?view=week&date=2026-11-30"))
    card = page.select_one(f'.card.planned[data-post-id="{TIP_IDS[0]}"]')
    post = web.store.get(TIP_IDS[0])
    assert card.select_one(".handle").get_text() == "@GleiberMD"
    assert card.select_one(".text").get_text() == post.text
    assert card.select_one(".link").get_text().startswith("https://")
    assert card.select_one(".hashtag").get_text().startswith("#")
    assert card.select_one(".len").get_text() == f"{post.weighted_length}/280"
    assert card.select_one("time")["datetime"] == "2026-11-30T09:00:00-05:00"


def test_a_sent_post_shows_on_the_calendar_with_its_link_on_x(web):  # noqa: F811
    slot = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    assert web.store.claim(TIP_IDS[0], "test-instance", slot, web.now)
    web.store.mark_sent(TIP_IDS[0], "test-instance", ["1864000000000000001"], web.now)
    web.now = datetime.fromisoformat("2026-11-30T12:00:00-05:00")
    page = soup(web.client().get("/calendar?view=week&date=2026-11-30"))
    sent = page.select_one(f'.card.sent[data-post-id="{TIP_IDS[0]}"]')
    assert sent["data-state"] == "sent"
    assert sent.find("a", string="View on X")["href"] == "https://x.com/GleiberMD/status/1864000000000000001"
    assert TIP_IDS[0] not in [c["post_id"] for c in calendar_cards(page)]
    history = soup(web.client().get("/history"))
    assert history.select_one(f'li[data-post-id="{TIP_IDS[0]}"] a')["href"].endswith("/1864000000000000001")


def test_queue_forms_move_pin_remove_restore_pause(web):  # noqa: F811
    client = web.client()
    page = soup(client.get("/queue"))
    token = page.find("meta", attrs={"name": "csrf-token"})["content"]
    assert [li["data-post-id"] for li in page.select("#queue-list > li")] == TIP_IDS
    # Every field has a label.
    for field in page.select("input:not([type=hidden]), textarea"):
        assert page.find("label", attrs={"for": field["id"]}), field

    # The keyboard path: each item's Move buttons.
    second = page.select_one(f'li[data-post-id="{TIP_IDS[1]}"] form.move')
    up = second.find("button", string="Move up")
    client.post(second["action"], data={"csrf": token, up["name"]: up["value"]})
    assert web.queue_ids()[:2] == [TIP_IDS[1], TIP_IDS[0]]
    client.post(f"/queue/{TIP_IDS[1]}/move", data={"csrf": token, "to": "bottom"})
    assert web.queue_ids()[-1] == TIP_IDS[1]

    # Pin with the date-time picker's value: local time in the account's zone.
    client.post(f"/queue/{TIP_IDS[2]}/pin", data={"csrf": token, "at": "2026-12-03T18:20"})
    assert web.store.get(TIP_IDS[2]).pinned_at.isoformat() == "2026-12-03T23:20:00+00:00"
    page = soup(client.get("/queue"))
    assert page.select_one(f"#pin-{TIP_IDS[2]}")["value"] == "2026-12-03T18:20:00"
    client.post(f"/queue/{TIP_IDS[2]}/pin", data={"csrf": token, "clear": "1"})
    assert web.store.get(TIP_IDS[2]).pinned_at is None

    bad = client.post(f"/queue/{TIP_IDS[2]}/pin", data={"csrf": token, "at": "next week"})
    assert bad.status_code == 409 and "ISO 8601" in soup_text(bad)

    client.post(f"/queue/{TIP_IDS[4]}/remove", data={"csrf": token})
    page = soup(client.get("/queue"))
    assert TIP_IDS[4] not in [li["data-post-id"] for li in page.select("#queue-list > li")]
    assert page.select_one(f'.removed li[data-post-id="{TIP_IDS[4]}"]')
    client.post(f"/queue/{TIP_IDS[4]}/restore", data={"csrf": token})
    assert TIP_IDS[4] in web.queue_ids()

    client.post("/queue/pause", data={"csrf": token, "reason": "holiday"})
    assert web.store.account_state(web.config.account).paused
    assert "Paused: holiday" in client.get("/queue").text
    client.post("/queue/resume", data={"csrf": token})
    assert not web.store.account_state(web.config.account).paused

    actions = [a.action for a in reversed(web.store.audit(web.config.account))]
    assert actions == ["move", "move", "pin", "unpin", "remove", "restore", "pause", "resume"]


def soup_text(response) -> str:
    return BeautifulSoup(response.text, "html.parser").get_text(" ")


def test_drag_and_drop_requests_answer_what_happened_and_errors_as_text(web):  # noqa: F811
    """The page's script (a drag, or a Move button by keyboard) reads the answer out in its live region."""
    client = web.client()
    token = csrf_of(client.get("/queue").text)
    headers = {"HX-Request": "true", "X-CSRF-Token": token}
    moved = client.post(f"/queue/{TIP_IDS[4]}/move", data={"after": TIP_IDS[0]}, headers=headers)
    assert moved.status_code == 200 and moved.headers["hx-trigger"] == "ledger-changed"
    assert moved.text == f"Moved {TIP_IDS[4]} after {TIP_IDS[0]}."
    assert web.queue_ids()[:2] == [TIP_IDS[0], TIP_IDS[4]]
    refused = client.post(f"/queue/{TIP_IDS[4]}/move", data={"after": "gone"}, headers=headers)
    assert refused.status_code == 409 and "gone" in refused.text
    top = client.post(f"/queue/{TIP_IDS[1]}/move", data={"to": "top"}, headers=headers)
    assert top.text == f"Moved {TIP_IDS[1]} to the top." and web.queue_ids()[0] == TIP_IDS[1]


def test_adding_a_post_from_the_page_checks_it_like_the_cli(web):  # noqa: F811
    client = web.client()
    token = csrf_of(client.get("/queue").text)
    too_long = client.post("/queue", data={"csrf": token, "text": "y" * 290})
    assert too_long.status_code == 422 and "shorten it by 10" in soup_text(too_long)  # as the API: a refused text
    # What was typed stays in the form.
    assert BeautifulSoup(too_long.text, "html.parser").select_one("#new-text").get_text() == "y" * 290
    ok = client.post("/queue", data={"csrf": token, "text": "Stand up every half hour.", "at": ""},
                     follow_redirects=False)
    assert ok.status_code == 303 and len(web.queue_ids()) == 6


def test_the_counter_counts_as_x_does(web):  # noqa: F811
    client = web.client()
    token = csrf_of(client.get("/queue").text)
    counted = client.post("/compose/count", data={"text": "Read https://example.com/a/very/long/path/indeed now"},
                          headers={"X-CSRF-Token": token})
    output = BeautifulSoup(counted.text, "html.parser").find("output")
    assert output["data-length"] == str(5 + 23 + 4)
    over = client.post("/compose/count", data={"text": "é" * 281}, headers={"X-CSRF-Token": token})
    assert "1 too many" in over.text and "over" in BeautifulSoup(over.text, "html.parser").output["class"]


def test_upload_imports_and_shows_tips_with_variants(web):  # noqa: F811
    client = web.client()
    token = csrf_of(client.get("/articles").text)
    article = (b"---\ntitle: Better sleep\n---\n# Better sleep\n\n"
               b"1. Keep one schedule. Go to bed at the same time every night.\n"
               b"2. Dim the lights. An hour before bed, lower every light you can.\n")
    done = client.post("/articles", data={"csrf": token}, files={"file": ("../../evil name.md", article, "text/markdown")},
                       follow_redirects=False)
    # An article file is known by its name (issue 10): here the upload's name, made safe.
    assert done.status_code == 303 and done.headers["location"] == "/articles/evil-name"
    assert (web.home / "uploads" / "evil-name.md").read_bytes() == article  # no way out of uploads/
    assert web.queue_ids()[-2:] == ["evil-name-1", "evil-name-2"]
    page = soup(client.get("/articles/evil-name"))
    tips = page.select("section.tip")
    assert [t.h2.get_text() for t in tips] == ["Tip 1: Keep one schedule.", "Tip 2: Dim the lights."]
    variants = tips[0].select(".variant")
    assert len(variants) >= 2 and len({v.select_one(".text").get_text() for v in variants}) == len(variants)
    listing = soup(client.get("/articles"))
    assert [a.get_text() for a in listing.select(".articles a")] == ["Better sleep", "Massage Therapy for Back Pain: 5 Things You Should Know"]


def test_a_bad_upload_is_refused_with_its_reason_and_nothing_is_written(web):  # noqa: F811
    client = web.client()
    token = csrf_of(client.get("/articles").text)
    revision = web.store.revision(web.config.account)
    for name, data, words in [("notes.pdf", b"%PDF", "not an article file"),
                              ("empty.md", b"   ", "empty"),
                              ("prose.md", b"# Prose\n\nJust a paragraph with no numbered tips.\n", "prose.md")]:
        response = client.post("/articles", data={"csrf": token}, files={"file": (name, data, "text/plain")})
        assert response.status_code == 422, name
        assert words in soup_text(response), name
    assert web.store.revision(web.config.account) == revision
    uploads = web.home / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.one_of(st.text(max_size=60), st.sampled_from(["../../etc/passwd.md", "/tmp/x/../prose.md",
                                                             "<script>alert(1)</script>.md", "..\\..\\win.md",
                                                             "uploads/prose.md", ".md", "a\nb.md"])),
       suffix=st.sampled_from([".md", ".txt", ".html", ""]))
def test_an_upload_error_names_the_file_uploaded_never_a_path_on_the_server(web, name, suffix):  # noqa: F811
    """A draft without numbered tips, under any file name a browser can send: the page says what went wrong, with
    the name as uploaded, and no path of the server's disk (the data directory, uploads/) shows."""
    client = web.client()
    token = csrf_of(client.get("/articles").text)
    body = b"# Prose\n\nJust a paragraph with no numbered tips.\n"
    response = client.post("/articles", data={"csrf": token}, files={"file": (name + suffix, body, "text/plain")})
    assert 400 <= response.status_code < 500, (name, response.status_code)
    shown = soup_text(response)
    assert "no numbered tips" in shown or "not an article file" in shown or "choose an article file" in shown, shown
    for place in {str(web.home), str(web.home.resolve()), str(web.tmp), "/uploads/", "uploads/"}:
        assert place not in response.text, (name, place)
    uploads = web.home / "uploads"
    assert not uploads.exists() or not any(uploads.iterdir())


OUTBOX_PAGES = ("/calendar", "/calendar?view=month", "/queue", "/articles", "/articles/massage-therapy-for-back-pain",
                "/review", "/history", "/status", "/no-such-page")


def outbox_banners(web) -> dict[str, str | None]:
    client = web.client()
    found = {}
    for path in OUTBOX_PAGES:
        banner = BeautifulSoup(client.get(path).text, "html.parser").select_one("aside.outbox")
        found[path] = " ".join(banner.get_text().split()) if banner else None
    return found


def test_every_page_says_posts_go_to_the_outbox_while_they_do(web, monkeypatch):  # noqa: F811
    """The dashboard tells, on every page, what `scheduler status` tells: posts go to the outbox file, not to X (and
    why); once they go to X, no page says so any more."""
    for path, said in outbox_banners(web).items():  # [publisher] kind = "outbox"
        assert said and "NOT to X" in said and '[publisher] kind = "outbox"' in said, (path, said)
        assert str(web.home) not in said  # where the file is stays on the server
    web.config = load_config_text(web, 'kind = "auto"')  # X when credentials exist: here none
    for path, said in outbox_banners(web).items():
        assert said and "NOT to X (no X credentials)" in said, (path, said)
    for name in ("API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET"):
        monkeypatch.setenv(f"X_{name}", "set-for-the-test")
    assert set(outbox_banners(web).values()) == {None}
    web.config = load_config_text(web, 'kind = "x"')
    assert set(outbox_banners(web).values()) == {None}


def load_config_text(web, kind: str):
    text = re.sub(r'(?m)^kind = "\w+"$', kind, web.config_path.read_text())
    assert kind in text
    web.config_path.write_text(text, encoding="utf-8")
    return load_config(str(web.config_path))


def test_history_offers_the_actions_that_settle_an_unknown_post(web):  # noqa: F811
    slot = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    web.store.claim(TIP_IDS[0], "gone-instance", slot, web.now)
    web.store.mark_unknown(TIP_IDS[0], "gone-instance", "no answer from X and not found on the timeline", web.now)
    client = web.client()
    page = soup(client.get("/history"))
    item = page.select_one(f'li[data-post-id="{TIP_IDS[0]}"]')
    assert item["data-state"] == "unknown" and "not found on the timeline" in item.get_text()
    token = csrf_of(client.get("/history").text)
    client.post(f"/history/{TIP_IDS[0]}/resolve", data={"csrf": token, "tweet_id": "1864000000000000009"})
    assert web.store.get(TIP_IDS[0]).tweet_id == "1864000000000000009"
    page = soup(client.get("/history"))
    row = page.select_one("table.audit tbody tr")
    assert [td.get_text() for td in row.find_all("td")][1:] == ["local", "resolve", TIP_IDS[0], "sent as 1864000000000000009"]


def test_status_page_shows_what_needs_a_person(web):  # noqa: F811
    web.store.pause(web.config.account, "X refused our credentials", web.now)
    page = soup(web.client().get("/status"))
    items = [li.get_text() for li in page.select(".attention li")]
    assert any("X refused our credentials" in i for i in items)
    assert any("no service is running" in i for i in items)
    web.store.pause_metrics(web.config.account, "401 Unauthorized", web.now)  # metrics pause on their own
    page = soup(web.client().get("/status"))
    assert page.select_one("dd.metrics")["data-paused"] == "true"
    assert "publishing goes on: 401 Unauthorized" in page.select_one("dd.metrics").get_text()
    assert any("metrics are paused" in li.get_text() for li in page.select(".attention li"))


def test_live_poll_is_204_until_the_ledger_changes(web):  # noqa: F811
    client = web.client()
    page = soup(client.get("/calendar"))
    poll = page.select_one("#live")["hx-get"]
    assert client.get(poll).status_code == 204
    web.store.move(web.config.account, TIP_IDS[4], top=True)  # as the CLI would, from another process
    changed = client.get(poll)
    assert changed.status_code == 200 and changed.headers["hx-trigger"] == "ledger-changed"
    new_poll = BeautifulSoup(changed.text, "html.parser").select_one("#live")["hx-get"]
    assert new_poll != poll and client.get(new_poll).status_code == 204


def test_cli_start_up_imports_nothing_of_the_web_stack():
    code = ("import sys; from scheduler.cli.main import cli\n"
            "try:\n    cli(['--help'], standalone_mode=False)\nexcept SystemExit: pass\n"
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn', 'multipart', 'httpx')"
            " or m.startswith('scheduler.web')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True).stdout
    assert out.strip().splitlines()[-1] == "[]"


def test_a_crowded_day_of_the_month_view_lists_the_first_entries_and_links_to_the_rest(web):  # noqa: F811
    from scheduler.app import queueing
    from scheduler.web.calendar_view import MONTH_CELL

    for n in range(12):
        queueing.add_text(web.store, web.config, f"Announcement {n}: clinic hours change.", web.now,
                          at=datetime.fromisoformat(f"2026-12-02T{10 + n // 2:02d}:{30 * (n % 2):02d}:00-05:00"))
    day_start, day_end = "2026-12-02T00:00:00-05:00", "2026-12-03T00:00:00-05:00"
    expected = preview_between(web, day_start, day_end)
    assert len(expected) > MONTH_CELL
    month = soup(web.client().get("/calendar?view=month&date=2026-12-01"))
    cell = month.find("section", attrs={"aria-label": "Wednesday 02 December 2026"})
    assert calendar_cards(cell) == expected[:MONTH_CELL]
    more = cell.select_one("a.more")
    assert more.get_text() == f"+{len(expected) - MONTH_CELL} more this day"
    assert more["href"] == "/calendar?view=week&date=2026-12-02"
    week = soup(web.client().get(more["href"]))
    cell = week.find("section", attrs={"aria-label": "Wednesday 02 December 2026"})
    assert calendar_cards(cell) == expected and not cell.select_one("a.more")


def test_pinning_from_the_page_refuses_the_past_and_warns_of_a_full_day(web):  # noqa: F811
    """The page's pin is `scheduler queue pin`: a past time is refused (it would go out at once), and a pin on a
    day that already has its daily cap is made but said to wait."""
    from scheduler.config import load_config

    web.config_path.write_text(web.config_path.read_text().replace("daily = 0", "daily = 1"), encoding="utf-8")
    web.config = load_config(str(web.config_path))
    client = web.client()
    token = csrf_of(client.get("/queue").text)

    past = client.post(f"/queue/{TIP_IDS[1]}/pin", data={"csrf": token, "at": "2025-11-30T09:00"})
    assert past.status_code == 409
    text = soup_text(past)
    assert "2025-11-30T09:00:00-05:00 is in the past" in text and "the current time" in text
    assert web.store.get(TIP_IDS[1]).pinned_at is None
    assert web.store.audit(web.config.account) == []

    first = client.post(f"/queue/{TIP_IDS[3]}/pin", data={"csrf": token, "at": "2026-12-02T10:00"},
                        follow_redirects=False)
    assert first.status_code == 303
    second = client.post(f"/queue/{TIP_IDS[4]}/pin", data={"csrf": token, "at": "2026-12-02T11:00"},
                         follow_redirects=False)
    assert second.status_code == 200
    notice = soup(second).select_one(".notice[role=status]").get_text()
    assert "that day already has its 1 posts ([quota] daily)" in notice
    assert web.store.get(TIP_IDS[4]).pinned_at.isoformat() == "2026-12-02T16:00:00+00:00"


def test_editing_a_thread_on_the_page_keeps_its_parts(web):  # noqa: F811
    """The edit box holds every part of a thread, a line "---" apart (as `queue edit --editor`); saving a fix
    to part 1 keeps parts 2 and 3 (the box held part 1 alone, and saving dropped the rest)."""
    from scheduler.app import editing

    parts = ["Part one of the thred.", "Part two of the thread.", "Part three."]
    editing.edit_text(web.store, web.config, TIP_IDS[2], parts, web.now)
    client = web.client()
    page = soup(client.get("/queue"))
    box = page.select_one(f"#edit-{TIP_IDS[2]}")
    assert box.get_text() == "\n---\n".join(parts)
    counter = page.select_one(f"#count-{TIP_IDS[2]}")
    assert [o["data-length"] for o in counter.select("output")] == ["22", "23", "11"]

    sent = box.get_text().replace("thred", "thread").replace("\n", "\r\n")  # a browser sends CRLF
    counted = client.post("/compose/count?parts=1", data={"text": sent + "\r\n---\r\n" + "y" * 281},
                          headers={"X-CSRF-Token": csrf_of(page.decode())})
    outputs = BeautifulSoup(counted.text, "html.parser").select("output")
    assert [o["data-length"] for o in outputs] == ["23", "23", "11", "281"]
    assert "1 too many" in outputs[3].get_text() and "part 4:" in counted.text

    saved = client.post(f"/queue/{TIP_IDS[2]}/edit", data={"csrf": csrf_of(page.decode()), "text": sent},
                        follow_redirects=False)
    assert saved.status_code == 303
    assert list(web.store.get(TIP_IDS[2]).parts) == ["Part one of the thread.", *parts[1:]]
    # A single post stays one post; a line "---" typed into its box makes it a thread.
    client.post(f"/queue/{TIP_IDS[0]}/edit", data={"csrf": csrf_of(page.decode()), "text": "One.\r\n---\r\nTwo."})
    assert list(web.store.get(TIP_IDS[0]).parts) == ["One.", "Two."]
    client.post(f"/queue/{TIP_IDS[0]}/edit", data={"csrf": csrf_of(page.decode()), "text": "Just one."})
    assert list(web.store.get(TIP_IDS[0]).parts) == ["Just one."]


def _field_and_error(page, field_id: str):
    """The field, and the refusal its aria-describedby names, which sits in the field's own form."""
    field = page.select_one(f"#{field_id}")
    assert field is not None and field.get("aria-invalid") == "true" and field.has_attr("autofocus"), field
    error = page.select_one(f"#{field['aria-describedby']}")
    assert error is not None and error.find_parent("form") is field.find_parent("form")
    assert not page.select("#messages .error")  # said once, where the person is looking
    return field, error.get_text()


def test_a_refused_edit_pin_or_add_says_why_next_to_its_field_keeps_the_input_and_changes_nothing(web):  # noqa: F811
    """The edit box reopens with what was typed (and its count), the pin picker keeps its time, the compose box its
    text; each with the reason right under it, and the ledger and its audit as they were."""
    client = web.client()
    token = csrf_of(client.get("/queue").text)
    before = {pid: (web.store.get(pid).text, web.store.get(pid).pinned_at) for pid in TIP_IDS}

    typed = "Too long <b>now</b> " + "y" * 280
    edit = client.post(f"/queue/{TIP_IDS[1]}/edit", data={"csrf": token, "text": typed})
    assert edit.status_code == 422  # a text the network refuses, as POST and PATCH /api/v1/queue answer it
    page = BeautifulSoup(edit.text, "html.parser")
    box, why = _field_and_error(page, f"edit-{TIP_IDS[1]}")
    assert box.get_text() == typed and box.find_parent("details").has_attr("open")
    assert "too long" in why.lower() or "shorten" in why, why
    assert page.select_one(f"#count-{TIP_IDS[1]} output")["data-length"] == str(len(typed))
    assert not page.select_one(f"#edit-{TIP_IDS[0]}").find_parent("details").has_attr("open")

    past = client.post(f"/queue/{TIP_IDS[2]}/pin", data={"csrf": token, "at": "2025-11-30T09:00"})
    assert past.status_code == 409
    picker, why = _field_and_error(BeautifulSoup(past.text, "html.parser"), f"pin-{TIP_IDS[2]}")
    assert picker["value"] == "2025-11-30T09:00" and "is in the past" in why

    duplicate = web.store.get(TIP_IDS[3]).text
    again = client.post("/queue", data={"csrf": token, "text": duplicate, "at": ""})
    assert again.status_code == 409
    box, why = _field_and_error(BeautifulSoup(again.text, "html.parser"), "new-text")
    assert box.get_text() == duplicate and TIP_IDS[3] in why, why

    late = client.post("/queue", data={"csrf": token, "text": "Stand up every hour.", "at": "2025-01-01T08:00"})
    assert late.status_code == 409
    page = BeautifulSoup(late.text, "html.parser")
    picker, why = _field_and_error(page, "new-at")
    assert picker["value"] == "2025-01-01T08:00" and "is in the past" in why and "--" not in why
    assert page.select_one("#new-text").get_text() == "Stand up every hour."

    assert {pid: (web.store.get(pid).text, web.store.get(pid).pinned_at) for pid in TIP_IDS} == before
    assert web.queue_ids() == TIP_IDS and web.store.audit(web.config.account) == []


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40).map(str.strip).filter(bool))
def test_a_refused_edit_gives_back_any_text_as_typed(web, words):  # noqa: F811
    typed = words + " " + "z" * 300
    client = web.client()
    refused = client.post(f"/queue/{TIP_IDS[0]}/edit", data={"csrf": csrf_of(client.get("/queue").text), "text": typed})
    assert refused.status_code == 422
    box = BeautifulSoup(refused.text, "html.parser").select_one(f"#edit-{TIP_IDS[0]}")
    assert box.get_text() == typed


def accessible_names(page, scope: str) -> list[tuple[str, str, str]]:
    """(post, visible text, accessible name) of each control inside ``scope``'s items that acts on its post (links,
    such as to the post's article, may share a name when they share a place): the name is aria-label, else the
    <label for> of a field, else the text (as a screen reader computes it, for this markup)."""
    names = []
    for item in page.select(f"{scope} [data-post-id]"):
        for el in item.select("button, summary, input:not([type=hidden]), textarea, select"):
            label = page.find("label", attrs={"for": el.get("id")}) if el.get("id") else None
            shown = (label or el).get_text(" ", strip=True)
            names.append((item["data-post-id"], shown, el.get("aria-label") or shown))
    return names


def test_each_posts_controls_say_which_post_they_act_on(web):  # noqa: F811
    """A screen reader lists the controls of a page by name: five "Move up" buttons are five of the same. Every
    control of a queued, failed or unknown post names the post, and starts with what it shows (so voice control's
    "click Move up" still finds it)."""
    slot = datetime.fromisoformat("2026-11-30T09:00:00-05:00")
    for post_id in TIP_IDS[:2]:
        web.store.claim(post_id, "gone-instance", slot, web.now)
    web.store.mark_failed(TIP_IDS[0], "gone-instance", "refused", 403, web.now)
    web.store.mark_unknown(TIP_IDS[1], "gone-instance", "no answer", web.now)
    client = web.client()
    client.post(f"/queue/{TIP_IDS[2]}/pin", data={"csrf": csrf_of(client.get("/queue").text), "at": "2026-12-03T18:20"})
    # Three queued posts: Move (down, top, bottom for the first and last, with up for the middle one), a pin
    # field, Pin, Remove, Edit text, its box and Save each, and Unpin for the pinned one; two to settle: the
    # address field, Record as sent and Send again each.
    for path, scope, count in (("/queue", "#queue-list", 3 + 4 + 3 + 3 * 6 + 1), ("/history", "ul.history", 2 * 3)):
        names = accessible_names(soup(client.get(path)), scope)
        assert len(names) == count, (path, names)
        assert len({name for _, _, name in names}) == len(names), sorted(name for _, _, name in names)
        for post_id, shown, name in names:
            assert post_id in name and name.startswith(shown), (path, post_id, shown, name)
