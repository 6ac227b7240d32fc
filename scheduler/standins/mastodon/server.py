"""The stand-in Mastodon server: its routes, statuses (Idempotency-Key, HTML rendering, mentions), media
uploads, rate limits and the control endpoints (see the package's docstring for what it reproduces)."""

from __future__ import annotations

import html
import itertools
import re
import secrets
import time
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from scheduler.networks.media import sniff_mime
from scheduler.standins.http import (
    GATEWAY_STATUS,
    Fault,
    Reply,
    Request,
    StandinServer,
    multipart_fields,
)
from scheduler.standins.mastodon.length import _mastodon_length, length_judge
from scheduler.standins.metrics import counts, followers
from scheduler.standins.mastodon.state import (
    API_BUDGET,
    GIF_PROCESSING_S,
    IDEMPOTENCY_WINDOW_S,
    IMAGE_SIZE_LIMIT,
    MAX_MEDIA,
    STATUS_BUDGET,
    Account,
    Status,
    _Media,
    _State,
    _Window,
)
from scheduler.text.x_length import url_spans

_ROUTES = (
    ("GET", re.compile(r"^/api/v2/instance$"), "instance"),
    ("GET", re.compile(r"^/api/v1/instance$"), "instance"),
    ("GET", re.compile(r"^/api/v1/accounts/verify_credentials$"), "verify_credentials"),
    ("POST", re.compile(r"^/api/v1/statuses$"), "statuses"),
    ("GET", re.compile(r"^/api/v1/statuses$"), "status_list"),
    ("GET", re.compile(r"^/api/v1/statuses/(?P<id>\d+)$"), "status"),
    ("GET", re.compile(r"^/api/v1/statuses/(?P<id>\d+)/source$"), "source"),
    ("GET", re.compile(r"^/api/v1/accounts/(?P<id>\d+)/statuses$"), "account_statuses"),
    ("POST", re.compile(r"^/api/v[12]/media$"), "media"),
    ("GET", re.compile(r"^/api/v1/media/(?P<id>\d+)$"), "media_status"),
)


# Account::MENTION_RE (USERNAME_RE, then an optional @domain)
_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[.-]+[a-z0-9_]+)*)(?:@([\w.-]+\w))?", re.IGNORECASE)


MAX_STATUS_IDS = 20  # GET /api/v1/statuses: Api::BaseController::DEFAULT_STATUSES_LIMIT ids at most


_MEDIA_NOT_READY = "Cannot attach files that have not finished processing. Try again in a moment!"


_PROXY_PAGE = "<html><head><title>{status}</title></head><body><center><h1>{status}</h1></center></body></html>"


class StandinMastodon(StandinServer):
    NAME = "mastodon"
    ENDPOINTS = ("instance", "verify_credentials", "statuses", "status", "source", "account_statuses", "media",
                 "media_status", "status_list")
    WRITE_ENDPOINTS = ("statuses",)
    EXTRA_FAULTS = ("forbidden",)

    def __init__(self, *, port: int = 0, username: str = "tipbot", max_characters: int = 500,
                 characters_reserved_per_url: int = 23, latency_ms: float = 0.0) -> None:
        super().__init__(port=port, latency_ms=latency_ms)
        self.max_characters = max_characters
        self.characters_reserved_per_url = characters_reserved_per_url
        self._state = _State()
        self._ids = itertools.count(1)
        self._last_ms = 0
        self._sequence = 0
        self._idempotency_window = IDEMPOTENCY_WINDOW_S
        self._status_budget = STATUS_BUDGET
        self.media_processing = GIF_PROCESSING_S
        self._revoked: set[str] = set()
        self._source_endpoint = True
        self._status_list_endpoint = True
        self.default_account = self.add_account(username)

    @property
    def token(self) -> str:
        """The default account's access token."""
        return self.default_account.token

    # -- accounts and settings ---------------------------------------------------------------------

    def add_account(self, username: str) -> Account:
        with self._lock:
            account = Account(str(100_000 + next(self._ids)), username, secrets.token_urlsafe(32))
            self._state.accounts[account.id] = account
            self._state.tokens[account.token] = account.id
            return account

    def revoke_token(self, token: str) -> None:
        with self._lock:
            if self._state.tokens.pop(token, None) is not None:
                self._revoked.add(token)

    def add_remote_account(self, acct: str) -> Account:
        """An account of another server (``user@domain``) this one knows, so a mention of it is linked."""
        username, domain = acct.lstrip("@").split("@", 1)
        with self._lock:
            account = Account(str(100_000 + next(self._ids)), username, "", domain)
            self._state.accounts[account.id] = account
            return account

    def app_token(self) -> str:
        """A token of the app alone (client credentials grant): it reads, but has no user to post as."""
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._state.app_tokens.add(token)
        return token

    def set_media_processing(self, seconds: float) -> None:
        """How long a GIF's background processing takes (still images are processed at once)."""
        with self._lock:
            self.media_processing = float(seconds)

    def set_limits(self, max_characters: int, characters_reserved_per_url: int = 23) -> None:
        with self._lock:
            self.max_characters = max_characters
            self.characters_reserved_per_url = characters_reserved_per_url

    def set_idempotency_window(self, seconds: float) -> None:
        """How long an Idempotency-Key is remembered (Mastodon: 1 hour); 0 forgets them at once."""
        with self._lock:
            self._idempotency_window = float(seconds)

    def set_source_endpoint(self, enabled: bool) -> None:
        """Whether ``GET /api/v1/statuses/:id/source`` exists (404 without it, as on servers before it)."""
        with self._lock:
            self._source_endpoint = bool(enabled)

    def set_status_list_endpoint(self, enabled: bool) -> None:
        """Whether ``GET /api/v1/statuses?id[]=`` exists (404 without it, as on servers before 4.3)."""
        with self._lock:
            self._status_list_endpoint = bool(enabled)

    def set_status_budget(self, statuses: int, seconds: float) -> None:
        with self._lock:
            self._status_budget = (statuses, seconds)
            self._state.status_windows.clear()

    # -- inspection --------------------------------------------------------------------------------

    def statuses(self, username: str | None = None) -> list[dict[str, Any]]:
        """The account's statuses, oldest first: id, text (as posted), content (HTML), in_reply_to_id,
        media_ids, visibility, created_at, idempotency_key."""
        with self._lock:
            account = self._account_named(username or self.default_account.username)
            return [vars(s).copy() for s in self._state.statuses.values() if s.account_id == account.id]

    def delete_post(self, post_id: str) -> None:
        """The status is gone: reading it answers 404, a read of several leaves it out."""
        with self._lock:
            del self._state.statuses[post_id]

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self._state.statuses.clear()
            self._state.media.clear()
            self._state.keys.clear()
            self._state.status_windows.clear()
            self._state.api_windows.clear()

    def stats(self) -> dict[str, Any]:
        return dict(super().stats(), length_judge=length_judge())

    def control(self, action: str, req: Request, args: dict[str, Any]) -> Reply | None:
        if action == "statuses" and req.method == "GET":
            rows = self.statuses(args.get("username"))
            return Reply(200, {"statuses": [dict(s, created_at=s["created_at"].isoformat()) for s in rows]})
        if action == "idempotency_window" and req.method == "POST":
            self.set_idempotency_window(float(args["seconds"]))
            return Reply(200, {"ok": True})
        return None

    # -- routing and faults ------------------------------------------------------------------------

    def route(self, method: str, path: str) -> str | None:
        path = path.rstrip("/") or "/"  # Rails routes take a trailing slash alike (Mastodon.py sends some)
        for verb, pattern, name in _ROUTES:
            if verb == method and pattern.match(path):
                return name
        return None

    def not_found(self) -> Reply:
        return Reply(404, {"error": "Record not found"})

    def fault_reply(self, fault: Fault, endpoint: str, req: Request) -> Reply:
        if fault.kind == "unauthorized":
            return Reply(401, {"error": "The access token is invalid"})
        if fault.kind == "forbidden":
            return Reply(403, {"error": "This action is outside the authorized scopes"})
        if fault.kind == "rate_limited":
            limit, _ = API_BUDGET
            reset = datetime.fromtimestamp(time.time() + fault.reset_in, timezone.utc)
            return Reply(429, {"error": "Too many requests"},
                         {"X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": "0",
                          "X-RateLimit-Reset": reset.strftime("%Y-%m-%dT%H:%M:%S.%fZ")})
        status = GATEWAY_STATUS[fault.kind]
        if status == 500:
            return Reply(500, {"error": "Internal server error"})
        titles = {502: "502 Bad Gateway", 503: "503 Service Temporarily Unavailable", 504: "504 Gateway Time-out"}
        return Reply(status, _PROXY_PAGE.format(status=titles[status]).encode(), {"Content-Type": "text/html"})

    # -- the API -----------------------------------------------------------------------------------

    def dispatch(self, endpoint: str, req: Request) -> Reply:
        with self._lock:
            if endpoint == "instance":
                return Reply(200, self._instance())
            account = self._authenticate(req)
            if account is None:
                token = _bearer(req)
                if token in self._state.app_tokens and endpoint in ("statuses", "media", "verify_credentials",
                                                                     "media_status", "source"):
                    # Api::BaseController#require_user!: a token without a user is 422, not 401.
                    return Reply(422, {"error": "This method requires an authenticated user"})
                if token in self._state.app_tokens:
                    return self._route_call(endpoint, None, req, time.time())
                # Doorkeeper's messages: a revoked token says so, an unknown one is "invalid".
                message = "The access token was revoked" if token in self._revoked else "The access token is invalid"
                return Reply(401, {"error": message}, {"WWW-Authenticate": f'Bearer realm="Doorkeeper", '
                                                       f'error="invalid_token", error_description="{message}"'})
            now = time.time()
            window = self._state.api_windows.setdefault(account.id, _Window(*API_BUDGET))
            if not window.spend(now):
                return Reply(429, {"error": "Too many requests"}, window.headers(now))
            reply = self._route_call(endpoint, account, req, now)
            reply.headers = {**window.headers(now), **reply.headers}
            return reply

    def _route_call(self, endpoint: str, account: Account | None, req: Request, now: float) -> Reply:
        ids = self._path_ids(req.path)
        if endpoint == "verify_credentials":
            return Reply(200, self._account_json(account, source=True))
        if endpoint == "statuses":
            return self._post_status(account, req, now)
        if endpoint == "media":
            return self._upload(account, req)
        if endpoint == "media_status":
            return self._media_status(account, ids, now)
        if endpoint == "account_statuses":
            return self._account_statuses(ids, req.query_params())
        if endpoint == "status_list":
            return self._status_list(req)
        status = self._state.statuses.get(ids)
        if status is None:
            return Reply(404, {"error": "Record not found"})
        if endpoint == "source":
            if not self._source_endpoint or account is None or status.account_id != account.id:
                return Reply(404, {"error": "Record not found"})
            return Reply(200, {"id": status.id, "text": status.text, "spoiler_text": ""})
        return Reply(200, self._status_json(status))

    def _post_status(self, account: Account, req: Request, now: float) -> Reply:
        key = req.headers.get("Idempotency-Key")
        if key:
            seen = self._state.keys.get((account.id, key))
            if seen is not None and now - seen[1] < self._idempotency_window:
                return Reply(200, self._status_json(self._state.statuses[seen[0]]))
        window = self._state.status_windows.setdefault(account.id, _Window(*self._status_budget))
        if not window.spend(now):
            return Reply(429, {"error": "Too many requests"}, window.headers(now))
        params = req.params()
        text = str(params.get("status") or "")
        wanted = params.get("media_ids") or []
        wanted = [wanted] if isinstance(wanted, str) else [str(m) for m in wanted]
        # PostStatusService#validate_media!: too many, then ids not the account's unattached media, then not ready.
        if len(wanted) > MAX_MEDIA:
            return Reply(422, {"error": f"Cannot attach more than {MAX_MEDIA} files"})
        missing = [m for m in wanted if (self._state.media.get(m) is None
                                         or self._state.media[m].account_id != account.id
                                         or self._state.media[m].status_id is not None)]
        if missing:
            return Reply(422, {"error": f"Media {', '.join(missing)} not found or already attached to another post"})
        if any(self._state.media[m].ready_at > now for m in wanted):
            return Reply(422, {"error": _MEDIA_NOT_READY})
        media = tuple(wanted)
        if not text.strip() and not media:
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return Reply(422, {"error": "Validation failed: Text is invalid"})
        if _mastodon_length(text, self.characters_reserved_per_url) > self.max_characters:
            return Reply(422, {"error": f"Validation failed: Text character limit of {self.max_characters} exceeded"})
        reply_to = params.get("in_reply_to_id") or None
        if reply_to is not None and str(reply_to) not in self._state.statuses:
            # StatusesController#set_thread: statuses.errors.in_reply_not_found
            return Reply(404, {"error": "The post you are trying to reply to does not appear to exist."})
        status = Status(self._snowflake(now), account.id, text, self._render(text), str(reply_to) if reply_to else None,
                        media, str(params.get("visibility") or "public"),
                        datetime.fromtimestamp(now, timezone.utc), key)
        self._state.statuses[status.id] = status
        for media_id in media:
            self._state.media[media_id].status_id = status.id
        if key:
            self._state.keys[(account.id, key)] = (status.id, now)
        return Reply(200, self._status_json(status))

    def _account_statuses(self, account_id: str, query: dict[str, str]) -> Reply:
        if account_id not in self._state.accounts:
            return Reply(404, {"error": "Record not found"})
        limit = min(max(int(query.get("limit", "20") or 20), 1), 40)
        rows = sorted((s for s in self._state.statuses.values() if s.account_id == account_id),
                      key=lambda s: int(s.id), reverse=True)
        if query.get("exclude_replies") in ("true", "1"):
            rows = [s for s in rows if s.in_reply_to_id is None]
        if query.get("max_id"):
            rows = [s for s in rows if int(s.id) < int(query["max_id"])]
        if query.get("since_id"):
            rows = [s for s in rows if int(s.id) > int(query["since_id"])]
        if query.get("min_id"):  # the page just after min_id, still newest first
            rows = sorted((s for s in rows if int(s.id) > int(query["min_id"])), key=lambda s: int(s.id))[:limit]
            rows.reverse()
        page = rows[:limit]
        headers = {}
        if page:
            base = f"{self.url}/api/v1/accounts/{account_id}/statuses"
            headers["Link"] = (f'<{base}?{urlencode({"limit": limit, "max_id": page[-1].id})}>; rel="next", '
                               f'<{base}?{urlencode({"limit": limit, "min_id": page[0].id})}>; rel="prev"')
        return Reply(200, [self._status_json(s) for s in page], headers)

    def _status_list(self, req: Request) -> Reply:
        """GET /api/v1/statuses?id[]=... (Mastodon 4.3): the statuses found, in the order asked; an id of none is
        left out, more than 20 ids is 422."""
        if not self._status_list_endpoint:
            return Reply(404, {"error": "Record not found"})
        wanted = req.params().get("id") or []
        wanted = [wanted] if isinstance(wanted, str) else wanted
        if len(dict.fromkeys(wanted)) > MAX_STATUS_IDS:
            return Reply(422, {"error": "Mastodon::ValidationError"})
        found = (self._state.statuses.get(str(i)) for i in dict.fromkeys(wanted))
        return Reply(200, [self._status_json(s) for s in found if s is not None])

    def _upload(self, account: Account, req: Request) -> Reply:
        content_type = req.headers.get("Content-Type", "")
        if not content_type.startswith("multipart/form-data"):
            return Reply(422, {"error": "Validation failed: File can't be blank"})
        data = multipart_fields(content_type, req.body).get("file", b"")
        mime = _sniff(data)
        if not data or mime is None:
            return Reply(422, {"error": "Validation failed: File content type is invalid"})
        if len(data) > IMAGE_SIZE_LIMIT:
            return Reply(422, {"error": "Validation failed: File file size must be less than 16 MB"})
        now = time.time()
        media_id = self._snowflake(now)
        # MediaAttachment#delay_processing?: only larger formats (a GIF becomes a gifv video) wait for a worker.
        delayed = mime == "image/gif"
        self._state.media[media_id] = _Media(account.id, mime, now + (self.media_processing if delayed else 0.0))
        return Reply(202 if delayed else 200, self._media_json(media_id, now))

    def _media_status(self, account: Account | None, media_id: str, now: float) -> Reply:
        media = self._state.media.get(media_id)
        # Api::V1::MediaController: only the account's unattached media; 206 while processing, then 200.
        if account is None or media is None or media.account_id != account.id or media.status_id is not None:
            return Reply(404, {"error": "Record not found"})
        return Reply(206 if media.ready_at > now else 200, self._media_json(media_id, now))

    def _media_json(self, media_id: str, now: float) -> dict[str, Any]:
        media = self._state.media[media_id]
        ready = media.ready_at <= now
        return {"id": media_id, "type": "gifv" if media.mime == "image/gif" else "image",
                "url": f"{self.url}/media/{media_id}" if ready else None,
                "preview_url": f"{self.url}/media/{media_id}/small" if ready else None, "remote_url": None,
                "description": None, "blurhash": None, "meta": {}}

    # -- rendering ---------------------------------------------------------------------------------

    def _instance(self) -> dict[str, Any]:
        return {
            "domain": "127.0.0.1", "title": "Stand-in Mastodon", "version": "4.3.0",
            "source_url": "https://github.com/mastodon/mastodon", "description": "A stand-in for tests",
            "languages": ["en"], "rules": [],
            "configuration": {
                "urls": {"streaming": None},
                "statuses": {"max_characters": self.max_characters, "max_media_attachments": MAX_MEDIA,
                             "characters_reserved_per_url": self.characters_reserved_per_url},
                "media_attachments": {"supported_mime_types": ["image/jpeg", "image/png", "image/gif", "image/webp"],
                                      "image_size_limit": IMAGE_SIZE_LIMIT, "image_matrix_limit": 33177600},
                "polls": {"max_options": 4, "max_characters_per_option": 50},
                "translation": {"enabled": False},
            },
            "registrations": {"enabled": False, "approval_required": False, "message": None},
        }

    def _account_json(self, account: Account, source: bool = False) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": account.id, "username": account.username, "acct": account.username,
            "display_name": account.username.title(), "locked": False, "bot": True, "discoverable": True,
            "group": False, "created_at": "2026-01-01T00:00:00.000Z", "note": "", "url": f"{self.url}/@{account.username}",
            "avatar": f"{self.url}/avatars/original/missing.png", "avatar_static": f"{self.url}/avatars/original/missing.png",
            "header": f"{self.url}/headers/original/missing.png", "header_static": f"{self.url}/headers/original/missing.png",
            "followers_count": followers(account.acct, self.age_of(self.started_at)), "following_count": 0,
            "statuses_count": sum(
                1 for s in self._state.statuses.values() if s.account_id == account.id),
            "last_status_at": None, "emojis": [], "fields": [],
        }
        if source:
            body["source"] = {"privacy": "public", "sensitive": False, "language": "en", "note": "", "fields": []}
        return body

    def _status_json(self, status: Status) -> dict[str, Any]:
        account = self._state.accounts[status.account_id]
        parent = self._state.statuses.get(status.in_reply_to_id or "")
        grown = counts(status.id, self.age_of(status.created_at.timestamp()))
        return {
            "id": status.id, "created_at": status.created_at.strftime("%Y-%m-%dT%H:%M:%S.") +
            f"{status.created_at.microsecond // 1000:03d}Z",
            "in_reply_to_id": status.in_reply_to_id, "in_reply_to_account_id": parent.account_id if parent else None,
            "sensitive": False, "spoiler_text": "", "visibility": status.visibility, "language": "en",
            "uri": f"{self.url}/users/{account.username}/statuses/{status.id}",
            "url": f"{self.url}/@{account.username}/{status.id}",
            "replies_count": grown.replies, "reblogs_count": grown.reposts, "favourites_count": grown.likes,
            "edited_at": None,
            "content": status.content, "reblog": None,  # no "text": only a delete's answer has it
            "application": {"name": "tip-scheduler", "website": None}, "account": self._account_json(account),
            "media_attachments": [{"id": m, "type": "image", "url": f"{self.url}/media/{m}",
                                   "preview_url": f"{self.url}/media/{m}/small", "description": None}
                                  for m in status.media_ids],
            "mentions": [{"id": m.id, "username": m.username, "url": self._profile_url(m), "acct": m.acct}
                         for m in self._mentioned(status.text)],
            "tags": [{"name": t.lower(), "url": f"{self.url}/tags/{t.lower()}"}
                     for t in dict.fromkeys(re.findall(r"(?:^|(?<=\s))#(\w+)", status.text))],
            "emojis": [], "card": None, "poll": None,
        }

    def _render(self, text: str) -> str:
        """Mastodon's HTML for a plain-text status: escaped, links wrapped (scheme and tail in invisible spans,
        the first 30 characters in an ellipsis span), hashtags linked, paragraphs and line breaks."""
        pieces, position = [], 0
        for start, end in url_spans(text):
            link = text[start:end]
            if not re.match(r"https?://", link, re.IGNORECASE):
                continue
            scheme, rest = link.split("://", 1)
            pieces.append(_tags(html.escape(text[position:start], quote=False), self.url))
            pieces.append(
                f'<a href="{html.escape(link)}" target="_blank" rel="nofollow noopener" translate="no">'
                f'<span class="invisible">{html.escape(scheme)}://</span>'
                f'<span class="{"ellipsis" if len(rest) > 30 else ""}">{html.escape(rest[:30])}</span>'
                f'<span class="invisible">{html.escape(rest[30:])}</span></a>'
            )
            position = end
        pieces.append(_tags(html.escape(text[position:], quote=False), self.url))
        body = self._link_mentions("".join(pieces), text)
        paragraphs = [p.replace("\n", "<br />") for p in re.split(r"\n{2,}", body.strip("\n"))]
        return "".join(f"<p>{p}</p>" for p in paragraphs)

    def _known(self, username: str, domain: str | None) -> Account | None:
        local = domain is None or domain.lower() == "127.0.0.1"
        for account in self._state.accounts.values():
            if account.username.lower() == username.lower() and (
                    account.domain is None if local else (account.domain or "").lower() == domain.lower()):
                return account
        return None

    def _mentioned(self, text: str) -> list[Account]:
        found = (self._known(m.group(1), m.group(2)) for m in _MENTION.finditer(text))
        return list({a.id: a for a in found if a is not None}.values())

    def _profile_url(self, account: Account) -> str:
        return f"https://{account.domain}/@{account.username}" if account.domain else f"{self.url}/@{account.username}"

    def _link_mentions(self, body: str, text: str) -> str:
        """TextFormatter#link_to_mention: a known account as an h-card link showing ``@username`` alone (its
        ``user@domain`` only when two mentioned accounts share the username); an unknown one stays text."""
        mentioned = self._mentioned(text)

        def link(match: re.Match[str]) -> str:
            account = self._known(match.group(1), match.group(2))
            if account is None:
                return match.group(0)
            same = sum(1 for a in mentioned if a.username.lower() == account.username.lower())
            shown = account.acct if same > 1 else account.username
            return (f'<span class="h-card" translate="no"><a href="{self._profile_url(account)}" '
                    f'class="u-url mention">@<span>{html.escape(shown)}</span></a></span>')

        # Only in text between tags (a link's hidden parts too: "/@user" there is no mention).
        parts = re.split(r"(<[^>]+>)", body)
        return "".join(part if part.startswith("<") else _MENTION.sub(link, part) for part in parts)

    # -- helpers -----------------------------------------------------------------------------------

    def _authenticate(self, req: Request) -> Account | None:
        header = req.headers.get("Authorization", "")
        token = header[len("Bearer "):] if header.startswith("Bearer ") else None
        account_id = self._state.tokens.get(token or "")
        return self._state.accounts.get(account_id or "")

    def _account_named(self, username: str) -> Account:
        return next(a for a in self._state.accounts.values() if a.username == username and a.domain is None)

    @staticmethod
    def _path_ids(path: str) -> str:
        match = re.search(r"/(\d+)(?:/|$)", path)
        return match.group(1) if match else ""

    def _snowflake(self, now: float) -> str:
        ms = int(now * 1000)
        if ms == self._last_ms:
            self._sequence += 1
        else:
            self._last_ms, self._sequence = ms, secrets.randbelow(1000)
        return str((ms << 16) | (self._sequence & 0xFFFF))


def _bearer(req: Request) -> str | None:
    header = req.headers.get("Authorization", "")
    return header[len("Bearer "):] if header.startswith("Bearer ") else None


def _tags(escaped: str, base: str) -> str:
    return re.sub(r"(^|(?<=\s))#(\w+)", lambda m: f'{m.group(1)}<a href="{base}/tags/{m.group(2).lower()}" '
                  f'class="mention hashtag" rel="tag">#<span>{m.group(2)}</span></a>', escaped)


def _sniff(data: bytes) -> str | None:
    return sniff_mime(data[:16])
