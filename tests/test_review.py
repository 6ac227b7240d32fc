"""Review before publishing, on a real ledger (SQLite and PostgreSQL) with the real planner and engine.

What a user depends on: with review on nothing unapproved goes out; an approval is void the moment
what would be sent changes (text, thread part, image bytes), even when the change is made behind the
program's back, between the plan and the send, by another process; a blocking finding cannot be
approved; every decision is in a log the database refuses to rewrite.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import sqlalchemy as sa

from scheduler.planning import agenda
from scheduler.review import policy as review
from scheduler.config import parse_config
from scheduler.domain.errors import ReviewError
from scheduler.networks.outbox.publisher import OutboxPublisher
from scheduler.publishing.engine import PublishingEngine, RetryPolicy, publish_due
from scheduler.ledger.store import NewPost, NotApproved, Store
from tests.helpers_ledger import ACCOUNT, FakeClock, new_post
from tests.helpers_ledger import approve_shown

REPO = Path(__file__).parents[1]
ARTICLE = REPO / "posts" / "massage-therapy-for-back-pain.md"
# A Monday; slots every day at 09:00 UTC.
T0 = datetime(2026, 3, 2, 8, 0, tzinfo=timezone.utc)
NINE = T0.replace(hour=9)

CONFIG = """\
[account]
handle = "{account}"
timezone = "UTC"

[calendar]
slots = ["daily 09:00"]
series_gap = "0s"
grace = "15m"

[quota]
daily = 0
monthly = 0

[review]
required = {required}
{extra}
"""


def make_config(*, required: bool = True, extra: str = ""):
    return parse_config(CONFIG.format(account=ACCOUNT, required=str(required).lower(), extra=extra), source=None)


def raw(store: Store, sql: str, **params) -> int:
    with store.engine.begin() as conn:
        return conn.execute(sa.text(sql), params).rowcount


class Run:
    """The engine as the service drives it: plan, publish what is due, on a fake clock and a real outbox."""

    def __init__(self, store: Store, tmp: Path, config, clock: FakeClock):
        self.store, self.config, self.clock = store, config, clock
        self.outbox = tmp / "outbox.jsonl"
        publisher = OutboxPublisher(self.outbox, ACCOUNT, clock=clock)
        self.engine = PublishingEngine(store, publisher, account=ACCOUNT, instance="svc", clock=clock,
                                       policy=RetryPolicy(), require_review=config["review"]["required"])

    def at(self, when: datetime):
        self.clock.set(when)
        return publish_due(self.engine, self.config)

    def sent_texts(self) -> list[str]:
        if not self.outbox.exists():
            return []
        return [json.loads(line)["text"] for line in self.outbox.read_text(encoding="utf-8").splitlines()]


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0)


@pytest.fixture
def config():
    return make_config()


@pytest.fixture
def run(store, tmp_path, config, clock) -> Run:
    return Run(store, tmp_path, config, clock)


def import_article(store: Store, config, now: datetime) -> list[str]:
    from scheduler.articles.library import import_articles

    [result] = import_articles(store, config, [ARTICLE], now)
    return list(result.report.added)


# -- nothing unapproved goes out ----------------------------------------------------------------------------


def test_an_imported_article_publishes_nothing_until_approved(store, run, config, clock):
    ids = import_article(store, config, T0)
    assert len(ids) == 5
    entries = agenda.upcoming(store, config, T0, count=3)
    assert [(e.at, e.post, e.reason) for e in entries] == [(NINE, None, "awaiting review")]

    assert run.at(NINE) == []
    assert run.sent_texts() == []
    assert store.counts(ACCOUNT) == {"queued": 5}

    approve_shown(store, config, [ids[0], ids[2]], who="Dr G", now=NINE + timedelta(minutes=1))
    done = run.at(NINE + timedelta(minutes=1))  # within grace: the 09:00 slot still goes
    assert [(o.post_id, o.state) for _, o in done] == [(ids[0], "sent")]
    done = run.at(NINE + timedelta(days=1))
    assert [(o.post_id, o.state) for _, o in done] == [(ids[2], "sent")]  # tip 2 waits; tip 3 takes the slot
    assert run.at(NINE + timedelta(days=2)) == []
    assert store.get(ids[1]).state.value == "queued"


def test_review_off_plans_every_post_as_before(store, tmp_path, clock):
    config = make_config(required=False)
    ids = import_article(store, config, T0)
    entries = agenda.upcoming(store, config, T0, count=2)
    assert [e.post.post_id for e in entries] == ids[:2]


def test_the_slot_of_an_unapproved_post_goes_to_the_next_approved_one(store, run, config):
    for n in (1, 2, 3):
        store.add_post(ACCOUNT, new_post(f"p{n}", f"Walk ten minutes after meal number {n}."), T0)
    approve_shown(store, config, ["p2"], who="Dr G", now=T0)
    entries, drafts = agenda.upcoming_with_drafts(store, config, T0, count=2, drafts=5)
    assert [(e.at, e.post.post_id if e.post else None, e.reason) for e in entries] == [
        (NINE, "p2", None), (NINE + timedelta(days=1), None, "awaiting review")]
    # Each draft shows the slot it would take if approved now: p1 is ahead of p2 in line.
    assert [(d.post.post_id, d.at) for d in drafts] == [("p1", NINE), ("p3", NINE + timedelta(days=1))]

    assert [o.post_id for _, o in run.at(NINE)] == ["p2"]
    assert run.sent_texts() == ["Walk ten minutes after meal number 2."]


# -- an approval is bound to exactly what is sent ------------------------------------------------------------


def test_an_edit_after_approval_puts_the_post_back_in_review(store, run, config):
    store.add_post(ACCOUNT, new_post("p", "Sit less, walk more."), T0)
    approve_shown(store, config, ["p"], who="Dr G", now=T0)
    assert review.item(store, config, "p", T0).status == "approved"

    raw(store, "UPDATE posts SET text = :t, parts = :p WHERE post_id = 'p'", t="Sit less, walk a lot more.",
        p=json.dumps(["Sit less, walk a lot more."]))
    assert review.item(store, config, "p", T0).status == "awaiting review"
    assert run.at(NINE) == []
    assert run.sent_texts() == []

    approve_shown(store, config, ["p"], who="Dr G", now=NINE)
    assert [o.state for _, o in run.at(NINE + timedelta(minutes=1))] == ["sent"]
    assert run.sent_texts() == ["Sit less, walk a lot more."]


def test_changing_any_thread_part_voids_the_approval(store, config):
    parts = ("Part one about posture.", "Part two about chairs.")
    store.add_post(ACCOUNT, new_post("t", parts[0], parts=parts), T0)
    approve_shown(store, config, ["t"], who="Dr G", now=T0)
    raw(store, "UPDATE posts SET parts = :p WHERE post_id = 't'", p=json.dumps([parts[0], "Part two, edited."]))
    assert review.item(store, config, "t", T0).status == "awaiting review"


def test_swapping_the_image_bytes_voids_the_approval(store, config, tmp_path):
    image = tmp_path / "chart.png"
    image.write_bytes(b"\x89PNG first picture")
    store.add_post(ACCOUNT, new_post("m", "See the chart.", media=(str(image),)), T0)
    approve_shown(store, config, ["m"], who="Dr G", now=T0)
    assert review.item(store, config, "m", T0).status == "approved"
    image.write_bytes(b"\x89PNG another picture, same name")
    assert review.item(store, config, "m", T0).status == "awaiting review"
    with pytest.raises(NotApproved):
        store.claim_post("m", "svc", NINE, NINE, calendar_slot=True, require_approval=True)


def test_an_edit_by_another_process_between_plan_and_send_is_never_sent(store, run, config, ledger_url):
    store.add_post(ACCOUNT, new_post("p", "Approved words."), T0)
    approve_shown(store, config, ["p"], who="Dr G", now=T0)
    run.clock.set(NINE)
    [entry] = [e for e in agenda.upcoming(store, config, NINE, count=1) if e.post]
    assert entry.post.post_id == "p"  # planned as approved

    # Another process rewrites the text in the ledger, behind the program's back.
    script = ("import sqlalchemy as sa, json, sys\n"
              "from scheduler.ledger.store import Store\n"
              "s = Store.open(sys.argv[1])\n"
              "with s.engine.begin() as c:\n"
              "    c.execute(sa.text(\"UPDATE posts SET text = 'Other words.', parts = :p WHERE post_id = 'p'\"),"
              " {'p': json.dumps(['Other words.'])})\n")
    subprocess.run([sys.executable, "-c", script, ledger_url], check=True, cwd=REPO, timeout=60)

    outcome = run.engine.publish("p", entry.at, source=entry.source)
    assert outcome.state == "skipped" and "awaiting review" in outcome.detail
    assert run.sent_texts() == []
    post = store.get("p")
    assert post.state.value == "queued" and post.claimed_by is None and post.slot_at is None
    assert store.slot_holder(ACCOUNT, NINE) is None  # the claim was rolled back whole
    assert run.at(NINE + timedelta(seconds=1)) == []  # and the plan no longer has it


def test_the_claim_checks_the_approval_in_its_own_transaction(store, config):
    store.add_post(ACCOUNT, new_post("p", "Words."), T0)
    with pytest.raises(NotApproved):
        store.claim_post("p", "svc", NINE, NINE, calendar_slot=True, require_approval=True)
    assert store.get("p").state.value == "queued"
    approve_shown(store, config, ["p"], who="Dr G", now=T0)
    claimed = store.claim_post("p", "svc", NINE, NINE, calendar_slot=True, require_approval=True)
    assert claimed is not None and claimed.text == "Words."


def test_a_reimport_with_a_changed_template_voids_the_approval(store, config, tmp_path):
    ids = import_article(store, config, T0)
    approve_shown(store, config, ids, who="Dr G", now=T0)
    assert review.waiting(store, config, T0) == []
    edited = tmp_path / ARTICLE.name
    edited.write_text(ARTICLE.read_text(encoding="utf-8").replace("Massage therapy may be painful at first.",
                                                                   "Massage may hurt a little at first."),
                      encoding="utf-8")
    from scheduler.articles.library import import_articles

    import_articles(store, config, [edited], T0)
    assert [i.post.post_id for i in review.waiting(store, config, T0)] == [ids[3]]


# -- decisions --------------------------------------------------------------------------------------------------


def test_a_blocking_finding_cannot_be_approved_until_the_text_changes(store, config):
    store.add_post(ACCOUNT, new_post("d", "Take 400 mg of ibuprofen for back pain."), T0)
    with pytest.raises(ReviewError, match=r"dosage.*400 mg"):
        approve_shown(store, config, ["d"], who="Dr G", now=T0)
    assert review.item(store, config, "d", T0).status == "awaiting review"
    assert store.review_log(ACCOUNT) == []
    raw(store, "UPDATE posts SET text = :t, parts = :p WHERE post_id = 'd'", t="Ask your doctor about pain relief.",
        p=json.dumps(["Ask your doctor about pain relief."]))
    approve_shown(store, config, ["d"], who="Dr G", now=T0)
    assert review.item(store, config, "d", T0).status == "approved"


def test_warnings_are_shown_and_kept_with_the_decision(store, config):
    store.add_post(ACCOUNT, new_post("w", "Stretch twice a day, one of my patients swears by it."), T0)
    item = review.item(store, config, "w", T0)
    assert {f.rule for f in item.findings} == {"dosing-schedule", "patient-story"}
    assert not item.blocked
    approve_shown(store, config, ["w"], who="Dr G", now=T0, comment="fine: exercise, no one identifiable")
    [entry] = store.review_log(ACCOUNT)
    assert {f["rule"] for f in entry.findings} == {"dosing-schedule", "patient-story"}
    assert entry.comment == "fine: exercise, no one identifiable"


def test_approving_several_is_all_or_none(store, config):
    store.add_post(ACCOUNT, new_post("a", "Good words."), T0)
    store.add_post(ACCOUNT, new_post("b", "Guaranteed to fix your back."), T0)
    with pytest.raises(ReviewError, match="absolute-claim"):
        approve_shown(store, config, ["a", "b"], who="Dr G", now=T0)
    assert review.item(store, config, "a", T0).status == "awaiting review"
    with pytest.raises(ReviewError, match="no post"):
        approve_shown(store, config, ["a", "nope"], who="Dr G", now=T0)
    assert store.review_log(ACCOUNT) == []


def test_a_decision_about_a_text_that_changed_since_it_was_shown_is_refused(store, config):
    store.add_post(ACCOUNT, new_post("p", "Words as shown."), T0)
    shown = review.item(store, config, "p", T0).content_hash
    raw(store, "UPDATE posts SET parts = :p WHERE post_id = 'p'", p=json.dumps(["Words changed meanwhile."]))
    with pytest.raises(ReviewError, match="changed since it was shown"):
        approve_shown(store, config, ["p"], who="Dr G", now=T0, expected={"p": shown})
    assert store.review_log(ACCOUNT) == []


def test_reject_returns_the_post_to_its_author_with_the_comment(store, config):
    config = make_config(extra='\n[notify]\nauthors = ["writer@example.com"]\nsmtp_host = "127.0.0.1"\n'
                               'webhook = "http://127.0.0.1:9/hook"')
    store.add_post(ACCOUNT, new_post("p", "Massage cures everything."), T0)
    with pytest.raises(ReviewError, match="--comment"):
        review.request_changes(store, config, ["p"], who="Dr G", role="reviewer", comment=" ", now=T0)
    review.request_changes(store, config, ["p"], who="Dr G", role="reviewer", comment="Say it may help, not cures.", now=T0)
    item = review.item(store, config, "p", T0)
    assert item.status == "changes requested" and item.review.comment == "Say it may help, not cures."
    assert agenda.upcoming(store, config, T0, count=1)[0].post is None
    notices = store.notices(ACCOUNT)
    assert sorted((n.kind, n.channel) for n in notices) == [("changes requested", "email"),
                                                            ("changes requested", "webhook")]
    assert notices[0].payload["comment"] == "Say it may help, not cures."
    # Once the author changes the text it awaits review again.
    raw(store, "UPDATE posts SET parts = :p WHERE post_id = 'p'", p=json.dumps(["Massage may help some people."]))
    assert review.item(store, config, "p", T0).status == "awaiting review"


def test_only_pending_posts_can_be_reviewed(store, config):
    store.add_post(ACCOUNT, new_post("p", "Words."), T0)
    store.remove(ACCOUNT, "p", T0)
    with pytest.raises(ReviewError, match="removed, not waiting"):
        approve_shown(store, config, ["p"], who="Dr G", now=T0)


# -- the audit log ---------------------------------------------------------------------------------------------


def test_the_log_records_each_decision_with_the_exact_text(store, config):
    store.add_post(ACCOUNT, new_post("p", "First words."), T0)
    review.request_changes(store, config, ["p"], who="Dr G", role="reviewer", comment="shorter", now=T0)
    raw(store, "UPDATE posts SET text = 'Short.', parts = :p WHERE post_id = 'p'", p=json.dumps(["Short."]))
    approve_shown(store, config, ["p"], who="Dr H", now=T0 + timedelta(minutes=5))
    newest, oldest = store.review_log(ACCOUNT)
    assert (oldest.action, oldest.actor, oldest.parts, oldest.comment) == (
        "changes requested", "Dr G", ("First words.",), "shorter")
    assert (newest.action, newest.actor, newest.parts, newest.at) == (
        "approved", "Dr H", ("Short.",), T0 + timedelta(minutes=5))
    assert newest.content_hash == review.item(store, config, "p", T0).content_hash != oldest.content_hash


def test_the_database_refuses_to_rewrite_the_log(store, config):
    store.add_post(ACCOUNT, new_post("p", "Words."), T0)
    approve_shown(store, config, ["p"], who="Dr G", now=T0)
    for statement in ("UPDATE review_log SET actor = 'someone else'", "DELETE FROM review_log"):
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            raw(store, statement)
    if store.engine.dialect.name == "postgresql":
        with pytest.raises(sa.exc.DatabaseError, match="append-only"):
            raw(store, "TRUNCATE review_log")
    [entry] = store.review_log(ACCOUNT)
    assert entry.actor == "Dr G"


def test_a_removed_tip_takes_its_approval_but_not_its_log(store, config, tmp_path):
    ids = import_article(store, config, T0)
    approve_shown(store, config, [ids[4]], who="Dr G", now=T0)
    shorter = tmp_path / ARTICLE.name
    text = ARTICLE.read_text(encoding="utf-8")
    shorter.write_text(text[:text.index("## 5.")], encoding="utf-8")
    from scheduler.articles.library import import_articles

    import_articles(store, config, [shorter], T0)  # tip 5 is deleted: never tried
    assert store.reviews([ids[4]]) == {}
    assert [e.post_id for e in store.review_log(ACCOUNT)] == [ids[4]]


def test_a_new_post_is_a_draft_awaiting_review(store, config):
    store.add_post(ACCOUNT, NewPost(post_id="n", kind="adhoc", text="New.", parts=("New.",), weighted_length=4), T0)
    [item] = review.waiting(store, config, T0)
    assert (item.post.post_id, item.status, item.would_go_at) == ("n", "awaiting review", NINE)
