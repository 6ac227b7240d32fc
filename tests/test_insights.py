"""Insights as the CLI, the API and the page get them: each post's curve and newest figures, groups by what made
the posts, best and worst within one rate basis, a weekday x hour map in the account's zone, cost per month."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.app import insights as app
from scheduler.app.insights_views import report_json, report_text, slots_json
from scheduler.config import parse_config
from scheduler.domain.errors import InputError
from scheduler.ledger.metrics import BilledCall
from tests.helpers_insights import read, send, sent_with_rate

pytest_plugins = ["tests.helpers_ledger"]

CONFIG = """\
[account]
handle = "GleiberMD"
timezone = "America/New_York"

[publisher]
kind = "{kind}"
"""
# A Monday in March (New York is UTC-4 from 8 March: 2 March is still UTC-5), far from the wall clock.
T0 = datetime(2026, 3, 2, 14, 0, tzinfo=UTC)  # 09:00 in New York
NOW = T0 + timedelta(days=60)


def _config(tmp_path, kind: str = "x"):
    return parse_config(CONFIG.format(kind=kind), source=None, env={"SCHEDULER_HOME": str(tmp_path)})


def test_a_thread_is_the_sum_of_its_parts_and_its_curve_grows_in_time_order(store, tmp_path):
    config = _config(tmp_path)
    a, b = send(store, config.account, "thread", T0, parts=2)
    read(store, config.account, "thread", b, T0 + timedelta(hours=24), likes=3, impressions=100)
    read(store, config.account, "thread", a, T0 + timedelta(hours=1), likes=1, impressions=50)
    read(store, config.account, "thread", a, T0 + timedelta(hours=24), likes=6, reposts=1, impressions=300)
    report = app.insights(store, [config], NOW)
    [result] = report.results
    curve = report_json(report)["posts"][0]["curve"]
    # 1 h: only part a was read; 24 h: a's and b's newest readings added up.
    assert [(p["likes"], p["impressions"]) for p in curve] == [(1, 50), (9, 400)]
    assert result.latest.engagement.interactions == 10
    assert result.rate == pytest.approx(10 / 400) and result.basis == "impressions"


def test_groups_rank_by_mean_rate_and_every_row_names_its_basis(store, tmp_path):
    config = _config(tmp_path)
    acc = config.account
    sent_with_rate(store, acc, "a1-v0", T0, 0.010, article="a", tip=1, variant=0, template="tip/1.j2")
    sent_with_rate(store, acc, "a1-v1", T0 + timedelta(days=1), 0.070, article="a", tip=1, variant=1,
                   template="tip/2.j2")
    sent_with_rate(store, acc, "a2-v0", T0 + timedelta(days=2), 0.030, article="a", tip=2, variant=0,
                   template="tip/1.j2")
    # A reading with neither impressions nor followers has no rate: its own row, basis none, never averaged in.
    [remote] = send(store, acc, "bare", T0 + timedelta(days=3), article="b", tip=1)
    read(store, acc, "bare", remote, T0 + timedelta(days=3, hours=1), likes=4)

    by_template = app.insights(store, [config], NOW, by="template").groups
    assert [(g.key, g.basis, g.posts) for g in by_template] == [
        ("tip/2.j2", "impressions", 1), ("tip/1.j2", "impressions", 2), ("tip/1.j2", None, 1)]
    assert by_template[1].rate == pytest.approx(0.020)
    by_tip = app.insights(store, [config], NOW, by="tip")
    assert [(g.key, round(g.rate, 3) if g.rate else None) for g in by_tip.groups] == [
        ("a#1", 0.04), ("a#2", 0.03), ("b#1", None)]
    assert [g.key for g in app.insights(store, [config], NOW, by="variant").groups][:1] == ["a#1 v1"]
    assert {g.key for g in app.insights(store, [config], NOW, by="network").groups} == {"x"}
    text = report_text(by_tip)
    header = text.splitlines()[text.splitlines().index("By tip:") + 1]
    assert header.split()[-1] == "basis" and "rate per impressions" in text
    assert all(row["rate_basis"] in ("impressions", None) for row in report_json(by_tip)["groups"])


def test_best_and_worst_posts_within_a_basis(store, tmp_path):
    config = _config(tmp_path)
    for i, rate in enumerate([0.01, 0.09, 0.05, 0.02, 0.07, 0.03, 0.04, 0.08, 0.06, 0.10, 0.005, 0.015]):
        sent_with_rate(store, config.account, f"p{i}", T0 + timedelta(days=i), rate, tip=i)
    [ranking] = app.insights(store, [config], NOW).rankings
    assert ranking.basis == "impressions"
    assert [r.post.post_id for r in ranking.best] == ["p9", "p1", "p7", "p4", "p8"]
    assert [r.post.post_id for r in ranking.worst] == ["p10", "p0", "p11", "p3", "p5"]
    assert not set(ranking.best) & set(ranking.worst)


def test_the_heat_map_is_in_the_accounts_zone_across_a_dst_change(store, tmp_path):
    config = _config(tmp_path)
    # 14:00 UTC is 09:00 in New York before 8 March 2026 and 10:00 after it.
    sent_with_rate(store, config.account, "winter", T0, 0.02)  # Monday
    sent_with_rate(store, config.account, "summer", T0 + timedelta(days=14), 0.04, tip=2)  # Monday, after DST
    report = app.insights(store, [config], NOW, by="weekday-hour")
    assert {g.key for g in report.groups} == {"Mon 09:00", "Mon 10:00"}
    cells = {(c.weekday, c.hour): c for c in report.heat if c.posts}
    assert set(cells) == {(0, 9), (0, 10)} and cells[(0, 10)].rate == pytest.approx(0.04)
    assert len(report.heat) == 7 * 24


def test_since_keeps_only_posts_sent_since_and_cost_is_per_local_month(store, tmp_path):
    config = _config(tmp_path)
    sent_with_rate(store, config.account, "old", T0, 0.02)
    sent_with_rate(store, config.account, "new", T0 + timedelta(days=40), 0.04, tip=2)
    # 1 April 03:00 UTC is still 31 March in New York: March's bill.
    for at, kind, price in [(T0, "post", 15_000), (datetime(2026, 4, 1, 3, tzinfo=UTC), "metric_read", 500_000),
                            (datetime(2026, 4, 2, 3, tzinfo=UTC), "post_with_link", 200_000)]:
        store.record_billed_call(BilledCall(config.account, "x", kind, 1, price, at))
    report = app.insights(store, [config], NOW)
    assert [(c.month, c.micro_usd, c.calls) for c in report.cost] == [("2026-03", 515_000, 2), ("2026-04", 200_000, 1)]
    assert report_json(report)["cost"][0]["usd"] == pytest.approx(0.515)
    recent = app.insights(store, [config], NOW, since=app.parse_since("30d", config.tz, NOW))
    assert [r.post.post_id for r in recent.results] == ["new"]


def test_an_outbox_account_is_told_it_has_no_metrics(store, tmp_path):
    config = _config(tmp_path, kind="outbox")
    report = app.insights(store, [config], NOW)
    text = report_text(report)
    assert "outbox" in text and "No metrics yet" in text
    assert report_json(report)["no_metrics"][0]["account"] == config.account_name


def test_suggest_slots_ranks_by_evidence_and_needs_enough_posts(store, tmp_path):
    config = _config(tmp_path)
    # Monday 09:00 New York: three posts at 2 %; Wednesday 09:00: three at 6 %; Friday 09:00: one lucky 20 %.
    for week in range(3):
        base = T0 - timedelta(weeks=4) + timedelta(weeks=week)  # February: New York at UTC-5 throughout
        sent_with_rate(store, config.account, f"mon{week}", base, 0.02, tip=week)
        sent_with_rate(store, config.account, f"wed{week}", base + timedelta(days=2), 0.06, tip=10 + week)
    sent_with_rate(store, config.account, "fri", T0 - timedelta(days=3), 0.20, tip=99)
    found, measured = app.suggest_slots(store, config, NOW)
    assert measured == 7
    assert [(s.weekday, s.hour, s.score.posts) for s in found] == [(2, 9, 3), (0, 9, 3)]
    out = slots_json(found, measured, config.tz)
    assert out["changes_calendar"] is False and out["slots"][0]["engagement_rate"] == pytest.approx(0.06)
    assert [s.weekday for s in app.suggest_slots(store, config, NOW, min_posts=1)[0]][:1] == [4]


@pytest.mark.parametrize("value", ["30x", "-3d", "yesterday", "2026-13-01", "2030-01-01", "", "99999999999d"])
def test_a_bad_since_is_refused_with_the_value_and_what_to_give(value):
    with pytest.raises(InputError) as caught:
        app.parse_since(value, UTC, NOW)
    assert repr(value) in str(caught.value)


def test_a_bad_by_is_refused_with_the_choices():
    with pytest.raises(InputError, match="weekday-hour"):
        app.check_by("hour")


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=40))
def test_since_takes_any_text_and_either_gives_a_past_utc_time_or_a_clear_error(value):
    try:
        since = app.parse_since(value, UTC, NOW)
    except InputError as exc:
        assert "--since" in str(exc)
    else:
        assert since.tzinfo is not None and since <= NOW


def test_evergreen_reads_each_parts_newest_reading_on_both_databases(store, tmp_path):
    from scheduler.planning.evergreen_learning import learned

    config = _config(tmp_path)
    a, b = send(store, config.account, "thread", T0, parts=2, article="a", tip=1, template="tip/1.j2")
    read(store, config.account, "thread", a, T0 + timedelta(hours=1), likes=1, impressions=100)
    read(store, config.account, "thread", a, T0 + timedelta(days=7), likes=30, impressions=1000)
    read(store, config.account, "thread", b, T0 + timedelta(hours=24), likes=10, impressions=1000)
    sent_with_rate(store, config.account, "other", T0, 0.01, article="a", tip=2, template="tip/2.j2")
    record = learned(store, config.account)
    assert record.tips[("a", 1)] == [pytest.approx(40 / 2000)] and record.templates["tip/2.j2"] == [pytest.approx(0.01)]
    assert record.total == 2 and record.prior == pytest.approx((0.02 + 0.01) / 2)
    best, other = record.tip("a", 1), record.tip("a", 2)
    assert best.value > other.value and record.tip("a", 3).posts == 0 and record.tip("a", 3).value == float("inf")
    # A reading added later is learned from at the next plan (what was learned is kept only until then).
    assert learned(store, config.account) is record
    read(store, config.account, "thread", b, T0 + timedelta(days=7), likes=70, impressions=1000)
    assert learned(store, config.account).tips[("a", 1)] == [pytest.approx(100 / 2000)]


def test_two_accounts_on_two_bases_are_never_averaged_together(store, tmp_path):
    from tests.helpers_web import accounts_config

    root = parse_config(accounts_config("clinic", "sky"), source=None, env={"SCHEDULER_HOME": str(tmp_path)})
    clinic, sky = root.for_account("clinic"), root.for_account("sky")
    sent_with_rate(store, clinic.account, "on-x", T0, 0.02, article="a", tip=1)
    sent_with_rate(store, sky.account, "on-sky", T0, 0.10, network="bluesky", article="a", tip=1)
    report = app.insights(store, [clinic, sky], NOW, by="tip")
    assert [(g.key, g.basis, g.posts) for g in report.groups] == [("a#1", "followers", 1), ("a#1", "impressions", 1)]
    assert {r.basis: [p.post.post_id for p in r.best] for r in report.rankings} == {
        "impressions": ["on-x"], "followers": ["on-sky"]}
    assert {g.key for g in app.insights(store, [clinic, sky], NOW, by="network").groups} == {"x", "bluesky"}
    # Berlin's zone for the Bluesky account: 14:00 UTC on 2 March is 15:00 there, 09:00 in New York.
    assert {g.key for g in app.insights(store, [clinic, sky], NOW, by="weekday-hour").groups} == {
        "Mon 09:00", "Mon 15:00"}
    # Both publish to the outbox in this configuration: the report says so for each (readings or not).
    assert [a["account"] for a in report_json(report)["no_metrics"]] == ["clinic", "sky"]
