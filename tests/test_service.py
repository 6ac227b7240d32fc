"""`scheduler serve` as a real process: on time, live to CLI edits, SIGHUP, SIGTERM, SIGKILL, downtime."""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.standin import StandinX
from tests.service_harness import Harness, parse, seconds_ahead

pytestmark = pytest.mark.slow


@pytest.fixture
def harness(tmp_path):
    with StandinX() as standin:
        h = Harness(tmp_path, standin)
        try:
            yield h
        finally:
            h.close()


def sent_by_id(h: Harness) -> dict[str, dict]:
    return {p["post_id"]: p for p in h.json("history", "--limit", "1000") if p["state"] == "sent"}


def test_pinned_posts_go_out_within_a_second_of_their_time(harness):
    first = seconds_ahead(3)
    ids = [harness.add(f"On-time post number {n}", first + timedelta(seconds=n)) for n in range(3)]
    proc = harness.serve()
    harness.wait_for_timeline(3)
    time.sleep(0.3)
    sent = sent_by_id(harness)
    for n, post_id in enumerate(ids):
        post = sent[post_id]
        lateness = (parse(post["sent_at"]) - (first + timedelta(seconds=n))).total_seconds()
        assert 0 <= lateness < 1.0, f"{post_id} went out {lateness:.3f}s after its pin"
    texts = [t["text"] for t in harness.standin.timeline()]
    assert texts == [f"On-time post number {n}" for n in range(3)]
    assert harness.stop(proc) < 5 and proc.returncode == 0


def test_json_logs_have_one_line_per_publication_with_its_facts(harness):
    post_id = harness.add("Logged as JSON", seconds_ahead(2))
    proc = harness.serve("json", "--log-json")
    harness.wait_for_timeline(1)
    harness.wait_for_log(proc, '"outcome": "sent"')
    harness.stop(proc)
    lines = [json.loads(line) for line in harness.log_of(proc).splitlines()]
    published = [line for line in lines if line.get("post_id") == post_id]
    assert len(published) == 1
    line = published[0]
    tweet_id = harness.standin.timeline()[0]["id"]
    assert line["outcome"] == "sent" and line["level"] == "info"
    assert line["url"] == f"https://x.com/{harness.standin.default_account.username}/status/{tweet_id}"
    assert datetime.fromisoformat(line["slot"]).utcoffset() == timedelta(hours=-5)  # shown in the account's zone
    assert harness.standin.consumer_secret not in harness.log_of(proc)


def test_queue_changes_apply_while_running_without_restart(harness):
    doomed = harness.add("This one will be removed before its time", seconds_ahead(6))
    proc = harness.serve()
    harness.wait_for_log(proc, "service started")
    added_at = seconds_ahead(3)
    added = harness.add("Added while the service runs", added_at)
    harness.cli("queue", "remove", doomed)
    harness.wait_for_timeline(1)
    post = sent_by_id(harness)[added]
    assert (parse(post["sent_at"]) - added_at).total_seconds() < 1.0
    time.sleep(4)  # past the removed post's time
    assert [t["text"] for t in harness.standin.timeline()] == ["Added while the service runs"]
    harness.stop(proc)


def test_status_sees_the_running_service_and_a_second_instance_is_announced(harness):
    proc = harness.serve()
    harness.wait_for_log(proc, "service started")
    time.sleep(1.2)
    report = harness.json("status")
    assert report["service"]["running"] is True
    assert report["service"]["pid"] == proc.pid
    second = harness.serve("second")
    harness.wait_for_log(second, "another instance is active on this ledger")
    ids = [harness.add(f"Shared ledger post {n}", seconds_ahead(2) + timedelta(seconds=n)) for n in range(4)]
    harness.wait_for_timeline(4)
    time.sleep(1.5)
    texts = Counter(t["text"] for t in harness.standin.timeline())
    assert all(count == 1 for count in texts.values()) and len(texts) == 4
    assert set(ids) <= set(sent_by_id(harness))
    harness.stop(second)
    harness.stop(proc)
    assert harness.json("status")["service"]["running"] is False


def test_sighup_reloads_a_good_config_and_rejects_a_bad_one(harness):
    proc = harness.serve()
    harness.wait_for_log(proc, "service started")
    harness.config.write_text("[calendar]\nslots = [\"someday 9am\"]\n")
    proc.send_signal(signal.SIGHUP)
    harness.wait_for_log(proc, "reload rejected, keeping the previous configuration")
    assert proc.poll() is None
    harness.write_config()  # the CLI reads the file too; the service keeps what it loaded before
    pinned = harness.add("Still publishing after a bad reload", seconds_ahead(2))
    harness.wait_for_timeline(1)
    # A good file: a slot every 2 seconds makes the unpinned posts go out.
    harness.write_config(cron=("*/2 * * * * *",))
    unpinned = [harness.add(f"Slot post {n}") for n in range(2)]
    proc.send_signal(signal.SIGHUP)
    harness.wait_for_log(proc, "configuration reloaded")
    harness.wait_for_timeline(3, timeout=15)
    assert {pinned, *unpinned} <= set(sent_by_id(harness))
    harness.stop(proc)


def test_sigterm_during_a_slow_call_exits_0_in_time_and_the_post_is_reconciled(harness):
    # X takes 8 s to answer; the service would wait 10 s, longer than its 3 s stop timeout.
    harness.write_config(timeout="10s")
    harness.standin.inject("tweets", "slow", seconds=8)
    at = seconds_ahead(2)
    post_id = harness.add("Sent while the service is told to stop", at)
    proc = harness.serve()
    time.sleep(max(0.0, (at - datetime.now(UTC)).total_seconds() + 0.7))  # the call is in flight
    took = harness.stop(proc)
    assert proc.returncode == 0 and took < 5, f"exit {proc.returncode} after {took:.1f}s"
    post = harness.json("queue", "list")
    assert [p["post_id"] for p in post] == [post_id]
    assert "abandoned" in post[0]["error"]
    # The slow reply created the post on X after all; the restart must find it, not post again.
    time.sleep(max(0.0, 8.5 - took))
    restarted = harness.serve("restart")
    deadline = time.monotonic() + 15
    while post_id not in sent_by_id(harness) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert post_id in sent_by_id(harness)
    assert [t["text"] for t in harness.standin.timeline()] == ["Sent while the service is told to stop"]
    harness.stop(restarted)


def test_sigkill_then_restart_publishes_everything_exactly_once(harness):
    first = seconds_ahead(2)
    ids = [harness.add(f"Killed service post {n}", first + timedelta(seconds=n // 2)) for n in range(8)]
    harness.standin.inject("tweets", "slow", seconds=1.5, times=2)
    proc = harness.serve()
    harness.wait_for_timeline(1)
    time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    restarted = harness.serve("restart")
    harness.wait_for_timeline(8, timeout=30)
    time.sleep(1)
    texts = Counter(t["text"] for t in harness.standin.timeline())
    assert sorted(texts) == sorted(f"Killed service post {n}" for n in range(8))
    assert set(texts.values()) == {1}
    ledger = sent_by_id(harness)
    timeline_ids = {t["text"]: t["id"] for t in harness.standin.timeline()}
    for post_id in ids:
        assert ledger[post_id]["tweet_id"] == timeline_ids[ledger[post_id]["text"]]
    harness.stop(restarted)


def test_after_downtime_missed_posts_go_one_per_slot_not_in_a_burst(harness):
    # A slot every 2 seconds; the service is down for several of them.
    harness.write_config(cron=("*/2 * * * * *",), grace="10s")
    ids = [harness.add(f"Backlog post {n}") for n in range(4)]
    time.sleep(5)  # two or three slots pass with nobody running
    started = datetime.now(UTC)
    proc = harness.serve()
    harness.wait_for_timeline(4, timeout=20)
    time.sleep(0.5)
    sent = sent_by_id(harness)
    order = sorted(ids, key=lambda i: parse(sent[i]["slot_at"]))
    assert [sent[i]["text"] for i in order] == [f"Backlog post {n}" for n in range(4)]
    slots = [parse(sent[i]["slot_at"]) for i in order]
    # Only the latest missed slot is used late; the rest wait for the slots to come, one each.
    assert sum(slot < started for slot in slots) == 1
    assert all((b - a).total_seconds() == 2 for a, b in zip(slots, slots[1:])), slots
    for i in order[1:]:
        assert parse(sent[i]["sent_at"]) >= parse(sent[i]["slot_at"])
    harness.stop(proc)
