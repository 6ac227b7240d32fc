"""MastodonPublisher: posts through Mastodon.py to a Mastodon server (or the stand-in), exactly once.

- **Idempotency-Key.** Every attempt of a part carries the same ``Idempotency-Key`` (``new_key``, stored in the
  ledger by the engine before the first call): within the server's window (Mastodon keeps a key 1 hour), sending
  again answers the status already made instead of a second one.
- **After the window,** a lost answer is settled by reading the account's own statuses created since the
  attempt, newest first, and comparing each one's text with the text sent, and its ``in_reply_to_id`` with the
  part replied to. A listed status has only ``content``, HTML: it is turned back into text (tags dropped,
  entities undone, ``<br />`` and paragraphs as line ends), which gives links and hashtags whole. Mastodon shows
  a mention of a known account as ``@username`` alone (``@alice`` for ``@alice@example.social``), so a status
  that matches but for its mentions' domains is checked against its source (``GET
  /api/v1/statuses/:id/source``, what the author typed): one extra call for such a candidate only, never one
  per status (the API allows 300 calls per 5 minutes). A server without that endpoint cannot tell such a status
  from ours: it is no match and no absence either, and the post is left ``unknown`` for a person. The statuses
  are read back, page by page, to the attempt's time, however many pages that takes.
- **Media** is uploaded with ``POST /api/v2/media``. A GIF (and any larger format) is processed in the
  background: the answer is 202 with no ``url``, and a status may not attach it until it is processed (422
  "Cannot attach files that have not finished processing"), so the upload waits, reading ``GET
  /api/v1/media/:id`` (206 while processing) until the ``url`` is set.
- **The server's limits** (``limits()``: ``max_characters``, ``characters_reserved_per_url`` from
  ``/api/v2/instance``) are read once, for the composer (scheduler.text.mastodon_length).

- **Metrics**: ``GET /api/v1/statuses?id[]=`` (Mastodon 4.3, 20 ids a call: favourites, reblogs, replies, and
  quotes where the server counts them); a status it leaves out is read on its own, and one that answers 404 is
  deleted. A server before 4.3 (404 for the read of several) has each status read on its own. Followers:
  ``verify_credentials``.

Mastodon.py is told never to sleep on a rate limit (``ratelimit_method="throw"``) and never to retry: the
engine decides. Failures map to the engine's errors: a 5xx or a lost answer after a post -> OutcomeUnknown
(before anything was sent -> TransientError); 429 -> RateLimited at ``X-RateLimit-Reset``; 401, or a 403 (a
token without the write scope, a suspended account), or the 422 "This method requires an authenticated user" of
a token without a user (an app's client-credentials token) -> AuthError; other 422s (too long, blank) ->
Rejected.
"""

from __future__ import annotations

import html
import re
import time
import unicodedata
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scheduler.networks.private import register_secrets
from scheduler.text.mastodon_length import Limits
from scheduler.networks.base import (
    AuthError,
    LookupUnavailable,
    OutcomeUnknown,
    PartMetrics,
    PublishError,
    RateLimited,
    ReadResult,
    Rejected,
    TransientError,
    chunks,
    reset_from_epoch,
)
from scheduler.networks.media import check_image
from scheduler.networks.reached import network_error, refuse_redirects, unexpected

DEFAULT_TIMEOUT = (5.0, 20.0)
LOOKUP_PAGE = 40  # Mastodon's largest page of an account's statuses
MAX_LOOKUP_PAGES = 250  # 10,000 statuses: back to the attempt's time, with a bound against a server that loops
DETAIL_MAX = 300
ASSUMED_VERSION = "4.3.0"  # tells Mastodon.py which endpoints exist without asking the server at start
MEDIA_WAIT_S = 60.0  # the longest an upload waits for the server to process it
NO_USER = "This method requires an authenticated user"  # Api::BaseController#require_user!, status 422
# Account::MENTION_RE: @username, then an optional @domain
_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@[\w.-]+\w)?", re.IGNORECASE)

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class MastodonPublisher:
    name = "mastodon"

    def __init__(
        self,
        *,
        access_token: str,
        instance_url: str,
        handle: str,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = _utc_now,
        sleep: Callable[[float], None] = time.sleep,
        media_wait: float = MEDIA_WAIT_S,
        ca_file: Path | None = None,
    ) -> None:
        """``access_token``: the account's OAuth token (scopes read and write:statuses, write:media);
        ``instance_url``: its server; ``handle``: its username there (for post URLs); ``media_wait``: how long
        an upload waits for the server to process it; ``ca_file``: certificates to trust instead of the system's (a
        server with a private CA, a stand-in over HTTPS)."""
        self.instance_url = instance_url.rstrip("/")
        self.handle = handle.lstrip("@").split("@")[0]
        self._token = access_token
        self._timeout = timeout
        self._clock = clock
        self._sleep = sleep
        self._media_wait = media_wait
        self._ca_file = ca_file
        self._api: Any = None
        self._account_id: str | None = None
        self._limits: Limits | None = None
        self._ahead = timedelta(0)  # how far our clock was ahead of the server's at its last answer (see _search)
        self._reads_several = True  # GET /api/v1/statuses?id[]= exists (Mastodon 4.3 and later)
        register_secrets([access_token])

    # -- Publisher protocol ------------------------------------------------------------------------

    def new_key(self, now: datetime) -> str:
        return str(uuid.uuid4())

    def create_post(self, text: str, *, reply_to: str | None = None, media_ids: tuple[str, ...] = (),
                    key: str | None = None) -> str:
        status = self._call(lambda api: api.status_post(text, in_reply_to_id=reply_to,
                                                        media_ids=list(media_ids) or None,
                                                        idempotency_key=key or self.new_key(self._clock())),
                            creates=True)
        status_id = _get(status, "id")
        if status_id is None:
            raise OutcomeUnknown("Mastodon answered with a success status but no status id")
        return str(status_id)

    def upload_media(self, path: Path) -> str:
        path = Path(path)
        kind = check_image(path, max_bytes=self.limits().image_size_limit, network="Mastodon")
        # An upload whose answer was lost leaves an unattached file the server deletes: safe to retry.
        media = self._call(lambda api: api.media_post(str(path), mime_type=kind.mime), creates=False)
        media_id = str(_get(media, "id"))
        # 202 without a url: processed in the background; a status cannot attach it before (422).
        waited, pause = 0.0, 0.5
        while _get(media, "url") is None:
            if waited >= self._media_wait:
                raise TransientError(f"Mastodon is still processing {path.name} after {waited:.0f} s")
            self._sleep(pause)
            waited += pause
            pause = min(pause * 2, 5.0)
            media = self._call(lambda api: api.media(media_id), creates=False)  # 206 while processing
        return media_id

    def find_post(self, text: str, *, since: datetime, reply_to: str | None = None,
                  with_media: bool = False, key: str | None = None) -> str | None:
        try:
            return self._call(lambda api: self._search(api, text, since, reply_to), creates=False)
        except AuthError as exc:
            raise LookupUnavailable(exc.detail, exc.status) from None

    def post_url(self, tweet_id: str) -> str:
        return f"{self.instance_url}/@{self.handle}/{tweet_id}"

    metrics_batch = 20  # GET /api/v1/statuses takes up to 20 ids (Api::BaseController::DEFAULT_STATUSES_LIMIT)

    def read_metrics(self, remote_ids: Sequence[str]) -> ReadResult:
        readings: list[PartMetrics] = []
        deleted: set[str] = set()
        for batch in chunks(remote_ids, self.metrics_batch):
            found = {str(_get(s, "id")): s for s in self._several(batch)}
            for status_id in batch:
                status = found.get(status_id) or self._one(status_id)
                if status is None:
                    deleted.add(status_id)
                    continue
                readings.append(PartMetrics(status_id, likes=int(_get(status, "favourites_count") or 0),
                                            reposts=int(_get(status, "reblogs_count") or 0),
                                            replies=int(_get(status, "replies_count") or 0),
                                            quotes=int(_get(status, "quotes_count") or 0)))
        return ReadResult(tuple(readings), frozenset(deleted))

    def read_followers(self) -> int | None:
        count = _get(self._call(lambda api: api.account_verify_credentials(), creates=False), "followers_count")
        return int(count) if count is not None else None

    def _several(self, ids: list[str]) -> list[Any]:
        """The statuses found among ``ids`` in one call; none on a server without that call (before 4.3)."""
        if not self._reads_several:
            return []
        try:
            return list(self._call(lambda api: api.statuses(ids), creates=False) or [])
        except Rejected as exc:
            if exc.status != 404:
                raise
            self._reads_several = False
            return []

    def _one(self, status_id: str) -> Any | None:
        """One status, or None when the server answers 404 (deleted)."""
        try:
            return self._call(lambda api: api.status(status_id), creates=False)
        except Rejected as exc:
            if exc.status == 404:
                return None
            raise

    def close(self) -> None:
        if self._api is not None:
            self._api.session.close()

    def limits(self) -> Limits:
        """The server's limits for a post, read once from ``/api/v2/instance``."""
        if self._limits is None:
            self._limits = Limits.from_instance(_plain(self._call(lambda api: api.instance_v2(), creates=False)))
        return self._limits

    # -- looking up --------------------------------------------------------------------------------

    def _search(self, api: Any, text: str, since: datetime, reply_to: str | None) -> str | None:
        """The account's statuses, newest first, a page at a time back to ``since`` (however many that takes: a
        status missed past the last page read would be sent again), for the one whose text is ``text``.

        A status that may be ours but cannot be told apart (it differs only in how mentions are shown and the
        server cannot show its source) is not a match, and not an absence either: LookupUnavailable, so the post
        waits for a person instead of being taken for sent or sent again."""
        wanted = _comparable(text)
        account_id = self._me(api)
        # ``since`` is on our clock, a status's created_at on the server's: with our clock fast, the status was made
        # "before" the attempt and would be passed over, then sent again. Widen by how far ahead we are (never
        # narrow: a server's clock ahead, or a lying Date header, could then hide the status).
        since -= self._ahead
        max_id = None
        ambiguous: list[str] = []
        for _ in range(MAX_LOOKUP_PAGES):
            page = api.account_statuses(account_id, limit=LOOKUP_PAGE, max_id=max_id)
            if not page:
                break
            for status in page:
                created = _aware(_get(status, "created_at"))
                if created is not None and created < since:
                    page = None  # newest first: nothing older can be ours
                    break
                if reply_to is not None and str(_get(status, "in_reply_to_id")) != str(reply_to):
                    continue
                verdict = self._matches(api, status, wanted)
                if verdict is True:
                    return str(_get(status, "id"))
                if verdict is None:
                    ambiguous.append(str(_get(status, "id")))
            if page is None:
                break
            last = _get(page[-1], "id")
            if last is None or last == max_id:
                break  # a server that does not page back: nothing more to read
            max_id = last
        else:
            raise LookupUnavailable(f"more than {MAX_LOOKUP_PAGES * LOOKUP_PAGE} statuses since the attempt: too "
                                    "many to read back through")
        if ambiguous:
            raise LookupUnavailable(
                f"status {', '.join(ambiguous)} has the text sent but for the domains of its mentions, which "
                f"{self.instance_url} shows without them and cannot show the source of, so it may or may not be ours")
        return None

    def _note_server_time(self, response: Any, *args: Any, **kwargs: Any) -> None:
        """A response hook: how far our clock is ahead of the server's, from its Date header (whole seconds)."""
        try:
            server = parsedate_to_datetime(response.headers.get("Date") or "")
            if server.tzinfo is None:
                server = server.replace(tzinfo=timezone.utc)
            self._ahead = max(self._clock() - server, timedelta(0))
        except (ValueError, TypeError, IndexError, OverflowError):
            pass  # no usable Date: keep the last measure

    def _matches(self, api: Any, status: Any, wanted: str) -> bool | None:
        """Whether a listed status has the text sent (``wanted``, comparable): True, False, or None when it cannot
        be told. From its HTML when the text has no bare ``@username`` mention; otherwise, Mastodon shows each as ``@username``
        alone, so a status that matches but for its mentions' domains is checked against its source (what the
        author typed), one extra call for such a candidate only."""
        shown = _comparable(html_to_text(str(_get(status, "content") or "")))
        if shown == wanted and not _bare_mention(wanted):
            return True  # a mention shown with its domain was typed so; only a bare @username may hide one
        if _mentions_shown(shown) != _mentions_shown(wanted):
            return False
        source = self._source(api, status)
        if source is None:
            return None  # no source endpoint: a mention's domain cannot be checked
        return source == wanted

    def _source(self, api: Any, status: Any) -> str | None:
        """The status's text as its author typed it; None where the server has no source endpoint."""
        from mastodon import MastodonNotFoundError  # lazy: Mastodon.py ~130 ms: loaded at the first call to Mastodon (_connect), not when the service starts

        try:
            return _comparable(str(_get(api.status_source(_get(status, "id")), "text") or ""))
        except MastodonNotFoundError:
            return None

    def _me(self, api: Any) -> str:
        if self._account_id is None:
            self._account_id = str(_get(api.account_verify_credentials(), "id"))
        return self._account_id

    # -- calls and their failures ------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._api is None:
            import requests  # lazy: requests ~80 ms: loaded at the first call to Mastodon, not when the service starts
            from mastodon import Mastodon  # lazy: Mastodon.py ~130 ms: loaded at the first call to Mastodon (_connect), not when the service starts
            from requests.adapters import HTTPAdapter  # lazy: requests ~80 ms: loaded at the first call to Mastodon, not when the service starts

            session = requests.Session()
            adapter = HTTPAdapter(max_retries=0)  # never re-send a POST on our behalf
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # A stand-in on loopback must not go through an HTTP(S)_PROXY from the environment.
            session.trust_env = not _loopback(self.instance_url)
            refuse_redirects(session)  # see reached.py: a redirected POST is an answer, not a retry
            session.hooks["response"].append(self._note_server_time)
            if self._ca_file is not None:
                session.verify = str(self._ca_file)
            self._api = Mastodon(access_token=self._token, api_base_url=self.instance_url, session=session,
                                 request_timeout=self._timeout, ratelimit_method="throw",
                                 mastodon_version=ASSUMED_VERSION, version_check_mode="none",
                                 user_agent="tip-scheduler")
        return self._api

    def _call(self, action: Callable[[Any], T], *, creates: bool) -> T:
        from mastodon import MastodonError  # lazy: Mastodon.py ~130 ms: loaded at the first call to Mastodon (_connect), not when the service starts

        api = self._connect()
        try:
            return action(api)
        except PublishError:
            raise
        except MastodonError as exc:
            raise self._mapped(exc, creates=creates) from None
        except Exception as exc:  # noqa: BLE001 - every failure of a call is classified (reached.py)
            raise unexpected(exc, creates=creates) from None

    def _mapped(self, exc: Exception, *, creates: bool) -> PublishError:
        from mastodon import (
            MastodonAPIError,
            MastodonIllegalArgumentError,
            MastodonNetworkError,
            MastodonRatelimitError,
            MastodonServerError,
        )  # lazy: Mastodon.py ~130 ms: loaded at the first call to Mastodon (_connect), not when the service starts

        if isinstance(exc, MastodonRatelimitError):
            reset = getattr(self._api, "ratelimit_reset", None)
            reset_at = reset_from_epoch(reset, self._clock())
            return RateLimited("429 Too many requests", 429, reset_at=reset_at)
        if isinstance(exc, MastodonNetworkError):
            return network_error(exc, creates=creates)
        if isinstance(exc, MastodonIllegalArgumentError):
            return Rejected(f"Mastodon.py refused the request: {exc}"[:DETAIL_MAX])
        if isinstance(exc, MastodonAPIError):
            status, detail = _status_and_detail(exc)
            if status is None:  # a success whose body is not JSON
                return (OutcomeUnknown if creates else TransientError)(
                    "Mastodon answered with a success status but an unreadable body")
            if isinstance(exc, MastodonServerError) or status >= 500 or status == 408:
                return OutcomeUnknown(detail, status) if creates else TransientError(detail, status)
            if status in (401, 403) or (status == 422 and NO_USER in detail):
                return AuthError(detail, status)
            return Rejected(detail, status)
        return Rejected(f"{type(exc).__name__}: {exc}"[:DETAIL_MAX])


def html_to_text(content: str) -> str:
    """A status's HTML as the text it came from: paragraphs and ``<br />`` as line ends, tags dropped (a link's
    hidden parts included, so links come back whole), entities undone."""
    text = re.sub(r"</p>\s*<p>", "\n\n", content)
    text = re.sub(r"<br\s*/?>", "\n", text)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text)


def _bare_mention(text: str) -> bool:
    """Whether the text mentions someone as ``@username`` alone, as Mastodon also shows ``@username@elsewhere``."""
    return any("@" not in match.group(0)[1:] for match in _MENTION.finditer(text))


def _mentions_shown(text: str) -> str:
    """The text with each mention as Mastodon may show it: ``@username``, lower case, without its domain."""
    return _MENTION.sub(lambda m: "@" + m.group(1).lower(), text)


def _comparable(text: str) -> str:
    """NFC, and runs of white space as one space (servers may trim or normalise line ends)."""
    return " ".join(unicodedata.normalize("NFC", text).split())


def _status_and_detail(exc: Exception) -> tuple[int | None, str]:
    """Mastodon.py's error args: (message, status, reason, error text from the body)."""
    args = exc.args
    status = args[1] if len(args) > 1 and isinstance(args[1], int) else None
    reason = args[2] if len(args) > 2 and args[2] else ""
    error = args[3] if len(args) > 3 and args[3] else ""
    detail = f"{status} {reason}".strip() + (f": {error}" if error else "")
    return status, detail[:DETAIL_MAX]


def _get(obj: Any, name: str) -> Any:
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def _plain(obj: Any) -> Any:
    """Mastodon.py's attribute dicts (and lists of them) as plain JSON-like values."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain(v) for v in obj]
    return obj


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")
