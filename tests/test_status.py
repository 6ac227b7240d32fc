"""`scheduler status` and `history` tell the truth a newcomer needs: where posts go, and what is next."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.app import health
from scheduler.app import views
from scheduler.config import parse_config
from scheduler.app.queueing import add_text
from scheduler.ledger.store import Store

CONFIG = """
[account]
handle = "GleiberMD"

[calendar]
slots = []
cron = ["* * * * *"]
grace = "15m"
series_gap = "0s"

[quota]
daily = 0
monthly = 0

[publisher]
kind = "{kind}"
"""


def make(tmp_path, kind="auto"):
    config = parse_config(CONFIG.format(kind=kind), source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    return config, Store.open(config.database_url)


def test_next_is_never_a_time_already_past(tmp_path, monkeypatch):
    config, store = make(tmp_path)
    now = datetime(2026, 3, 2, 14, 0, 40, tzinfo=UTC)  # 40 s after a slot the service has not filled
    add_text(store, config, "Walk for ten minutes after every meal.", now - timedelta(hours=1))
    report = health.status(store, config, now)
    assert report["next"]["at"] == now.astimezone(config.tz).isoformat()
    assert report["next"]["due_since"] == datetime(2026, 3, 2, 14, 0, tzinfo=UTC).astimezone(config.tz).isoformat()
    assert "(due now)" in views.status_text(report)
    on_time = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)  # exactly on a slot: it is next, and not overdue
    later = health.status(store, config, on_time)
    assert later["next"]["due_since"] is None and later["next"]["at"] == on_time.astimezone(config.tz).isoformat()


def test_status_says_plainly_when_posts_go_to_the_outbox(tmp_path, monkeypatch):
    for name in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET", "X_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    config, store = make(tmp_path)
    report = health.status(store, config, datetime.now(UTC))
    assert report["publisher"] == {"kind": "outbox", "outbox": str(tmp_path / "outbox.jsonl"),
                                   "why": "no X credentials"}
    assert "NOT to X" in views.status_text(report)

    monkeypatch.setenv("X_API_KEY", "k")
    monkeypatch.setenv("X_API_SECRET", "s")
    monkeypatch.setenv("X_ACCESS_TOKEN", "t")
    monkeypatch.setenv("X_ACCESS_TOKEN_SECRET", "ts")
    with_keys = health.status(store, config, datetime.now(UTC))
    assert with_keys["publisher"]["kind"] == "x" and "Posts go:  to X" in views.status_text(with_keys)
    forced, _ = make(tmp_path, kind="outbox")
    assert health.status(store, forced, datetime.now(UTC))["publisher"]["kind"] == "outbox"


def test_last_seen_is_never_earlier_than_the_services_last_publication(tmp_path):
    """A service that beat at 09:00, published at 09:00:40 and then stopped without another beat was seen at
    09:00:40: status says so, in --json, the text and the page (issue 23)."""
    config, store = make(tmp_path, kind="outbox")
    beat = datetime(2026, 3, 2, 14, 0, 0, tzinfo=UTC)
    post = add_text(store, config, "Walk for ten minutes after every meal.", beat - timedelta(hours=1))
    store.beat("svc-1", config.account, 4242, "clinic-pc", beat, machine=None)
    sent_at = beat + timedelta(seconds=40)
    assert store.claim_post(post.post_id, "svc-1", sent_at, sent_at) is not None
    attempt = store.begin_attempt(post.post_id, config.account, 0, "svc-1", sent_at)
    store.end_attempt(attempt, "sent", sent_at + timedelta(seconds=1))
    now = beat + timedelta(hours=2)  # long stale: not running
    report = health.status(store, config, now)
    assert report["service"]["running"] is False
    seen = datetime.fromisoformat(report["service"]["last_seen"])
    assert seen >= datetime.fromisoformat(report["last_outcome"]["at"]) == sent_at + timedelta(seconds=1)
    assert report["service"]["last_beat"] is not None and datetime.fromisoformat(report["service"]["last_beat"]) == beat
    assert f"last seen {report['service']['last_seen']}" in views.status_text(report)


def test_last_seen_ignores_a_publication_by_no_service(tmp_path):
    """A post sent by a one-off command (no service instance) says nothing about when a service was alive."""
    config, store = make(tmp_path, kind="outbox")
    beat = datetime(2026, 3, 2, 14, 0, 0, tzinfo=UTC)
    post = add_text(store, config, "Stretch your back every hour.", beat - timedelta(hours=1))
    store.beat("svc-1", config.account, 4242, "clinic-pc", beat, machine=None)
    later = beat + timedelta(minutes=30)
    assert store.claim_post(post.post_id, "cli-once", later, later) is not None
    attempt = store.begin_attempt(post.post_id, config.account, 0, "cli-once", later)
    store.end_attempt(attempt, "sent", later)
    report = health.status(store, config, beat + timedelta(hours=2))
    assert datetime.fromisoformat(report["service"]["last_seen"]) == beat
