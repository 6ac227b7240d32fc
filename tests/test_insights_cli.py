"""`scheduler insights` and `insights suggest-slots` as a user runs them: a subprocess over a real ledger file,
filled as the metric collector fills it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.config import load_config
from scheduler.ledger.metrics import BilledCall
from scheduler.ledger.store import Store
from tests.helpers_insights import sent_with_rate
from tests.test_cli import CLI

T0 = datetime(2026, 2, 2, 14, 0, tzinfo=UTC)  # a Monday, 09:00 in New York


def _filled(tmp_path) -> CLI:
    cli = CLI(tmp_path)
    cli.write_config(kind="x")
    config = load_config(str(cli.config), env=cli.env)
    store = Store.open(config.database_url)
    try:
        for week in range(3):
            at = T0 + timedelta(weeks=week)
            sent_with_rate(store, config.account, f"mon{week}", at, 0.02, tip=week, template="tip/1.j2")
            sent_with_rate(store, config.account, f"wed{week}", at + timedelta(days=2), 0.06, tip=10 + week,
                           template="tip/2.j2")
        store.record_billed_call(BilledCall(config.account, "x", "post", 1, 15_000, T0))
    finally:
        store.close()
    return cli


def test_insights_tables_json_and_suggested_slots(tmp_path):
    cli = _filled(tmp_path)
    text = cli.run("insights", "--by", "template").stdout
    assert "6 posts measured" in text
    lines = text.splitlines()
    header = lines[lines.index("By template:") + 1]
    assert header.split() == ["key", "posts", "interactions", "impressions", "rate", "basis"]
    assert lines[lines.index("By template:") + 2].split()[0] == "tip/2.j2"
    assert "Best posts (rate per impressions" in text and "2026-02" in text

    data = cli.json("insights", "--by", "weekday-hour")
    assert [(g["key"], g["posts"], g["rate_basis"]) for g in data["groups"]] == [
        ("Wed 09:00", 3, "impressions"), ("Mon 09:00", 3, "impressions")]
    assert data["cost"] == [{"account": data["accounts"][0], "month": "2026-02", "usd": 0.015, "micro_usd": 15000,
                             "calls": 1, "by_kind_micro_usd": {"post": 15000}}]
    assert len(data["posts"][0]["curve"]) == 3 and data["posts"][0]["post_id"] == "wed2"

    slots = cli.run("insights", "suggest-slots").stdout
    assert slots.splitlines()[2].split()[:3] == ["Wed", "09:00", "3"]
    assert "Nothing was changed" in slots and '"wed 09:00"' in slots
    assert cli.json("insights", "suggest-slots")["slots"][0]["posts"] == 3
    assert cli.json("preview")  # the calendar is untouched: still the configured slots
    assert all(e["at"].endswith("09:00:00-05:00") or e["at"].endswith("09:00:00-04:00")
               for e in cli.json("preview") if e["at"])


def test_bad_since_and_by_are_refused_with_the_value_and_nothing_else_printed(tmp_path):
    cli = CLI(tmp_path)
    bad = cli.run("insights", "--since", "fortnight", ok=False)
    assert bad.returncode == 2 and "'fortnight'" in bad.stderr and "30d" in bad.stderr and not bad.stdout
    bad = cli.run("insights", "--by", "hour", ok=False)
    assert bad.returncode == 2 and "'hour'" in bad.stderr and "weekday-hour" in bad.stderr
    bad = cli.run("insights", "suggest-slots", "--since", "2999-01-01", ok=False)
    assert bad.returncode == 2 and "future" in bad.stderr
    empty = cli.run("insights").stdout
    assert "outbox" in empty and "No metrics yet" in empty


def test_with_several_accounts_and_none_chosen_every_account_is_shown(tmp_path):
    from tests.helpers_web import accounts_config

    cli = CLI(tmp_path)
    cli.config.write_text(accounts_config("clinic", "sky"), encoding="utf-8")
    data = cli.json("insights", "--since", "2026-01-01")
    assert data["accounts"] == ["clinic", "sky"] and data["time_zones"]["sky"] == "Europe/Berlin"
    assert cli.json("insights", "--account", "sky")["accounts"] == ["sky"]
    refused = cli.run("insights", "suggest-slots", ok=False)
    assert "--account" in refused.stderr
