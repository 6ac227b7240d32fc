"""A real `scheduler serve` publishes to the three stand-ins and collects each post's metrics on the schedule, which
`scheduler insights --json` then shows as the stand-ins served them; a token refused on X's metric reads pauses that
account's metrics (status says so) while its next post still goes out."""

from __future__ import annotations

import json
import signal
from datetime import datetime

import pytest

from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.metrics import counts
from scheduler.standins.x import StandinX
from tests.test_accounts_service import CONFIG, Three

pytestmark = pytest.mark.slow

SPEED = 3600.0  # the stand-ins age posts an hour a second
METRICS = CONFIG.replace("[service]\n", "[metrics]\nschedule = [\"2s\", \"1d\"]\n\n[service]\nmetrics_interval = \"1s\"\n")


@pytest.fixture
def three(tmp_path):
    with StandinX() as x, StandinBluesky() as bsky, StandinMastodon() as masto:
        for standin in (x, bsky, masto):
            standin.set_metrics_speed(SPEED)
        setup = Three(tmp_path, x, bsky, masto, config=METRICS)
        yield setup
        for proc in setup.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def created(three, name: str) -> dict[str, float]:
    """Each post's id on its network -> when the stand-in made it (epoch seconds)."""
    if name == "x":
        return {p["id"]: p["created_at"].timestamp() for p in three.x.timeline()}
    if name == "bsky":
        return {k[2]: r.indexed_at.timestamp() for k, r in three.bsky._state.records.items()}
    return {s["id"]: s["created_at"].timestamp() for s in three.masto.statuses()}


def insights(three) -> dict:
    """`scheduler insights --json` of each account (the configuration's default_account is x), put together."""
    reports = [json.loads(three.cli("insights", "--account", name, "--json").stdout) for name in ("x", "bsky", "masto")]
    return {"measured_posts": sum(r["measured_posts"] for r in reports),
            "unmeasured_posts": sum(r["unmeasured_posts"] for r in reports),
            "posts": [p for r in reports for p in r["posts"]], "cost": [c for r in reports for c in r["cost"]]}


def test_serve_collects_readings_that_insights_shows(three):
    for name in ("x", "bsky", "masto"):
        three.cli("queue", "add", f"{name}: drink a glass of water before each meal.", "--now", "--account", name)
    proc = three.serve("serve")
    three.wait(lambda: all(len(texts) == 1 for texts in three.texts().values()))
    three.wait(lambda: insights(three)["measured_posts"] == 3, timeout=90)
    report = insights(three)
    assert report["unmeasured_posts"] == 0
    for post in report["posts"]:
        name = {"x": "x", "bluesky": "bsky", "mastodon": "masto"}[post["network"]]
        history = json.loads(three.cli("history", "--account", name, "--json").stdout)
        remote = next(h["tweet_id"] for h in history if h["post_id"] == post["post_id"])
        born = created(three, name)[remote]
        read_at = datetime.fromisoformat(post["read_at"]).timestamp()
        # The stand-in counted at the moment of the read, a little before read_at (the end of the call): its
        # counters, which only grow, lie between their values a couple of seconds earlier and at read_at.
        low, high = counts(remote, (read_at - born - 2) * SPEED), counts(remote, (read_at - born) * SPEED)
        assert low.likes <= post["likes"] <= high.likes, post
        assert low.reposts <= post["reposts"] <= high.reposts
        assert post["followers"] is not None
        if name == "x":
            assert low.impressions <= post["impressions"] <= high.impressions and post["rate_basis"] == "impressions"
            assert post["url_link_clicks"] is not None and post["user_profile_clicks"] is not None  # a young post
        else:
            assert post["impressions"] is None and post["rate_basis"] == "followers"
    # X billed the read: one metric read of one post, in the cost of the month.
    (cost,) = [c for c in report["cost"] if c["account"] == "x"]
    assert cost["by_kind_micro_usd"]["metric_read"] == 5_000

    # X refuses the token on metric reads from now on: that account's metrics pause, its posts still go out.
    three.x.inject("lookup", "unauthorized", times=1000)
    three.cli("queue", "add", "x: stand up and stretch every hour.", "--now", "--account", "x")
    three.wait(lambda: len(three.x.timeline()) == 2)
    three.wait(lambda: json.loads(three.cli("status", "--account", "x", "--json").stdout)["metrics"]["paused"],
               timeout=60)
    status = json.loads(three.cli("status", "--account", "x", "--json").stdout)
    assert not status["paused"] and status["sent"] == 2
    assert any("metrics are paused" in line for line in status["attention"])
    assert "PAUSED (publishing goes on)" in three.cli("status", "--account", "x").stdout
    assert not json.loads(three.cli("status", "--account", "bsky", "--json").stdout)["metrics"]["paused"]
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
    log = (three.tmp / "serve.log").read_text()
    assert "metrics of x paused (publishing goes on)" in log


def test_insights_collect_reads_what_is_due_once_by_hand(three):
    from datetime import UTC, timedelta

    from scheduler.config import load_config
    from scheduler.ledger.store import Store
    from tests.helpers_ledger import new_post

    three.x.set_metrics_speed(1.0)
    config = load_config(three.config, env=three.env).for_account("x")
    remote = three.x.seed_posts(1)[0]
    store = Store.open(config.database_url)
    sent_at = datetime.now(UTC) - timedelta(hours=2)  # its 1 h reading is due
    store.add_post(config.account, new_post("by-hand"), sent_at)
    assert store.claim("by-hand", "i", sent_at, sent_at)
    store.mark_sent("by-hand", "i", [remote], sent_at)
    store.close()
    first = json.loads(three.cli("insights", "collect", "--account", "x", "--json").stdout)
    (row,) = first["accounts"]
    assert (row["posts_read_now"], row["calls"], row["billed_usd"]) == (1, 2, "$0.01")  # followers and one read
    again = three.cli("insights", "collect", "--account", "x").stdout
    assert again.strip() == "x: nothing due"
    report = json.loads(three.cli("insights", "--account", "x", "--json").stdout)
    assert report["measured_posts"] == 1 and report["posts"][0]["impressions"] is not None
