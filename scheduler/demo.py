"""`scheduler demo`: the whole pipeline in half a minute, with no credentials.

It uses a data directory of its own (default ./demo-data) and a demo calendar with a slot
every few seconds, imports the posts/ library, shows the preview, then runs the real service
until the queue is empty, publishing into the local outbox, and prints the ledger's history.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DEMO_CONFIG = """\
# Written by `scheduler demo`: a slot every {every} seconds so you can watch posts go out.
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[calendar]
slots = []
cron = ["*/{every} * * * * *"]
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


def run_demo(*, home: Path, every: int) -> int:
    home = home.resolve()
    home.mkdir(parents=True, exist_ok=True)
    posts = Path("posts").resolve()
    config = home / "scheduler.toml"
    config.write_text(DEMO_CONFIG.format(every=every, posts=posts.as_posix()), encoding="utf-8")
    env = {**os.environ, "SCHEDULER_HOME": str(home), "SCHEDULER_CONFIG": str(config)}
    env.pop("SCHEDULER_DATABASE_URL", None)
    steps = [
        ("Importing the content library (posts/)", ["import"]),
        ("The upcoming posts, exactly as they will be sent", ["preview", "--count", "10"]),
        (f"Running the service until the queue is empty (outbox: {home / 'outbox.jsonl'})", ["serve", "--until-empty"]),
        ("What was sent", ["history"]),
        ("Status", ["status"]),
    ]
    for title, args in steps:
        print(f"\n== {title}\n$ scheduler {' '.join(args)}", flush=True)
        code = subprocess.call([sys.executable, "-m", "scheduler", *args], env=env)
        if code != 0:
            print(f"demo stopped: `scheduler {' '.join(args)}` exited with {code}", file=sys.stderr)
            return code
    print(f"\nDone. The ledger and outbox are in {home}; delete it to run the demo afresh.")
    return 0
