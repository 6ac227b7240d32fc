"""BlueskyPublisher: posts through the atproto SDK to a Bluesky PDS (or the stand-in), exactly once.

- **One session, kept.** The account logs in once with its handle and an app password (createSession is
  rate-limited: 30 per 5 minutes, 300 a day); the session (access and refresh JWTs) is kept in a 0600 file and
  reused after a restart. The SDK refreshes the access token with the refresh token before it lapses, and each
  new session is written to the file at once (refresh tokens work once). A token the server calls expired or
  invalid is renewed once (from the file if another process renewed it, else by refreshing, else by logging in
  again) and the call repeated: the server refused it before doing anything.
- **Exactly once by record key.** Each part is created with ``com.atproto.repo.createRecord`` under a record key
  (a TID, ``new_key``) that the engine stored in the ledger before the call. After a lost answer,
  ``find_post`` reads that very record (``getRecord``): it exists or it does not, no guessing from timelines. A
  key used already means the record exists: the PDS answers 500 (today) or an explicit "exists" error (newer
  ones), both reported as OutcomeUnknown and settled by the same read.
- **Rich text.** Links are shortened in the text with a facet keeping the whole URL, tags and mentions become
  facets (scheduler.text.bluesky_length); a mention's handle is resolved to its DID (one that does not resolve stays
  plain text, as in the app). A reply carries strong references to its parent and its thread's root; images are
  uploaded with ``uploadBlob`` and embedded (app.bsky.embed.images, at most 1,000,000 bytes each).

Metrics: ``app.bsky.feed.getPosts`` (25 URIs a call: likes, reposts, replies, quotes) and
``app.bsky.actor.getProfile`` (followers), through the PDS. A post getPosts leaves out is deleted only when the PDS
confirms it (``getRecord``: RecordNotFound): the app view may lag behind the repository.

Failures map to the engine's errors: 5xx and a lost answer after a create -> OutcomeUnknown (before anything was
sent -> TransientError); 429 -> RateLimited at ``ratelimit-reset``; a refused app password, or tokens that cannot
be renewed -> AuthError (the account pauses); an invalid record -> Rejected.
"""

from __future__ import annotations

import json
import logging
import secrets
import unicodedata
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from scheduler.text.bluesky_length import RichText, rich_text
from scheduler.networks.media import BLUESKY_MAX_IMAGE_BYTES as MAX_IMAGE_BYTES
from scheduler.networks.private import read_private, register_secrets, write_private
from scheduler.domain.errors import CredentialsError
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
    reset_time,
)
from scheduler.networks.media import check_image
from scheduler.networks.reached import network_error, redirected, refuse_redirects, unexpected

log = logging.getLogger("scheduler.publisher.bluesky")

BSKY_SERVICE = "https://bsky.social"
POST = "app.bsky.feed.post"
DEFAULT_TIMEOUT = (5.0, 20.0)
LOOKUP_PAGE = 25
MAX_LOOKUP_PAGES = 4
DETAIL_MAX = 300
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
# XRPC errors that mean the credentials, not the request, are at fault.
AUTH_ERRORS = frozenset({"AuthenticationRequired", "InvalidToken", "ExpiredToken", "AccountTakedown",
                         "AccountDeactivated", "AuthFactorTokenRequired"})
RENEWABLE = frozenset({"InvalidToken", "ExpiredToken"})

T = TypeVar("T")


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


def tid(now: datetime, clock_id: int) -> str:
    """A record key in the TID format: 53 bits of microseconds since 1970 and a 10-bit clock id, written in
    base32-sortable as 13 characters (so keys sort by time, as app.bsky.feed.post keys should)."""
    micros = int(now.timestamp() * 1_000_000)
    value = (micros << 10) | (clock_id & 0x3FF)
    return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


class BlueskyPublisher:
    name = "bluesky"

    def __init__(
        self,
        *,
        handle: str,
        app_password: str,
        service_url: str = BSKY_SERVICE,
        session_file: Path | None = None,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        clock: Callable[[], datetime] = _utc_now,
        ca_file: Path | None = None,
    ) -> None:
        """``handle``: the account (without @); ``app_password``: an app password, never the account's own;
        ``service_url``: the PDS (bsky.social, or the stand-in); ``session_file``: where the session is kept
        (mode 0600) between runs; None keeps it in memory only; ``ca_file``: certificates to trust instead of the
        system's (a PDS with a private CA, a stand-in over HTTPS)."""
        self.handle = handle.lstrip("@")
        self._password = app_password
        self.service_url = service_url.rstrip("/")
        self._session_file = session_file
        self._timeout = timeout
        self._clock = clock
        self._ca_file = ca_file
        self._client: Any = None
        self._clock_id = secrets.randbelow(1024)
        self._last_micros = 0
        # rkey -> (its strong reference, its thread root's), for replies to parts this process created.
        self._refs: dict[str, tuple[dict[str, str], dict[str, str]]] = {}
        register_secrets([app_password])

    # -- Publisher protocol ------------------------------------------------------------------------

    def new_key(self, now: datetime) -> str:
        micros = max(int(now.timestamp() * 1_000_000), self._last_micros + 1)
        self._last_micros = micros
        return tid(datetime.fromtimestamp(micros / 1_000_000, timezone.utc), self._clock_id)

    def create_post(self, text: str, *, reply_to: str | None = None, media_ids: tuple[str, ...] = (),
                    key: str | None = None) -> str:
        from atproto_client import models  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

        key = key or self.new_key(self._clock())
        sent = rich_text(text)
        record: dict[str, Any] = {"$type": POST, "text": sent.text, "createdAt": _iso(self._clock())}
        did = self._read(self._did)
        facets = self._read(lambda client: self._facets(client, sent))
        if facets:
            record["facets"] = facets
        if reply_to is not None:
            parent, root = self._read(lambda client: self._reference(client, reply_to))
            record["reply"] = {"root": root, "parent": parent}
        if media_ids:
            record["embed"] = {"$type": "app.bsky.embed.images",
                               "images": [{"alt": "", "image": json.loads(m)} for m in media_ids]}

        try:
            data = models.ComAtprotoRepoCreateRecord.Data(repo=did, collection=POST, rkey=key, record=record)
        except ValueError as exc:  # checked before anything is sent
            raise Rejected(f"not a valid Bluesky record: {exc}"[:DETAIL_MAX]) from None
        response = self._call(lambda client: client.com.atproto.repo.create_record(data), creates=True)
        uri, cid = getattr(response, "uri", None), getattr(response, "cid", None)
        if not uri or not cid:
            raise OutcomeUnknown("Bluesky answered with a success status but no record URI")
        rkey = str(uri).rsplit("/", 1)[-1]
        ref = {"uri": str(uri), "cid": str(cid)}
        self._refs[rkey] = (ref, record["reply"]["root"] if reply_to is not None else ref)
        return rkey

    def upload_media(self, path: Path) -> str:
        path = Path(path)
        kind = check_image(path, max_bytes=MAX_IMAGE_BYTES, network="Bluesky")
        data = path.read_bytes()

        def upload(client: Any) -> Any:
            return client.com.atproto.repo.upload_blob(data, headers={"Content-Type": kind.mime})

        # An upload whose answer was lost leaves an unreferenced blob the PDS deletes: safe to retry.
        response = self._call(upload, creates=False)
        blob = response.blob
        return json.dumps({"$type": "blob", "ref": {"$link": str(blob.ref.link)}, "mimeType": blob.mime_type,
                           "size": blob.size})

    def find_post(self, text: str, *, since: datetime, reply_to: str | None = None,
                  with_media: bool = False, key: str | None = None) -> str | None:
        try:
            if key is not None:
                return key if self._read(lambda client: self._record(client, key)) is not None else None
            return self._read(lambda client: self._search(client, text, since, reply_to))
        except AuthError as exc:
            raise LookupUnavailable(exc.detail, exc.status) from None

    def post_url(self, tweet_id: str) -> str:
        return f"https://bsky.app/profile/{self.handle}/post/{tweet_id}"

    metrics_batch = 25  # app.bsky.feed.getPosts takes up to 25 URIs

    def read_metrics(self, remote_ids: Sequence[str]) -> ReadResult:
        def read(client: Any) -> ReadResult:
            prefix = f"at://{self._did(client)}/{POST}/"
            readings, missing = [], []
            for batch in chunks(remote_ids, self.metrics_batch):
                found = {str(p.uri): p for p in client.app.bsky.feed.get_posts({"uris": [prefix + k for k in batch]}).posts}
                for rkey in batch:
                    post = found.get(prefix + rkey)
                    if post is None:
                        missing.append(rkey)
                        continue
                    readings.append(PartMetrics(rkey, likes=post.like_count or 0, reposts=post.repost_count or 0,
                                                replies=post.reply_count or 0, quotes=post.quote_count or 0))
            deleted = frozenset(rkey for rkey in missing if self._record(client, rkey) is None)
            return ReadResult(tuple(readings), deleted)

        return self._read(read)

    def read_followers(self) -> int | None:
        profile = self._read(lambda client: client.app.bsky.actor.get_profile({"actor": self._did(client)}))
        return profile.followers_count

    def close(self) -> None:
        if self._client is not None:
            self._client.request.close()

    # -- looking up --------------------------------------------------------------------------------

    def _record(self, client: Any, rkey: str) -> dict[str, Any] | None:
        """The account's post under ``rkey`` (its value as JSON), or None."""
        from atproto_client.exceptions import BadRequestError  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

        try:
            response = client.com.atproto.repo.get_record({"repo": self._did(client), "collection": POST,
                                                           "rkey": rkey})
        except BadRequestError as exc:
            if _xrpc_error(exc)[0] == "RecordNotFound":
                return None
            raise
        value = _as_json(response.value)
        ref = {"uri": str(response.uri), "cid": str(response.cid)}
        root = (value.get("reply") or {}).get("root") or ref
        self._refs[rkey] = (ref, {"uri": root["uri"], "cid": root["cid"]})
        return value

    def _search(self, client: Any, text: str, since: datetime, reply_to: str | None) -> str | None:
        """Without a key: the account's newest posts, a page at a time, for one created since ``since`` with
        the text as it was sent and the same parent."""
        wanted = _comparable(rich_text(text).text)
        cursor = None
        for _ in range(MAX_LOOKUP_PAGES):
            params: dict[str, Any] = {"repo": self._did(client), "collection": POST, "limit": LOOKUP_PAGE}
            if cursor:
                params["cursor"] = cursor
            page = client.com.atproto.repo.list_records(params)
            for item in page.records:
                value = _as_json(item.value)
                created = _parse_time(value.get("createdAt"))
                if created is not None and created < since:
                    return None  # newest first: nothing older can be ours
                parent = ((value.get("reply") or {}).get("parent") or {}).get("uri", "")
                if reply_to is not None and not parent.endswith(f"/{reply_to}"):
                    continue
                if _comparable(value.get("text", "")) == wanted:
                    return str(item.uri).rsplit("/", 1)[-1]
            cursor = page.cursor
            if not cursor:
                return None
        return None

    def _reference(self, client: Any, rkey: str) -> tuple[dict[str, str], dict[str, str]]:
        """Strong references to a parent post (by its key) and to its thread's root."""
        if rkey not in self._refs and self._record(client, rkey) is None:
            raise Rejected(f"the post to reply to ({self.post_url(rkey)}) does not exist")
        return self._refs[rkey]

    def _facets(self, client: Any, sent: RichText) -> list[dict[str, Any]]:
        facets = []
        for facet in sent.facets:
            if facet.kind == "link":
                feature = {"$type": "app.bsky.richtext.facet#link", "uri": facet.value}
            elif facet.kind == "tag":
                feature = {"$type": "app.bsky.richtext.facet#tag", "tag": facet.value}
            else:
                did = self._resolve(client, facet.value)
                if did is None:
                    continue  # a handle that does not resolve stays plain text, as in the app
                feature = {"$type": "app.bsky.richtext.facet#mention", "did": did}
            facets.append({"index": {"byteStart": facet.byte_start, "byteEnd": facet.byte_end},
                           "features": [feature]})
        return facets

    @staticmethod
    def _resolve(client: Any, handle: str) -> str | None:
        from atproto_client.exceptions import BadRequestError  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

        try:
            return str(client.com.atproto.identity.resolve_handle({"handle": handle}).did)
        except BadRequestError:
            return None

    # -- the session -------------------------------------------------------------------------------

    def _connect(self) -> Any:
        if self._client is not None:
            return self._client
        import httpx  # lazy: httpx ~60 ms: loaded with atproto at the first call to Bluesky, not when the service starts
        from atproto import Client  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts
        from atproto_client.request import Request  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

        connect, read = self._timeout
        # A stand-in on loopback must not go through an HTTP(S)_PROXY from the environment.
        tls: dict[str, Any] = {}
        if self._ca_file is not None:
            import ssl

            tls["verify"] = ssl.create_default_context(cafile=str(self._ca_file))
        request = Request(timeout=httpx.Timeout(read, connect=connect), trust_env=not _loopback(self.service_url),
                          **tls)
        refuse_redirects(request._client)  # see reached.py: a redirected POST is an answer, not a retry
        client = Client(base_url=self.service_url, request=request)
        client.on_session_change(lambda _event, session: self._keep_session(session.export()))
        stored = self._stored_session()
        try:
            if stored:
                client.login(session_string=stored, fetch_bsky_profile=False)
        except ValueError:
            log.warning("the stored Bluesky session of %s is not readable: logging in again", self.handle)
            stored = None
        if not stored:
            self._login(client)
        self._client = client
        return client

    def _login(self, client: Any) -> None:
        from atproto_client.exceptions import RequestErrorBase, UnauthorizedError  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

        try:
            client.login(self.handle, self._password, fetch_bsky_profile=False)
        except UnauthorizedError as exc:
            raise AuthError(f"Bluesky refused the handle {self.handle} or its app password: "
                            f"{_detail(exc)}; create a new app password and update the credentials", 401) from None
        except RequestErrorBase as exc:
            raise _mapped(exc, creates=False) from None

    def _renew(self, client: Any, current: str | None) -> None:
        """New tokens after the server refused ours: another process's (from the file), a refresh, or a login."""
        from atproto_client.exceptions import RequestErrorBase  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

        stored = self._stored_session()
        if stored and stored != current:
            client.login(session_string=stored, fetch_bsky_profile=False)
            return
        try:
            client._refresh_and_set_session()
        except RequestErrorBase as exc:
            if exc.response is None or exc.response.status_code >= 500:
                raise
            log.warning("the Bluesky session of %s cannot be refreshed (%s): logging in again", self.handle,
                        _detail(exc))
            self._login(client)

    def _stored_session(self) -> str | None:
        if self._session_file is None or not self._session_file.exists():
            return None
        try:
            text = read_private(self._session_file).strip()
        except CredentialsError as exc:
            raise AuthError(str(exc)) from None
        register_secrets(_session_tokens(text))
        return text or None

    def _keep_session(self, session: str) -> None:
        register_secrets(_session_tokens(session))
        if self._session_file is not None:
            write_private(self._session_file, session + "\n")

    def _did(self, client: Any) -> str:
        return str(client._session.did)

    # -- calls and their failures ------------------------------------------------------------------

    def _read(self, action: Callable[[Any], T]) -> T:
        return self._call(action, creates=False)

    def _call(self, action: Callable[[Any], T], *, creates: bool) -> T:
        """Run ``action(client)``; renew refused tokens once; turn every failure into a PublishError."""
        import httpx  # lazy: httpx ~60 ms: loaded with atproto at the first call to Bluesky, not when the service starts
        from atproto_client.exceptions import AtProtocolError  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

        try:
            client = self._connect()
            for attempt in range(2):
                current = client._session.export() if client._session else None
                try:
                    return action(client)
                except AtProtocolError as exc:
                    if attempt == 0 and _xrpc_error(exc)[0] in RENEWABLE:
                        self._renew(client, current)
                        continue
                    raise
            raise AssertionError("unreachable")
        except PublishError:
            raise
        except (AtProtocolError, httpx.HTTPError) as exc:
            raise _mapped(exc, creates=creates) from None
        except (ValueError, TypeError, KeyError) as exc:  # a success whose body is not what the lexicon says
            if creates:
                raise OutcomeUnknown(f"Bluesky answered with a success status but an unreadable body "
                                     f"({type(exc).__name__})") from None
            raise TransientError(f"Bluesky answered with an unreadable body ({type(exc).__name__})") from None
        except Exception as exc:  # noqa: BLE001 - every failure of a call is classified (reached.py)
            raise unexpected(exc, creates=creates) from None


def _mapped(exc: Exception, *, creates: bool) -> PublishError:
    """The engine's error for an SDK or transport failure; ``creates``: the call may have created a post."""
    from atproto_client.exceptions import RateLimitExceededError, RequestErrorBase  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

    response = exc.response if isinstance(exc, RequestErrorBase) else None
    if response is None:
        return network_error(exc, creates=creates)
    status = response.status_code
    name, _message = _xrpc_error(exc)
    detail = _detail(exc)
    if isinstance(exc, RateLimitExceededError) or status == 429:
        # Read by base.reset_time, not atproto's reset_at (which raises on a reset too large for a datetime).
        return RateLimited(detail, status, reset_at=reset_time(getattr(response, "headers", None), _utc_now()))
    if status >= 500 or status == 408 or "Exists" in name or redirected(status):
        # The PDS may have written the record before failing (or says it already has it).
        if creates:
            return OutcomeUnknown(detail, status)
        return TransientError(detail, status, reset_at=reset_time(getattr(response, "headers", None), _utc_now()))
    if status in (401, 403) or name in AUTH_ERRORS:
        return AuthError(detail, status)
    return Rejected(detail, status)


def _xrpc_error(exc: Exception) -> tuple[str, str]:
    """(error name, message) of an XRPC error answer, or empty strings."""
    response = getattr(exc, "response", None)
    content = getattr(response, "content", None)
    name = getattr(content, "error", None)
    message = getattr(content, "message", None)
    if isinstance(content, dict):
        name, message = content.get("error"), content.get("message")
    return str(name or ""), str(message or "")


def _detail(exc: Exception) -> str:
    """``<status> <error>: <message>`` from the answer only (never from the request)."""
    response = getattr(exc, "response", None)
    name, message = _xrpc_error(exc)
    status = getattr(response, "status_code", "")
    text = f"{status} {name}".strip() + (f": {message}" if message and message != name else "")
    return (text or type(exc).__name__)[:DETAIL_MAX]


def _as_json(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    from atproto_client.models.utils import get_model_as_dict  # lazy: atproto ~550 ms: loaded at the first call to Bluesky (_connect), not when the service starts

    return get_model_as_dict(value)


def _comparable(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _parse_time(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(timezone.utc)
    except ValueError:
        return None


def _loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _session_tokens(session: str) -> list[str]:
    """The secrets of an atproto session string (handle:::did:::access_jwt:::refresh_jwt[:::pds_endpoint]): its two
    tokens. The handle, the DID and the PDS's address are public, and the log needs them to say whose post is where."""
    fields = session.strip().split(":::")
    return fields[2:4] if len(fields) >= 4 else fields
