"""X's prices and the budget rule: exact amounts from what a user types, the month a spend belongs to, and posts
coming before metric reads."""

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, strategies as st

from scheduler.config import parse_config
from scheduler.domain.budget import billing_month, may_post, read_allowance
from scheduler.domain.errors import ConfigError
from scheduler.domain.pricing import DEFAULT_PRICING, Pricing, call_price, dollars, parse_dollars


def config(text: str, tmp_path):
    return parse_config(text, source=None, env={"SCHEDULER_HOME": str(tmp_path)})


def test_defaults_are_the_published_prices_in_millionths():
    assert (DEFAULT_PRICING.post, DEFAULT_PRICING.post_with_link, DEFAULT_PRICING.read) == (15_000, 200_000, 5_000)
    assert call_price(DEFAULT_PRICING, "post") == 15_000
    assert call_price(DEFAULT_PRICING, "post_with_link") == 200_000
    assert call_price(DEFAULT_PRICING, "metric_read", 100) == 500_000  # 100 posts read at $0.005
    assert call_price(DEFAULT_PRICING, "lookup_read", 1) == 5_000


def test_a_thousand_posts_add_up_exactly():
    assert sum(call_price(DEFAULT_PRICING, "post") for _ in range(1000)) == 15 * 1_000_000
    assert dollars(15 * 1_000_000) == "$15.00"


@pytest.mark.parametrize("typed,micro", [(0.015, 15_000), ("0.20", 200_000), ("$25", 25_000_000), (3, 3_000_000),
                                         ("  $1.5 ", 1_500_000), (0, 0)])
def test_amounts_as_users_type_them(typed, micro):
    assert parse_dollars(typed) == micro


@pytest.mark.parametrize("typed", ["-1", "abc", "0.0000001", True, None, [1], "nan", "inf"])
def test_what_is_not_an_amount_is_refused(typed):
    with pytest.raises(ValueError):
        parse_dollars(typed)


@given(st.text(max_size=30))
def test_free_text_is_an_amount_or_a_clear_refusal(text):
    try:
        micro = parse_dollars(text)
    except ValueError as exc:
        assert repr(text) in str(exc)
    else:
        assert micro >= 0 and parse_dollars(dollars(micro)) == micro


def test_config_sets_budget_and_overrides_one_price(tmp_path):
    c = config("[account]\nhandle = 'GleiberMD'\n[x]\nmonthly_budget = 25\n[x.pricing]\npost = '0.02'\n", tmp_path)
    assert c["x"]["monthly_budget"] == 25_000_000
    assert c["x"]["pricing"].post == 20_000 and c["x"]["pricing"].post_with_link == 200_000


def test_each_account_may_have_its_own_budget(tmp_path):
    c = config('[x]\nmonthly_budget = 25\n[[accounts]]\nname = "a"\nhandle = "A"\n[[accounts]]\nname = "b"\n'
               'handle = "B"\ncredentials_env = "B"\n[accounts.x]\nmonthly_budget = 3\n', tmp_path)
    assert {a.account_name: a["x"]["monthly_budget"] for a in c.each_account()} == {"a": 25_000_000, "b": 3_000_000}


def test_no_budget_by_default(tmp_path):
    assert config("[account]\nhandle = 'GleiberMD'\n", tmp_path)["x"]["monthly_budget"] is None


@pytest.mark.parametrize("text,says", [("[x.pricing]\npost = 'abc'\n", "post: 'abc' is not an amount"),
                                       ("[x.pricing]\nposts = 1\n", "unknown price 'posts'"),
                                       ("[x]\nmonthly_budget = -5\n", "-5"),
                                       ("[x]\npricing = 3\n", "must be a table")])
def test_bad_prices_name_the_key(tmp_path, text, says):
    with pytest.raises(ConfigError, match="pricing|monthly_budget") as err:
        config("[account]\nhandle = 'GleiberMD'\n" + text, tmp_path)
    assert says in str(err.value)


def test_billing_month_is_the_utc_calendar_month():
    new_york = timezone(timedelta(hours=-5))
    start, end = billing_month(datetime(2026, 12, 31, 22, 0, tzinfo=new_york))  # 2027-01-01 03:00 UTC
    assert (start, end) == (datetime(2027, 1, 1, tzinfo=UTC), datetime(2027, 2, 1, tzinfo=UTC))
    assert billing_month(datetime(2026, 12, 4, tzinfo=UTC)) == (datetime(2026, 12, 1, tzinfo=UTC),
                                                                 datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(ValueError):
        billing_month(datetime(2026, 12, 4))


def test_posts_come_first_reads_get_what_is_left():
    budget = 1_000_000  # $1
    assert may_post(budget, spent=970_000, committed=15_000, price=15_000)
    assert not may_post(budget, spent=970_000, committed=30_000, price=15_000)
    assert may_post(None, spent=10**12, committed=0, price=200_000)
    assert read_allowance(budget, spent=500_000, planned_posts=300_000) == 200_000
    assert read_allowance(budget, spent=900_000, planned_posts=300_000) == 0
    assert read_allowance(None, spent=1, planned_posts=1) is None


def test_the_followers_read_is_priced_as_a_read_unless_its_own_price_is_given():
    assert call_price(Pricing(), "user_read") == call_price(Pricing(), "metric_read", 1) == 5_000
    assert call_price(Pricing(read=7_000), "user_read") == 7_000
    assert call_price(Pricing(read=7_000, user_read=10_000), "user_read") == 10_000
