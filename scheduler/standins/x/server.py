"""The stand-in X server: OAuth 1.0a and 2.0, posting, media upload, timelines and the control endpoints
(see the package's docstring for what it reproduces of X)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import itertools
import json
import secrets
import time
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlencode

from oauthlib.oauth1.rfc5849 import signature as oauth1_signature
from oauthlib.oauth1.rfc5849.utils import escape, parse_authorization_header, unescape

from scheduler.standins.http import (
    Fault,
    Reply,
    Request,
    StandinServer,
    multipart_fields,
)
from scheduler.standins.x.faults import (
    _ERROR_BODIES,
    DUPLICATE_BODY,
    ENDPOINTS,
    FAULT_KINDS,
    INVALID_TOKEN_BODY,
    PROBLEMS,
    TOO_LONG_MESSAGE,
    _fault_reply,
    _invalid,
)
from scheduler.standins.x.length import MAX_TEXT_LENGTH, _weighted_length, length_judge
from scheduler.standins.x.lookup import UNSUPPORTED_AUTHENTICATION, lookup, me
from scheduler.standins.x.timeline import (
    _SCHEME,
    _TCO_ALPHABET,
    READ_COST_PER_POST_USD,
    TCO_CODE_LENGTH,
    TCO_PREFIX,
    TIMELINE_DEPTH,
    Account,
    Post,
    _display_url,
    _matches,
    _OAuth2Grant,
    _page_token,
    _State,
    _timeline_params,
)
from scheduler.text.x_length import url_spans

# The URLs a client may have signed its OAuth 1.0a request for: the transport adapter rewrites
# X's URL to ours *after* signing, so the signature base string names X's host, not ours.
SIGNED_HOSTS = ("https://api.twitter.com", "https://api.x.com")


TWITTER_EPOCH_MS = 1288834974657


class StandinX(StandinServer):
    """The stand-in server. Every public method is thread-safe. The server, the faults, the latency and the
    request log are every stand-in's (``StandinServer``); X's routes, errors and timeline are here."""

    NAME = "x"
    ENDPOINTS = ENDPOINTS
    WRITE_ENDPOINTS = ("tweets",)

    def __init__(
        self,
        *,
        port: int = 0,
        username: str = "tipbot",
        consumer_key: str = "standin-consumer-key",
        consumer_secret: str = "standin-consumer-secret",
        access_token: str = "1000-standin-access-token",
        access_token_secret: str = "standin-access-token-secret",
        oauth2_client_id: str = "standin-client-id",
        access_token_lifetime: int = 7200,
        latency_ms: float = 0.0,
    ) -> None:
        super().__init__(port=port, latency_ms=latency_ms)
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.oauth2_client_id = oauth2_client_id
        self.access_token_lifetime = access_token_lifetime
        self._ids = itertools.count(1)
        self._state = _State()
        self.default_account = self.add_account(username, access_token, access_token_secret)
        # An app-only Bearer token (X's client-credentials grant): it may read posts by id, as anyone's, and
        # nothing that needs a user (non-public metrics, users/me, posting).
        self.app_token = "standin-app-only-" + secrets.token_urlsafe(16)

    # -- accounts and tokens -----------------------------------------------------------------------

    def add_account(
        self, username: str, access_token: str | None = None, access_token_secret: str | None = None
    ) -> Account:
        with self._lock:
            user_id = str(10_000 + len(self._state.accounts) + 1)
            account = Account(
                user_id=user_id,
                username=username,
                name=username.title(),
                access_token=access_token or f"{user_id}-{secrets.token_urlsafe(24)}",
                access_token_secret=access_token_secret or secrets.token_urlsafe(32),
            )
            self._state.accounts[username] = account
            return account

    def issue_oauth2_tokens(
        self, username: str | None = None, scope: str = "tweet.read tweet.write users.read offline.access media.write"
    ) -> dict[str, Any]:
        """Tokens as the token endpoint would return them, without the browser step (for fixtures)."""
        with self._lock:
            grant = _OAuth2Grant(username or self.default_account.username, scope, self.oauth2_client_id)
            return self._issue_tokens_locked(grant)

    def _issue_tokens_locked(self, grant: _OAuth2Grant) -> dict[str, Any]:
        access = secrets.token_urlsafe(32)
        self._state.access_tokens[access] = _OAuth2Grant(
            grant.username, grant.scope, grant.client_id, expires_at=time.time() + self.access_token_lifetime
        )
        body: dict[str, Any] = {
            "token_type": "bearer",
            "expires_in": self.access_token_lifetime,
            "access_token": access,
            "scope": grant.scope,
        }
        if "offline.access" in grant.scope.split():
            refresh = secrets.token_urlsafe(32)
            self._state.refresh_tokens[refresh] = _OAuth2Grant(grant.username, grant.scope, grant.client_id)
            body["refresh_token"] = refresh
        return body

    # -- X's own settings -------------------------------------------------------------------------

    @property
    def fault_kinds(self) -> tuple[str, ...]:
        return FAULT_KINDS

    def set_read_access(self, enabled: bool) -> None:
        """Off: timeline reads get 403 client-forbidden, as on plans without read access."""
        with self._lock:
            self._state.read_access = enabled

    def set_read_lag(self, seconds: float) -> None:
        """Timeline reads show a post only ``seconds`` after it was created, as X's timelines lag.

        The lag is applied when a read happens, so setting it back to 0 shows every post at once.
        """
        if not 0.0 <= float(seconds) < float("inf"):
            raise ValueError(f"read lag must be a number of seconds >= 0, not {seconds!r}")
        with self._lock:
            self._state.read_lag_s = float(seconds)

    # -- inspection --------------------------------------------------------------------------------

    def timeline(self, username: str | None = None) -> list[dict[str, Any]]:
        """The account's posts, oldest first, at once (no read lag, not billed).

        Each: id, text (as posted), rendered_text (as X returns it), entities ({"urls": [...]} over
        rendered_text), reply_to, media_ids, created_at (aware UTC).
        """
        with self._lock:
            account = self._state.accounts[username or self.default_account.username]
            return [p.as_dict() for p in self._state.posts if p.author_id == account.user_id]

    def reads_billed(self) -> int:
        """How many posts all reads returned so far (what a pay-per-use plan bills)."""
        with self._lock:
            return self._state.reads_billed

    def seed_posts(self, count: int, username: str | None = None) -> list[str]:
        """``count`` posts of the account made at once, as if long published (a history for metric reads to
        read, for the bench): their ids."""
        with self._lock:
            account = self._state.accounts[username or self.default_account.username]
            made = [Post(id=self._new_id(), text=f"seeded post {n}", author_id=account.user_id, reply_to=None,
                         media_ids=(), created_at=datetime.now(timezone.utc), rendered=f"seeded post {n}")
                    for n in range(count)]
            self._state.posts.extend(made)
            return [p.id for p in made]

    def delete_post(self, post_id: str) -> None:
        """The post is gone (its author deleted it): reads by id answer Not Found, timelines leave it out."""
        with self._lock:
            post = next((p for p in self._state.posts if p.id == post_id), None)
            if post is None:
                raise KeyError(f"no post {post_id}")
            self._state.posts.remove(post)

    def reset(self) -> None:
        """Forget posts, media, faults, billed reads and the request log; accounts, tokens and settings
        (latency, read lag, read access) stay."""
        super().reset()
        with self._lock:
            self._state.posts.clear()
            self._state.media.clear()
            self._state.reads_billed = 0

    # -- request handling (called from _Handler threads) -------------------------------------------

    def _authenticate(self, req: Request) -> Account | None:
        """The account a request acts for, or None (-> 401)."""
        header = req.headers.get("Authorization", "")
        if header.startswith("Bearer "):
            token = header[len("Bearer ") :].strip()
            with self._lock:
                grant = self._state.access_tokens.get(token)
                if grant is None or grant.expires_at < time.time():
                    return None
                return self._state.accounts.get(grant.username)
        if header.startswith("OAuth "):
            return self._verify_oauth1(req, header)
        return None

    def _verify_oauth1(self, req: Request, header: str) -> Account | None:
        try:
            params = {k: unescape(v) for k, v in parse_authorization_header(header)}
        except ValueError:
            return None
        if params.get("oauth_consumer_key") != self.consumer_key or params.get("oauth_signature_method") != "HMAC-SHA1":
            return None
        with self._lock:
            account = next(
                (a for a in self._state.accounts.values() if a.access_token == params.get("oauth_token")), None
            )
        if account is None:
            return None
        body = req.body.decode("latin-1") if req.is_form else None
        collected = oauth1_signature.collect_parameters(
            uri_query=req.query, body=body, headers={"Authorization": header}, exclude_oauth_signature=True
        )
        normalized = oauth1_signature.normalize_parameters(collected)
        given = params.get("oauth_signature", "")
        key = f"{escape(self.consumer_secret)}&{escape(account.access_token_secret)}".encode()
        for host in (*SIGNED_HOSTS, self.url):
            base = oauth1_signature.signature_base_string(
                req.method, oauth1_signature.base_string_uri(host + req.path), normalized
            )
            expected = base64.b64encode(hmac.new(key, base.encode(), hashlib.sha1).digest()).decode()
            if hmac.compare_digest(expected, given):
                return account
        return None

    def _new_id(self) -> str:
        # Snowflake-like: milliseconds since Twitter's epoch in the high bits, a sequence below,
        # so ids are long digit strings that sort by creation time, as X's do.
        ms = int(time.time() * 1000) - TWITTER_EPOCH_MS
        return str((ms << 22) | (next(self._ids) & 0x3FFFFF))

    def _create_post(self, account: Account, payload: Any) -> tuple[int, dict[str, Any]]:
        if not isinstance(payload, dict):
            return _invalid("Request body must be a JSON object.")
        unknown = set(payload) - {"text", "reply", "media"}
        if unknown:
            return _invalid(f"The query parameters [{', '.join(sorted(unknown))}] are not valid for this endpoint.")
        text = payload.get("text")
        reply = payload.get("reply")
        media = payload.get("media")
        media_ids: list[Any] = []
        if media is not None:
            if not isinstance(media, dict) or set(media) - {"media_ids", "tagged_user_ids"}:
                return _invalid("media must be an object with media_ids")
            media_ids = media.get("media_ids") or []
            if not isinstance(media_ids, list) or not 1 <= len(media_ids) <= 4:
                return _invalid("media.media_ids must hold 1 to 4 ids")
        if text is not None and not isinstance(text, str):
            return _invalid("text must be a string")
        if not text and not media_ids:
            return _invalid("Post text is required unless media is attached.")
        if text and _weighted_length(text) > MAX_TEXT_LENGTH:
            return _invalid(TOO_LONG_MESSAGE)
        reply_to = None
        if reply is not None:
            if not isinstance(reply, dict) or set(reply) - {"in_reply_to_tweet_id", "exclude_reply_user_ids"}:
                return _invalid("reply must be an object with in_reply_to_tweet_id")
            reply_to = str(reply.get("in_reply_to_tweet_id", ""))
        with self._lock:
            st = self._state
            if reply_to is not None:
                parent = next((p for p in st.posts if p.id == reply_to), None)
                if parent is None:
                    return _invalid(f"The `in_reply_to_tweet_id` {reply_to} does not exist or is not visible.")
                if parent.author_id != account.user_id:
                    # Self-serve plans may only reply to their own posts (or where mentioned).
                    return 403, {
                        "title": "Forbidden",
                        "type": "about:blank",
                        "status": 403,
                        "detail": "Reply to this conversation is not allowed because you have not been mentioned "
                        "or otherwise engaged by the author of the post you are replying to.",
                    }
            for mid in media_ids:
                if st.media.get(str(mid)) != account.username:
                    return _invalid("Your media IDs are invalid.")
            if text and any(p.author_id == account.user_id and p.text == text for p in st.posts):
                return 403, dict(DUPLICATE_BODY)
            post_id = self._new_id()
            rendered, urls = self._render_locked(text or "", post_id, account.username, [str(m) for m in media_ids])
            post = Post(
                id=post_id,
                text=text or "",
                author_id=account.user_id,
                reply_to=reply_to,
                media_ids=tuple(str(m) for m in media_ids),
                created_at=datetime.now(timezone.utc),
                rendered=rendered,
                urls=urls,
            )
            st.posts.append(post)
        return 201, {"data": {"id": post.id, "text": post.rendered, "edit_history_tweet_ids": [post.id]}}

    def _render_locked(
        self, text: str, post_id: str, username: str, media_ids: list[str]
    ) -> tuple[str, tuple[dict[str, Any], ...]]:
        """The text as X returns it, and its entities.urls (start/end: code points of the returned text)."""
        pieces: list[str] = []
        urls: list[dict[str, Any]] = []
        written = 0  # code points so far; a Python str indexes code points
        done = 0
        for start, end in url_spans(text):
            plain = html.escape(text[done:start], quote=False)  # X escapes &, < and >; quotes stay
            link = text[start:end]
            expanded = link if _SCHEME.match(link) else "http://" + link
            short = TCO_PREFIX + self._short_code_locked()
            written += len(plain)
            urls.append(
                {"start": written, "end": written + len(short), "url": short, "expanded_url": expanded,
                 "display_url": _display_url(expanded)}
            )
            pieces += [plain, short]
            written += len(short)
            done = end
        rendered = "".join(pieces) + html.escape(text[done:], quote=False)
        if media_ids:
            # One link for all the post's images, appended after a space; an entry per image.
            code = self._short_code_locked()
            short = TCO_PREFIX + code
            if rendered:
                rendered += " "
            start = len(rendered)
            rendered += short
            urls += [
                {"start": start, "end": start + len(short), "url": short,
                 "expanded_url": f"https://x.com/{username}/status/{post_id}/photo/{n}",
                 "display_url": f"pic.x.com/{code}", "media_key": f"3_{media_id}"}
                for n, media_id in enumerate(media_ids, start=1)
            ]
        return rendered, tuple(urls)

    def _short_code_locked(self) -> str:
        codes = self._state.short_codes
        while (code := "".join(secrets.choice(_TCO_ALPHABET) for _ in range(TCO_CODE_LENGTH))) in codes:
            pass  # 62**10 codes: a clash is all but impossible, but each link must be its own
        codes.add(code)
        return code

    def _user_tweets(self, user_id: str, query: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            if not self._state.read_access:
                return _ERROR_BODIES["client_forbidden"]
            owner = next((a for a in self._state.accounts.values() if a.user_id == user_id), None)
            posts = [p for p in self._state.posts if owner and p.author_id == owner.user_id]
            lag = timedelta(seconds=self._state.read_lag_s)
        if owner is None:
            return 404, {"title": "Not Found Error", "type": PROBLEMS + "resource-not-found", "detail": "Could not find user"}
        params = _timeline_params(query)
        if isinstance(params, tuple):
            return params
        visible_before = datetime.now(timezone.utc) - lag
        # Newest first; X reaches back only so far, and a post shows only once the timeline has caught up.
        newest_first = [p for p in reversed(posts) if p.created_at <= visible_before][:TIMELINE_DEPTH]
        matching = [p for p in newest_first if _matches(p, params)]
        direction, boundary = params.get("cursor", ("next", None))
        if direction == "next":
            after = [p for p in matching if boundary is None or int(p.id) < boundary]
            page = after[: params["max_results"]]
        else:  # previous page: the posts just newer than the boundary, still newest first
            before = [p for p in matching if int(p.id) > boundary]
            page = before[-params["max_results"] :]
        with self._lock:
            self._state.reads_billed += len(page)
        meta: dict[str, Any] = {"result_count": len(page)}
        if not page:
            return 200, {"meta": meta}  # X omits "data" when nothing matches
        meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if any(int(p.id) < int(page[-1].id) for p in matching):
            meta["next_token"] = _page_token("next", page[-1].id)
        if any(int(p.id) > int(page[0].id) for p in matching):
            meta["previous_token"] = _page_token("previous", page[0].id)
        fields = params["fields"]
        data = []
        for p in page:
            item: dict[str, Any] = {"id": p.id, "text": p.rendered, "edit_history_tweet_ids": [p.id]}
            if "created_at" in fields:
                item["created_at"] = p.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{p.created_at.microsecond // 1000:03d}Z"
            if "author_id" in fields:
                item["author_id"] = p.author_id
            if p.reply_to and "referenced_tweets" in fields:
                item["referenced_tweets"] = [{"type": "replied_to", "id": p.reply_to}]
            if p.reply_to and "in_reply_to_user_id" in fields:
                item["in_reply_to_user_id"] = p.author_id
            if p.urls and "entities" in fields:
                item["entities"] = {"urls": [dict(u) for u in p.urls]}
            if p.media_ids and "attachments" in fields:
                item["attachments"] = {"media_keys": [f"3_{m}" for m in p.media_ids]}
            data.append(item)
        return 200, {"data": data, "meta": meta}

    def _upload_media(self, account: Account, req: Request) -> tuple[int, dict[str, Any]]:
        fields = multipart_fields(req.headers.get("Content-Type", ""), req.body)
        media = fields.get("media")
        if not media:
            return _invalid("A media file is required (multipart field 'media').")
        if fields.get("media_category", b"tweet_image") not in (b"tweet_image", b"tweet_gif", b"dm_image"):
            return _invalid("media_category is not supported by the stand-in")
        with self._lock:
            media_id = self._new_id()
            self._state.media[media_id] = account.username
        return 200, {
            "data": {"id": media_id, "media_key": f"3_{media_id}", "size": len(media), "expires_after_secs": 86400}
        }

    def _token(self, req: Request) -> tuple[int, dict[str, Any]]:
        form = dict(parse_qsl(req.body.decode("utf-8", "replace")))
        client_id = form.get("client_id")
        basic = req.headers.get("Authorization", "")
        if basic.startswith("Basic "):  # confidential clients send id:secret
            client_id = base64.b64decode(basic[6:]).decode("utf-8", "replace").split(":", 1)[0]
        if client_id != self.oauth2_client_id:
            return 401, {"error": "unauthorized_client", "error_description": "Missing valid authorization header"}
        grant_type = form.get("grant_type")
        with self._lock:
            st = self._state
            if grant_type == "authorization_code":
                grant = st.codes.pop(form.get("code", ""), None)  # codes are single use too
                verifier = form.get("code_verifier", "")
                challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
                if grant is None or grant.redirect_uri != form.get("redirect_uri") or grant.code_challenge != challenge:
                    return 400, dict(INVALID_TOKEN_BODY)
                return 200, self._issue_tokens_locked(grant)
            if grant_type == "refresh_token":
                token = form.get("refresh_token", "")
                grant = st.refresh_tokens.pop(token, None)
                if grant is None:
                    return 400, dict(INVALID_TOKEN_BODY)
                st.spent_refresh_tokens.add(token)
                return 200, self._issue_tokens_locked(grant)
        return 400, {"error": "unsupported_grant_type", "error_description": f"grant_type {grant_type!r}"}

    def _authorize(self, query: dict[str, str]) -> Reply:
        """Fake consent screen: redirect at once with a code for the account named by ``login``."""
        redirect_uri = query.get("redirect_uri", "")
        if (
            query.get("client_id") != self.oauth2_client_id
            or query.get("response_type") != "code"
            or query.get("code_challenge_method") != "S256"
            or not query.get("code_challenge")
            or not redirect_uri
        ):
            return Reply(400, {"error": "invalid_request"})
        with self._lock:
            username = query.get("login") or self.default_account.username
            if username not in self._state.accounts:
                return Reply(400, {"error": "invalid_request"})
            code = secrets.token_urlsafe(24)
            self._state.codes[code] = _OAuth2Grant(
                username,
                query.get("scope", ""),
                self.oauth2_client_id,
                code_challenge=query["code_challenge"],
                redirect_uri=redirect_uri,
            )
        sep = "&" if "?" in redirect_uri else "?"
        location = redirect_uri + sep + urlencode({"state": query.get("state", ""), "code": code})
        return Reply(302, None, headers={"Location": location})

    def control(self, action: str, req: Request, args: dict[str, Any]) -> Reply | None:
        """X's own ``/_standin/`` actions, beside every stand-in's (fault, fault_rate, latency, reset, stats)."""
        if action == "read_access" and req.method == "POST":
            self.set_read_access(bool(args["enabled"]))
        elif action == "read_lag" and req.method == "POST":
            self.set_read_lag(float(args["seconds"]))
        elif action == "timeline" and req.method == "GET":
            posts = self.timeline(args.get("username"))
            return Reply(200, {"data": [dict(p, created_at=p["created_at"].isoformat()) for p in posts]})
        elif action == "seed" and req.method == "POST":
            return Reply(200, {"ids": self.seed_posts(int(args["count"]), args.get("username"))})
        else:
            return None
        return Reply(200, {"ok": True})

    def stats(self) -> dict[str, Any]:
        billed = self.reads_billed()
        return dict(super().stats(), reads_billed=billed, read_cost_usd=round(billed * READ_COST_PER_POST_USD, 3),
                    length_judge=length_judge())

    def route(self, method: str, path: str) -> str | None:
        return _route(method, path)[0]

    def not_found(self) -> Reply:
        return Reply(404, {"title": "Not Found Error", "type": "about:blank", "detail": "Unknown route"})

    def fault_reply(self, fault: Fault, endpoint: str, req: Request) -> Reply:
        if fault.kind == "echo_request":
            return Reply(*_invalid(f"Malformed request; it carried {req.headers.get('Authorization', '')}"))
        return _fault_reply(fault)

    def dispatch(self, endpoint: str, req: Request) -> Reply:
        route = _route(req.method, req.path)[1]
        query = req.query_params()
        if endpoint == "token":
            return Reply(*self._token(req))
        if endpoint == "authorize":
            return self._authorize(query)
        account = self._authenticate(req)
        if account is None and req.headers.get("Authorization", "") == f"Bearer {self.app_token}":
            if endpoint != "lookup":
                return Reply(403, dict(UNSUPPORTED_AUTHENTICATION))
            with self._lock:
                return Reply(*lookup(self._state, query, self.age_of, None))
        if account is None:
            return Reply(*_ERROR_BODIES["unauthorized"])
        if endpoint == "tweets":
            try:
                payload = json.loads(req.body or b"null")
            except ValueError:
                return Reply(*_invalid("Request body is not valid JSON."))
            return Reply(*self._create_post(account, payload))
        if endpoint == "me":
            with self._lock:
                return Reply(*me(self._state, account, query, self.age_of(self.started_at)))
        if endpoint == "lookup":
            with self._lock:
                return Reply(*lookup(self._state, query, self.age_of, account))
        if endpoint == "timeline":
            return Reply(*self._user_tweets(route[2], query))
        return Reply(*self._upload_media(account, req))


def _route(method: str, path: str) -> tuple[str | None, list[str]]:
    parts = [p for p in path.split("/") if p]
    if method == "POST" and parts == ["2", "tweets"]:
        return "tweets", parts
    if method == "GET" and parts == ["2", "tweets"]:
        return "lookup", parts
    if method == "GET" and parts == ["2", "users", "me"]:
        return "me", parts
    if method == "GET" and len(parts) == 4 and parts[:2] == ["2", "users"] and parts[3] == "tweets":
        return "timeline", parts
    if method == "POST" and parts == ["2", "media", "upload"]:
        return "media", parts
    if method == "POST" and parts == ["2", "oauth2", "token"]:
        return "token", parts
    if method == "GET" and parts == ["i", "oauth2", "authorize"]:
        return "authorize", parts
    return None, parts
