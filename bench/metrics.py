#!/usr/bin/env python
"""Row 8 of bench/run.py: collecting metrics (issue 21). Run alone: ``.venv/bin/python bench/run.py --only 8``.

- 8a: one reading of each of 10,000 sent X posts (quick: 2,000), by ``publishing/collect.collect_round`` (what the
  service's job and `scheduler insights collect` run) through the real XPublisher (tweepy) to the X stand-in in a
  subprocess with 50 ms added to every request, into a SQLite ledger; wall time, beside bare tweepy
  ``get_tweets`` calls over the same ids, 100 a call (the floor: the network alone).
- 8b: the calls it made (the stand-in's request log), beside the fewest possible (one per 100 ids, and the
  followers read).
- 8c: what X billed for it (the ledger's ``metric_read`` calls), beside what the stand-in counted as billed
  (every post a read returned, at $0.005).
- 8d: on-time publication with collection running: a real `scheduler serve` publishing 200 posts pinned 1 s apart
  (quick: 30) as row 4 does, on a ledger that also holds 10,000 sent posts all due for a reading, with each metric
  read slowed so the reads span the publishing run (one read of 100 every ~2 s, each followed by its write of 100
  readings); p99 lateness beside the same run with ``[metrics] enabled = false``.
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from run import (  # noqa: E402 (bench/run.py's helpers)
    PUBLISH_CONFIG,
    SCHEDULER,
    Row,
    bare_tweepy_client,
    clean_env,
    fmt,
    log,
    median,
    percentile,
    standin_get,
    standin_process,
    stop_process,
    write_config,
    x_env,
)

METRICS_CONFIG = PUBLISH_CONFIG + """
    [metrics]
    enabled = {enabled}
    schedule = ["1h", "24h", "7d", "30d"]

    [service]
    metrics_interval = "1s"
"""


def standin_post(url: str, action: str, body: dict) -> dict:
    request = urllib.request.Request(f"{url}/_standin/{action}", data=json.dumps(body).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
    with urllib.request.urlopen(request, timeout=120) as response:
        return json.loads(response.read())


def seed_ledger(store, account: str, ids: list[str], sent_at: datetime) -> None:
    """``ids`` as sent posts of ``account`` (one part each), sent at ``sent_at``, in one transaction."""
    from scheduler.ledger import migrations as m  # lazy: after sys.path holds the project

    rows = [{"post_id": f"hist-{n:05d}", "account": account, "kind": "adhoc", "variant": 0, "text": f"seeded post {n}",
             "parts": [f"seeded post {n}"], "media": [], "weighted_length": 14, "fingerprint": f"f{n}",
             "state": "sent", "position": float(n), "attempts": 1, "uncertain": False, "part_ids": [remote],
             "tweet_id": remote, "sent_at": sent_at, "created_at": sent_at, "updated_at": sent_at}
            for n, remote in enumerate(ids)]
    with store.engine.begin() as conn:
        conn.execute(m.posts.insert(), rows)


def bench_collect(args, work: Path) -> list[Row]:
    from scheduler.config import load_config  # lazy: after sys.path holds the project
    from scheduler.domain.pricing import dollars  # lazy: after sys.path holds the project
    from scheduler.ledger.store import Store  # lazy: after sys.path holds the project
    from scheduler.networks.factory import make_publisher  # lazy: after sys.path holds the project
    from scheduler.publishing.collect import collect_round  # lazy: after sys.path holds the project

    n = 2000 if args.quick else 10_000
    with standin_process(50, work) as sx:
        ids = standin_post(sx["url"], "seed", {"count": n})["ids"]
        config_path = write_config(work / "collect.toml", METRICS_CONFIG.format(handle="tipbot", enabled="true"))
        env = clean_env(work / "collect-home", SCHEDULER_CONFIG=str(config_path), **x_env(sx))
        config = load_config(config_path, env=env)
        store = Store.open(config.database_url)
        seed_ledger(store, config.account, ids, datetime.now(UTC) - timedelta(hours=2))
        log(f"row 8: collecting {n:,} posts' metrics (stand-in +50 ms)")
        before = standin_get(sx["url"], "stats")
        os.environ["SCHEDULER_X_API_URL"] = sx["url"]  # in this process, as `scheduler serve` would have it
        try:
            publisher = make_publisher(config, clock=lambda: datetime.now(UTC), env=env)
            began = time.perf_counter()
            report = collect_round(store, [config], "bench", lambda: datetime.now(UTC), publisher=lambda c: publisher)
            seconds = time.perf_counter() - began
            publisher.close()
        finally:
            del os.environ["SCHEDULER_X_API_URL"]
        after = standin_get(sx["url"], "stats")
        calls = sum(after["by_endpoint"][e] - before["by_endpoint"][e] for e in ("lookup", "me"))
        calls_billed = store.billed_calls(account=config.account)
        # The posts read, against what the stand-in billed for them; the followers read (user_read) apart.
        billed = sum(b.price_micro_usd for b in calls_billed if b.kind == "metric_read")
        units = sum(b.units for b in calls_billed if b.kind == "metric_read")
        user_billed = sum(b.price_micro_usd for b in calls_billed if b.kind != "metric_read")
        read = store.metric_counts(config.account)["posts_read"]
        store.close()
        client = bare_tweepy_client(sx)
        bare = []
        for _ in range(3):
            start = time.perf_counter()
            for i in range(0, n, 100):
                client.get_tweets(ids[i:i + 100], tweet_fields=["public_metrics"], user_auth=True)
            bare.append(time.perf_counter() - start)
        client.session.close()
        standin_billed = after["reads_billed"] - before["reads_billed"]
    floor = math.ceil(n / 100) + 1
    (done,) = report.accounts
    note = (f"{read:,} of {n:,} posts read in one round ({done.posts:,} reported); ledger: one transaction per 100 "
            f"readings; the stand-in billed {standin_billed:,} posts, the ledger {units:,} posts read "
            f"({dollars(billed)}) and the followers read ({dollars(user_billed)}); bare: median of 3")
    return [
        Row("8a", f"metric collection: one reading of {n:,} sent X posts (collect_round, stand-in +50 ms)", seconds,
            "s", "bare tweepy get_tweets, 100 ids a call, same stand-in", median(bare), "s", "-", None, notes=note),
        Row("8b", f"metric collection: calls to X for {n:,} posts", calls, "", "fewest possible (100 ids a call "
            "+ the followers read)", floor, "", "fewest possible", calls == floor),
        Row("8c", f"metric collection: billed by X for {n:,} posts (ledger)", billed / 1e6, "$",
            "what the stand-in billed ($0.005 a post returned)", standin_billed * 0.005, "$", "equal",
            abs(billed / 1e6 - standin_billed * 0.005) < 1e-9),
    ]


def on_time_run(work: Path, name: str, *, pins: int, history: int, collect: bool) -> dict:
    """One `scheduler serve` publishing ``pins`` posts 1 s apart, on a ledger holding ``history`` sent posts all due
    for a reading (read during the run when ``collect``)."""
    import sqlalchemy as sa  # lazy: after sys.path holds the project

    from scheduler.config import load_config  # lazy: after sys.path holds the project
    from scheduler.ledger import migrations as m  # lazy: after sys.path holds the project
    from scheduler.ledger.store import NewPost, Store  # lazy: after sys.path holds the project

    home, cwd = work / f"{name}-home", work / f"{name}-cwd"
    cwd.mkdir()
    with standin_process(50, work) as sx:
        ids = standin_post(sx["url"], "seed", {"count": history})["ids"]
        # Each read of 100 takes as long as the run divided among the reads: collection spans the whole run.
        slow = pins / (history / 100 + 1)
        standin_post(sx["url"], "fault_rate", {"p": 1.0, "kinds": ["slow"], "endpoints": ["lookup"], "seconds": slow})
        config_path = write_config(work / f"{name}.toml", METRICS_CONFIG.format(handle="tipbot",
                                                                                enabled=str(collect).lower()))
        env = clean_env(home, SCHEDULER_CONFIG=str(config_path), **x_env(sx))
        config = load_config(config_path, env=env)
        store = Store.open(config.database_url)
        seed_ledger(store, config.account, ids, datetime.now(UTC) - timedelta(hours=2))
        base = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
        for i in range(pins):
            text = f"On-time post {i} of {pins} with collection {'on' if collect else 'off'} ({time.time_ns()})"
            store.add_post(config.account, NewPost(post_id=f"ontime-{i:04d}", kind="adhoc", text=text, parts=(text,),
                                                   weighted_length=len(text), pinned_at=base + timedelta(seconds=i)),
                           datetime.now(UTC))
        log_file = open(work / f"{name}-serve.log", "w")
        serve = subprocess.Popen([SCHEDULER, "serve"], env=env, cwd=cwd, stdout=log_file, stderr=log_file)
        try:
            deadline = time.monotonic() + (base - datetime.now(UTC)).total_seconds() + pins + 120
            while time.monotonic() < deadline:
                counts = store.counts(config.account)
                if counts.get("sent", 0) >= history + pins or serve.poll() is not None:
                    break
                time.sleep(0.5)
            read_during = store.metric_counts(config.account)["posts_read"]
        finally:
            code = stop_process(serve)
            log_file.close()
        with store.engine.connect() as conn:
            posts = conn.execute(sa.select(m.posts.c.state, m.posts.c.pinned_at, m.posts.c.sent_at)
                                 .where(m.posts.c.post_id.like("ontime-%"))).all()
        store.close()
    late = [(p.sent_at - p.pinned_at).total_seconds() * 1000 for p in posts if p.state == "sent"]
    return {"late": late, "sent": len(late), "read": read_during, "code": code, "slow_s": slow}


def bench_on_time_collecting(args, work: Path) -> list[Row]:
    pins = 30 if args.quick else 200
    history = 2000 if args.quick else 10_000
    log(f"row 8d: {pins} pins 1 s apart without collection")
    off = on_time_run(work, "ontime-off", pins=pins, history=history, collect=False)
    log(f"row 8d: {pins} pins 1 s apart with {history:,} posts' metrics read meanwhile")
    on = on_time_run(work, "ontime-on", pins=pins, history=history, collect=True)
    p99_on, p99_off = percentile(on["late"], 99), percentile(off["late"], 99)
    ok = on["sent"] == pins and off["sent"] == pins and p99_on is not None and p99_on < 1000
    note = (f"with collection: p50 {fmt(percentile(on['late'], 50), 'ms')}, max {fmt(max(on['late'], default=None), 'ms')}, "
            f"{on['read']:,} of {history:,} posts read during the run (each read of 100 slowed to "
            f"{on['slow_s']:.2f} s so the reads span it), exit code {on['code']}; without: p50 "
            f"{fmt(percentile(off['late'], 50), 'ms')}, max {fmt(max(off['late'], default=None), 'ms')}, "
            f"{off['read']} read, exit code {off['code']}; {on['sent']}/{pins} and {off['sent']}/{pins} sent; "
            "lateness = sent_at - pinned_at, from the ledger")
    return [Row("8d", f"on-time publication with metric collection running: p99 lateness, {pins} pins 1 s apart, "
                f"{history:,} posts read meanwhile", p99_on, "ms", "same run, [metrics] enabled = false", p99_off,
                "ms", "p99 < 1,000 ms (row 4's)", ok, ratio_meaning="x the run without collection", notes=note,
                extra={"late_on_ms": on["late"], "late_off_ms": off["late"]})]


def bench_metrics(args, work: Path) -> list[Row]:
    return bench_collect(args, work) + bench_on_time_collecting(args, work)
