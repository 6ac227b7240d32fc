"""How insights look to a script (``report_json``: `insights --json` and /api/v1/insights, the same field names)
and to a person (``report_text``: tables, each naming the basis of its engagement rates).

The JSON shape is a documented interface (docs/insights.md): add fields, never rename.
"""

from __future__ import annotations

from scheduler.app.insights import WEEKDAYS, Group, MonthCost, PostResult, Report, SlotSuggestion
from scheduler.app.views import iso
from scheduler.domain.post_curve import CurvePoint

BASIS_NOTE = {"impressions": "interactions / impressions", "followers": "interactions / followers at the reading",
              None: "no basis: neither impressions nor followers known"}


def _rate(rate: float | None) -> float | None:
    return None if rate is None else round(rate, 6)


def point_json(point: CurvePoint, tz) -> dict:
    r, e = point.reading, point.engagement
    return {"read_at": iso(r.read_at, tz), "likes": r.likes, "reposts": r.reposts, "replies": r.replies,
            "quotes": r.quotes, "impressions": r.impressions, "bookmarks": r.bookmarks, "followers": r.followers,
            "url_link_clicks": r.url_link_clicks, "user_profile_clicks": r.user_profile_clicks,
            "interactions": e.interactions, "engagement_rate": _rate(e.rate),
            "rate_basis": e.basis.value if e.basis else None}


def post_json(result: PostResult, *, with_curve: bool = True) -> dict:
    p = result.post
    row = {"post_id": p.post_id, "account": p.account, "network": result.network, "kind": p.kind,
           "article": p.article_key, "tip": p.tip, "template": p.template, "variant": p.variant,
           "text": p.text, "sent_at": iso(p.sent_at, result.tz), "sent_at_utc": iso(p.sent_at),
           **point_json(result.latest, result.tz)}
    if with_curve:
        row["curve"] = [point_json(point, result.tz) for point in result.points]
    return row


def group_json(group: Group, by: str) -> dict:
    return {"by": by, "key": group.key, "posts": group.posts, "interactions": group.interactions,
            "impressions": group.impressions, "engagement_rate": _rate(group.rate), "rate_basis": group.basis}


def cost_json(cost: MonthCost) -> dict:
    return {"account": cost.account, "month": cost.month, "usd": round(cost.micro_usd / 1_000_000, 6),
            "micro_usd": cost.micro_usd, "calls": cost.calls, "by_kind_micro_usd": dict(sorted(cost.by_kind.items()))}


def report_json(report: Report) -> dict:
    return {
        "now": iso(report.now),
        "since": iso(report.since),
        "by": report.by,
        "accounts": list(report.accounts),
        "time_zones": report.zones,
        "no_metrics": [{"account": a, "why": "posts go to the outbox file: there is no network to read metrics from"}
                       for a in report.outbox],
        "measured_posts": len(report.results),
        "unmeasured_posts": report.unmeasured,
        "groups": [group_json(g, report.by) for g in report.groups],
        "rankings": [{"rate_basis": r.basis, "best": [post_json(p, with_curve=False) for p in r.best],
                      "worst": [post_json(p, with_curve=False) for p in r.worst]} for r in report.rankings],
        "heatmap": {"rate_basis": report.heat_basis,
                    "cells": [{"weekday": WEEKDAYS[c.weekday], "hour": c.hour, "posts": c.posts,
                               "engagement_rate": _rate(c.rate)} for c in report.heat if c.posts]},
        "cost": [cost_json(c) for c in report.cost],
        "posts": [post_json(p) for p in report.results],
    }


def _pct(rate: float | None) -> str:
    return "-" if rate is None else f"{rate:.2%}"


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return [line(header), *(line(r) for r in rows)]


def report_text(report: Report) -> str:
    out: list[str] = []
    since = f" since {report.since:%Y-%m-%d %H:%M} UTC" if report.since else ""
    for account in report.outbox:
        out.append(f"{account}: posts go to the outbox file, so there are no metrics to show for it.")
    if not report.results:
        out.append(f"No metrics yet{since}: the service reads each sent post's metrics on [metrics] schedule (by "
                   "default 1 h, 24 h, 7 d and 30 d after sending; `scheduler insights collect` reads what is due "
                   "now). Run `scheduler serve` with an account on X, Bluesky or Mastodon, then come back.")
        out += _cost_lines(report)
        return "\n".join(out)
    out.append(f"{len(report.results)} posts measured{since}"
               + (f" ({report.unmeasured} sent posts not read yet)" if report.unmeasured else "") + ".")
    out.append("Engagement rate = interactions (likes + reposts + replies + quotes) / its basis, named per row.")
    out.append("")
    out.append(f"By {report.by}:")
    out += _table(["key", "posts", "interactions", "impressions", "rate", "basis"],
                  [[g.key, str(g.posts), str(g.interactions), "-" if g.impressions is None else str(g.impressions),
                    _pct(g.rate), g.basis or "-"] for g in report.groups])
    for ranking in report.rankings:
        for title, posts in (("Best", ranking.best), ("Worst", ranking.worst)):
            if posts:
                out += ["", f"{title} posts (rate per {ranking.basis}: {BASIS_NOTE[ranking.basis]}):"]
                out += _table(["post", "sent", "interactions", "rate", "text"],
                              [[p.post.post_id, f"{p.post.sent_at.astimezone(p.tz):%Y-%m-%d %H:%M %Z}",
                                str(p.latest.engagement.interactions), _pct(p.rate), _short(p.post.text)]
                               for p in posts])
    out += _cost_lines(report)
    return "\n".join(out)


def _cost_lines(report: Report) -> list[str]:
    if not report.cost:
        return []
    return ["", "Cost per month (X's billed calls):", *_table(
        ["account", "month", "calls", "USD"],
        [[c.account, c.month, str(c.calls), f"{c.micro_usd / 1_000_000:.2f}"] for c in report.cost])]


def _short(text: str, width: int = 50) -> str:
    one = " ".join(text.split())
    return one if len(one) <= width else one[: width - 1] + "…"


def slots_json(suggestions: list[SlotSuggestion], measured: int, tz) -> dict:
    return {"time_zone": str(tz), "measured_posts": measured, "changes_calendar": False,
            "slots": [{"weekday": WEEKDAYS[s.weekday], "hour": s.hour, "posts": s.score.posts,
                       "engagement_rate": _rate(s.score.mean), "shrunk_rate": _rate(s.score.shrunk),
                       "account_rate": _rate(s.account_mean), "rate_basis": s.basis} for s in suggestions]}


def slots_text(suggestions: list[SlotSuggestion], measured: int, tz, min_posts: int) -> str:
    if not suggestions:
        return (f"No slot has {min_posts} or more measured posts yet ({measured} measured): nothing to suggest. "
                "Metrics come in as the service reads them; try again later.")
    lines = [f"Slots your own posts favour ({tz}; {measured} measured posts; rate per {suggestions[0].basis}: "
             f"{BASIS_NOTE[suggestions[0].basis]}):"]
    lines += _table(["slot", "posts", "mean rate", "shrunk rate", "your mean"],
                    [[f"{WEEKDAYS[s.weekday]} {s.hour:02d}:00", str(s.score.posts), _pct(s.score.mean),
                      _pct(s.score.shrunk), _pct(s.account_mean)] for s in suggestions])
    first = suggestions[0]
    lines.append("Nothing was changed. To use a slot, add it to [calendar] slots in scheduler.toml "
                 f"(e.g. \"{WEEKDAYS[first.weekday].lower()} {first.hour:02d}:00\").")
    return "\n".join(lines)
