"""Issue 22, part A: one `scheduler serve` for many accounts, with one timer and a bounded pool of workers.

- 50 accounts (X, Bluesky and Mastodon accounts on their stand-ins, and outbox accounts) on one SQLite ledger, the
  networks drawing random faults, the service SIGKILLed at random moments and restarted: every post goes out
  exactly once, and each account's ledger is its own timeline on its network (or its outbox file).
- One account whose network hangs occupies one worker: the other accounts' posts go out on time, judged by the
  service's own records (its "late_s" per publication).
- The threads of a real `serve` do not grow with the accounts (200 outbox accounts).
"""

from __future__ import annotations

import random
import re
import signal
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from scheduler.standins.bluesky import StandinBluesky
from scheduler.standins.mastodon import StandinMastodon
from scheduler.standins.x import StandinX
from scheduler.standins.x.faults import FAULT_KINDS as X_FAULT_KINDS
from tests.many_accounts import KINDS, Many, tip

pytestmark = pytest.mark.slow


@pytest.fixture
def standins():
    with StandinX() as x, StandinBluesky() as bsky, StandinMastodon() as masto:
        yield x, bsky, masto


def test_fifty_accounts_every_post_exactly_once_through_faults_and_sigkills(tmp_path, standins):
    x, bsky, masto = standins
    many = Many(tmp_path, x=x, bsky=bsky, masto=masto, counts={"x": 10, "bsky": 10, "masto": 10, "outbox": 20},
                workers=8)
    try:
        rng = random.Random(2026_22)
        names = list(many.networks)
        assert len(names) == 50
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
        posts = {name: [tip(name, n) for n in range(3)] for name in names}
        for name, texts in posts.items():
            for text in texts:
                many.add(name, text, start + timedelta(seconds=rng.randint(0, 15)))
        for standin in (x, bsky, masto):
            kinds = [k for k in KINDS if k in (X_FAULT_KINDS if standin is x else standin.fault_kinds)]
            standin.set_fault_rate(0.3, kinds=kinds, seed=rng.randrange(2**32), seconds=1.5, reset_in=2.0)

        def creates() -> int:
            return (x.requests_received("tweets") + bsky.requests_received("createRecord")
                    + masto.requests_received("statuses"))

        for n in range(3):
            proc = many.serve(f"killed-{n}")
            before = creates()
            deadline = time.monotonic() + 20
            while creates() == before and time.monotonic() < deadline:
                time.sleep(0.02)
            time.sleep(rng.uniform(0.2, 2.0))
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
            assert proc.returncode == -signal.SIGKILL, f"service {n} exited by itself: {proc.returncode}"

        final = many.serve("final")
        many.wait(lambda: all(state == "sent" for rows in many.ledger().values() for _, state, _ in rows),
                  timeout=240, what="every post sent")
        time.sleep(2)  # no late second copy turns up
        final.send_signal(signal.SIGTERM)
        final.wait(20)
        assert final.returncode == 0
        for standin in (x, bsky, masto):
            standin.clear_faults()

        ledger = many.ledger()
        for name in names:
            held = many.on_network(name)
            texts = Counter(text for text, _ in held)
            assert [t for t, c in texts.items() if c > 1] == [], f"{name}: posted twice"
            assert sorted(texts) == sorted(posts[name]), f"{name}: missing or foreign posts"
            # The ledger's sent posts are the account's own timeline, post for post and id for id.
            assert sorted((text, tid) for text, state, tid in ledger[name]) == sorted(held), name
        recovered = sum((tmp_path / f"{p}.log").read_text().count("left mid-send")
                        for p in ("killed-0", "killed-1", "killed-2", "final"))
        faulted = sum(1 for s in (x, bsky, masto) for e in s.request_log() if e["status"] not in (200, 201))
        print(f"many accounts: {recovered} recoveries of posts left mid-send, {faulted} faulty answers")
        assert faulted, "no fault was ever drawn"
    finally:
        many.kill_all()


def test_one_accounts_hanging_network_leaves_the_others_on_time(tmp_path, standins):
    """Account "stuck" is on an X stand-in that answers after 20 s (its timeout is 30 s): its worker waits in the
    call. The 20 other accounts' posts, due while it hangs, go out on time, by the service's own records."""
    x, _bsky, _masto = standins
    with StandinX(latency_ms=20_000) as slow:
        many = Many(tmp_path, x=x, counts={"x": 10, "outbox": 10}, timeout="30s", workers=4,
                    extra_x={"stuck": slow})
        try:
            start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
            many.add("stuck", tip("stuck", 0), start)
            many.add("stuck", tip("stuck", 1), start + timedelta(seconds=1))
            others = [name for name in many.networks if name != "stuck"]
            for n, name in enumerate(others):
                many.add(name, tip(name, 0), start + timedelta(seconds=2 + n % 5))
                many.add(name, tip(name, 1), start + timedelta(seconds=8 + n % 5))
            proc = many.serve("serve")
            many.wait(lambda: all(len(many.on_network(name)) == 2 for name in others), timeout=90,
                      what="the other accounts' posts")
            # The stuck account has sent nothing yet: its one call is still waiting when all the others are out.
            assert many.on_network("stuck") == []
            records = [r for r in many.log_records("serve") if r.get("outcome")]
            late = {(r["account"], r["post_id"]): r["late_s"] for r in records if r.get("outcome") == "sent"}
            assert len(late) == 2 * len(others), records
            assert all(account != "stuck" for account, _ in late)
            # On time: within a few seconds of the slot (generous on a busy machine), while the stuck call lasts 20 s.
            assert max(late.values()) < 5.0, sorted(late.items(), key=lambda kv: -kv[1])[:5]
            # Its posts still go out, in order, once the network answers.
            many.wait(lambda: len(many.on_network("stuck")) == 2, timeout=90, what="the stuck account's posts")
            assert [t for t, _ in many.on_network("stuck")] in ([tip("stuck", 0), tip("stuck", 1)],
                                                                 [tip("stuck", 1), tip("stuck", 0)])
            proc.send_signal(signal.SIGTERM)
            proc.wait(20)
        finally:
            many.kill_all()


def threads_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^Threads:\s+(\d+)", status, re.M).group(1))


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads /proc")
def test_threads_do_not_grow_with_the_accounts(tmp_path):
    """200 outbox accounts, some with posts due now: the service's threads stay bounded by its workers plus a
    fixed few, far below one per account."""
    many = Many(tmp_path, counts={"outbox": 200}, workers=8)
    try:
        start = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=5)
        for n in range(0, 200, 4):
            many.add(f"o{n}", tip(f"o{n}", 0), start)
        proc = many.serve("serve")
        most = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise AssertionError((tmp_path / "serve.log").read_text()[-3000:])
            most = max(most, threads_of(proc.pid))
            if all(len(many.on_network(f"o{n}")) == 1 for n in range(0, 200, 4)):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("the posts did not go out")
        most = max(most, threads_of(proc.pid))
        records = many.log_records("serve")
        assert sum(1 for r in records if r.get("message", "").startswith("service started")) == 200
        # 8 workers, the timer, the periodic jobs' few threads, the feed thread and the main thread.
        assert most <= 8 + 10, most
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
        assert proc.returncode == 0
    finally:
        many.kill_all()
