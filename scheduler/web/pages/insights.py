"""The Insights page: how sent posts did (a sparkline each), best and worst, a weekday x hour heat map of
engagement and X's cost per month, all drawn on the server (web/charts.py); the same report as
`scheduler insights` (app/insights.py)."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from scheduler.app import insights as app
from scheduler.app.insights_views import BASIS_NOTE, post_json
from scheduler.domain.errors import InputError
from scheduler.web import charts
from scheduler.web.pages.base import render, web_of

SHOWN_POSTS = 50  # newest posts with a sparkline each; `scheduler insights --json` has them all


def _context(web, since_text: str, by: str) -> dict:
    now = web.clock()
    since = app.parse_since(since_text, web.config.tz, now) if since_text else None
    report = app.insights(web.store, [web.config], now, since=since, by=app.check_by(by))
    posts = []
    for result in report.results[:SHOWN_POSTS]:
        row = post_json(result, with_curve=False)
        values = [point.engagement.interactions for point in result.points]
        row["spark"] = charts.sparkline(
            values, title=f"Interactions of {result.post.post_id} over its {len(values)} readings",
            desc=f"from {values[0]} to {values[-1]} interactions")
        posts.append(row)
    heat_cells = [(c.weekday, c.hour, c.posts, c.rate) for c in report.heat]
    measured = [c for c in report.heat if c.posts and c.rate is not None]
    heat = None
    if measured:
        top = max(measured, key=lambda c: c.rate or 0.0)
        heat = charts.heat_map(
            heat_cells, title=f"Mean engagement rate by weekday and hour sent ({web.config.tz.key})",
            desc=f"{len(measured)} of 168 weekday-hours had posts; the highest mean rate, {top.rate:.2%} over "
                 f"{top.posts} posts, was {charts.WEEKDAYS[top.weekday]} {top.hour:02d}:00")
    cost = charts.bars(
        [(c.month, c.micro_usd / 1_000_000, f"${c.micro_usd / 1_000_000:.2f}") for c in report.cost],
        title="X's billed calls per month", desc="; ".join(
            f"{c.month}: ${c.micro_usd / 1_000_000:.2f} over {c.calls} calls" for c in report.cost)) if report.cost else None
    return {"report": report, "posts": posts, "heat": heat, "cost": cost, "basis_note": BASIS_NOTE,
            "by_choices": app.BY, "by": by, "since": since_text, "shown": SHOWN_POSTS,
            "rankings": [{"basis": r.basis, "best": [post_json(p, with_curve=False) for p in r.best],
                          "worst": [post_json(p, with_curve=False) for p in r.worst]} for r in report.rankings],
            "groups": report.groups}


async def insights(request: Request):
    web = web_of(request)
    since, by = request.query_params.get("since", "").strip(), request.query_params.get("by", "post")
    try:
        context = await run_in_threadpool(_context, web, since, by)
    except InputError as exc:
        context = await run_in_threadpool(_context, web, "", "post")
        return await render(request, "insights.html", 400, title="Insights", error=str(exc), **context)
    return await render(request, "insights.html", title="Insights", **context)
