"""The dashboard's pages: server-rendered HTML (Jinja2, autoescaped), refreshed by htmx.

Each handler reads through the same functions as the CLI and changes the ledger only through
scheduler.web.actions. Forms post back and redirect (303); a refused change shows the page again
with the domain's own message and a 4xx status.

    base.py       what every page shares: templates, context, rendering, error pages, redirects
    signin.py     sign in and out
    calendar.py   the calendar
    queue.py      the queue and its changes
    articles.py   articles, upload, an article's tips
    history.py    history, settling, status, live
    insights.py   insights: how sent posts did, and what X billed
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Route

from scheduler.web.pages.articles import article, articles, articles_upload
from scheduler.web.pages.base import _back, error_page, render
from scheduler.web.pages.calendar import calendar
from scheduler.web.pages.history import history, live, resolve, status_page
from scheduler.web.pages.insights import insights
from scheduler.web.pages.queue import (
    count,
    media,
    queue,
    queue_add,
    queue_edit,
    queue_move,
    queue_pause,
    queue_pin,
    queue_remove,
    queue_restore,
    queue_resume,
)
from scheduler.web.pages.signin import login, login_page, logout

__all__ = ["error_page", "render", "routes"]  # error_page and render: for scheduler.web.api and review_routes


async def home(request: Request):
    return _back("/calendar", request)


def routes() -> list:
    return [
        Route("/", home),
        Route("/login", login_page, methods=["GET"]),
        Route("/login", login, methods=["POST"]),
        Route("/logout", logout, methods=["POST"]),
        Route("/calendar", calendar),
        Route("/queue", queue, methods=["GET"]),
        Route("/queue", queue_add, methods=["POST"]),
        Route("/queue/pause", queue_pause, methods=["POST"]),
        Route("/queue/resume", queue_resume, methods=["POST"]),
        Route("/queue/{post_id}/move", queue_move, methods=["POST"]),
        Route("/queue/{post_id}/pin", queue_pin, methods=["POST"]),
        Route("/queue/{post_id}/remove", queue_remove, methods=["POST"]),
        Route("/queue/{post_id}/restore", queue_restore, methods=["POST"]),
        Route("/queue/{post_id}/edit", queue_edit, methods=["POST"]),
        Route("/compose/count", count, methods=["POST"]),
        Route("/media/{post_id}/{index:int}", media),
        Route("/articles", articles, methods=["GET"]),
        Route("/articles", articles_upload, methods=["POST"]),
        Route("/articles/{key}", article),
        Route("/history", history, methods=["GET"]),
        Route("/history/{post_id}/resolve", resolve, methods=["POST"]),
        Route("/status", status_page),
        Route("/live", live),
        Route("/insights", insights),
    ]
