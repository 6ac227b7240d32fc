"""XPublisher: posts through tweepy to X (or the stand-in) and turns every failure into a PublishError.

The mapping decides whether a post may be retried, so it errs on the safe side: anything that
may have reached X without an answer coming back is OutcomeUnknown (reconcile before retrying),
and only failures that provably happened before the request left are TransientError (which is
decided for every publisher in scheduler.networks.reached).

Metrics: ``GET /2/tweets?ids=`` (100 ids a call) with ``tweet.fields=public_metrics`` (impressions, likes,
reposts, replies, quotes, bookmarks); an id X answers "Not Found Error" for is a deleted post, not a failed read.
X bills every post a read returns. Followers: ``GET /2/users/me`` with ``user.fields=public_metrics``.

Non-public metrics (link and profile clicks): X gives them only for the user's own posts created in the last 30
days, and only to user-context auth. A post's creation time is in its id (a snowflake), so the ids of posts younger
than 30 days (less a margin for clocks) are read with ``public_metrics,non_public_metrics`` and the rest with
``public_metrics`` alone. A post X refuses the field for (under ``errors``, "not-authorized-for-field") is read
again publicly; a call X refuses outright (400, or 403 "unsupported-authentication": app-only auth) is read again
publicly, and after an auth refusal this publisher stops asking.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

import requests
import tweepy

from scheduler.networks.x.credentials import Credentials, OAuth1Credentials, OAuth2Credentials, register_secrets, secret_values
from scheduler.domain.errors import CredentialsError
from scheduler.networks.x.oauth2 import TokenEndpointUnavailable, endpoints_for, ensure_fresh_access_token
from scheduler.networks import media
from scheduler.networks.x import text as x_text
from scheduler.networks.base import (
    AuthError,
    DuplicateContent,
    LookupUnavailable,
    OutcomeUnknown,
    PartMetrics,
    PublishedTweet,
    PublishError,
    RateLimited,
    ReadResult,
    Rejected,
    TransientError,
    chunks,
    reset_from_epoch,
    reset_time,
)
from scheduler.networks.reached import network_error, refuse_redirects, unexpected
from scheduler.networks.transport import DEFAULT_TIMEOUT, X_API_URL, mount

# A look-up reads the account's posts since the attempt, newest first, in X's smallest pages: the post
# sought is usually among the first few, and X bills every post returned.
LOOKUP_PAGE = 5
MAX_LOOKUP_PAGES = 20
DETAIL_MAX = 300
# 403 problem types that mean "this app or plan may not do this": a person must fix the setup.
AUTH_PROBLEMS = ("oauth1-permissions", "client-forbidden", "unsupported-authentication")
NOT_FOUND = "resource-not-found"  # the problem type of an id X has no post for
NOT_AUTHORIZED_FOR_FIELD = "not-authorized-for-field"  # a post X gives no non-public metrics for
PUBLIC_FIELDS = ["public_metrics"]
PRIVATE_FIELDS = ["public_metrics", "non_public_metrics"]
PRIVATE_MAX_AGE = timedelta(days=30) - timedelta(hours=1)  # X's limit, less a margin for X's clock and ours
TWITTER_EPOCH_MS = 1288834974657  # a snowflake id's high bits count milliseconds from here

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class XPublisher:
    name = "x"

    def __init__(
        self,
        credentials: Credentials | Callable[[], str],
        *,
        handle: str,
        api_url: str | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = _utc_now,
        ca_file: Path | None = None,
    ) -> None:
        """``credentials``: OAuth 1.0a values, an OAuth 2.0 token file (refreshed as needed, using
        ``clock``), or a callable returning a current OAuth 2.0 user access token.
        ``api_url``: None for X itself; the stand-in's URL in tests and demos. ``ca_file``: certificates
        to trust instead of the system's (a stand-in's own, over HTTPS)."""
        self.handle = handle.lstrip("@")
        self.api_url = api_url or X_API_URL
        self._user_id: str | None = None
        self._clock = clock
        # Posts X has returned to this publisher's reads: X bills each (publishing/billing.py reads the count).
        self.posts_read = 0
        self._bearer: Callable[[], str] | None = None
        self._private_refused = False  # X refused non-public metrics to these credentials: ask no more
        if isinstance(credentials, OAuth1Credentials):
            register_secrets(secret_values(credentials))
            self._client = tweepy.Client(
                consumer_key=credentials.api_key,
                consumer_secret=credentials.api_secret,
                access_token=credentials.access_token,
                access_token_secret=credentials.access_token_secret,
            )
            self._user_auth = True
        else:
            if isinstance(credentials, OAuth2Credentials):
                register_secrets(secret_values(credentials))
                token_file: Path = credentials.token_file
                token_url = endpoints_for(self.api_url).token_url
                self._bearer = lambda: ensure_fresh_access_token(token_file, token_url, clock())
            else:
                self._bearer = credentials
            self._client = tweepy.Client(bearer_token="")  # set per request from the provider
            self._user_auth = False  # an OAuth 2.0 user token travels as a Bearer header
        # Never wait_on_rate_limit: tweepy would sleep and then re-send the POST blindly.
        mount(self._client.session, self.api_url, timeout, str(ca_file) if ca_file is not None else None)
        refuse_redirects(self._client.session)  # see reached.py: a redirected POST is an answer, not a retry

    # -- Publisher protocol ------------------------------------------------------------------------

    def create_post(self, text: str, *, reply_to: str | None = None, media_ids: tuple[str, ...] = (),
                    key: str | None = None) -> str:
        self._refresh_bearer()
        try:
            response = self._client.create_tweet(
                text=text,
                in_reply_to_tweet_id=reply_to,
                media_ids=list(media_ids) or None,
                user_auth=self._user_auth,
            )
        except tweepy.TwitterServerError as exc:
            # X's gateways answer 5xx after the post was created: an uncertain outcome, not a failure.
            raise OutcomeUnknown(_problem_detail(exc), _status(exc)) from None
        except tweepy.HTTPException as exc:
            raise _http_error(exc, self._clock()) from None
        except requests.JSONDecodeError:  # a 2xx whose body is not JSON: the post may well exist
            raise OutcomeUnknown("X answered with a success status but an unreadable body") from None
        except requests.RequestException as exc:
            raise network_error(exc, creates=True) from None
        except Exception as exc:  # noqa: BLE001 - every failure of a create is classified (reached.py)
            raise unexpected(exc, creates=True) from None
        data = response.data if isinstance(response.data, dict) else {}
        if not data.get("id"):
            raise OutcomeUnknown("X answered with a success status but no post id")
        return str(data["id"])

    def upload_media(self, path: Path) -> str:
        self._refresh_bearer()
        auth = None
        headers = {"User-Agent": self._client.user_agent}
        if self._user_auth:
            c = self._client
            auth = tweepy.OAuth1UserHandler(
                c.consumer_key, c.consumer_secret, c.access_token, c.access_token_secret
            ).apply_auth()
        else:
            headers["Authorization"] = f"Bearer {self._client.bearer_token}"
        try:
            response = media.upload_image(self._client.session, Path(path), auth=auth, headers=headers)
        except requests.RequestException as exc:
            # An upload whose answer was lost leaves at most an unattached image that X expires
            # in a day; nothing is published, so a retry is safe.
            raise network_error(exc, creates=False) from None
        if not 200 <= response.status_code < 300:
            raise _http_error(_as_tweepy_error(response), self._clock())
        try:
            return str(response.json()["data"]["id"])
        except (ValueError, KeyError, TypeError):
            raise TransientError(f"{path}: the media upload answered without a media id") from None

    def find_post(self, text: str, *, since: datetime, reply_to: str | None = None,
                  with_media: bool = False, key: str | None = None) -> str | None:
        for tweet, urls in self._posts_since(since):
            if reply_to is not None and tweet.in_reply_to != reply_to:
                continue
            if x_text.same_text(text, x_text.posted_text(tweet.text, urls)):
                return tweet.tweet_id
        return None

    def _posts_since(self, since: datetime) -> Iterator[tuple[PublishedTweet, list[dict[str, Any]]]]:
        """Each post (as X renders it) with its ``entities.urls``, newest first, a small page at a time."""
        self._refresh_bearer(lookup=True)
        try:
            user_id = self._me()
            token = None
            for _ in range(MAX_LOOKUP_PAGES):
                page = self._client.get_users_tweets(
                    user_id,
                    start_time=since,
                    max_results=LOOKUP_PAGE,
                    tweet_fields=["created_at", "referenced_tweets", "entities"],
                    pagination_token=token,
                    user_auth=self._user_auth,
                )
                self.posts_read += len(page.data or [])
                for tweet in page.data or []:
                    urls = (tweet.entities or {}).get("urls") or []
                    yield _published(tweet), [u for u in urls if isinstance(u, dict)]
                token = (page.meta or {}).get("next_token")
                if not token:
                    return
        except (tweepy.Unauthorized, tweepy.Forbidden, tweepy.NotFound) as exc:
            raise LookupUnavailable(_problem_detail(exc), _status(exc)) from None
        except tweepy.HTTPException as exc:
            raise _http_error(exc, self._clock()) from None
        except requests.RequestException as exc:
            # A read has no side effect: whatever happened, asking again is safe.
            raise network_error(exc, creates=False) from None

    def new_key(self, now: datetime) -> None:
        return None  # X offers no idempotency: an uncertain post is looked up by its text

    metrics_batch = 100  # GET /2/tweets takes up to 100 ids

    def read_metrics(self, remote_ids: Sequence[str]) -> ReadResult:
        now = self._clock()
        private = [] if self._private_refused else [i for i in remote_ids if _younger_than(i, PRIVATE_MAX_AGE, now)]
        asked = set(private)
        public = [i for i in remote_ids if i not in asked]
        readings: list[PartMetrics] = []
        deleted: set[str] = set()
        for batch in chunks(private, self.metrics_batch):
            public += self._read_batch(batch, PRIVATE_FIELDS, readings, deleted)
        for batch in chunks(public, self.metrics_batch):
            self._read_batch(batch, PUBLIC_FIELDS, readings, deleted)
        return ReadResult(tuple(readings), frozenset(deleted & set(remote_ids)))

    def _read_batch(self, batch: list[str], fields: list[str], readings: list[PartMetrics],
                    deleted: set[str]) -> list[str]:
        """Read one call's posts into ``readings`` and ``deleted``; returns the ids to read again publicly (X refused
        their non-public metrics)."""
        def call():
            try:
                return self._client.get_tweets(batch, tweet_fields=fields, user_auth=self._user_auth)
            except (tweepy.BadRequest, tweepy.Forbidden) as exc:
                if fields is PUBLIC_FIELDS or not _refuses_private(exc):
                    raise
                self._private_refused |= isinstance(exc, tweepy.Forbidden)
                return None

        response = self._read(call)
        if response is None:
            return batch
        for tweet in response.data or []:
            counts = tweet.public_metrics or {}
            private = tweet.non_public_metrics or {}
            impressions = _count(counts, "impression_count")
            readings.append(PartMetrics(
                str(tweet.id), likes=int(counts.get("like_count") or 0),
                reposts=int(counts.get("retweet_count") or 0), replies=int(counts.get("reply_count") or 0),
                quotes=int(counts.get("quote_count") or 0),
                impressions=impressions if impressions is not None else _count(private, "impression_count"),
                bookmarks=_count(counts, "bookmark_count"), url_link_clicks=_count(private, "url_link_clicks"),
                user_profile_clicks=_count(private, "user_profile_clicks")))
        again: list[str] = []
        for error in response.errors or []:
            if not isinstance(error, dict):
                continue
            kind, remote_id = str(error.get("type", "")), str(error.get("resource_id") or error.get("value"))
            if kind.endswith(NOT_FOUND):
                deleted.add(remote_id)
            elif kind.endswith(NOT_AUTHORIZED_FOR_FIELD) and remote_id in batch:
                again.append(remote_id)
        return again

    def read_followers(self) -> int | None:
        me = self._read(lambda: self._client.get_me(user_fields=["public_metrics"], user_auth=self._user_auth))
        return _count(getattr(me.data, "public_metrics", None) or {}, "followers_count")

    def _read(self, call: Callable[[], T]) -> T:
        """A read of metrics: every failure as the collector's error (a read has no side effect: asking again is
        safe)."""
        self._refresh_bearer()
        try:
            return call()
        except tweepy.HTTPException as exc:
            raise _http_error(exc, self._clock()) from None
        except requests.JSONDecodeError:
            raise TransientError("X answered a read with a success status but an unreadable body") from None
        except requests.RequestException as exc:
            raise network_error(exc, creates=False) from None
        except Exception as exc:  # noqa: BLE001 - every failure of a call is classified (reached.py)
            raise unexpected(exc, creates=False) from None

    def post_url(self, tweet_id: str) -> str:
        return f"https://x.com/{self.handle}/status/{tweet_id}"

    def close(self) -> None:
        self._client.session.close()

    # -- helpers -----------------------------------------------------------------------------------

    def _me(self) -> str:
        if self._user_id is None:
            me = self._client.get_me(user_auth=self._user_auth)
            self._user_id = str(me.data.id)
        return self._user_id

    def _refresh_bearer(self, lookup: bool = False) -> None:
        """Put a current OAuth 2.0 access token on the client (refreshing the stored tokens if due)."""
        if self._bearer is None:
            return
        try:
            token = self._bearer()
            register_secrets([token])  # whoever supplied it, it must never reach a log line
            self._client.bearer_token = token
        except CredentialsError as exc:
            error = LookupUnavailable if lookup else AuthError
            raise error(str(exc)) from None
        except TokenEndpointUnavailable as exc:
            raise TransientError(str(exc)) from None


def _published(tweet: tweepy.Tweet) -> PublishedTweet:
    reply_to = next((str(r.id) for r in tweet.referenced_tweets or [] if r.type == "replied_to"), None)
    created = tweet.created_at
    return PublishedTweet(
        tweet_id=str(tweet.id),
        text=tweet.text,
        created_at=created.astimezone(timezone.utc) if created else None,
        in_reply_to=reply_to,
    )


def _younger_than(tweet_id: str, age: timedelta, now: datetime) -> bool:
    """Whether the post with this id (a snowflake: its creation time in the high bits) is younger than ``age``."""
    if not tweet_id.isdigit():
        return False
    created = datetime.fromtimestamp(((int(tweet_id) >> 22) + TWITTER_EPOCH_MS) / 1000, timezone.utc)
    return now - created < age


def _refuses_private(exc: tweepy.HTTPException) -> bool:
    """X's answer to a read asking non-public metrics it will not give: a 400, or a 403 for the kind of auth."""
    problem = str(_problem(exc).get("type", ""))
    return isinstance(exc, tweepy.BadRequest) or problem.endswith(("unsupported-authentication",
                                                                   NOT_AUTHORIZED_FOR_FIELD))


def _count(counts: dict[str, Any], name: str) -> int | None:
    value = counts.get(name)
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def _status(exc: tweepy.HTTPException) -> int:
    return int(exc.response.status_code)


def _problem(exc: tweepy.HTTPException) -> dict[str, Any]:
    try:
        body = exc.response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _problem_detail(exc: tweepy.HTTPException) -> str:
    """``<status> <title>: <detail>`` from the response body only (never from the request)."""
    body = _problem(exc)
    messages = [e.get("message", "") for e in body.get("errors", []) if isinstance(e, dict)]
    detail = body.get("detail") or "; ".join(m for m in messages if m) or ""
    title = body.get("title") or exc.response.reason or type(exc).__name__
    text = f"{_status(exc)} {title}" + (f": {detail}" if detail and detail != title else "")
    return text[:DETAIL_MAX]


def _http_error(exc: tweepy.HTTPException, now: datetime) -> PublishError:
    """The engine's error for X's answer. ``now``: to read a Retry-After given in seconds."""
    status = _status(exc)
    detail = _problem_detail(exc)
    body = _problem(exc)
    problem_type = str(body.get("type", ""))
    headers = exc.response.headers
    if isinstance(exc, tweepy.TooManyRequests):
        daily = headers.get("x-user-limit-24hour-reset")
        reset_at = reset_time(headers, now) or reset_from_epoch(daily, now)
        return RateLimited(detail, status, reset_at=reset_at)
    if isinstance(exc, tweepy.TwitterServerError):
        return TransientError(detail, status, reset_at=reset_time(headers, now))
    if isinstance(exc, tweepy.Unauthorized):
        return AuthError(detail, status)
    if isinstance(exc, tweepy.Forbidden):
        if "duplicate content" in detail.lower():
            return DuplicateContent(detail, status)
        if any(problem_type.endswith(p) for p in AUTH_PROBLEMS) or body.get("reason") == "client-not-enrolled":
            return AuthError(detail, status)
        return Rejected(detail, status)
    if status in (402, 404):
        # 402: pay-per-use without credit; 404 on X's fixed routes: the API URL is misconfigured.
        # Either way no post can go out until a person acts, and failing each post permanently
        # would burn the queue: pause, as for an auth problem.
        return AuthError(detail, status)
    if status == 408:
        return OutcomeUnknown(detail, status)  # the server gave up mid-request: it may have acted
    return Rejected(detail, status)


def _as_tweepy_error(response: requests.Response) -> tweepy.HTTPException:
    """Classify a raw response like tweepy would, so one mapping serves both paths."""
    status = response.status_code
    if status == 429:
        reset = response.headers.get("x-rate-limit-reset")
        return tweepy.TooManyRequests(response, reset_time=int(reset) if reset and reset.isdigit() else None)
    classes = {400: tweepy.BadRequest, 401: tweepy.Unauthorized, 403: tweepy.Forbidden, 404: tweepy.NotFound}
    cls = classes.get(status, tweepy.TwitterServerError if status >= 500 else tweepy.HTTPException)
    return cls(response)
