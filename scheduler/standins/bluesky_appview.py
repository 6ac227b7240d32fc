"""The stand-in Bluesky's app view: what a PDS proxies to Bluesky's AppView for a client, here the two reads that
metrics need, with counters that grow with each post's age (``scheduler.standins.metrics``).

- ``app.bsky.feed.getPosts?uris=...&uris=...`` (1 to 25 at:// URIs, else 400 InvalidRequest): a ``postView`` for
  each post found (``uri``, ``cid``, ``author`` with its DID and handle, ``record``, ``indexedAt``,
  ``replyCount``, ``repostCount``, ``likeCount``, ``quoteCount``), in the order asked; a URI of no post
  (deleted, or never made) is simply absent, as the lexicon says.
- ``app.bsky.actor.getProfile?actor=`` (a handle or DID): a ``profileViewDetailed`` with ``followersCount``,
  ``followsCount`` and ``postsCount``; 400 InvalidRequest "Profile not found" for an actor it does not know.

Both need the session's access token, as every call through a PDS does. ``delete_post`` removes a post record (by
its key or its at:// URI), as its author deleting it would.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from scheduler.standins.http import Reply, Request
from scheduler.standins.metrics import counts, followers

POST = "app.bsky.feed.post"
MAX_URIS = 25
ENDPOINTS = {("GET", "app.bsky.feed.getPosts"): "getPosts", ("GET", "app.bsky.actor.getProfile"): "getProfile"}


def _error(status: int, name: str, message: str) -> Reply:
    return Reply(status, {"error": name, "message": message})


class AppView:
    """A mixin of ``StandinBluesky`` (which holds ``_state``, ``_lock`` and the metrics clock)."""

    def delete_post(self, post_id: str) -> None:
        """The post is gone: getPosts leaves it out, getRecord answers RecordNotFound."""
        rkey = post_id.rsplit("/", 1)[-1]
        with self._lock:  # type: ignore[attr-defined]
            keys = [k for k in self._state.records if k[1] == POST and k[2] == rkey]  # type: ignore[attr-defined]
            if not keys:
                raise KeyError(f"no post {post_id}")
            for key in keys:
                del self._state.records[key]  # type: ignore[attr-defined]

    def app_view(self, endpoint: str, req: Request) -> Reply:
        """Answer getPosts or getProfile (the caller holds the lock and has checked the token)."""
        query = parse_qs(req.query)
        if endpoint == "getProfile":
            return self._profile((query.get("actor") or [""])[-1])
        uris = query.get("uris") or []
        if not 1 <= len(uris) <= MAX_URIS:
            return _error(400, "InvalidRequest", f"Error: uris must have between 1 and {MAX_URIS} elements")
        posts = []
        for uri in dict.fromkeys(uris):
            parts = uri.removeprefix("at://").split("/")
            record = self._state.records.get(tuple(parts)) if len(parts) == 3 else None  # type: ignore[attr-defined]
            if record is not None and record.collection == POST:
                posts.append(self._post_view(record))
        return Reply(200, {"posts": posts})

    def _post_view(self, record) -> dict[str, Any]:
        account = self._state.accounts[record.did]  # type: ignore[attr-defined]
        c = counts(record.rkey, self.age_of(record.indexed_at.timestamp()))  # type: ignore[attr-defined]
        return {"uri": record.uri, "cid": record.cid,
                "author": {"did": account.did, "handle": account.handle, "displayName": account.handle.split(".")[0],
                           "labels": []},
                "record": record.value, "replyCount": c.replies, "repostCount": c.reposts, "likeCount": c.likes,
                "quoteCount": c.quotes, "indexedAt": record.indexed_at.isoformat(timespec="milliseconds")
                .replace("+00:00", "Z"), "labels": []}

    def _profile(self, actor: str) -> Reply:
        state = self._state  # type: ignore[attr-defined]
        did = actor if actor in state.accounts else state.handles.get(actor.lower())
        account = state.accounts.get(did or "")
        if account is None:
            return _error(400, "InvalidRequest", "Profile not found")
        posts = sum(1 for r in state.records.values() if r.did == account.did and r.collection == POST)
        return Reply(200, {"did": account.did, "handle": account.handle, "displayName": account.handle.split(".")[0],
                           "followersCount": followers(account.handle, self.age_of(self.started_at)),  # type: ignore[attr-defined]
                           "followsCount": 42, "postsCount": posts, "labels": []})
