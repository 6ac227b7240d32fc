"""What every route handler shares, pages and API alike: reading parameters and bodies, the request's own post, and the HTTP status each domain error answers with."""

from __future__ import annotations


import json
from datetime import datetime

from starlette.exceptions import HTTPException
from starlette.requests import Request

from scheduler.domain.errors import (ArticleError, DuplicateError, InputError, QueueError, ReviewError, SchedulerError,
                                     TextError)
from scheduler.domain.when import parse_when as read_when
from scheduler.review.policy import NotAllowed
from scheduler.web.context import account_web


class BadRequest(HTTPException):
    def __init__(self, message: str, status: int = 400):
        super().__init__(status_code=status, detail=message)


def web_of(request: Request):
    """The request's account's view of the dashboard (``?account=NAME``; scheduler.web.context)."""
    return account_web(request)


def parse_when(value: str, tz) -> datetime:
    """ISO 8601 as the CLI reads it (without an offset: the account's local time)."""
    try:
        return read_when(value, tz)
    except InputError as exc:
        raise BadRequest(str(exc)) from None


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(f"{name}={raw!r} is not a whole number") from None
    if not low <= value <= high:
        raise BadRequest(f"{name}={value} is out of range; use {low} to {high}")
    return value


async def json_body(request: Request) -> dict:
    try:
        body = json.loads(await request.body() or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BadRequest(f"the request body is not JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("the request body must be a JSON object, e.g. {\"text\": \"...\"}")
    return body


def own_post(web, post_id: str):
    try:
        post = web.store.get(post_id)
    except QueueError:
        post = None
    if post is None or post.account != web.config.account:
        raise BadRequest(f"no post with id {post_id!r}; GET /api/v1/queue lists the queue", 404)
    return post


def domain_status(exc: SchedulerError) -> int:
    if isinstance(exc, DuplicateError):
        return 409
    if isinstance(exc, TextError):
        return 422  # the same text error, whichever endpoint it came through (POST or PATCH)
    if isinstance(exc, QueueError):
        return 409
    if isinstance(exc, ArticleError):
        return 422
    if isinstance(exc, ReviewError):
        if isinstance(exc, NotAllowed):
            return 403  # the role, or separation of duties: this identity may not decide
        return 409  # a blocking finding, a post not waiting, or a text changed since it was shown
    return 400


def audit_json(record, tz) -> dict:
    return {"at": record.at.astimezone(tz).isoformat(), "actor": record.actor, "action": record.action,
            "post_id": record.post_id, "detail": record.detail}
