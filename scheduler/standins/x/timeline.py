"""The stand-in X's state (accounts, posts, OAuth 2.0 grants) and its timeline reads: query parameters,
paging tokens, t.co links and how X shows them."""

from __future__ import annotations

import base64
import re
import string
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any

from scheduler.standins.x.faults import _invalid_parameter

# X wraps every link in https://t.co/ + 10 letters and digits: 23 characters, the weight twitter-text gives a link.
TCO_PREFIX = "https://t.co/"


TCO_CODE_LENGTH = 10


_TCO_ALPHABET = string.ascii_letters + string.digits


DISPLAY_URL_LENGTH = 30  # X's own cut is not documented; a longer display_url ends in "…" here


_SCHEME = re.compile(r"https?://", re.IGNORECASE)


# Pay-per-use pricing (2026): each post a read returns costs this much.
READ_COST_PER_POST_USD = 0.005


TIMELINE_DEPTH = 3200  # GET /2/users/:id/tweets reaches only the most recent 3,200 posts


TIMELINE_PARAMETERS = frozenset(
    """end_time exclude expansions max_results media.fields pagination_token place.fields poll.fields since_id
    start_time tweet.fields until_id user.fields""".split()
)


# "YYYY-MM-DDTHH:mm:ssZ (ISO 8601/RFC 3339)"; X's docs: "this parameter does not support a millisecond value".
_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:Z|[+-]\d{2}:\d{2})")


EARLIEST_START = datetime(2010, 11, 6, tzinfo=timezone.utc)


@dataclass
class Account:
    """One X user. OAuth 1.0a access token pair plus any OAuth 2.0 access tokens issued to it."""

    user_id: str
    username: str
    name: str
    access_token: str
    access_token_secret: str


@dataclass
class Post:
    id: str
    text: str  # as posted: what duplicate detection compares, and what timeline() shows
    author_id: str
    reply_to: str | None
    media_ids: tuple[str, ...]
    created_at: datetime
    rendered: str = ""  # as X returns it: escaped, links wrapped in t.co, a media link appended
    urls: tuple[dict[str, Any], ...] = ()  # entities.urls over `rendered`

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "rendered_text": self.rendered,
            "entities": {"urls": [dict(u) for u in self.urls]},
            "reply_to": self.reply_to,
            "media_ids": list(self.media_ids),
            "created_at": self.created_at,
        }


@dataclass
class _OAuth2Grant:
    """What an authorization code or a token stands for."""

    username: str
    scope: str
    client_id: str
    expires_at: float = 0.0  # access tokens only (epoch seconds)
    code_challenge: str = ""  # codes only
    redirect_uri: str = ""  # codes only


@dataclass
class _State:
    accounts: dict[str, Account] = field(default_factory=dict)  # by username
    posts: list[Post] = field(default_factory=list)  # creation order
    media: dict[str, str] = field(default_factory=dict)  # media id -> owner username
    codes: dict[str, _OAuth2Grant] = field(default_factory=dict)
    access_tokens: dict[str, _OAuth2Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, _OAuth2Grant] = field(default_factory=dict)
    spent_refresh_tokens: set[str] = field(default_factory=set)
    read_access: bool = True
    read_lag_s: float = 0.0
    reads_billed: int = 0  # posts returned by reads, in all
    short_codes: set[str] = field(default_factory=set)  # t.co codes handed out


TWEET_FIELDS = frozenset(
    """attachments author_id card_uri community_id context_annotations conversation_id created_at display_text_range
    edit_controls edit_history_tweet_ids entities geo id in_reply_to_user_id lang media_metadata non_public_metrics
    note_tweet organic_metrics possibly_sensitive promoted_metrics public_metrics referenced_tweets reply_settings
    scopes source text withheld""".split()
)


def _timeline_params(query: dict[str, str]) -> dict[str, Any] | tuple[int, dict[str, Any]]:
    """The checked query of GET /2/users/:id/tweets, or X's 400 for the first thing wrong with it."""
    unknown = sorted(set(query) - TIMELINE_PARAMETERS)
    if unknown:
        return _invalid_parameter(
            unknown[0], query[unknown[0]],
            f"The query parameter [{unknown[0]}] is not one of [{','.join(sorted(TIMELINE_PARAMETERS))}]",
        )
    params: dict[str, Any] = {}
    raw = query.get("max_results", "10")
    if not raw.isdigit() or not 5 <= int(raw) <= 100:
        return _invalid_parameter(
            "max_results", raw, f"The `max_results` query parameter value [{raw}] is not between 5 and 100"
        )
    params["max_results"] = int(raw)
    for name, earliest in (("start_time", EARLIEST_START), ("end_time", EARLIEST_START + timedelta(seconds=1))):
        value = query.get(name)
        if value is None:
            params[name] = None
            continue
        try:
            if not _TIMESTAMP.fullmatch(value):  # no milliseconds: X's docs say it does not support them
                raise ValueError(value)
            moment = datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(timezone.utc)
        except ValueError:
            return _invalid_parameter(
                name, value, f"Invalid '{name}':'{value}'. '{name}' must be YYYY-MM-DDTHH:mm:ssZ (RFC 3339)"
            )
        if moment < earliest:
            return _invalid_parameter(
                name, value, f"Invalid '{name}':'{value}'. '{name}' must be on or after {earliest:%Y-%m-%dT%H:%M:%SZ}"
            )
        params[name] = moment
    if params["start_time"] and params["end_time"] and params["start_time"] > params["end_time"]:
        return _invalid_parameter(
            "start_time", query["start_time"], "Invalid 'start_time'. 'start_time' must be on or before 'end_time'"
        )
    for name in ("since_id", "until_id"):
        value = query.get(name)
        if value is not None and not value.isdigit():
            return _invalid_parameter(name, value, f"The `{name}` query parameter value [{value}] is not valid")
        params[name] = int(value) if value is not None else None
    exclude = set(filter(None, query.get("exclude", "").split(",")))
    fields = set(filter(None, query.get("tweet.fields", "").split(",")))
    for name, given, allowed in (("exclude", exclude, {"replies", "retweets"}), ("tweet.fields", fields, TWEET_FIELDS)):
        if given - allowed:
            wrong = sorted(given - allowed)[0]
            return _invalid_parameter(
                name, wrong, f"The `{name}` query parameter value [{wrong}] is not one of [{','.join(sorted(allowed))}]"
            )
    params["exclude"], params["fields"] = exclude, fields
    if "pagination_token" in query:
        cursor = _read_page_token(query["pagination_token"])
        if cursor is None:
            token = query["pagination_token"]
            return _invalid_parameter(
                "pagination_token", token, f"The `pagination_token` query parameter value [{token}] is not valid"
            )
        params["cursor"] = cursor
    return params


def _matches(post: Post, params: dict[str, Any]) -> bool:
    """Whether a timeline query's filters keep ``post``; times compare by the second, both ends inclusive."""
    second = post.created_at.replace(microsecond=0)
    post_id = int(post.id)
    return (
        (params["start_time"] is None or second >= params["start_time"])
        and (params["end_time"] is None or second <= params["end_time"])
        and (params["since_id"] is None or post_id > params["since_id"])
        and (params["until_id"] is None or post_id < params["until_id"])
        and not ("replies" in params["exclude"] and post.reply_to)
    )


def _page_token(direction: str, post_id: str) -> str:
    """An opaque cursor: the page before or after ``post_id``. A cursor, not an offset, so that posts arriving
    while a client pages neither repeat nor hide a post (X's tokens behave so)."""
    return base64.b32encode(f"{direction}:{post_id}".encode()).decode().rstrip("=").lower()


def _read_page_token(token: str) -> tuple[str, int] | None:
    try:
        direction, post_id = base64.b32decode(token.upper() + "=" * (-len(token) % 8)).decode().split(":")
        if direction in ("next", "previous") and post_id.isdigit():
            return direction, int(post_id)
    except ValueError:  # binascii.Error and UnicodeDecodeError are ValueErrors
        pass
    return None


def _display_url(expanded: str) -> str:
    """The link as X shows it: no scheme, no "www.", long ones cut with an ellipsis (X's exact cut unknown)."""
    shown = re.sub(r"^https?://(?:www\.)?", "", expanded, flags=re.IGNORECASE)
    return shown if len(shown) <= DISPLAY_URL_LENGTH else shown[:DISPLAY_URL_LENGTH] + "\u2026"
