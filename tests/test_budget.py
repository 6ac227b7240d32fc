"""[x] monthly_budget (issue 21, cost): the plan never holds a post the month cannot pay for, the service publishes
from that plan so it refuses the same post, and every billed X call is recorded with its price."""

from __future__ import annotations

import random
import time
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given, settings, strategies as st

from scheduler.config import parse_config
from scheduler.domain.budget import billing_month
from scheduler.domain.calendar import Calendar
from scheduler.domain.planner import Budget
from scheduler.publishing.billing import Billing
from scheduler.publishing.engine import PublishingEngine
from tests.helpers_ledger import ACCOUNT, new_post
from tests.test_planner import CAL, NOW, post, run, shown
from tests.test_reconciliation import POLICY

UTC = timezone.utc
PRICE = 15_000  # $0.015, X's price of a post without a link


def flat(limit: int, spent: int = 0, price: int = PRICE) -> Budget:
    return Budget(limit=limit, spent=spent, cost=lambda p: price * len(p.parts))


# --- the plan ----------------------------------------------------------------------------------


def test_a_post_the_month_cannot_pay_for_leaves_its_slot_empty_with_reason_budget():
    entries = run([post("a"), post("b"), post("c")], count=3, budget=flat(2 * PRICE))
    assert [e.post.post_id if e.post else e.reason for e in entries][:3] == ["a", "b", "budget"]


def test_what_the_month_has_spent_counts_and_a_thread_costs_each_part():
    entries = run([post("t", parts=2), post("a")], count=2, budget=flat(3 * PRICE, spent=PRICE))
    # 1 spent + 2 for the thread = 3: the thread fits, then nothing more this month.
    assert [e.post.post_id if e.post else e.reason for e in entries][:2] == ["t", "budget"]


def test_the_budget_is_a_utc_month_so_a_new_month_brings_the_waiting_post_back():
    # 31 March 2026 in New York: the 21:00 slot is 01:00 UTC on 1 April, already April as X bills.
    cal = Calendar(CAL.tz, ["daily 09:00", "daily 21:00"])
    now = datetime(2026, 3, 31, 8, 0, tzinfo=CAL.tz)
    entries = run([post("a"), post("b"), post("c")], now=now, cal=cal, count=3, budget=flat(PRICE, spent=PRICE))
    got = [(e.at, e.post.post_id if e.post else e.reason) for e in entries]
    assert got[0] == (datetime(2026, 3, 31, 13, 0, tzinfo=UTC), "budget")  # 09:00 local: March, spent
    assert got[1] == (datetime(2026, 4, 1, 1, 0, tzinfo=UTC), "a")  # 21:00 local: April in UTC
    assert got[2] == (datetime(2026, 4, 1, 13, 0, tzinfo=UTC), "budget")  # April's budget is one post: spent


def test_a_pin_over_the_budget_is_listed_empty_there_and_the_slots_leave_room_for_it():
    pin_at = NOW.astimezone(UTC) + timedelta(hours=6)  # 14:00 New York, after the 09:00 and 13:00 slots
    entries = run([post("a"), post("b"), post("pin", pinned=pin_at)], count=3, budget=flat(2 * PRICE))
    got = shown(entries)
    # The pin costs one post: the slots leave room for it, so only one slot post fits.
    assert [g[1] for g in got][:3] == ["a", "<budget>", "pin"]


def test_no_budget_plans_as_before():
    assert shown(run([post("a"), post("b")], count=2)) == shown(run([post("a"), post("b")], count=2, budget=None))


@settings(max_examples=60, deadline=None)
@given(limit=st.integers(0, 20), spent=st.integers(0, 20),
       threads=st.lists(st.integers(1, 3), min_size=1, max_size=12), pins=st.lists(st.integers(1, 40), max_size=3))
def test_the_plan_never_spends_more_than_any_months_budget(limit, spent, threads, pins):
    queue = [post(f"p{i}", parts=n) for i, n in enumerate(threads)]
    queue += [post(f"pin{i}", pinned=NOW.astimezone(UTC) + timedelta(hours=h)) for i, h in enumerate(pins)]
    entries = run(queue, count=len(queue), budget=flat(limit * PRICE, spent=spent * PRICE))
    this_month = billing_month(NOW)[0]
    per_month: dict = {}
    for e in entries:
        if e.post is not None:
            month = billing_month(e.at)[0]
            per_month[month] = per_month.get(month, 0) + PRICE * len(e.post.parts)
    for month, cost in per_month.items():
        assert cost + (spent * PRICE if month == this_month else 0) <= limit * PRICE


# --- what is recorded ----------------------------------------------------------------------------


def x_config(tmp_path, extra: str = ""):
    return parse_config(f"[account]\nhandle = '{ACCOUNT}'\n{extra}", source=None,
                        env={"SCHEDULER_HOME": str(tmp_path)})


def billed_engine(store, publisher, clock, config):
    return PublishingEngine(store, publisher, account=ACCOUNT, instance="me", policy=POLICY, clock=clock,
                            rng=random.Random(3), billing=Billing(store, config, clock))


def test_each_post_is_recorded_at_its_price_a_link_at_the_link_price_and_a_thread_per_part(
        sqlite_store, x_publisher, standin, fake_clock, tmp_path):
    config = x_config(tmp_path)
    sqlite_store.add_post(ACCOUNT, new_post("plain", "Walk after meals"), fake_clock())
    sqlite_store.add_post(ACCOUNT, new_post("link", "Read more: example.com/back"), fake_clock())
    sqlite_store.add_post(ACCOUNT, new_post("thread", parts=("Part one of two", "Part two, see https://x.org/a")),
                          fake_clock())
    engine = billed_engine(sqlite_store, x_publisher, fake_clock, config)
    for post_id in ("plain", "link", "thread"):
        assert engine.publish(post_id, None).state == "sent"
    calls = sorted((c.post_id, c.kind, c.price_micro_usd) for c in sqlite_store.billed_calls(account=ACCOUNT))
    assert calls == [("link", "post_with_link", 200_000), ("plain", "post", 15_000),
                     ("thread", "post", 15_000), ("thread", "post_with_link", 200_000)]
    assert len(standin.timeline()) == 4  # what X holds: one billed row per post it created


def test_a_post_created_behind_a_5xx_is_billed_once_and_its_look_up_read_as_x_counts_it(
        sqlite_store, x_publisher, standin, fake_clock, tmp_path):
    config = x_config(tmp_path, "[x.pricing]\nread = '0.01'\n")
    for n in range(7):
        x_publisher.create_post(f"an earlier post {n}")
    sqlite_store.add_post(ACCOUNT, new_post("p", "Keep moving, gently"), fake_clock())
    reads_before = standin.reads_billed()
    x_publisher.posts_read = 0
    standin.inject("tweets", "create_then_unavailable")
    engine = billed_engine(sqlite_store, x_publisher, fake_clock, config)
    outcome = engine.publish("p", None)
    while outcome.state == "retrying":
        fake_clock.advance(outcome.retry_at - fake_clock() + timedelta(seconds=1))
        outcome = engine.publish("p", None, source="retry")
    assert outcome.state == "sent"
    calls = sqlite_store.billed_calls(account=ACCOUNT)
    assert [(c.kind, c.post_id) for c in calls if c.kind == "post"] == [("post", "p")]
    reads = [c for c in calls if c.kind == "lookup_read"]
    read_by_x = standin.reads_billed() - reads_before
    assert read_by_x > 0 and sum(c.units for c in reads) == read_by_x  # the stand-in's own count is the oracle
    assert all(c.price_micro_usd == 10_000 * c.units for c in reads)


def test_outbox_and_other_networks_are_not_billed(tmp_path):
    from scheduler.planning.budget import billed

    assert billed(x_config(tmp_path, "[publisher]\nkind = 'x'\n"))
    assert not billed(x_config(tmp_path))  # no credentials: [publisher] kind = "auto" writes to the outbox
    both = parse_config("[[accounts]]\nname = 'm'\nnetwork = 'mastodon'\nhandle = 'a'\ninstance = "
                        "'https://m.example'\n[publisher]\nkind = 'x'\n[[accounts]]\nname = 'x'\nhandle = 'b'\ncredentials_env = 'B'\n",
                        source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    assert {a.account_name: billed(a) for a in both.each_account()} == {"m": False, "x": True}
    assert not billed(x_config(tmp_path, "[publisher]\nkind = 'outbox'\n"))


# --- the service and the CLI ----------------------------------------------------------------------


def test_the_service_refuses_the_post_the_preview_shows_over_budget_and_status_shows_the_spend(harness):
    from tests.service_harness import seconds_ahead

    first = seconds_ahead(15)
    if billing_month(first)[0] != billing_month(first + timedelta(minutes=1))[0]:
        pytest.skip("the pins would straddle two UTC billing months")  # the last minute of a month only
    harness.write_config()
    with harness.config.open("a", encoding="utf-8") as f:
        f.write('\n[x]\nmonthly_budget = "0.03"\n')  # two posts without links at $0.015
    ids = [harness.add(f"Budgeted post number {n}", first + timedelta(seconds=2 * n)) for n in range(3)]
    preview = harness.json("preview", "--count", "3")
    assert [(e["post_id"], e["reason"]) for e in preview[:3]] == [(ids[0], None), (ids[1], None), (None, "budget")]
    proc = harness.serve()
    harness.wait_for_timeline(2, timeout=60)
    # The third pin's moment passes with the service running; it must stay in the queue, not go out.
    time.sleep(max(0.0, (first + timedelta(seconds=9) - datetime.now(UTC)).total_seconds()))
    assert proc.poll() is None
    assert [t["text"] for t in harness.standin.timeline()] == ["Budgeted post number 0", "Budgeted post number 1"]
    status = harness.json("status")
    spend = status["spend"]
    assert (spend["spent_micro_usd"], spend["budget_micro_usd"], spend["spent_usd"]) == (30_000, 30_000, "$0.03")
    assert status["queue"]["pending"] == 1  # the third waits: never dropped
    text = harness.cli("preview", "--count", "1").stdout
    assert "budget" in text and "monthly_budget = $0.03" in text
    assert "Spend:     $0.03 this month" in harness.cli("status").stdout
    harness.stop(proc)


def test_the_dashboard_and_the_api_show_the_months_spend_and_the_forecast(tmp_path, monkeypatch):
    from bs4 import BeautifulSoup

    from scheduler.config import load_config
    from scheduler.ledger.metrics import BilledCall
    from tests.helpers_web import WebEnv

    web = WebEnv(tmp_path, monkeypatch)
    web.config_path.write_text(web.config_path.read_text().replace('kind = "outbox"', 'kind = "x"')
                               + '\n[x]\nmonthly_budget = "0.50"\n', encoding="utf-8")
    web.config = load_config(str(web.config_path))
    web.import_posts()  # the seed article's tips, on the weekday 09:00 and Saturday 11:30 slots
    web.store.record_billed_call(BilledCall(web.config.account, "x", "post_with_link", 1, 200_000, web.now))
    web.store.record_billed_call(BilledCall(web.config.account, "x", "post", 1, 15_000, web.now))
    client = web.client()
    client.headers["Authorization"] = f"Bearer {web.token('tests')}"
    spend = client.get("/api/v1/status").json()["spend"]
    assert (spend["spent_micro_usd"], spend["budget_usd"]) == (215_000, "$0.50")
    # The forecast is the spend plus the posts the plan holds until the month ends, each at its price.
    from scheduler.planning.budget import post_cost
    from scheduler.planning.forecast import rest_of_month_plan

    end = billing_month(web.now)[1]
    planned = sum(post_cost(web.config["x"]["pricing"], e.post.parts)
                  for e in rest_of_month_plan(web.store, web.config, web.now) if e.post and e.at < end)
    assert spend["forecast_micro_usd"] == 215_000 + planned <= 500_000
    page = BeautifulSoup(client.get("/status").text, "html.parser")
    shown = page.select_one(".spend").get_text()
    assert "$0.215 this month" in shown and "of a $0.50 budget" in shown
    web.store.close()
