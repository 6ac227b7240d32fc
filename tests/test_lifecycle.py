"""A post's lifecycle (scheduler/domain/lifecycle.py): once a call for it may have reached the network, nothing rewrites it.

Issue 18, item 1: a re-import used to rewrite a post whose send had lost its answer; the look-up then searched for
the new text, found nothing, and the service sent the post a second time. These run the real CLI and the real
`scheduler serve` (subprocesses) against the stand-in X.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.service_harness import Harness

pytestmark = pytest.mark.slow

ARTICLE = """\
---
id: posture
title: "Posture at the Desk"
url: https://clinic.example/blog/posture/
hashtags: [BackPain]
---

Most back pain at work comes from how we sit.

## 1. {first}

{first_body}

## 2. Stand up every half hour.

Sitting still for hours stiffens the lower back. A short walk every thirty minutes keeps the muscles supple.
"""

FIRST = "Keep your screen at eye level."
FIRST_BODY = "Looking down at a laptop loads the neck with several times the weight of the head. Raise the screen."


def write_article(path: Path, first: str = FIRST, body: str = FIRST_BODY) -> Path:
    path.write_text(ARTICLE.format(first=first, first_body=body), encoding="utf-8")
    return path



def post_of(h: Harness, post_id: str) -> dict:
    return h.json("queue", "show", post_id)


def wait_for(h: Harness, proc, check, what: str, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen:\n{h.log_of(proc)}")


def ledger(h: Harness):
    from scheduler.ledger.store import Store

    return Store.open(f"sqlite:///{h.tmp / 'home' / 'ledger.sqlite3'}")


def test_a_reimport_keeps_a_post_whose_send_lost_its_answer_and_the_service_finds_it_not_sends_it_again(harness):
    article = write_article(harness.tmp / "posture.md")
    harness.cli("import", str(article))
    post_id = "posture-1"
    original = post_of(harness, post_id)["text"]
    # X creates the post but its answer is lost; every look-up fails for a passing reason: the post stays
    # uncertain (retrying), being looked up.
    harness.standin.inject("tweets", "create_then_unavailable")
    harness.standin.inject("timeline", "unavailable", times=10_000)
    harness.cli("queue", "pin", post_id, "--now")
    proc = harness.serve()
    store = ledger(harness)
    try:
        wait_for(harness, proc, lambda: store.get(post_id).uncertain and store.get(post_id).state.value == "retrying",
                 "the post becoming uncertain")
        harness.stop(proc)
        assert store.get(post_id).uncertain  # still being looked up when the service stopped
    finally:
        store.close()
    assert [p["text"] for p in harness.standin.timeline()] == [original]

    # The article's tip changes: the re-import leaves the post as it went out, and says so.
    write_article(article, body=FIRST_BODY + " Use a stand or a stack of books.")
    out = harness.cli("import", str(article)).stdout
    assert f"{post_id} kept: may already be live, settle it first" in out
    [report] = harness.json("import", str(article))
    assert report["kept_live"] == [post_id] and post_id not in report["updated"]
    assert post_of(harness, post_id)["text"] == original

    # The look-ups work again: the service finds the post it sent (the ORIGINAL text) and never sends it twice.
    harness.standin.clear_faults()
    proc = harness.serve("serve2")
    wait_for(harness, proc, lambda: post_of(harness, post_id)["state"] == "sent", "the post being settled as sent")
    harness.stop(proc)
    assert [p["text"] for p in harness.standin.timeline()] == [original]
    assert post_of(harness, post_id)["tweet_ids"] == [harness.standin.timeline()[0]["id"]]

    # Settled: the next import applies the new wording to what is still waiting; the sent post stays history.
    [report] = harness.json("import", str(article))
    assert report["kept_live"] == [] and report["kept_sent"] == [post_id]


THREAD_TEMPLATE = """\
{% set thread = true %}
{{ tip.headline }} {{ tip.body }}
{{ hashtag_line }}
"""

LONG_BODY = (
    "Looking down at a laptop loads the neck with several times the weight of the head, hour after hour. "
    "Raise the screen until the top line of text sits at the height of your eyes, an arm's length away. "
    "A laptop stand, a monitor arm or a stack of old books all do the job equally well for very little money. "
    "Then check your chair: feet flat on the floor, knees at the height of the hips, the lower back supported."
)


def test_a_reimport_keeps_a_thread_partly_sent_and_the_service_finishes_it_as_it_began(harness):
    templates = harness.tmp / "templates" / "tip"
    templates.mkdir(parents=True)
    (templates / "1-thread.j2").write_text(THREAD_TEMPLATE, encoding="utf-8")
    with harness.config.open("a", encoding="utf-8") as f:
        f.write(f'\n[compose]\ntemplates = {json.dumps(str(harness.tmp / "templates"))}\n')

    article = write_article(harness.tmp / "posture.md", body=LONG_BODY)
    harness.cli("import", str(article))
    post_id = "posture-1"
    shown = post_of(harness, post_id)
    parts = shown["thread"]
    assert parts and len(parts) >= 2, shown
    # The first part goes out; X refuses the second for a rate limit (nothing created): the post waits with
    # one part live.
    harness.standin.inject("tweets", "slow", seconds=0)
    harness.standin.inject("tweets", "rate_limited", reset_in=2)
    harness.cli("queue", "pin", post_id, "--now")
    proc = harness.serve()
    store = ledger(harness)
    try:
        wait_for(harness, proc, lambda: len(store.get(post_id).part_ids) == 1
                 and store.get(post_id).state.value == "retrying", "the thread's first part going out")
        harness.stop(proc)
        assert store.get(post_id).state.value == "retrying"
    finally:
        store.close()
    [first] = harness.standin.timeline()
    assert first["text"] == parts[0]

    # The article changes under the half-sent thread: the re-import leaves it as it began, and says so.
    write_article(article, body=LONG_BODY.replace("Then check your chair", "Then look at your chair"))
    out = harness.cli("import", str(article)).stdout
    assert f"{post_id} kept: may already be live, settle it first" in out
    assert post_of(harness, post_id)["thread"] == parts

    # The service finishes the thread with the replies it planned, each replying to the part before.
    proc = harness.serve("serve2")
    wait_for(harness, proc, lambda: post_of(harness, post_id)["state"] == "sent", "the thread being finished")
    harness.stop(proc)
    timeline = sorted(harness.standin.timeline(), key=lambda p: p["created_at"])
    assert [p["text"] for p in timeline] == parts
    assert [p["reply_to"] for p in timeline] == [None, *[p["id"] for p in timeline[:-1]]]


# -- the rule in the ledger: both backends -------------------------------------------------------------------------

T0 = __import__("datetime").datetime(2026, 3, 2, 14, tzinfo=__import__("datetime").UTC)


def _lost_answer(store, post_id: str) -> None:
    """A call for the post went out and its answer was lost: the post waits, uncertain, to be looked up."""
    from datetime import timedelta

    assert store.claim(post_id, "i1", T0, T0)
    attempt = store.begin_attempt(post_id, "acct", 0, "i1", T0)
    store.end_attempt(attempt, "lost", T0, detail="read timeout", uncertain=(post_id, "i1"))
    store.mark_retrying(post_id, "i1", T0 + timedelta(minutes=1), T0, error="read timeout", status=None,
                        count_attempt=True)


def _first_part_out(store, post_id: str) -> None:
    from datetime import timedelta

    assert store.claim(post_id, "i1", T0, T0)
    attempt = store.begin_attempt(post_id, "acct", 0, "i1", T0)
    store.finish_part(attempt, post_id, "i1", ["1001"], T0)
    store.mark_retrying(post_id, "i1", T0 + timedelta(minutes=1), T0, error="rate limited", status=429,
                        count_attempt=False)


def _import(store, texts: dict[int, tuple[str, ...]]):
    from scheduler.ledger.store import ArticleImport, NewPost

    posts = [NewPost(post_id=f"art-{n}", kind="tip", text=parts[0], parts=parts, weighted_length=len(parts[0]),
                     article_key="art", tip=n) for n, parts in texts.items()]
    tips = [{"number": n, "headline": parts[0], "body": " ".join(parts)} for n, parts in texts.items()]
    return store.import_articles("acct", [ArticleImport(article_key="art", title="Art", url=None, source="art.md",
                                                        fingerprint=__import__("hashlib").sha256(str(texts).encode()).hexdigest()[:32], tips=tips, posts=posts)], T0)[0]


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
def test_a_reimport_leaves_posts_that_may_be_live_as_they_went_out(store):
    _import(store, {1: ("one",), 2: ("two a", "two b"), 3: ("three",), 4: ("four",)})
    _lost_answer(store, "art-1")
    _first_part_out(store, "art-2")
    report = _import(store, {1: ("one, new",), 2: ("two a", "two b, new"), 3: ("three, new",)})
    assert sorted(report.kept_live) == ["art-1", "art-2"]
    assert report.updated == ("art-3",) and report.removed == ("art-4",)
    assert store.get("art-1").text == "one" and store.get("art-2").parts == ("two a", "two b")
    # Its tip leaving the article does not take out a post that may be live either.
    report = _import(store, {3: ("three, new",)})
    assert sorted(report.kept_live) == ["art-1", "art-2"] and store.get("art-1").state.value == "retrying"


@pytest.mark.parametrize("ledger_url", ["sqlite", "postgres"], indirect=True)
def test_the_ledger_itself_refuses_to_rewrite_a_post_that_may_be_live(store):
    import sqlalchemy as sa

    from scheduler.ledger import migrations as m

    _import(store, {1: ("one",), 2: ("two a", "two b"), 3: ("three",)})
    _lost_answer(store, "art-1")
    _first_part_out(store, "art-2")
    for post_id in ("art-1", "art-2"):
        with pytest.raises(sa.exc.DatabaseError, match="may already be live"):
            with store.engine.begin() as conn:
                conn.execute(m.posts.update().where(m.posts.c.post_id == post_id).values(text="rewritten"))
        with pytest.raises(sa.exc.DatabaseError, match="may already be live"):
            with store.engine.begin() as conn:
                conn.execute(m.posts.update().where(m.posts.c.post_id == post_id).values(parts=["x", "y"]))
    with store.engine.begin() as conn:  # a post nothing of which went out may change; its other columns always
        conn.execute(m.posts.update().where(m.posts.c.post_id == "art-3").values(text="three, new", parts=["three, new"]))
        conn.execute(m.posts.update().where(m.posts.c.post_id == "art-1").values(last_error="still looking"))
    assert store.get("art-3").text == "three, new" and store.get("art-1").text == "one"


# -- the dashboard's import answer ----------------------------------------------------------------------------------

from tests.helpers_web import csrf_of, web  # noqa: E402,F401


def test_the_dashboard_upload_keeps_a_post_that_may_be_live_and_says_so(web):  # noqa: F811
    from bs4 import BeautifulSoup

    client = web.client()
    article = ("---\ntitle: Better sleep\n---\n# Better sleep\n\n"
               "1. Keep one schedule. Go to bed at the same time every night.\n"
               "2. Dim the lights. An hour before bed, lower every light you can.\n")
    token = csrf_of(client.get("/articles").text)
    upload = lambda text: client.post("/articles", data={"csrf": token},  # noqa: E731
                                      files={"file": ("sleep.md", text.encode(), "text/markdown")},
                                      follow_redirects=False)
    assert upload(article).status_code == 303
    store, now = web.store, web.now
    before = store.get("sleep-1")
    assert store.claim("sleep-1", "i1", now, now)
    attempt = store.begin_attempt("sleep-1", before.account, 0, "i1", now)
    store.end_attempt(attempt, "lost", now, detail="read timeout", uncertain=("sleep-1", "i1"))
    store.mark_retrying("sleep-1", "i1", now, now, error="read timeout", status=None, count_attempt=True)

    answer = upload(article.replace("every night.", "every night, weekends too."))
    assert answer.status_code == 200, answer.text[:300]
    notice = BeautifulSoup(answer.text, "html.parser").select_one(".notice[role=status]").get_text()
    assert "sleep-1 kept: may already be live, settle it first" in notice
    assert store.get("sleep-1").text == before.text
    assert any("kept (may already be live): sleep-1" in (r.detail or "") for r in store.audit(before.account, limit=5))
