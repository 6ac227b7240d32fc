"""Evergreen learns from the metrics: the tips and wordings whose posts did best come back first, a tip or wording
never measured is still tried, and `preview` says why each recycled post was chosen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.articles.library import import_articles
from scheduler.config import parse_config
from scheduler.domain.metrics import MetricReading
from scheduler.app import views
from scheduler.ledger.store import Store
from scheduler.planning import agenda
from scheduler.planning.evergreen_learning import learned
from tests.test_evergreen import POSTS, publish_everything

CONFIG = """\
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = ["daily 09:00"]
series_gap = "0s"

[quota]
daily = 0
monthly = 0

[queue]
evergreen = true
evergreen_cooldown = "30d"
duplicate_window = "30d"

[compose]
templates = "{templates}"

[publisher]
kind = "outbox"
"""
# Three wordings of a tip; how well each did is set by the readings below.
WORDINGS = {"1-plain.j2": "{{ tip.headline }} {{ tip.point }}", "2-tip.j2": "Tip: {{ tip.headline }} {{ tip.point }}",
            "3-today.j2": "Today: {{ tip.headline }} {{ tip.point }}"}
RATE = {"tip/1-plain.j2": 0.010, "tip/2-tip.j2": 0.060, "tip/3-today.j2": 0.020}
TIP_BONUS = {1: 0.000, 2: 0.004, 3: 0.002, 4: 0.001, 5: 0.008}  # tip 5 did best, tip 1 worst
START = datetime(2026, 1, 5, 12, tzinfo=UTC)


def _setup(tmp_path, *, measured=lambda post: True):
    folder = tmp_path / "templates" / "tip"
    folder.mkdir(parents=True)
    for name, text in WORDINGS.items():
        (folder / name).write_text(text + "\n", encoding="utf-8")
    config = parse_config(CONFIG.format(templates=tmp_path / "templates"), source=None,
                          env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.sqlite3'}")
    import_articles(store, config, [POSTS], START)
    last = publish_everything(store, config, tmp_path, START)
    sent = store.history(config.account, limit=10)
    assert len(sent) == 5 and {p.template for p in sent} == set(RATE)  # every wording went out at least once
    for post in sent:
        if measured(post):
            rate = RATE[post.template] + TIP_BONUS[post.tip]
            store.record_readings([MetricReading(
                post_id=post.post_id, account=config.account, network="x", remote_id=post.tweet_id,
                read_at=post.sent_at + timedelta(days=7), likes=round(rate * 10_000), reposts=0, replies=0,
                quotes=0, impressions=10_000)])
    return config, store, last + timedelta(days=40)


def test_evergreen_brings_back_the_best_tips_first_in_the_best_wording(tmp_path):
    config, store, later = _setup(tmp_path)
    entries = agenda.upcoming(store, config, later, count=5)
    assert [e.source for e in entries] == ["recycle"] * 5
    # Without metrics the longest-unsent tip (1) would come first; with them, the best-scoring tips do.
    # Tips 1-5 did 2.0 %, 1.4 %, 6.2 %, 2.1 % and 1.8 % (their wording's rate and their own bonus).
    assert [e.post.tip for e in entries] == [3, 4, 1, 5, 2]
    record = learned(store, config.account)
    scores = [record.tip("massage-therapy-for-back-pain", e.post.tip).value for e in entries]
    assert scores == sorted(scores, reverse=True)
    # Every tip comes back in the wording that did best ("Tip: ...").
    assert {e.post.template for e in entries} == {"tip/2-tip.j2"}
    assert all(e.post.text.startswith("Tip: ") for e in entries)
    why = entries[0].post.why
    assert "mean engagement" in why and "tip/2-tip.j2" in why
    text = views.preview_text(entries, config)
    assert f"    why: {why}" in text
    assert views.entry_json(entries[0], config.tz)["why"] == why


def test_a_wording_and_a_tip_never_measured_are_tried_first(tmp_path):
    # Tip 3's post was never read (the collector has not reached it): it has no record yet.
    config, store, later = _setup(tmp_path, measured=lambda post: post.tip != 3)
    entries = agenda.upcoming(store, config, later, count=5)
    assert entries[0].post.tip == 3 and "never measured" in entries[0].post.why
    # A new wording added since: no post was written with it, so the next plan tries it.
    new = tmp_path / "templates" / "tip" / "4-new.j2"
    new.write_text("New: {{ tip.headline }} {{ tip.point }}\n", encoding="utf-8")
    entries = agenda.upcoming(store, config, later, count=5)
    assert entries[0].post.template == "tip/4-new.j2", [e.post.template for e in entries]
    assert "wording tip/4-new.j2: never measured" in entries[0].post.why


def test_without_metrics_evergreen_keeps_its_order_and_says_nothing(tmp_path):
    config, store, later = _setup(tmp_path, measured=lambda post: False)
    entries = agenda.upcoming(store, config, later, count=5)
    assert [e.post.tip for e in entries] == [1, 2, 3, 4, 5]  # the longest-unsent first, as before
    assert all(e.post.why is None for e in entries)
