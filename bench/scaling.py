#!/usr/bin/env python
"""Scaling benchmark (issue 22): one `scheduler serve` for many accounts, each figure beside one account's.

    .venv/bin/python bench/scaling.py [--accounts 1000] [--idle-seconds 60] [--markdown PATH] [--keep]

Rows (each measured beside its baseline in the same run, on the same machine):

- S1 idle: ``--accounts`` outbox accounts with empty queues, and one such account, served at the same time:
  CPU of a core over ``--idle-seconds`` (after 5 s settling), peak RSS, peak threads, and start-up time (from the
  process start to the last account's "service started" line).
- S2 burst: one post per account, all pinned at the same moment, through the X stand-in (in this process) with
  100 ms added to every request, each account its own X user; default ``[service] workers``: the time from the
  slot until the last is sent and the p99 lateness, both from the service's own records (its "late_s" per
  publication), beside one account's one post through the same stand-in. Every post must be on the stand-in
  once.

Targets (issue 22): idle <= 1 % of a core, <= 150 MB, <= 40 threads; burst <= 10 s.
"""

from __future__ import annotations

import argparse
import json
import os
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


def threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise RuntimeError("no Threads line")


def outbox_config(home: Path, n: int) -> Path:
    blocks = [HEAD] + [f'[[accounts]]\nname = "o{i}"\nhandle = "outbox{i}"\ncredentials_env = "OA{i}"\n'
                       for i in range(n)]
    path = home / "scheduler.toml"
    home.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def x_config(home: Path, standin, n: int, env: dict[str, str]) -> Path:
    """``n`` X accounts, each its own user on the stand-in, its credentials in its own 0600 file (as a thousand
    accounts would keep them: a process environment of thousands of variables slows every HTTP request, which
    scans it for proxy settings)."""
    blocks = [HEAD]
    home.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        account = standin.add_account(f"b{home.name[-1]}{i}")  # burst-one: be0, burst-many: by0
        secret = home / f"x{i}.secret"
        secret.write_text(f"API_KEY={standin.consumer_key}\nAPI_SECRET={standin.consumer_secret}\n"
                          f"ACCESS_TOKEN={account.access_token}\nACCESS_TOKEN_SECRET={account.access_token_secret}\n",
                          encoding="utf-8")
        secret.chmod(0o600)
        blocks.append(f'[[accounts]]\nname = "x{i}"\nhandle = "{account.username}"\ninstance = "{standin.url}"\n'
                      f'credentials_env = "XB{i}"\ncredentials_file = "{secret.name}"\n')
    path = home / "scheduler.toml"
    path.write_text("\n".join(blocks), encoding="utf-8")
    return path


def start_serve(home: Path, env: dict[str, str]) -> tuple[subprocess.Popen, Path, float]:
    log_path = home / "serve.log"
    out = open(log_path, "w")
    began = time.monotonic()
    proc = subprocess.Popen([SCHEDULER, "serve", "--log-json"], env=env, cwd=home, stdout=out, stderr=out)
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


def burst(standin, home: Path, n: int, lead: float) -> dict:
    """One post per account pinned ``lead`` seconds after they are queued; returns the service's own figures."""
    from scheduler.app.queueing import add_text  # lazy: after sys.path holds the project
    from scheduler.config import load_config  # lazy: after sys.path holds the project
    from scheduler.ledger.store import Store  # lazy: after sys.path holds the project

    env = clean_env(home)
    config_path = x_config(home, standin, n, env)
    env["SCHEDULER_CONFIG"] = str(config_path)
    config = load_config(config_path, env=env)
    store = Store.open(config.database_url)
    proc, log_path, began = start_serve(home, env)
    try:
        started = wait_started(proc, log_path, began, n)
        slot = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=lead)
        for each in config.each_account():
            add_text(store, each, f"{each.account_name}: one tip for the burst, a walk after lunch.",
                     datetime.now(UTC), at=slot)
        queued_at = datetime.now(UTC)
        if queued_at >= slot:
            raise RuntimeError(f"queueing took longer than the lead of {lead} s")
        time.sleep(max(0.0, (slot - datetime.now(UTC)).total_seconds()))
        cpu_at_slot = proc_cpu_s(proc.pid)
        deadline = time.monotonic() + lead + 600
        most = 0
        while time.monotonic() < deadline:
            most = max(most, threads(proc.pid))
            sent = [r for r in records(log_path) if r.get("outcome") == "sent"]
            if len(sent) >= n:
                break
            if proc.poll() is not None:
                raise RuntimeError(f"serve exited {proc.returncode}")
            time.sleep(0.2)
        else:
            raise RuntimeError(f"only {len(sent)} of {n} sent")
        cpu = proc_cpu_s(proc.pid) - cpu_at_slot
    finally:
        stop_process(proc)
        store.close()
    late = [r["late_s"] for r in sent]
    texts = Counter(p["text"] for p in standin.timeline())
    mine = [t for t in texts if t.startswith("x") and "burst" in t]
    return {"last": max(late), "p99": percentile(late, 99), "p50": percentile(late, 50), "startup": started,
            "sent": len(sent), "duplicates": sum(c - 1 for t, c in texts.items() if c > 1), "on_standin": len(mine),
            "spare_s": (slot - queued_at).total_seconds(), "cpu_s": cpu, "threads": most}


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

    notes = (f"{many['sent']} sent, {many['duplicates']} duplicates on the stand-in; default workers "
             f"({default_workers()} here); p50 {many['p50']:.2f} s; start-up {many['startup']:.1f} s; CPU of the "
             f"service from the slot to the last sent {many['cpu_s']:.1f} s ({many['cpu_s'] / n * 1000:.1f} ms a post); "
             f"peak threads {many['threads']}")
    return [
        Row("S2a", f"burst: {n} posts due at one slot, {n} X accounts, stand-in +100 ms: slot to last sent",
            many["last"], "s", "1 account, 1 post", one["last"], "s", "<= 10 s", many["last"] <= 10, notes=notes),
        Row("S2b", f"burst: p99 lateness of the {n} posts (the service's late_s)", many["p99"], "s",
            "1 account, 1 post", one["p99"], "s", "-", None),
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--idle-seconds", type=int, default=60)
    parser.add_argument("--only", choices=("idle", "burst"), help="run one part only")
    parser.add_argument("--markdown", help="also write the table as Markdown to this path")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (ledgers, logs)")
    args = parser.parse_args(argv)
    args.quick = False
    machine = machine_info()
    work = Path(tempfile.mkdtemp(prefix="scheduler-scaling-"))
    began = time.perf_counter()
    rows: list[Row] = []
    try:
        if args.only in (None, "idle"):
            rows += bench_idle(args, work)
        if args.only in (None, "burst"):
            rows += bench_burst(args, work)
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
