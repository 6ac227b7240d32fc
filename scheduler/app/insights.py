"""Insights: how each sent post did, grouped by what made it, the best and worst, a weekday x hour map of
engagement, and what X billed each month. What `scheduler insights`, /api/v1/insights and the Insights page
show (the JSON shape, ``report_json``, is the CLI's and the API's).

A post's figures are its parts' newest readings added up (``domain.post_curve``); its engagement rate is the one
rule of ``domain.metrics`` and says its basis (impressions or followers). Rates on different bases are never
averaged together: a group is one key on one basis, and best and worst are ranked within a basis.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.config import Config
from scheduler.domain import post_curve, when
from scheduler.domain.errors import InputError
from scheduler.domain.learning import Score, prior_of, score
from scheduler.ledger import insights as ledger
from scheduler.ledger.insights import SentPost
from scheduler.ledger.store import Store
from scheduler.networks.factory import destination

BY = post_curve.GROUP_BY
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
RANKED = 5  # best and worst: this many each
# suggest-slots: a weekday and hour needs this many measured posts to be suggested.
MIN_SLOT_POSTS = 3
_RELATIVE = re.compile(r"^\s*(\d{1,5})\s*([hdw])\s*$", re.IGNORECASE)
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


def parse_since(value: str, tz, now: datetime) -> datetime:
    """``--since``: an age (``30d``, ``12w``, ``48h``) before ``now``, or a date (``2026-03-01``, local midnight)
    or an ISO 8601 date-time (local without an offset). Returns UTC; refuses a time after ``now``."""
    text = value.strip()
    if (relative := _RELATIVE.match(text)) is not None:
        amount, unit = int(relative.group(1)), relative.group(2).lower()
        try:
            return now - amount * _UNITS[unit]
        except OverflowError:
            raise InputError(f"--since {value!r} reaches before the year 1; give a smaller age") from None
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        text += "T00:00:00"
    try:
        since = when.parse_when(text, tz)
    except InputError:
        raise InputError(f"--since {value!r} is neither an age nor a date: give e.g. 30d, 12w, 48h, "
                         "2026-03-01 or 2026-03-01T09:00:00 (local time without an offset)") from None
    if since > now:
        raise InputError(f"--since {value!r} is in the future ({since.isoformat()} UTC); give a past date or an age")
    return since


def check_by(value: str) -> str:
    if value not in BY:
        raise InputError(f"--by {value!r} is not one of {', '.join(BY)}")
    return value


@dataclass(frozen=True)
class PostResult:
    post: SentPost
    network: str
    tz: ZoneInfo
    points: tuple[post_curve.CurvePoint, ...]  # time order; the last is the newest

    @property
    def latest(self) -> post_curve.CurvePoint:
        return self.points[-1]

    @property
    def rate(self) -> float | None:
        return self.latest.engagement.rate

    @property
    def basis(self) -> str | None:
        basis = self.latest.engagement.basis
        return basis.value if basis is not None else None

    def key(self, by: str) -> str:
        p = self.post
        tip = f"{p.article_key}#{p.tip}" if p.tip is not None else "(ad hoc)"
        if by == "post":
            return p.post_id
        if by == "tip":
            return tip
        if by == "article":
            return p.article_key or "(ad hoc)"
        if by == "variant":  # one wording of one tip
            return f"{tip} v{p.variant}" if p.tip is not None else "(ad hoc)"
        if by == "template":
            return p.template or "(none)"
        if by == "weekday-hour":
            local = p.sent_at.astimezone(self.tz)
            return f"{WEEKDAYS[local.weekday()]} {local.hour:02d}:00"
        return self.network


@dataclass(frozen=True)
class Group:
    key: str
    basis: str | None
    posts: int
    interactions: int
    impressions: int | None
    rate: float | None  # the mean of its posts' rates (None: no post had a basis)


@dataclass(frozen=True)
class Ranking:
    basis: str
    best: tuple[PostResult, ...]
    worst: tuple[PostResult, ...]


@dataclass(frozen=True)
class HeatCell:
    weekday: int  # 0 = Monday, in the account's zone
    hour: int
    posts: int
    rate: float | None


@dataclass(frozen=True)
class MonthCost:
    account: str
    month: str  # YYYY-MM in the account's zone
    micro_usd: int
    calls: int
    by_kind: dict[str, int]


@dataclass(frozen=True)
class Report:
    now: datetime
    since: datetime | None
    by: str
    accounts: tuple[str, ...]
    outbox: tuple[str, ...]  # accounts posting to the outbox file: no metrics there
    results: tuple[PostResult, ...]  # posts with a reading, the newest sent first
    unmeasured: int  # sent posts without a reading yet
    groups: tuple[Group, ...]
    rankings: tuple[Ranking, ...]
    heat_basis: str | None
    heat: tuple[HeatCell, ...]
    cost: tuple[MonthCost, ...]
    zones: dict[str, str] = field(default_factory=dict)


def post_results(store: Store, config: Config, since: datetime | None) -> tuple[list[PostResult], int]:
    """The account's sent posts with readings (and how many sent posts have none yet)."""
    sent = ledger.sent_posts(store, config.account, since=since)
    readings = post_curve.by_post(store.metric_readings(account=config.account, since=since))
    results, unmeasured = [], 0
    for post in sent:
        points = post_curve.curve(readings.get(post.post_id, ()))
        if not points:
            unmeasured += 1
            continue
        results.append(PostResult(post, points[-1].reading.network, config.tz, tuple(points)))
    return results, unmeasured


def insights(store: Store, configs: Sequence[Config], now: datetime, *, since: datetime | None = None,
             by: str = "post") -> Report:
    """The insights of these accounts' posts sent since ``since`` (all when None), grouped ``by``."""
    check_by(by)
    results: list[PostResult] = []
    unmeasured = 0
    outbox: list[str] = []
    cost: list[MonthCost] = []
    for config in configs:
        if destination(config)["kind"] == "outbox":
            outbox.append(config.account_name)
        found, missing = post_results(store, config, since)
        results += found
        unmeasured += missing
        cost += month_costs(store, config, since)
    results.sort(key=lambda r: (r.post.sent_at, r.post.post_id), reverse=True)
    heat_basis = _main_basis(results)
    return Report(now=now, since=since, by=by, accounts=tuple(c.account_name for c in configs),
                  outbox=tuple(outbox), results=tuple(results), unmeasured=unmeasured,
                  groups=tuple(groups(results, by)), rankings=tuple(rankings(results)), heat_basis=heat_basis,
                  heat=tuple(heat(results, heat_basis)), cost=tuple(cost),
                  zones={c.account_name: str(c.tz) for c in configs})


def groups(results: Sequence[PostResult], by: str) -> list[Group]:
    """One row per key and basis, the highest mean rate first (rows without a rate last)."""
    found: dict[tuple[str, str | None], list[PostResult]] = {}
    for result in results:
        found.setdefault((result.key(by), result.basis), []).append(result)
    rows = []
    for (key, basis), members in found.items():
        rates = [m.rate for m in members if m.rate is not None]
        impressions = [m.latest.reading.impressions for m in members]
        rows.append(Group(key, basis, len(members), sum(m.latest.engagement.interactions for m in members),
                          None if any(i is None for i in impressions) else sum(impressions),  # type: ignore[arg-type]
                          sum(rates) / len(rates) if rates else None))
    return sorted(rows, key=lambda g: (g.rate is None, -(g.rate or 0.0), g.basis or "", g.key))


def rankings(results: Sequence[PostResult]) -> list[Ranking]:
    """Best and worst posts by engagement rate, within each basis (the basis with most posts first)."""
    by_basis: dict[str, list[PostResult]] = {}
    for result in results:
        if result.rate is not None and result.basis is not None:
            by_basis.setdefault(result.basis, []).append(result)
    out = []
    for basis, members in sorted(by_basis.items(), key=lambda item: (-len(item[1]), item[0])):
        ordered = sorted(members, key=lambda r: (-(r.rate or 0.0), r.post.post_id))
        best = ordered[:RANKED]
        worst = [r for r in reversed(ordered) if r not in best][:RANKED]
        out.append(Ranking(basis, tuple(best), tuple(worst)))
    return out


def _main_basis(results: Sequence[PostResult]) -> str | None:
    counts: dict[str, int] = {}
    for result in results:
        if result.basis is not None:
            counts[result.basis] = counts.get(result.basis, 0) + 1
    return max(sorted(counts), key=lambda b: counts[b]) if counts else None


def heat(results: Sequence[PostResult], basis: str | None) -> list[HeatCell]:
    """Mean engagement rate by weekday and hour of sending (in each account's zone), over the posts on
    ``basis``: 7 x 24 cells, Monday 00:00 first; a cell without posts has rate None."""
    cells: dict[tuple[int, int], list[float]] = {}
    for result in results:
        if result.basis == basis and result.rate is not None:
            local = result.post.sent_at.astimezone(result.tz)
            cells.setdefault((local.weekday(), local.hour), []).append(result.rate)
    return [HeatCell(d, h, len(cells.get((d, h), ())),
                     sum(cells[(d, h)]) / len(cells[(d, h)]) if (d, h) in cells else None)
            for d in range(7) for h in range(24)]


def month_costs(store: Store, config: Config, since: datetime | None) -> list[MonthCost]:
    """What the account's billed calls cost, per month of its own calendar, oldest first."""
    months: dict[str, MonthCost] = {}
    for call in store.billed_calls(account=config.account, start=since):
        month = call.at.astimezone(config.tz).strftime("%Y-%m")
        was = months.get(month) or MonthCost(config.account_name, month, 0, 0, {})
        kinds = dict(was.by_kind)
        kinds[call.kind] = kinds.get(call.kind, 0) + call.price_micro_usd
        months[month] = MonthCost(was.account, month, was.micro_usd + call.price_micro_usd, was.calls + 1, kinds)
    return [months[k] for k in sorted(months)]


# -- suggest-slots -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SlotSuggestion:
    weekday: int
    hour: int
    basis: str
    score: Score
    account_mean: float


def suggest_slots(store: Store, config: Config, now: datetime, *, since: datetime | None = None,
                  count: int = 5, min_posts: int = MIN_SLOT_POSTS) -> tuple[list[SlotSuggestion], int]:
    """The weekday-and-hour slots (in the account's zone) whose posts did best, by the shrunk mean of
    ``domain.learning`` over posts on the account's main basis; only slots with ``min_posts`` measured posts.
    Returns the suggestions and how many posts were measured. Changes nothing."""
    results, _ = post_results(store, config, since)
    basis = _main_basis(results)
    rates: dict[tuple[int, int], list[float]] = {}
    for result in results:
        if result.basis == basis and result.rate is not None:
            local = result.post.sent_at.astimezone(config.tz)
            rates.setdefault((local.weekday(), local.hour), []).append(result.rate)
    prior, total = prior_of(rates)
    scored = [SlotSuggestion(d, h, basis or "", score(r, prior=prior, total=total), prior)
              for (d, h), r in rates.items() if len(r) >= min_posts]
    scored.sort(key=lambda s: (-(s.score.shrunk or 0.0), s.weekday, s.hour))
    return scored[:count], total
