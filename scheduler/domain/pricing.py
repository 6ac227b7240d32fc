"""What X bills for each call, in millionths of a dollar, and the one rule that prices a call.

X moved to pay-per-use in 2026 (../shared/X_API.md, "Limits and quotas"): a post, a post whose text holds a link
(billed much higher), and every post a read returns (a metric read, or the look-up after a lost answer) each cost
money, and so does the read of the account itself (``users/me``, for its followers: ``user_read``). The defaults below are the published prices as checked on ``PRICES_CHECKED``; a user whose contract says
otherwise sets ``[x.pricing]`` in scheduler.toml. Prices are integers of millionths of a dollar, so a month's spend
is an exact sum and never drifts by float rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

PRICES_CHECKED = "2026-12-04"

# What a billed call is: the kinds the ledger's billed_calls.kind allows (migrations m016_insights, m019).
CALL_KINDS = ("post", "post_with_link", "metric_read", "lookup_read", "user_read")

MICRO = 1_000_000


@dataclass(frozen=True)
class Pricing:
    """X's prices in millionths of a dollar: per post, per post with a link, per post returned by a read, per read
    of the account itself (None: priced as ``read``)."""

    post: int = 15_000  # $0.015
    post_with_link: int = 200_000  # $0.20
    read: int = 5_000  # $0.005 per post read
    user_read: int | None = None  # the followers read (users/me); X publishes no price of its own for it

    def as_dollars(self) -> dict[str, str]:
        return {"post": dollars(self.post), "post_with_link": dollars(self.post_with_link), "read": dollars(self.read),
                "user_read": dollars(self.user_read if self.user_read is not None else self.read)}


DEFAULT_PRICING = Pricing()


def call_price(pricing: Pricing, kind: str, units: int = 1) -> int:
    """The price of one billed call in millionths of a dollar. ``units``: posts created (1) or posts returned by
    a read; a read that returned nothing is not billed."""
    if kind not in CALL_KINDS:
        raise ValueError(f"unknown billed call kind {kind!r}; one of {', '.join(CALL_KINDS)}")
    if units < 0:
        raise ValueError(f"units must not be negative, got {units}")
    user_read = pricing.user_read if pricing.user_read is not None else pricing.read
    each = {"post": pricing.post, "post_with_link": pricing.post_with_link, "user_read": user_read}.get(kind, pricing.read)
    return each * units


def parse_dollars(value: object) -> int:
    """A price or budget as TOML gives it (0.015, "0.015", 25, "$25") -> millionths of a dollar. Refuses what is
    not a non-negative amount, or finer than a millionth."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not an amount in dollars; write e.g. 0.015 or \"25\"")
    text = str(value).strip().removeprefix("$").strip()
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount in dollars; write e.g. 0.015 or \"25\"") from None
    if not amount.is_finite() or amount < 0:
        raise ValueError(f"{value!r} must be an amount of 0 dollars or more")
    micro = amount * MICRO
    if micro != micro.to_integral_value():
        raise ValueError(f"{value!r} is finer than a millionth of a dollar")
    return int(micro)


def dollars(micro: int) -> str:
    """Millionths of a dollar shown as dollars: 15000 -> "$0.015", 25000000 -> "$25.00"."""
    amount = Decimal(micro) / MICRO
    text = f"{amount:.6f}".rstrip("0")
    whole, _, cents = text.partition(".")
    return f"${whole}.{cents.ljust(2, '0')}"
