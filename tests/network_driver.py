"""A real publishing process on Bluesky or Mastodon, for the restart tests: ``python -m tests.network_driver``.

    python -m tests.network_driver NETWORK LEDGER_URL STANDIN_URL INSTANCE POST_ID

NETWORK ``bluesky`` reads BLUESKY_HANDLE, BLUESKY_APP_PASSWORD and BLUESKY_SESSION_FILE; ``mastodon`` reads
MASTODON_ACCESS_TOKEN and MASTODON_HANDLE. It records a heartbeat, publishes POST_ID once with the real clock and
prints the outcome as one JSON line (unless it is killed first, which is what the tests do).
"""

from __future__ import annotations

import json
import os
import socket
import sys
from datetime import datetime, timedelta, timezone
from collections.abc import Callable
from pathlib import Path

from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.ledger.store import Store

ACCOUNT = "tipbot"


def now() -> datetime:
    return datetime.now(timezone.utc)


def publisher(network: str, url: str):
    if network == "bluesky":
        from scheduler.networks.bluesky.publisher import BlueskyPublisher

        return BlueskyPublisher(handle=os.environ["BLUESKY_HANDLE"], app_password=os.environ["BLUESKY_APP_PASSWORD"],
                                service_url=url, session_file=Path(os.environ["BLUESKY_SESSION_FILE"]),
                                timeout=(1.0, 30.0))
    from scheduler.networks.mastodon.publisher import MastodonPublisher

    return MastodonPublisher(access_token=os.environ["MASTODON_ACCESS_TOKEN"], instance_url=url,
                             handle=os.environ["MASTODON_HANDLE"], timeout=(1.0, 30.0))


def main(argv: list[str]) -> int:
    network, ledger_url, url, instance, post_id = argv
    store = Store.open(ledger_url)
    engine = PublishingEngine(store, publisher(network, url), account=ACCOUNT, instance=instance,
                              policy=RetryPolicy(reconcile_delay=timedelta(seconds=1)), clock=now)
    store.beat(instance, ACCOUNT, os.getpid(), socket.gethostname(), now())
    outcome = engine.publish(post_id, None)
    print(json.dumps({"post_id": post_id, "state": outcome.state, "ids": list(outcome.tweet_ids)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


def kill_mid_call(network: str, ledger_url: str, standin_url: str, env: dict[str, str], post_id: str,
                  request_arrived: Callable[[], bool], server_done: Callable[[], bool]) -> None:
    """Start a driver publishing ``post_id``, SIGKILL it while its create call is in flight (the stand-in is
    told to answer slowly), then wait until the stand-in has done the work the dead process asked for."""
    import signal
    import subprocess
    import time

    store = Store.open(ledger_url)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "tests.network_driver", network, ledger_url, standin_url,
                                 "doomed", post_id], env={**os.environ, **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 60
        while not request_arrived():  # the attempt was committed before; the stand-in now sleeps on the request
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the driver never made its call"
            time.sleep(0.02)
        assert store.open_attempts(post_id), "the attempt was not in the ledger before the call"
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        assert proc.returncode == -signal.SIGKILL, "the driver finished before it could be killed"
        while not server_done():
            assert time.monotonic() < deadline, "the stand-in never finished the dead process's request"
            time.sleep(0.05)
    finally:
        store.close()
