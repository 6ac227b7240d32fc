"""`scheduler demo`: the whole pipeline in half a minute, with no credentials.

It uses a data directory of its own (default ./demo-data) and a demo calendar with a slot
every few seconds, imports the posts/ library, shows the preview, then runs the real service
until the queue is empty, publishing into the local outbox, and prints the ledger's history.
With ``--web PORT`` it runs the service with the dashboard instead, until stopped.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import click

from scheduler.cli.base import cli

DEMO_CONFIG = """\
# Written by `scheduler demo`: a slot every {every} seconds so you can watch posts go out.
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = []
cron = ["{cron}"]
series_gap = "0s"
grace = "15m"

[quota]
daily = 0
monthly = 0

[compose]
posts = "{posts}"

[publisher]
kind = "outbox"
"""


def demo_cron(every: int) -> str:
    """A cron line (seconds first) with a slot every ``every`` seconds. Its seconds field stops at 59, so from a
    minute on it counts whole minutes (``every`` rounded down), and from an hour on, hours."""
    if every < 60:
        return f"*/{every} * * * * *"
    if every < 3600:
        return f"0 */{every // 60} * * * *"
    return "0 0 * * * *"


def run_demo(*, home: Path, every: int, web_port: int | None = None) -> int:
    """The demo. With ``web_port``: import and preview, then run the service and the dashboard together on
    127.0.0.1 until Ctrl-C (SIGINT) or SIGTERM, so the posts can be seen, edited and moved before they go out."""
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    posts = Path("posts").resolve()
    config = home / "scheduler.toml"
    config.write_text(DEMO_CONFIG.format(every=every, cron=demo_cron(every), posts=posts.as_posix()),
                      encoding="utf-8")
    env = {**os.environ, "SCHEDULER_HOME": str(home), "SCHEDULER_CONFIG": str(config)}
    env.pop("SCHEDULER_DATABASE_URL", None)
    steps = [
        ("Importing the content library (posts/)", ["import"]),
        ("The upcoming posts, exactly as they will be sent", ["preview", "--count", "10"]),
    ]
    if web_port is None:
        steps += [
            (f"Running the service until the queue is empty (outbox: {home / 'outbox.jsonl'})",
             ["serve", "--until-empty"]),
            ("What was sent", ["history"]),
            ("Status", ["status"]),
        ]
    for title, args in steps:
        print(f"\n== {title}\n$ scheduler {' '.join(args)}", flush=True)
        code = subprocess.call([sys.executable, "-m", "scheduler", *args], env=env)
        if code != 0:
            print(f"demo stopped: `scheduler {' '.join(args)}` exited with {code}", file=sys.stderr)
            return code
    if web_port is not None:
        return _serve_with_dashboard(env, home, web_port, every)
    print(f"\nDone. The ledger and outbox are in {home}; delete it to run the demo afresh.")
    return 0


def _serve_with_dashboard(env: dict[str, str], home: Path, port: int, every: int) -> int:
    """Run ``scheduler serve --web`` in the foreground; Ctrl-C or SIGTERM stops it (and the demo) cleanly."""
    import signal

    print(f"\n== The service and the dashboard: open http://127.0.0.1:{port}/ (Ctrl-C stops)\n"
          f"A post goes out every {every} s into {home / 'outbox.jsonl'}: edit or move one on the Queue page "
          f"before its slot, and watch the calendar mark it sent.\n$ scheduler serve --web 127.0.0.1:{port}",
          flush=True)
    proc = subprocess.Popen([sys.executable, "-m", "scheduler", "serve", "--web", f"127.0.0.1:{port}"], env=env)

    def forward(signum, _frame) -> None:
        proc.send_signal(signal.SIGTERM)  # the service's own clean stop, whichever signal the demo got

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, forward)
    code = proc.wait()
    print(f"\nStopped. The ledger and outbox are in {home}; delete it to run the demo afresh.")
    return code


@cli.command()
@click.option("--every", type=click.IntRange(1, 3600),
              help="Seconds between demo slots (default 5; 60 with --web, time to edit a post before it goes).")
@click.option("--home", type=click.Path(file_okay=False, path_type=Path), default=Path("demo-data"), show_default=True,
              help="Data directory for the demo (kept apart from your real ledger).")
@click.option("--web", "web_port", type=click.IntRange(1, 65535), metavar="PORT",
              help="Run the service with the dashboard on 127.0.0.1:PORT until Ctrl-C, instead of until the queue "
                   "is empty.")
def demo(every, home, web_port):
    """Import posts/, preview, then publish them into a local outbox on a fast demo calendar."""
    sys.exit(run_demo(home=home, every=every or (60 if web_port else 5), web_port=web_port))
