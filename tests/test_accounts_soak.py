"""The soak of issue 14: three accounts (X, Bluesky, Mastodon) on one SQLite ledger, one `scheduler serve`
SIGKILLed at random moments and restarted while every stand-in draws random faults on its create endpoint;
then the faults stop and the service runs until everything is out. Each network must hold every post
exactly once, and the ledger's sent posts must be each stand-in's timeline."""

from __future__ import annotations

import json
import random
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

import pytest

from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.x.faults import FAULT_KINDS as X_FAULT_KINDS
from scheduler.standins.x import StandinX
from tests.test_accounts_service import CONFIG, Three

pytestmark = pytest.mark.slow

# Short timings so a lost answer is settled within seconds: a "slow" reply (SLOW_S) outlasts the client's
# timeout, so the post is created after the client gave up; the reconcile delay outlasts the slow reply.
SOAK_CONFIG = CONFIG.replace(
    """[publisher]
kind = "x"
timeout = "2s"
backoff = "1s"
reconcile_delay = "1s"
""",
    """[publisher]
kind = "x"
timeout = "1s"
backoff = "1s"
backoff_max = "2s"
max_attempts = 50
rate_limit_max_wait = "5s"
reconcile_delay = "3s"
""",
)
SLOW_S = 1.5
RATE_LIMIT_RESET_S = 2.0

# Every kind of trouble a create can meet, where the stand-in has it: 5xx before and after the post is made,
# connections dropped or reset before and after, 429 with a reset soon, replies slower than the timeout.
KINDS = ("server_error", "bad_gateway", "unavailable", "gateway_timeout", "drop", "slow", "rate_limited",
         "create_then_drop", "create_then_reset", "create_then_server_error", "create_then_bad_gateway",
         "create_then_unavailable", "create_then_gateway_timeout")
FAULT_RATE = 0.5
POSTS_PER_ACCOUNT = 8
ACCOUNTS = ("x", "bsky", "masto")


def soak_text(account: str, n: int) -> str:
    """What our posts carry: a link with a query, and the & and < that every network escapes its own way."""
    return f"{account} tip {n}: ice < heat & rest, then walk https://example.com/{account}/{n}?a=1&b=2"


@pytest.fixture
def three(tmp_path):
    with StandinX() as x, StandinBluesky() as bsky, StandinMastodon() as masto:
        setup = Three(tmp_path, x, bsky, masto, config=SOAK_CONFIG)
        yield setup
        for proc in setup.procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()


def linked_text(record: dict) -> str:
    """A Bluesky post's text with each link facet's span put back as its full URL (Bluesky shows a link
    without its scheme and the facet keeps the URL), over UTF-8 byte offsets as the facets count them."""
    data = record["text"].encode("utf-8")
    links = sorted(((f["index"]["byteStart"], f["index"]["byteEnd"], feature["uri"])
                    for f in record.get("facets") or () for feature in f["features"]
                    if feature["$type"] == "app.bsky.richtext.facet#link"), reverse=True)
    for start, end, uri in links:
        data = data[:start] + uri.encode("utf-8") + data[end:]
    return data.decode("utf-8")


def on_network(three: Three) -> dict[str, list[dict]]:
    """Each stand-in's timeline as (text, id) rows; the id is what the ledger keeps for the post."""
    return {
        "x": [{"text": p["text"], "id": p["id"]} for p in three.x.timeline()],
        "bsky": [{"text": linked_text(p), "id": p["rkey"]} for p in three.bsky.posts()],
        "masto": [{"text": s["text"], "id": s["id"]} for s in three.masto.statuses()],
    }


def creates_received(three: Three) -> int:
    return (three.x.request_count("tweets") + three.bsky.requests_received("createRecord")
            + three.masto.requests_received("statuses"))


def ledger(three: Three, account: str) -> list[dict]:
    rows = json.loads(three.cli("history", "--account", account, "--limit", "1000", "--json").stdout)
    assert all(row["account"] == account for row in rows)
    return rows


def test_three_accounts_survive_random_faults_and_repeated_sigkills(three):
    rng = random.Random(20260314)
    posts = {name: [soak_text(name, n) for n in range(POSTS_PER_ACCOUNT)] for name in ACCOUNTS}
    # Pinned over a short window, the accounts interleaved; those already past when the service starts go
    # out at once (well within the grace). On a busy machine the adds themselves may outlast the window: a pin
    # already past when it is added is pinned to that moment instead (a pin over a minute past is refused).
    start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    for name, texts in posts.items():
        for text in texts:
            at = max(start + timedelta(seconds=rng.randint(0, 12)), datetime.now(UTC).replace(microsecond=0))
            three.cli("queue", "add", text, "--at", at.isoformat(), "--account", name)

    for n, standin in enumerate((three.x, three.bsky, three.masto)):
        kinds = [k for k in KINDS if k in (X_FAULT_KINDS if standin is three.x else standin.fault_kinds)]
        standin.set_fault_rate(FAULT_RATE, kinds=kinds, seed=rng.randrange(2**32), seconds=SLOW_S,
                               reset_in=RATE_LIMIT_RESET_S)

    kills = rng.randint(4, 6)
    for n in range(kills):
        proc = three.serve(f"killed-{n}")
        # Killed at a random moment soon after it starts a create somewhere (or after a while without one).
        creates = creates_received(three)
        deadline = time.monotonic() + 6
        while creates_received(three) == creates and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert proc.returncode == -signal.SIGKILL, f"service {n} exited by itself: {proc.returncode}"
    before_final = {name: len(rows) for name, rows in on_network(three).items()}

    # The last service runs under the same faults until everything is out: each stand-in's seeded draws
    # then certainly meet every network's creates, however far the killed services got.
    final = three.serve("final")
    three.wait(lambda: all(len(on_network(three)[n]) >= len(posts[n]) for n in ACCOUNTS), timeout=180)
    # Nothing is pending in the ledger any more, and no late second copy turns up.
    deadline = time.monotonic() + 60
    while any(row["state"] != "sent" for name in ACCOUNTS for row in ledger(three, name)):
        assert time.monotonic() < deadline, {n: [(r["state"], r["text"]) for r in ledger(three, n)] for n in ACCOUNTS}
        time.sleep(0.5)
    time.sleep(2)
    final.send_signal(signal.SIGTERM)
    final.wait(15)
    for standin in (three.x, three.bsky, three.masto):
        standin.clear_faults()

    timelines = on_network(three)
    for name in ACCOUNTS:
        texts = Counter(row["text"] for row in timelines[name])
        assert [t for t, c in texts.items() if c > 1] == [], f"{name}: posted twice"
        assert sorted(texts) == sorted(posts[name]), f"{name}: missing or foreign posts"
        rows = ledger(three, name)
        assert sorted(row["state"] for row in rows) == ["sent"] * POSTS_PER_ACCOUNT, name  # nothing left sending
        # The ledger's sent posts are the stand-in's timeline, post for post and id for id.
        assert sorted((r["text"], r["tweet_id"]) for r in rows) == sorted((t["text"], t["id"]) for t in timelines[name])
    # The faults really happened on every network, before and after a post was made.
    faulted = {name: Counter(e["status"] for e in standin.request_log() if e["endpoint"] == endpoint)
               for name, standin, endpoint in (("x", three.x, "tweets"), ("bsky", three.bsky, "createRecord"),
                                               ("masto", three.masto, "statuses"))}
    print(f"soak: {kills} kills; on the networks before the final run: {before_final}; create answers: {faulted}")
    recovered = sum(three.tmp.joinpath(f"killed-{n}.log").read_text().count("left mid-send") for n in range(kills))
    recovered += three.tmp.joinpath("final.log").read_text().count("left mid-send")
    print(f"soak: recoveries of posts left mid-send: {recovered}")
    assert recovered >= 1, "no kill ever interrupted a send"
    for name, statuses in faulted.items():
        assert set(statuses) - {200, 201}, f"{name}: no create met a fault"
