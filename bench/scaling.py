#!/usr/bin/env python
"""Scaling benchmark (issue 22): one `scheduler serve` for many accounts, each figure beside one account's.

    .venv/bin/python bench/scaling.py [--accounts 1000] [--idle-seconds 60] [--only idle,burst,replicas,wake]
        [--postgres URL] [--replicas 1,2,3] [--edits 20] [--markdown PATH] [--keep]

Rows (each measured beside its baseline in the same run, on the same machine):

- S1 idle: ``--accounts`` outbox accounts with empty queues, and one such account, served at the same time:
  CPU of a core over ``--idle-seconds`` (after 5 s settling), peak RSS, peak threads, and start-up time (from the
  process start to the last account's "service started" line).
- S2 burst: one post per account, all pinned at the same moment, through the X stand-in (in this process) with
  100 ms added to every request, each account its own X user; default ``[service] workers``: the time from the
  slot until the last is sent and the p99 lateness, both from the service's own records (its "late_s" per
  publication), beside one account's one post through the same stand-in. Every post must be on the stand-in
  once.
- S3 replicas: the S2 burst on a PostgreSQL ledger (a schema of its own in ``--postgres``'s database, dropped
  after), served by 1, 2 and 3 ``scheduler serve`` replicas started together, each with the default workers:
  throughput (posts over the time from the slot to the last sent, from the replicas' own records), beside one
  replica's; every post must be on the stand-in once and sent once in the ledger (duplicates = 0).
- S4 wake-ups: ``--edits`` posts queued, one at a time, by another process (this one, as the CLI or the
  dashboard would) into the queues of ``--accounts`` idle outbox accounts; the time from each commit until the
  service has planned that post (its own debug line "next post ID", timestamped to the millisecond): on
  PostgreSQL (LISTEN/NOTIFY) beside SQLite (the poll, every ``[service] watch_interval``, 2 s by default).

Targets (issue 22): idle <= 1 % of a core, <= 150 MB, <= 40 threads; burst <= 10 s; replicas: no duplicate.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import uuid
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
for path in (ROOT, ROOT / "bench"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

from run import (  # noqa: E402 (bench/run.py's helpers)
    SCHEDULER,
    Row,
    clean_env,
    log,
    machine_info,
    percentile,
    proc_cpu_s,
    proc_rss_mb,
    stop_process,
    text_table,
    markdown,
)

HEAD = """\
[calendar]
slots = []
series_gap = "0s"
"""

PG_URL = "postgresql://postgres@127.0.0.1:5432/test"


class PgSchema:
    """A schema of its own in the PostgreSQL database at ``url`` for one ledger, dropped at the end: ``.url``."""

    def __init__(self, url: str) -> None:
        self.admin, self.name = url, f"bench_{uuid.uuid4().hex[:12]}"
        self.url = f"{url}{'&' if '?' in url else '?'}options=-csearch_path%3D{self.name}"

    def __enter__(self) -> PgSchema:
        import psycopg  # lazy: only for the PostgreSQL rows

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{self.name}"')
        return self

    def __exit__(self, *exc) -> None:
        import psycopg  # lazy: only for the PostgreSQL rows

        with psycopg.connect(self.admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{self.name}" CASCADE')


def database(url: str) -> str:
    return f'\n[database]\nurl = "{url}"\n' if url else ""


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads line")


def outbox_config(home: Path, n: int, database_url: str = "") -> Path:
    blocks = [HEAD + database(database_url)] + [f'[[accounts]]\nname = "o{i}"\nhandle = "outbox{i}"\ncredentials_env = "OA{i}"\n'
                       for i in range(n)]
    path = home / "scheduler.toml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def x_config(home: Path, standin, n: int, database_url: str = "") -> tuple[Path, list[str]]:
    """``n`` X accounts, each its own user on the stand-in, its credentials in its own 0600 file (as a thousand
    accounts would keep them: a process environment of thousands of variables slows every HTTP request, which
    scans it for proxy settings). Returns the configuration and the stand-in's user names."""
    blocks = [HEAD + database(database_url)]
    users = []
    home.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        account = standin.add_account(f"b{home.name[-1]}{i}")  # burst-one: be0, burst-many: by0, replicas-2: b20
        users.append(account.username)
        secret = home / f"x{i}.secret"
        secret.write_text(f"API_KEY={standin.consumer_key}\nAPI_SECRET={standin.consumer_secret}\n"
                          f"ACCESS_TOKEN={account.access_token}\nACCESS_TOKEN_SECRET={account.access_token_secret}\n",
                          encoding="utf-8")
        secret.chmod(0o600)
        blocks.append(f'[[accounts]]\nname = "x{i}"\nhandle = "{account.username}"\ninstance = "{standin.url}"\n'
                      f'credentials_env = "XB{i}"\ncredentials_file = "{secret.name}"\n')
    path = home / "scheduler.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path, users


def start_serve(home: Path, env: dict[str, str], name: str = "serve",
                *args: str) -> tuple[subprocess.Popen, Path, float]:
    log_path = home / f"{name}.log"
    out = open(log_path, "w")
    began = time.monotonic()
    proc = subprocess.Popen([SCHEDULER, "serve", "--log-json", *args], env=env, cwd=home, stdout=out, stderr=out)
    return proc, log_path, began


def records(log_path: Path) -> list[dict]:
    rows = []
    for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines():
        if line.startswith("{"):
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                pass
    return rows


def wait_started(proc: subprocess.Popen, log_path: Path, began: float, n: int, timeout: float = 600) -> float:
    """Seconds from the process start until all ``n`` accounts logged "service started"."""
    while time.monotonic() - began < timeout:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited {proc.returncode}: {log_path.read_text()[-2000:]}")
        text = log_path.read_text(encoding="utf-8", errors="replace")
        if text.count('"message": "service started') >= n:
            return time.monotonic() - began
        time.sleep(0.05)
    raise RuntimeError(f"not started within {timeout} s")


def bench_idle(args, work: Path) -> list[Row]:
    n = args.accounts
    homes = {"many": work / "idle-many", "one": work / "idle-one"}
    procs = {}
    startup = {}
    for key, count in (("one", 1), ("many", n)):
        config = outbox_config(homes[key], count)
        env = clean_env(homes[key], SCHEDULER_CONFIG=str(config))
        proc, log_path, began = start_serve(homes[key], env)
        procs[key] = proc
        startup[key] = wait_started(proc, log_path, began, count)
        log(f"idle: {count} account(s) started in {startup[key]:.1f} s")
    try:
        time.sleep(5)
        cpu0 = {k: proc_cpu_s(p.pid) for k, p in procs.items()}
        t0 = time.monotonic()
        rss = {k: [] for k in procs}
        most = {k: 0 for k in procs}
        while time.monotonic() - t0 < args.idle_seconds:
            for k, p in procs.items():
                rss[k].append(proc_rss_mb(p.pid))
                most[k] = max(most[k], threads(p.pid))
            time.sleep(1)
        elapsed = time.monotonic() - t0
        cpu = {k: (proc_cpu_s(p.pid) - cpu0[k]) / elapsed * 100 for k, p in procs.items()}
    finally:
        for p in procs.values():
            stop_process(p)
    base = "1 account, same run"
    return [
        Row("S1a", f"idle CPU, {n} accounts (empty queues, outbox), {args.idle_seconds} s", cpu["many"], "% core",
            base, cpu["one"], "% core", "<= 1 %", cpu["many"] <= 1.0),
        Row("S1b", f"idle RSS (peak of 1 s samples), {n} accounts", max(rss["many"]), "MB", base, max(rss["one"]),
            "MB", "<= 150 MB", max(rss["many"]) <= 150),
        Row("S1c", f"threads (peak), {n} accounts", most["many"], "", base, most["one"], "", "<= 40",
            most["many"] <= 40),
        Row("S1d", f"start-up: process start to the last 'service started', {n} accounts", startup["many"], "s",
            base, startup["one"], "s", "-", None),
    ]


def burst(standin, home: Path, n: int, lead: float, *, replicas: int = 1, database_url: str = "") -> dict:
    """One post per account pinned ``lead`` seconds after they are queued, served by ``replicas`` services
    started together; returns the services' own figures."""
    from scheduler.app.queueing import add_text  # lazy: after sys.path holds the project
    from scheduler.config import load_config  # lazy: after sys.path holds the project
    from scheduler.ledger.store import Store  # lazy: after sys.path holds the project

    env = clean_env(home)
    config_path, users = x_config(home, standin, n, database_url)
    env["SCHEDULER_CONFIG"] = str(config_path)
    config = load_config(config_path, env=env)
    store = Store.open(config.database_url)
    procs = [start_serve(home, env, f"serve-{r}") for r in range(replicas)]
    try:
        started = max(wait_started(proc, log_path, began, n) for proc, log_path, began in procs)
        slot = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
        for each in config.each_account():
            add_text(store, each, f"{each.account_name}: one tip for the burst, a walk after lunch.",
                     datetime.now(UTC), at=slot)
        queued_at = datetime.now(UTC)
        if queued_at >= slot:
            raise RuntimeError(f"queueing took longer than the lead of {lead} s")
        time.sleep(max(0.0, (slot - datetime.now(UTC)).total_seconds()))
        cpu_at_slot = sum(proc_cpu_s(proc.pid) for proc, _, _ in procs)
        deadline = time.monotonic() + lead + 600
        most = 0
        while time.monotonic() < deadline:
            most = max(most, max(threads(proc.pid) for proc, _, _ in procs))
            sent = [r for _, log_path, _ in procs for r in records(log_path) if r.get("outcome") == "sent"]
            if len(sent) >= n:
                break
            if any(proc.poll() is not None for proc, _, _ in procs):
                raise RuntimeError("a service exited")
            time.sleep(0.2)
        else:
            raise RuntimeError(f"only {len(sent)} of {n} sent")
        time.sleep(1)  # a late second copy would show
        sent = [r for _, log_path, _ in procs for r in records(log_path) if r.get("outcome") == "sent"]
        cpu = sum(proc_cpu_s(proc.pid) for proc, _, _ in procs) - cpu_at_slot
        shares = [sum(1 for r in records(log_path) if r.get("outcome") == "sent") for _, log_path, _ in procs]
        states = ledger_states(store)
    finally:
        for proc, _, _ in procs:
            stop_process(proc)
        store.close()
    late = [r["late_s"] for r in sent]
    texts = Counter(p["text"] for user in users for p in standin.timeline(user))
    return {"last": max(late), "p99": percentile(late, 99), "p50": percentile(late, 50), "startup": started,
            "sent": len(sent), "duplicates": sum(c - 1 for c in texts.values() if c > 1) + len(sent) - n,
            "on_standin": sum(texts.values()), "spare_s": (slot - queued_at).total_seconds(), "cpu_s": cpu,
            "threads": most, "shares": shares, "ledger": states}


def ledger_states(store) -> dict[str, int]:
    """How many posts the ledger holds in each state, over all accounts."""
    import sqlalchemy as sa  # lazy: after sys.path holds the project

    from scheduler.ledger import migrations as m  # lazy: after sys.path holds the project

    with store.engine.connect() as conn:
        return dict(conn.execute(sa.select(m.posts.c.state, sa.func.count()).group_by(m.posts.c.state)).all())


def bench_burst(args, work: Path) -> list[Row]:
    from scheduler.standins.x import StandinX  # lazy: after sys.path holds the project

    n = args.accounts
    with StandinX(latency_ms=100) as standin:
        one = burst(standin, work / "burst-one", 1, lead=10)
        log(f"burst: 1 account: last sent {one['last']:.2f} s after the slot")
        lead = max(20.0, n * 0.03)  # time to queue n posts in-process, with room
        many = burst(standin, work / "burst-many", n, lead=lead)
        log(f"burst: {n} accounts: last sent {many['last']:.2f} s after the slot, p99 {many['p99']:.2f} s")
    from scheduler.config.checks import default_workers  # lazy: after sys.path holds the project

    args.burst_last = many["last"]
    notes = (f"{many['on_standin']} posts on the stand-in, {many['duplicates']} duplicates; default workers "
             f"({default_workers()} here); p50 {many['p50']:.2f} s; start-up {many['startup']:.1f} s; CPU of the "
             f"service from the slot to the last sent {many['cpu_s']:.1f} s ({many['cpu_s'] / n * 1000:.1f} ms a post); "
             f"peak threads {many['threads']}")
    return [
        Row("S2a", f"burst: {n} posts due at one slot, {n} X accounts, stand-in +100 ms: slot to last sent",
            many["last"], "s", "1 account, 1 post", one["last"], "s", "<= 10 s",
            many["last"] <= 10 and many["duplicates"] == 0 and many["on_standin"] == n, notes=notes),
        Row("S2b", f"burst: p99 lateness of the {n} posts (the service's late_s)", many["p99"], "s",
            "1 account, 1 post", one["p99"], "s", "-", None),
    ]


def bench_replicas(args, work: Path) -> list[Row]:
    from scheduler.config.checks import default_workers  # lazy: after sys.path holds the project
    from scheduler.standins.x import StandinX  # lazy: after sys.path holds the project

    n = args.accounts
    results = {}
    with StandinX(latency_ms=100) as standin:
        for count in args.replicas:
            with PgSchema(args.postgres) as schema:
                results[count] = burst(standin, work / f"replicas-{count}", n, lead=max(20.0, n * 0.05),
                                       replicas=count, database_url=schema.url)
            r = results[count]
            log(f"replicas: {count} on PostgreSQL: last sent {r['last']:.2f} s after the slot, sent per replica "
                f"{r['shares']}, {r['duplicates']} duplicates")
    rows = []
    base = results.get(1)
    for count, r in results.items():
        throughput = n / r["last"]
        notes = (f"slot to last sent {r['last']:.2f} s, p99 lateness {r['p99']:.2f} s; sent per replica "
                 f"{r['shares']}; {r['on_standin']} posts on the stand-in, {r['duplicates']} duplicates; ledger "
                 f"{r['ledger']}; {default_workers()} workers each; CPU of the replicas from the slot to the last "
                 f"sent {r['cpu_s']:.1f} s; start-up (the slowest replica) {r['startup']:.1f} s")
        if count == 1 and getattr(args, "burst_last", None):
            baseline, baseline_name = n / args.burst_last, "the same burst on SQLite, 1 service (S2a)"
        elif count == 1:
            baseline, baseline_name = None, "-"
        else:
            baseline, baseline_name = (n / base["last"] if base else None), "1 replica, same run"
        ok = r["duplicates"] == 0 and r["on_standin"] == n and r["ledger"].get("sent") == n
        rows.append(Row(f"S3{'abcdefgh'[len(rows)]}", f"burst on PostgreSQL, {count} replica(s): {n} posts / {n} X "
                        f"accounts, stand-in +100 ms: throughput", throughput, "posts/s", baseline_name, baseline,
                        "posts/s", "0 duplicates", ok, notes=notes))
    return rows


def wake_latencies(home: Path, n: int, edits: int, database_url: str) -> list[float]:
    """Seconds from each edit's commit (a post queued by this process) until the service logs that it planned
    that post, for ``edits`` edits a little apart, over ``n`` idle outbox accounts."""
    from scheduler.app.queueing import add_text  # lazy: after sys.path holds the project
    from scheduler.config import load_config  # lazy: after sys.path holds the project
    from scheduler.ledger.store import Store  # lazy: after sys.path holds the project

    config_path = outbox_config(home, n, database_url)
    env = clean_env(home, SCHEDULER_CONFIG=str(config_path))
    config = load_config(config_path, env=env)
    store = Store.open(config.database_url)
    proc, log_path, began = start_serve(home, env, "serve", "--log-level", "debug")
    rng = random.Random(22)
    latencies = []
    try:
        wait_started(proc, log_path, began, n)
        time.sleep(3)
        tomorrow = datetime.now(UTC).replace(microsecond=0) + timedelta(days=1)
        for k in range(edits):
            account = config.for_account(f"o{(k * 37) % n}")
            post = add_text(store, account, f"Edit {k}: a tip queued while the service runs.", datetime.now(UTC),
                            at=tomorrow - timedelta(minutes=k))  # each the earliest of its account: planned next
            committed = datetime.now(UTC)
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                planned = [datetime.fromisoformat(r["time"]) for r in records(log_path)
                           if r.get("message", "").startswith(f"next post {post.post_id} ")]
                if planned:
                    latencies.append((planned[0] - committed).total_seconds())
                    break
                time.sleep(0.005)
            else:
                raise RuntimeError(f"the service never planned {post.post_id}")
            time.sleep(rng.uniform(0.3, 1.2))  # the next edit at another moment of the poll's cycle
    finally:
        stop_process(proc)
        store.close()
    return latencies


def bench_wake(args, work: Path) -> list[Row]:
    n = args.accounts
    with PgSchema(args.postgres) as schema:
        pg = wake_latencies(work / "wake-pg", n, args.edits, schema.url)
    log(f"wake: PostgreSQL median {percentile(pg, 50) * 1000:.1f} ms")
    lite = wake_latencies(work / "wake-sqlite", n, args.edits, "")
    log(f"wake: SQLite median {percentile(lite, 50) * 1000:.0f} ms")

    def spread(values: list[float]) -> str:
        return (f"{len(values)} edits: p50 {percentile(values, 50) * 1000:.1f} ms, p95 "
                f"{percentile(values, 95) * 1000:.1f} ms, max {max(values) * 1000:.1f} ms")

    return [
        Row("S4a", f"edit-to-wake, PostgreSQL (LISTEN/NOTIFY), {n} idle accounts: median", percentile(pg, 50) * 1000,
            "ms", "SQLite, its poll (S4b)", percentile(lite, 50) * 1000, "ms", "-", None,
            notes=f"{spread(pg)}; from the edit's commit to the service's own (millisecond) log line planning the "
                  "post; the watch then reads every revision only every 30 s, a safety net"),
        Row("S4b", f"edit-to-wake, SQLite (poll every watch_interval, 2 s), {n} idle accounts: median",
            percentile(lite, 50) * 1000, "ms", "half the poll interval", 1000.0, "ms", "-", None,
            notes=f"{spread(lite)}; the edits fall at random moments of the poll's cycle"),
    ]


def parts(value: str) -> list[str]:
    chosen = value.split(",")
    unknown = set(chosen) - {"idle", "burst", "replicas", "wake"}
    if unknown:
        raise argparse.ArgumentTypeError(f"unknown part(s): {', '.join(sorted(unknown))}")
    return chosen


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=int, default=60)
    parser.add_argument("--only", type=parts, help="the parts to run, comma-separated: idle, burst, replicas, wake "
                        "(default: all)")
    parser.add_argument("--postgres", default=PG_URL, help="PostgreSQL database for S3 and S4 (a schema of its own "
                        "is made and dropped)")
    parser.add_argument("--replicas", default="1,2,3", type=lambda v: [int(c) for c in v.split(",")],
                        help="replica counts for S3")
    parser.add_argument("--edits", type=int, default=20, help="edits timed for S4")
    parser.add_argument("--markdown", help="also write the table as Markdown to this path")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (ledgers, logs)")
    args = parser.parse_args(argv)
    args.quick = False
    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="scheduler-scaling-"))
    began = time.perf_counter()
    rows: list[Row] = []
    try:
        if args.only is None or "idle" in args.only:
            rows += bench_idle(args, work)
        if args.only is None or "burst" in args.only:
            rows += bench_burst(args, work)
        if args.only is None or "replicas" in args.only:
            rows += bench_replicas(args, work)
        if args.only is None or "wake" in args.only:
            rows += bench_wake(args, work)
    finally:
        if args.keep:
            log(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    total = time.perf_counter() - began
    machine["load_average_at_end"] = os.getloadavg()[0]
    print(text_table(rows))
    for row in rows:
        if row.notes:
            print(f"{row.id}: {row.notes}")
    if args.markdown:
        Path(args.markdown).write_text(markdown(rows, machine, args, total))
    return 0


if __name__ == "__main__":
    sys.exit(main())
