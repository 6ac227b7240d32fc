"""A look-up that fails is spaced, counted and ends (issue 18, item 10).

A post whose answer was lost is looked up before anything is sent again. When the look-up itself fails (the
network answers 429 or 5xx), it used to be tried again every 30 s forever: not counted, the reset time ignored.
Against each network's stand-in (real HTTP on 127.0.0.1), with the engine's clock injected: a 429 with a reset
header puts the next look-up at the reset; 5xx look-ups are spaced ever wider, counted, and after
``lookup_max_failures`` the post is ``unknown``, and ``status`` (text and ``--json``) says what to do.
"""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from scheduler.app import health
from scheduler.app import views
from scheduler.config import parse_config
from scheduler.domain.models import PostState
from scheduler.publishing.engine import PublishingEngine, RetryPolicy
from scheduler.ledger.store import Store
from tests.helpers_ledger import FakeClock, new_post
from tests.test_reached import NETWORKS

CONFIG = """
[account]
handle = "tipbot"

[calendar]
slots = []
cron = ["0 9 * * *"]
series_gap = "0s"

[quota]
daily = 0
monthly = 0

[publisher]
kind = "outbox"
"""

LOOKUP_ENDPOINT = {"x": "timeline", "mastodon": "account_statuses", "bluesky": "getRecord"}
POLICY = RetryPolicy(max_attempts=3, backoff=timedelta(seconds=10), backoff_max=timedelta(minutes=10),
                     reconcile_delay=timedelta(seconds=30), lookup_max_failures=4,
                     lookup_give_up_after=timedelta(hours=6))


@pytest.fixture(params=sorted(NETWORKS))
def network(request):
    net = NETWORKS[request.param]()
    net.standin.start()
    try:
        yield net
    finally:
        net.standin.stop()


@pytest.fixture
def setup(tmp_path, network):
    config = parse_config(CONFIG, source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(config.database_url)
    publisher = network.publisher(network.standin, None, tmp_path)
    clock = FakeClock()
    engine = PublishingEngine(store, publisher, account=config.account, instance="me", policy=POLICY, clock=clock,
                              rng=random.Random(5))
    store.add_post(config.account, new_post("p", "Drink water before you feel thirsty"), clock())
    yield config, store, engine, clock
    publisher.close()
    store.close()


def test_failed_look_ups_honour_the_reset_are_counted_and_end_unknown_with_status_saying_so(network, setup,
                                                                                           tmp_path):
    config, store, engine, clock = setup
    lookups = LOOKUP_ENDPOINT[network.name]
    network.standin.inject(network.create_endpoint, "create_then_reset")
    network.standin.inject(lookups, "rate_limited", reset_in=900)
    real_now = datetime.now(timezone.utc)

    first = engine.publish("p", None)  # the answer is lost; the look-up at once gets a 429
    post = store.get("p")
    assert (first.state, post.state, post.uncertain) == ("retrying", PostState.RETRYING, True)
    assert post.next_attempt_at >= real_now + timedelta(seconds=890)  # not before the network's reset
    assert store.lookup_failures("p").failures == 1

    network.standin.inject(lookups, "unavailable", times=50)
    waits = []
    for _ in range(20):
        at = store.get("p").next_attempt_at
        waits.append(at - clock())
        clock.set(at)
        outcome = engine.publish("p", None, source="retry")
        if outcome.state != "retrying":
            break
        if outcome.state == "retrying" and store.lookup_failures("p").failures == 2:
            report = health.status(store, config, clock())  # while it is still being looked up
            assert any(line.startswith("p: may be live, but 2 look-up(s) of it failed") for line in report["attention"])
    post = store.get("p")
    assert (outcome.state, post.state) == ("unknown", PostState.UNKNOWN)
    assert network.standin.requests_received(lookups) == POLICY.lookup_max_failures  # counted, then it stopped
    assert network.standin.requests_received(network.create_endpoint) == 1  # never sent again
    assert waits[1:] == sorted(waits[1:]) and waits[-1] > waits[1] >= POLICY.reconcile_delay  # spaced ever wider
    assert "4 look-up(s)" in post.last_error and "scheduler resolve p --sent" in post.last_error

    report = health.status(store, config, clock())
    [line] = [a for a in report["attention"] if a.startswith("p:")]
    assert "outcome unknown" in line and "scheduler resolve p" in line
    assert "scheduler resolve p" in views.status_text(report).split("Needs you:")[1]

    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
           "SCHEDULER_HOME": str(tmp_path), "SCHEDULER_CONFIG": str(tmp_path / "scheduler.toml")}
    (tmp_path / "scheduler.toml").write_text(CONFIG, encoding="utf-8")
    shown = subprocess.run([sys.executable, "-m", "scheduler", "status", "--json"], env=env, capture_output=True,
                           text=True, timeout=120, cwd=Path(__file__).parent.parent)
    assert shown.returncode == 0, shown.stderr
    assert any(a.startswith("p: outcome unknown") and "scheduler resolve p" in a
               for a in json.loads(shown.stdout)["attention"])


def test_a_look_up_that_answers_forgets_the_failures_and_resolve_does_too(network, setup):
    config, store, engine, clock = setup
    lookups = LOOKUP_ENDPOINT[network.name]
    network.standin.inject(network.create_endpoint, "create_then_reset")
    network.standin.inject(lookups, "unavailable", times=2)
    assert engine.publish("p", None).state == "retrying"
    clock.set(store.get("p").next_attempt_at)
    assert engine.publish("p", None, source="retry").state == "retrying"
    assert store.lookup_failures("p").failures == 2
    clock.set(store.get("p").next_attempt_at)
    assert engine.publish("p", None, source="retry").state == "sent"  # found: it went out the first time
    assert store.lookup_failures("p") is None
    assert network.standin.requests_received(network.create_endpoint) == 1


# -- issue 18 (low): after a SIGKILL mid-call, the restart says what happened ---------------------------------------


@pytest.mark.parametrize("name", ["bluesky", "mastodon"])
def test_after_a_kill_mid_call_the_restart_says_the_run_was_stopped_not_that_the_network_saw_a_duplicate(
        name, tmp_path, fake_clock):
    """A real driver process is SIGKILLed while its create call is in flight (the stand-in holds it); the next
    process recovers the post and looks it up before the stand-in has done the work. The network said nothing, so
    what the service logs (the outcome's detail) and the post's error must say the run was stopped, not that the
    network called it a duplicate."""
    from tests.helpers_ledger import ACCOUNT
    from tests.network_driver import kill_mid_call

    net = NETWORKS[name]()
    net.standin.start()
    store = Store.open(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        store.add_post(ACCOUNT, new_post("p", "Walk ten minutes after every meal"), fake_clock())
        net.standin.inject(net.create_endpoint, "slow", seconds=8)
        if name == "bluesky":
            account = net.standin.default_account
            env = {"BLUESKY_HANDLE": account.handle, "BLUESKY_APP_PASSWORD": account.password,
                   "BLUESKY_SESSION_FILE": str(tmp_path / "bluesky-session")}
        else:
            env = {"MASTODON_ACCESS_TOKEN": net.standin.token, "MASTODON_HANDLE": "tipbot"}
        kill_mid_call(name, f"sqlite:///{tmp_path / 'ledger.db'}", net.standin.url, env, "p",
                      lambda: net.standin.requests_received(net.create_endpoint) > 0,
                      lambda: True)  # recover at once, while the stand-in still holds the dead process's call
        publisher = net.publisher(net.standin, None, tmp_path)
        engine = PublishingEngine(store, publisher, account=ACCOUNT, instance="next", policy=POLICY,
                                  clock=fake_clock, rng=random.Random(5))
        assert engine.recover(timedelta(seconds=30)) == ["p"]
        outcome = engine.publish("p", None, source="retry")
        assert outcome.state == "retrying" and not net.made(net.standin)  # looked up before the work was done
        for said in (outcome.detail, store.get("p").last_error):
            assert "duplicate" not in said
            assert "the previous run was stopped during this call" in said
        publisher.close()
    finally:
        store.close()
        net.standin.stop()


def test_the_ledger_counts_failed_look_ups_in_one_transaction_and_resolve_forgets_them(store, fake_clock):
    """On SQLite and PostgreSQL: the count goes with the post's state, the database refuses a count below one, and
    a person settling the post starts it afresh."""
    import sqlalchemy as sa

    from scheduler.ledger import migrations as m
    from tests.helpers_ledger import ACCOUNT

    store.add_post(ACCOUNT, new_post("p", "Sit less, move more"), fake_clock())
    assert store.claim("p", "me", fake_clock(), fake_clock())
    first = store.lookup_failed("p", "me", fake_clock(), error="503 Service Unavailable", status=503,
                                retry_at=fake_clock() + timedelta(minutes=1))
    assert (first.failures, store.get("p").state) == (1, PostState.RETRYING)
    fake_clock.advance(60)
    assert store.claim("p", "me", fake_clock(), fake_clock())
    second = store.lookup_failed("p", "me", fake_clock(), error="429 Too Many Requests", status=429,
                                 unknown_reason="gave up; `scheduler resolve p`")
    assert (second.failures, second.first_failed_at, second.last_error) == (2, first.first_failed_at,
                                                                            "429 Too Many Requests")
    assert store.get("p").state is PostState.UNKNOWN
    with pytest.raises(sa.exc.IntegrityError), store.engine.begin() as conn:
        conn.execute(m.lookups.update().where(m.lookups.c.post_id == "p").values(failures=0))
    store.resolve(ACCOUNT, "p", sent_tweet_id=None, retry=True, now=fake_clock())
    assert store.lookup_failures("p") is None


def test_a_clock_stepped_back_between_failed_look_ups_still_counts_them(store, fake_clock):
    """On SQLite and PostgreSQL: a failed look-up stamped before the previous one (the clock stepped back an hour)
    is counted, not refused by ck_lookups_times (last >= first); the last failure stays the latest seen."""
    from tests.helpers_ledger import ACCOUNT

    store.add_post(ACCOUNT, new_post("p", "Sit less, move more"), fake_clock())
    assert store.claim("p", "me", fake_clock(), fake_clock())
    first = store.lookup_failed("p", "me", fake_clock(), error="503 Service Unavailable", status=503,
                                retry_at=fake_clock() + timedelta(minutes=1))
    fake_clock.advance(-3600)
    assert store.claim("p", "me", fake_clock(), fake_clock())
    second = store.lookup_failed("p", "me", fake_clock(), error="502 Bad Gateway", status=502,
                                 retry_at=fake_clock() + timedelta(minutes=1))
    assert (second.failures, second.first_failed_at, second.last_failed_at, second.last_error) == (
        2, first.first_failed_at, first.last_failed_at, "502 Bad Gateway")
    assert store.get("p").state is PostState.RETRYING


ABSURD_RESET = "99999999999999"  # epoch seconds past year 9999: no datetime holds it
RESET_HEADER = {"x": "x-rate-limit-reset", "mastodon": "X-RateLimit-Reset", "bluesky": "ratelimit-reset"}
LOOKUP_PATHS = {"x": "/tweets", "mastodon": "/statuses", "bluesky": "Record"}


def test_a_reset_header_too_large_for_a_date_is_clamped_and_the_failed_look_up_counted(network, tmp_path):
    """A 429 on every look-up whose reset header no datetime can hold used to raise ValueError in the look-up: not
    counted, never ``unknown``, retried every 30 s. Now the reset is read as the longest wait (a day), so the look-up
    is a counted failure: past ``lookup_give_up_after``, the post is ``unknown`` at once, sent once."""
    from tests.front_proxy import Front

    lost = {"create": False}

    def override(method: str, path: str):
        if lost["create"] and method == "GET" and LOOKUP_PATHS[network.name] in path:
            return (429, {RESET_HEADER[network.name]: ABSURD_RESET, "Content-Type": "application/json"},
                    b'{"error": "RateLimitExceeded", "message": "slow down", "title": "Too Many Requests"}')
        return None

    front = Front(network.standin.url, override)
    config = parse_config(CONFIG, source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    store = Store.open(config.database_url)
    publisher = network.publisher(_Via(network.standin, front.url), None, tmp_path)
    clock = FakeClock()
    engine = PublishingEngine(store, publisher, account=config.account, instance="me", policy=POLICY, clock=clock,
                              rng=random.Random(5))
    try:
        store.add_post(config.account, new_post("p", "Drink water before you feel thirsty"), clock())
        assert publisher.create_post("warming up the session")  # logged in before any fault
        network.standin.inject(network.create_endpoint, "create_then_reset")
        lost["create"] = True
        outcomes = [engine.publish("p", None)]
        while outcomes[-1].state == "retrying" and len(outcomes) < 5:
            clock.set(store.get("p").next_attempt_at)
            outcomes.append(engine.publish("p", None, source="retry"))
        post = store.get("p")
        assert (outcomes[-1].state, post.state) == ("unknown", PostState.UNKNOWN), [o.detail for o in outcomes]
        assert "1 look-up(s)" in post.last_error and "scheduler resolve p" in post.last_error
        assert network.standin.requests_received(network.create_endpoint) == 2  # the warm-up and p: never again
    finally:
        publisher.close()
        store.close()
        front.stop()


class _Via:
    """A stand-in seen at another address (the front before it)."""

    def __init__(self, standin, url: str) -> None:
        self._standin, self.url = standin, url

    def __getattr__(self, name: str):
        return getattr(self._standin, name)


def test_reset_headers_are_read_in_one_place_that_never_raises_and_waits_at_most_a_day():
    from scheduler.networks.base import MAX_RESET_WAIT, reset_from_epoch, reset_time

    now = datetime(2026, 12, 4, 15, 0, tzinfo=timezone.utc)
    latest = now + MAX_RESET_WAIT
    for name in ("x-rate-limit-reset", "ratelimit-reset", "X-RateLimit-Reset", "retry-after"):
        assert reset_time({name: ABSURD_RESET}, now) == latest, name
        assert reset_time({name: "9" * 400}, now) == latest, name
    assert reset_time({"X-RateLimit-Reset": "9999-12-31T23:59:59Z"}, now) == latest
    assert reset_time({"retry-after": "Fri, 31 Dec 9999 23:59:59 GMT"}, now) == latest
    assert reset_time({"x-rate-limit-reset": str(int(now.timestamp()) + 900)}, now) == now + timedelta(seconds=900)
    assert reset_from_epoch(1e300, now) == latest and reset_from_epoch(float("nan"), now) is None
    assert reset_from_epoch("soon", now) is None


def test_the_settling_status_advises_while_look_ups_fail_is_one_resolve_accepts(network, setup, tmp_path):
    """``status`` tells a person to settle a post still ``retrying`` whose look-ups fail with ``scheduler resolve p
    --sent ID_OR_URL`` or ``--retry``; resolve used to refuse it ("p is retrying"). It settles it now (the CLI, in
    a subprocess), and forgets the failed look-ups; a retrying post with no failed look-up is still refused."""
    config, store, engine, clock = setup
    network.standin.inject(network.create_endpoint, "create_then_reset")
    network.standin.inject(LOOKUP_ENDPOINT[network.name], "unavailable", times=5)
    assert engine.publish("p", None).state == "retrying"
    assert store.lookup_failures("p").failures == 1
    [advice] = [a for a in health.status(store, config, clock())["attention"] if a.startswith("p:")]
    assert "`scheduler resolve p --sent ID_OR_URL` or `--retry`" in advice

    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("X_", "SCHEDULER_"))},
           "SCHEDULER_HOME": str(tmp_path), "SCHEDULER_CONFIG": str(tmp_path / "scheduler.toml")}
    (tmp_path / "scheduler.toml").write_text(CONFIG, encoding="utf-8")

    def resolve(post_id: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "scheduler", "resolve", post_id, "--retry"], env=env,
                              capture_output=True, text=True, timeout=120, cwd=Path(__file__).parent.parent)

    settled = resolve("p")
    assert settled.returncode == 0, settled.stderr
    post = store.get("p")
    assert (post.state, post.uncertain, store.lookup_failures("p")) == (PostState.RETRYING, False, None)

    store.add_post(config.account, new_post("q", "Walk after meals"), clock())
    network.standin.inject(network.create_endpoint, "rate_limited")  # a 429: retrying, certainly not sent
    assert engine.publish("q", None).state == "retrying" and not store.get("q").uncertain
    refused = resolve("q")
    assert refused.returncode != 0 and "q is retrying" in refused.stderr
