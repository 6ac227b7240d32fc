"""A stand-in for a Bluesky PDS (the AT Protocol's personal data server) on 127.0.0.1, for tests and demos.

It answers the XRPC calls the publisher makes, as the lexicons and the reference PDS define them:

- Sessions: ``com.atproto.server.createSession`` (handle or DID and app password) returns an access and a refresh
  JWT (the client reads their ``exp``; access tokens live ``access_lifetime`` seconds, 2 h by default); as the
  PDS's auth-verifier does, an expired access token is refused with 400 ``ExpiredToken``, one it cannot verify
  (unknown, or a refresh token) with 400 ``InvalidToken`` (both InvalidRequestError, not 401), and a request
  without one with 401 ``AuthMissing``. ``forget_tokens`` makes the server forget issued tokens.
  ``refreshSession`` (with the refresh JWT) rotates both tokens: a refresh token works once. createSession is
  rate-limited per account (30 per 5 minutes, as bsky.social), and counted (``sessions_created``).
- Records: ``com.atproto.repo.createRecord`` with the client's record key (``rkey``; any valid key syntax) or a
  TID of its own. A key already used in the collection is refused as the PDS does today: 500
  ``InternalServerError`` (the explicit error of atproto PR #4728 is not in the lexicon the SDK pins).
  ``getRecord`` reads one record back by its key (400 ``RecordNotFound`` when there is none); ``listRecords``
  pages newest first.
- An app.bsky.feed.post is validated: ``$type``, ``createdAt``, text of at most 300 graphemes and 3,000 bytes
  (400 ``InvalidRequest`` "Invalid app.bsky.feed.post record: ...": createRecord turns the lexicon's
  InvalidRecordError into a plain InvalidRequestError; graphemes judged by ``pyuegc``, a UAX #29 implementation that is not the project's
  counter, when installed), facets with byte ranges inside the text, reply references, and image embeds whose
  blobs this account uploaded (at most 4, each at most 1,000,000 bytes; 400 ``BlobNotFound`` for a blob it
  does not have, ``InvalidMimeType`` / ``InvalidSize`` when the reference does not match the stored blob).
- ``uploadBlob`` stores bytes and answers a blob reference (CID, MIME type, size); a body over the PDS's upload
  limit (5 MiB by default) is 413 ``PayloadTooLarge``. ``resolveHandle`` knows the stand-in's accounts and any
  handle added with ``add_handle``.
- ``listRecords`` answers a ``cursor`` (the last record's key) with every non-empty page, the last one included,
  as the PDS does: only an empty page ends the listing.
- Rate limits: every write costs points (a create 3) from a budget per account (``set_write_budget``, 5,000
  per hour by default, as bsky.social); every answer carries ``ratelimit-limit``, ``ratelimit-remaining``,
  ``ratelimit-reset`` (epoch seconds) and ``ratelimit-policy``; past the budget, 429 ``RateLimitExceeded``.
- Faults: those of ``standin_http`` (5xx before or after the work, dropped and reset connections, slow replies,
  401, 429), plus ``expired_token`` (400 ExpiredToken, as when the access token lapsed).
- Metrics (``bluesky_appview.py``): ``app.bsky.feed.getPosts`` (up to 25 URIs; a deleted post is simply absent)
  with likes, reposts, replies and quotes growing with the post's age, ``app.bsky.actor.getProfile`` with followers.

Not reproduced: the firehose, DID documents and PLC, the rest of the app view (feeds, threads), repo commits and their
signatures (CIDs here are SHA-256 of the JSON, not of DAG-CBOR), OAuth.

    with StandinBluesky() as pds:
        pds.url                         # http://127.0.0.1:PORT, the service URL for the publisher
        pds.inject("createRecord", "create_then_bad_gateway")
        pds.posts()                     # what was published: rkey, uri, text, facets, reply, embed

``python -m scheduler.standins.bluesky --port 8098`` runs it in the foreground.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import re
import secrets
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from scheduler.networks.media import sniff_mime
from scheduler.text.bluesky_length import graphemes
from scheduler.standins.bluesky_appview import ENDPOINTS as APP_VIEW, AppView
from scheduler.standins.http import GATEWAY_STATUS, Fault, Reply, Request, StandinServer, serve_until_signalled

POST = "app.bsky.feed.post"
MAX_GRAPHEMES = 300
MAX_BYTES = 3000
MAX_IMAGES = 4
MAX_IMAGE_BYTES = 1_000_000
BLOB_UPLOAD_LIMIT = 5 * 1024 * 1024  # the PDS's blobUploadLimit default (packages/pds/src/config/config.ts)
SESSION_LIMIT = (30, 300.0)  # createSession: 30 per 5 minutes per account
WRITE_BUDGET = (5000, 3600.0)  # points per hour per account
CREATE_POINTS = 3
_RKEY = re.compile(r"^[A-Za-z0-9._:~-]{1,512}$")
_TID_ALPHABET = "234567abcdefghijklmnopqrstuvwxyz"
_B32 = "abcdefghijklmnopqrstuvwxyz234567"
_XRPC = "/xrpc/"
_ROUTES = {
    ("POST", "com.atproto.server.createSession"): "createSession",
    ("POST", "com.atproto.server.refreshSession"): "refreshSession",
    ("GET", "com.atproto.server.getSession"): "getSession",
    ("POST", "com.atproto.repo.createRecord"): "createRecord",
    ("GET", "com.atproto.repo.getRecord"): "getRecord",
    ("GET", "com.atproto.repo.listRecords"): "listRecords",
    ("POST", "com.atproto.repo.uploadBlob"): "uploadBlob",
    ("GET", "com.atproto.identity.resolveHandle"): "resolveHandle",
    **APP_VIEW,
}


@dataclass
class Account:
    handle: str
    did: str
    password: str


@dataclass
class _Token:
    did: str
    kind: str  # "access" | "refresh"
    expires_at: float


@dataclass
class _Record:
    did: str
    collection: str
    rkey: str
    cid: str
    value: dict[str, Any]
    indexed_at: datetime

    @property
    def uri(self) -> str:
        return f"at://{self.did}/{self.collection}/{self.rkey}"


@dataclass
class _Window:
    """A fixed-window budget: ``used`` of ``limit`` since ``start``."""

    limit: int
    seconds: float
    start: float = 0.0
    used: int = 0

    def spend(self, cost: int, now: float) -> bool:
        if now >= self.start + self.seconds:
            self.start, self.used = now, 0
        if self.used + cost > self.limit:
            return False
        self.used += cost
        return True

    def headers(self, now: float) -> dict[str, str]:
        if now >= self.start + self.seconds:
            self.start, self.used = now, 0
        return {
            "ratelimit-limit": str(self.limit),
            "ratelimit-remaining": str(max(self.limit - self.used, 0)),
            "ratelimit-reset": str(int(self.start + self.seconds)),
            "ratelimit-policy": f"{self.limit};w={int(self.seconds)}",
        }


@dataclass
class _State:
    accounts: dict[str, Account] = field(default_factory=dict)  # by DID
    handles: dict[str, str] = field(default_factory=dict)  # handle -> DID (resolveHandle)
    tokens: dict[str, _Token] = field(default_factory=dict)
    records: dict[tuple[str, str, str], _Record] = field(default_factory=dict)
    blobs: dict[str, tuple[str, str, int]] = field(default_factory=dict)  # cid -> (owner DID, mime, size)
    sessions_created: dict[str, int] = field(default_factory=dict)
    session_windows: dict[str, _Window] = field(default_factory=dict)
    write_windows: dict[str, _Window] = field(default_factory=dict)


class StandinBluesky(AppView, StandinServer):
    NAME = "bluesky"
    ENDPOINTS = tuple(_ROUTES.values())
    WRITE_ENDPOINTS = ("createRecord",)
    EXTRA_FAULTS = ("expired_token", "invalid_token")

    def __init__(self, *, port: int = 0, handle: str = "tipbot.bsky.social", password: str = "standin-app-password",
                 access_lifetime: float = 7200.0, refresh_lifetime: float = 90 * 86400.0,
                 latency_ms: float = 0.0) -> None:
        super().__init__(port=port, latency_ms=latency_ms)
        self.access_lifetime = access_lifetime
        self.refresh_lifetime = refresh_lifetime
        self._state = _State()
        self._session_limit = SESSION_LIMIT
        self._write_budget = WRITE_BUDGET
        self._last_tid = 0
        self.default_account = self.add_account(handle, password)

    # -- accounts ----------------------------------------------------------------------------------

    def add_account(self, handle: str, password: str) -> Account:
        did = "did:plc:" + "".join(secrets.choice(_B32) for _ in range(24))
        account = Account(handle, did, password)
        with self._lock:
            self._state.accounts[did] = account
            self._state.handles[handle.lower()] = did
        return account

    def add_handle(self, handle: str, did: str) -> None:
        """Make ``resolveHandle`` know a handle of someone else (a mention)."""
        with self._lock:
            self._state.handles[handle.lower()] = did

    def set_password(self, handle: str, password: str) -> None:
        """A new app password; every session of the account ends (as when an app password is revoked)."""
        with self._lock:
            account = self._account_by(handle)
            account.password = password
            for token, grant in list(self._state.tokens.items()):
                if grant.did == account.did:
                    del self._state.tokens[token]

    def forget_tokens(self, kind: str | None = None) -> None:
        """The server no longer knows the tokens it issued (``kind``: "access", "refresh" or both): a PDS that
        lost its sessions, or tokens signed with a rotated key. An access token then gets 400 InvalidToken."""
        with self._lock:
            for token, grant in list(self._state.tokens.items()):
                if kind is None or grant.kind == kind:
                    del self._state.tokens[token]

    def expire_access_tokens(self) -> None:
        """Every access token lapses now (refresh tokens stay valid)."""
        with self._lock:
            for grant in self._state.tokens.values():
                if grant.kind == "access":
                    grant.expires_at = 0.0

    def set_session_limit(self, limit: int, seconds: float) -> None:
        with self._lock:
            self._session_limit = (limit, seconds)
            self._state.session_windows.clear()

    def set_write_budget(self, points: int, seconds: float) -> None:
        """Each account may spend ``points`` (a created record costs 3) every ``seconds``."""
        with self._lock:
            self._write_budget = (points, seconds)
            self._state.write_windows.clear()

    # -- inspection --------------------------------------------------------------------------------

    def posts(self, handle: str | None = None) -> list[dict[str, Any]]:
        """The account's posts, oldest first: rkey, uri, cid, text, facets, reply, embed, createdAt."""
        with self._lock:
            did = self._account_by(handle or self.default_account.handle).did
            records = [r for r in self._state.records.values() if r.did == did and r.collection == POST]
            return [dict(r.value, rkey=r.rkey, uri=r.uri, cid=r.cid) for r in records]

    def sessions_created(self, handle: str | None = None) -> int:
        with self._lock:
            return self._state.sessions_created.get(self._account_by(handle or self.default_account.handle).did, 0)

    def reset(self) -> None:
        """Forget records, blobs, faults and the request log; accounts and sessions stay."""
        super().reset()
        with self._lock:
            self._state.records.clear()
            self._state.blobs.clear()
            self._state.write_windows.clear()

    def stats(self) -> dict[str, Any]:
        return dict(super().stats(), length_judge=length_judge())

    def control(self, action: str, req: Request, args: dict[str, Any]) -> Reply | None:
        if action == "posts" and req.method == "GET":
            return Reply(200, {"posts": self.posts(args.get("handle"))})
        if action == "expire_access_tokens" and req.method == "POST":
            self.expire_access_tokens()
            return Reply(200, {"ok": True})
        if action == "write_budget" and req.method == "POST":
            self.set_write_budget(int(args["points"]), float(args["seconds"]))
            return Reply(200, {"ok": True})
        return None

    # -- routing and faults ------------------------------------------------------------------------

    def route(self, method: str, path: str) -> str | None:
        if not path.startswith(_XRPC):
            return None
        return _ROUTES.get((method, path[len(_XRPC):]))

    def not_found(self) -> Reply:
        return Reply(501, {"error": "MethodNotImplemented", "message": "Method Not Implemented"})

    def fault_reply(self, fault: Fault, endpoint: str, req: Request) -> Reply:
        if fault.kind == "unauthorized":
            # The PDS's 401s are AuthRequiredError: no token (AuthMissing), a taken-down account, ...
            return _error(401, "AuthenticationRequired", "Authentication Required")
        if fault.kind == "invalid_token":
            return _error(400, "InvalidToken", "Token could not be verified")
        if fault.kind == "expired_token":
            return _error(400, "ExpiredToken", "Token has expired")
        if fault.kind == "rate_limited":
            limit, seconds = self._write_budget
            reset = int(time.time() + fault.reset_in)
            headers = {"ratelimit-limit": str(limit), "ratelimit-remaining": "0", "ratelimit-reset": str(reset),
                       "ratelimit-policy": f"{limit};w={int(seconds)}"}
            return _error(429, "RateLimitExceeded", "Rate Limit Exceeded", headers)
        status = GATEWAY_STATUS[fault.kind]
        names = {500: "InternalServerError", 502: "UpstreamFailure", 503: "NotEnoughResources",
                 504: "UpstreamTimeout"}
        return _error(status, names[status], names[status])

    # -- the XRPC methods --------------------------------------------------------------------------

    def dispatch(self, endpoint: str, req: Request) -> Reply:
        with self._lock:
            if endpoint == "createSession":
                return self._create_session(req)
            if endpoint == "refreshSession":
                return self._refresh_session(req)
            if endpoint == "getRecord":
                return self._get_record(req.query_params())
            if endpoint == "listRecords":
                return self._list_records(req.query_params())
            if endpoint == "resolveHandle":
                did = self._state.handles.get(req.query_params().get("handle", "").lower())
                return Reply(200, {"did": did}) if did else _error(400, "InvalidRequest", "Unable to resolve handle")
            account, refused = self._authenticate(req)
            if refused is not None:
                return refused
            if endpoint == "getSession":
                return Reply(200, {"did": account.did, "handle": account.handle, "active": True})
            if endpoint == "uploadBlob":
                return self._upload_blob(account, req)
            if endpoint in APP_VIEW.values():
                return self.app_view(endpoint, req)
            return self._create_record(account, req)

    def _create_session(self, req: Request) -> Reply:
        body = _json_body(req)
        identifier = str(body.get("identifier", "")).lower()
        did = identifier if identifier in self._state.accounts else self._state.handles.get(identifier)
        account = self._state.accounts.get(did or "")
        window = self._state.session_windows.setdefault(did or identifier, _Window(*self._session_limit))
        now = time.time()
        if not window.spend(1, now):
            return _error(429, "RateLimitExceeded", "Rate Limit Exceeded", window.headers(now))
        if account is None or body.get("password") != account.password:
            return _error(401, "AuthenticationRequired", "Invalid identifier or password", window.headers(now))
        self._state.sessions_created[account.did] = self._state.sessions_created.get(account.did, 0) + 1
        return Reply(200, self._session_body(account), window.headers(now))

    def _refresh_session(self, req: Request) -> Reply:
        token = _bearer(req)
        if token is None:
            return _error(401, "AuthMissing", "Authentication Required")
        grant = self._state.tokens.get(token)
        if grant is not None and grant.kind != "refresh":
            return _error(400, "InvalidToken", "Bad token scope")  # an access token sent to refresh
        if grant is None:
            # refreshSession.ts: a refresh token the server no longer has (used, revoked) is "revoked".
            return _error(400, "ExpiredToken", "Token has been revoked")
        del self._state.tokens[token]  # rotated: a refresh token works once
        if grant.expires_at < time.time():
            return _error(400, "ExpiredToken", "Token has expired")
        return Reply(200, self._session_body(self._state.accounts[grant.did]))

    def _session_body(self, account: Account) -> dict[str, Any]:
        return {
            "did": account.did,
            "handle": account.handle,
            "accessJwt": self._jwt(account.did, "access", self.access_lifetime),
            "refreshJwt": self._jwt(account.did, "refresh", self.refresh_lifetime),
            "active": True,
        }

    def _jwt(self, did: str, kind: str, lifetime: float) -> str:
        now = int(time.time())
        claims = {"scope": "com.atproto.access" if kind == "access" else "com.atproto.refresh", "sub": did,
                  "iat": now, "exp": now + int(lifetime), "aud": "did:web:standin.invalid",
                  "jti": secrets.token_hex(8)}
        token = ".".join(_b64(json.dumps(part).encode()) for part in ({"typ": "at+jwt", "alg": "ES256K"}, claims))
        token += "." + _b64(secrets.token_bytes(64))
        self._state.tokens[token] = _Token(did, kind, now + lifetime)
        return token

    def _authenticate(self, req: Request) -> tuple[Account, None] | tuple[None, Reply]:
        token = _bearer(req)
        # packages/pds/src/auth-verifier.ts: no token is AuthRequiredError (401 AuthMissing); a token that does
        # not verify is InvalidRequestError (400 InvalidToken), a lapsed one 400 ExpiredToken.
        if token is None:
            return None, _error(401, "AuthMissing", "Authentication Required")
        grant = self._state.tokens.get(token)
        if grant is None:
            return None, _error(400, "InvalidToken", "Token could not be verified")
        if grant.kind != "access":
            return None, _error(400, "InvalidToken", "Bad token scope")
        if grant.expires_at < time.time():
            return None, _error(400, "ExpiredToken", "Token has expired")
        return self._state.accounts[grant.did], None

    def _create_record(self, account: Account, req: Request) -> Reply:
        body = _json_body(req)
        now = time.time()
        window = self._state.write_windows.setdefault(account.did, _Window(*self._write_budget))
        if not window.spend(CREATE_POINTS, now):
            return _error(429, "RateLimitExceeded", "Rate Limit Exceeded", window.headers(now))
        headers = window.headers(now)
        repo, collection, record = body.get("repo"), body.get("collection"), body.get("record")
        if repo not in (account.did, account.handle):
            return _error(400, "InvalidRequest", "Input/repo must be the authenticated account", headers)
        if not isinstance(collection, str) or not isinstance(record, dict):
            return _error(400, "InvalidRequest", "Input must have the properties \"collection\" and \"record\"",
                          headers)
        rkey = body.get("rkey")
        if rkey is None:
            rkey = self._tid()
        elif not isinstance(rkey, str) or not _RKEY.match(rkey) or rkey in (".", ".."):
            return _error(400, "InvalidRequest", "Input/rkey must be a valid Record Key", headers)
        # createRecord.ts turns prepareCreate's InvalidRecordError into a plain InvalidRequestError.
        if record.get("$type") != collection:
            return _error(400, "InvalidRequest", f"Invalid $type: expected {collection}, got {record.get('$type')}",
                          headers)
        if collection == POST:
            problem = self._post_problem(account, record)
            if problem:
                name, message = problem if isinstance(problem, tuple) else ("InvalidRequest",
                                                                           f"Invalid {POST} record: {problem}")
                return _error(400, name, message, headers)
        if (account.did, collection, rkey) in self._state.records:
            # What the PDS does today with a key already used: its repository write fails, unexplained.
            return _error(500, "InternalServerError", "Internal Server Error", headers)
        stored = _Record(account.did, collection, rkey, _cid(record), record, datetime.now(timezone.utc))
        self._state.records[(account.did, collection, rkey)] = stored
        return Reply(200, {"uri": stored.uri, "cid": stored.cid,
                           "commit": {"cid": _cid({"commit": stored.cid}), "rev": self._tid()},
                           "validationStatus": "valid"}, headers)

    def _post_problem(self, account: Account, record: dict[str, Any]) -> str | tuple[str, str] | None:
        """What the lexicon refuses (a message), or what the blob store refuses ((error name, message))."""
        text = record.get("text")
        if not isinstance(text, str):
            return "Record/text must be a string"
        try:
            raw = text.encode("utf-8")
        except UnicodeEncodeError:
            return "Record/text must be valid Unicode"
        if len(raw) > MAX_BYTES:
            return f"Record/text must not be longer than {MAX_BYTES} characters"
        if _graphemes(text) > MAX_GRAPHEMES:
            return f"Record/text must not be longer than {MAX_GRAPHEMES} graphemes"
        created = record.get("createdAt")
        if not isinstance(created, str) or not _is_datetime(created):
            return "Record/createdAt must be an valid atproto datetime (both RFC-3339 and ISO-8601)"
        for n, facet in enumerate(record.get("facets") or []):
            index = facet.get("index") if isinstance(facet, dict) else None
            start, end = (index or {}).get("byteStart"), (index or {}).get("byteEnd")
            if not (isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(raw)):
                return f"Record/facets/{n}/index must be a byte range of the text"
            if not facet.get("features"):
                return f"Record/facets/{n}/features must not be empty"
        reply = record.get("reply")
        if reply is not None:
            for part in ("root", "parent"):
                ref = reply.get(part) if isinstance(reply, dict) else None
                if not (isinstance(ref, dict) and str(ref.get("uri", "")).startswith("at://") and ref.get("cid")):
                    return f"Record/reply/{part} must be a strong reference (uri and cid)"
        embed = record.get("embed")
        if embed is not None:
            images = embed.get("images") if isinstance(embed, dict) else None
            if embed.get("$type") != "app.bsky.embed.images" or not isinstance(images, list):
                return "Record/embed must be app.bsky.embed.images here"
            if len(images) > MAX_IMAGES:
                return f"Record/embed/images must not have more than {MAX_IMAGES} elements"
            for n, image in enumerate(images):
                blob = image.get("image") if isinstance(image, dict) else None
                cid = ((blob or {}).get("ref") or {}).get("$link")
                known = self._state.blobs.get(cid or "")
                if not isinstance(image.get("alt"), str):
                    return f"Record/embed/images/{n}/alt must be a string"
                if known is None or known[0] != account.did:
                    return "BlobNotFound", f"Could not find blob: {cid}"
                if known[2] > MAX_IMAGE_BYTES:
                    return f"Record/embed/images/{n}/image file is too large ({known[2]} bytes > {MAX_IMAGE_BYTES})"
                # blob/transactor.ts verifyBlob: the reference must match what was stored.
                if blob.get("mimeType") != known[1]:
                    return "InvalidMimeType", (f"Referenced Mimetype does not match stored blob. Expected: "
                                               f"{known[1]}, Got: {blob.get('mimeType')}")
                if blob.get("size") != known[2]:
                    return "InvalidSize", (f"Referenced Size does not match stored blob. Expected: {known[2]}, "
                                           f"Got: {blob.get('size')}")
        return None

    def _get_record(self, query: dict[str, str]) -> Reply:
        did = self._did_of(query.get("repo", ""))
        record = self._state.records.get((did or "", query.get("collection", ""), query.get("rkey", "")))
        if record is None:
            uri = f"at://{query.get('repo')}/{query.get('collection')}/{query.get('rkey')}"
            return _error(400, "RecordNotFound", f"Could not locate record: {uri}")
        return Reply(200, {"uri": record.uri, "cid": record.cid, "value": record.value})

    def _list_records(self, query: dict[str, str]) -> Reply:
        did = self._did_of(query.get("repo", ""))
        if did is None:
            return _error(400, "InvalidRequest", f"Could not find repo: {query.get('repo')}")
        limit = int(query.get("limit", "50"))
        if not 1 <= limit <= 100:
            return _error(400, "InvalidRequest", "limit must be between 1 and 100")
        records = sorted((r for r in self._state.records.values()
                          if r.did == did and r.collection == query.get("collection")),
                         key=lambda r: r.rkey, reverse=query.get("reverse") != "true")
        cursor = query.get("cursor")
        if cursor:
            records = [r for r in records if (r.rkey > cursor if query.get("reverse") == "true" else r.rkey < cursor)]
        page = records[:limit]
        body: dict[str, Any] = {"records": [{"uri": r.uri, "cid": r.cid, "value": r.value} for r in page]}
        if page:  # listRecords.ts: the last record's key, even on the last page
            body["cursor"] = page[-1].rkey
        return Reply(200, body)

    def _upload_blob(self, account: Account, req: Request) -> Reply:
        if len(req.body) > BLOB_UPLOAD_LIMIT:  # xrpc-server's body size check
            return _error(413, "PayloadTooLarge", "request entity too large")
        # blob/transactor.ts: the type sniffed from the bytes wins; the Content-Type header is only the fallback.
        declared = req.headers.get("Content-Type", "application/octet-stream").split(";")[0].strip()
        mime = sniff_mime(req.body[:16]) or declared
        cid = "b" + _base32(bytes([0x01, 0x55, 0x12, 0x20]) + hashlib.sha256(req.body).digest())  # CIDv1, raw
        self._state.blobs[cid] = (account.did, mime, len(req.body))
        return Reply(200, {"blob": {"$type": "blob", "ref": {"$link": cid}, "mimeType": mime, "size": len(req.body)}})

    # -- helpers -----------------------------------------------------------------------------------

    def _account_by(self, handle: str) -> Account:
        did = self._state.handles.get(handle.lower(), handle)
        return self._state.accounts[did]

    def _did_of(self, repo: str) -> str | None:
        return repo if repo in self._state.accounts else self._state.handles.get(repo.lower())

    def _tid(self) -> str:
        micros = max(time.time_ns() // 1000, self._last_tid + 1)
        self._last_tid = micros
        value = (micros << 10) | secrets.randbelow(1024)
        return "".join(_TID_ALPHABET[(value >> (5 * i)) & 31] for i in reversed(range(13)))


def _error(status: int, name: str, message: str, headers: dict[str, str] | None = None) -> Reply:
    return Reply(status, {"error": name, "message": message}, dict(headers or {}))


def _json_body(req: Request) -> dict[str, Any]:
    try:
        body = json.loads(req.body or b"{}")
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _bearer(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    return header[len("Bearer "):] if header.startswith("Bearer ") else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _base32(data: bytes) -> str:
    return base64.b32encode(data).decode().lower().rstrip("=")


def _cid(value: Any) -> str:
    """A CIDv1 string (dag-cbor, sha-256) over the record's JSON: the shape of the PDS's, not its bytes."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return "b" + _base32(bytes([0x01, 0x71, 0x12, 0x20]) + digest)


def _is_datetime(value: str) -> bool:
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return moment.tzinfo is not None


def _graphemes(text: str) -> int:
    """Graphemes as a judge other than the project's counter sees them (pyuegc), else the project's."""
    try:
        from pyuegc import EGC  # lazy: optional (not a dependency): absent, the project's counter judges
    except ImportError:
        return graphemes(text)
    return len(EGC(text))


def length_judge() -> str:
    try:
        import pyuegc  # noqa: F401  # lazy: optional (not a dependency): only asks whether it is installed
    except ImportError:
        return "scheduler.text.bluesky_length"
    return "pyuegc"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.standins.bluesky",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--handle", default="tipbot.bsky.social")
    args = parser.parse_args(argv)
    standin = StandinBluesky(port=args.port, handle=args.handle, latency_ms=args.latency_ms)
    # The stand-in's own fixed fake credentials, printed so a demo can use them.
    return serve_until_signalled(standin, lambda url: {
        "BLUESKY_SERVICE_URL": url,
        "BLUESKY_HANDLE": standin.default_account.handle,
        "BLUESKY_APP_PASSWORD": standin.default_account.password,
    })

if __name__ == "__main__":
    sys.exit(main())
