"""A real publishing process for the exactly-once tests: run with ``python -m tests.publish_driver``.

    python -m tests.publish_driver LEDGER_URL STANDIN_URL INSTANCE MODE [POST_ID ...]

MODE ``list``: claim and publish each POST_ID once, in order, and print one JSON line per outcome.
MODE ``drain``: recover() posts left by dead publishers, then publish every pending post in queue
order (waiting for retry times) until none is pending; exit 0.

Credentials come from X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN, X_ACCESS_TOKEN_SECRET. Timing comes
from DRIVER_READ_TIMEOUT, DRIVER_BACKOFF, DRIVER_RECONCILE_DELAY (seconds). Real clock, real time.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from datetime import datetime, timedelta, timezone

from scheduler.networks.x.credentials import OAuth1Credentials
from scheduler.domain.models import PostState
from scheduler.networks.x.publisher import XPublisher
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.ledger.store import Store

ACCOUNT = "tipbot"


def now() -> datetime:
    return datetime.now(timezone.utc)


def seconds(name: str, default: float) -> timedelta:
    return timedelta(seconds=float(os.environ.get(name, default)))


def main(argv: list[str]) -> int:
    ledger_url, api_url, instance, mode, *post_ids = argv
    store = Store.open(ledger_url)
    credentials = OAuth1Credentials(*(os.environ[k] for k in
                                      ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN", "X_ACCESS_TOKEN_SECRET")))
    read_timeout = float(os.environ.get("DRIVER_READ_TIMEOUT", 2.0))
    publisher = XPublisher(credentials, handle=ACCOUNT, api_url=api_url, timeout=(1.0, read_timeout))
    backoff = seconds("DRIVER_BACKOFF", 0.01)
    policy = RetryPolicy(max_attempts=int(os.environ.get("DRIVER_MAX_ATTEMPTS", 50)), backoff=backoff,
                         backoff_max=backoff * 4, rate_limit_max_wait=timedelta(seconds=1),
                         reconcile_delay=seconds("DRIVER_RECONCILE_DELAY", 1.0))
    engine = PublishingEngine(store, publisher, account=ACCOUNT, instance=instance, policy=policy, clock=now)
    store.beat(instance, ACCOUNT, os.getpid(), socket.gethostname(), now())

    if mode == "list":
        for post_id in post_ids:
            outcome = engine.publish(post_id, None)
            print(json.dumps({"post_id": post_id, "state": outcome.state, "tweet_ids": list(outcome.tweet_ids)}),
                  flush=True)
        return 0

    assert mode == "drain", mode
    recovered = engine.recover(timedelta(seconds=30))
    print(json.dumps({"ready": True, "recovered": recovered}), flush=True)
    while True:
        pending = list(store.iter_pending(ACCOUNT))
        if not pending:
            break
        due = [p for p in pending if p.next_attempt_at is None or p.next_attempt_at <= now()]
        if not due:
            time.sleep(0.02)
            continue
        for post in due:
            engine.publish(post.post_id, now())
        store.beat(instance, ACCOUNT, os.getpid(), socket.gethostname(), now())
    stuck = store.posts_in_state(ACCOUNT, PostState.SENDING)
    store.stop_instance(instance, now())
    print(json.dumps({"counts": store.counts(ACCOUNT), "sending": [p.post_id for p in stuck]}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
