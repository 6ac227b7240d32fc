"""The stand-in X's reads of posts by id and of the user's own figures, with metrics that grow with each post's age.

- ``GET /2/tweets?ids=1,2,...`` (1 to 100 ids, digits, comma-separated; else X's 400 naming the parameter):
  ``data`` holds the posts found, in the order asked, each with ``id``, ``text`` (as X renders it),
  ``edit_history_tweet_ids`` and the ``tweet.fields`` asked for (``public_metrics``: ``impression_count``,
  ``like_count``, ``retweet_count``, ``reply_count``, ``quote_count``, ``bookmark_count``; ``created_at``;
  ``author_id``). An id of no post (deleted, or never made) is not a failure of the call: it comes back under
  ``errors`` as X's "Not Found Error" (``type`` .../resource-not-found, ``resource_id`` the id); a read where none
  exists is 200 with ``errors`` alone. Every post returned is billed, as on pay-per-use plans.
- ``non_public_metrics`` (``impression_count``, ``url_link_clicks``, ``user_profile_clicks``) and
  ``organic_metrics``: only with user-context auth (app-only: 403 "Unsupported Authentication" for the whole call),
  and only for the authenticating user's own posts younger than 30 days; any other post comes back under
  ``errors`` as "Authorization Error" (type .../not-authorized-for-field, ``field`` named), not in ``data``. Whether
  X leaves such a post out of ``data`` or returns it without the field is not settled in its documentation; this
  is the stricter reading.
- ``GET /2/users/me`` with ``user.fields=public_metrics``: ``followers_count``, ``following_count``,
  ``tweet_count``, ``listed_count``, ``like_count``.

Counters come from ``scheduler.standins.metrics``: deterministic from the post id and its age.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from scheduler.standins.metrics import clicks, counts, followers
from scheduler.standins.x.faults import PROBLEMS, _invalid_parameter
from scheduler.standins.x.timeline import TWEET_FIELDS, Account, Post, _State

LOOKUP_PARAMETERS = frozenset("ids expansions tweet.fields user.fields media.fields place.fields poll.fields".split())
MAX_IDS = 100
PRIVATE_FIELDS = frozenset({"non_public_metrics", "organic_metrics"})
PRIVATE_MAX_AGE_S = 30 * 86400.0  # X gives non-public metrics only for posts created in the last 30 days
UNSUPPORTED_AUTHENTICATION = {
    "title": "Unsupported Authentication", "status": 403, "type": PROBLEMS + "unsupported-authentication",
    "detail": "Authenticating with OAuth 2.0 Application-Only is forbidden for this endpoint.  Supported "
              "authentication types are [OAuth 1.0a User Context, OAuth 2.0 User Context]."}
USER_FIELDS = frozenset("""affiliation connection_status created_at description entities id is_identity_verified
    location most_recent_tweet_id name parody pinned_tweet_id profile_banner_url profile_image_url protected
    public_metrics receives_your_dm subscription subscription_type url username verified verified_followers_count
    verified_type withheld""".split())


def public_metrics(post: Post, age_s: float) -> dict[str, int]:
    c = counts(post.id, age_s)
    return {"retweet_count": c.reposts, "reply_count": c.replies, "like_count": c.likes, "quote_count": c.quotes,
            "bookmark_count": c.bookmarks, "impression_count": c.impressions}


def private_metrics(post: Post, age_s: float) -> dict[str, dict[str, int]]:
    c, (link, profile) = counts(post.id, age_s), clicks(post.id, age_s)
    private = {"impression_count": c.impressions, "url_link_clicks": link, "user_profile_clicks": profile}
    return {"non_public_metrics": private,
            "organic_metrics": dict(private, like_count=c.likes, reply_count=c.replies, retweet_count=c.reposts)}


def lookup(state: _State, query: dict[str, str], age_of: Callable[[float], float],
           viewer: Account | None) -> tuple[int, dict[str, Any]]:
    """GET /2/tweets: the posts with these ids, and a Not Found error for each id no post has. ``viewer``: the user
    the call acts for; None for app-only auth."""
    unknown = sorted(set(query) - LOOKUP_PARAMETERS)
    if unknown:
        return _invalid_parameter(unknown[0], query[unknown[0]], f"The query parameter [{unknown[0]}] is not one "
                                  f"of [{','.join(sorted(LOOKUP_PARAMETERS))}]")
    raw = query.get("ids", "")
    ids = raw.split(",") if raw else []
    if not 1 <= len(ids) <= MAX_IDS:
        return _invalid_parameter("ids", raw, f"The number of values in the `ids` query parameter list [{len(ids)}] "
                                  f"is not between 1 and {MAX_IDS}")
    bad = next((i for i in ids if not re.fullmatch(r"[0-9]{1,19}", i)), None)
    if bad is not None:
        return _invalid_parameter("ids", bad, f"The `ids` query parameter value [{bad}] does not match ^[0-9]{{1,19}}$")
    fields = set(filter(None, query.get("tweet.fields", "").split(",")))
    if fields - TWEET_FIELDS:
        wrong = sorted(fields - TWEET_FIELDS)[0]
        return _invalid_parameter("tweet.fields", wrong, f"The `tweet.fields` query parameter value [{wrong}] is not "
                                  f"one of [{','.join(sorted(TWEET_FIELDS))}]")
    private = sorted(fields & PRIVATE_FIELDS)
    if private and viewer is None:
        return 403, dict(UNSUPPORTED_AUTHENTICATION)
    by_id = {p.id: p for p in state.posts}
    data, errors = [], []
    for post_id in dict.fromkeys(ids):
        post = by_id.get(post_id)
        if post is None:
            errors.append({"value": post_id, "detail": f"Could not find tweet with ids: [{post_id}].",
                           "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                           "resource_id": post_id, "type": PROBLEMS + "resource-not-found"})
            continue
        age = age_of(post.created_at.timestamp())
        if private and viewer is not None and (post.author_id != viewer.user_id or age > PRIVATE_MAX_AGE_S):
            errors.append({"value": post_id, "detail": f"Sorry, you are not authorized to access '{private[0]}' on "
                           f"the Tweet with id [{post_id}].", "title": "Authorization Error",
                           "resource_type": "tweet", "field": private[0], "parameter": "tweet.fields",
                           "resource_id": post_id, "section": "data", "type": PROBLEMS + "not-authorized-for-field"})
            continue
        item: dict[str, Any] = {"id": post.id, "text": post.rendered, "edit_history_tweet_ids": [post.id]}
        if "public_metrics" in fields:
            item["public_metrics"] = public_metrics(post, age)
        for name in private:
            item[name] = private_metrics(post, age)[name]
        if "created_at" in fields:
            item["created_at"] = post.created_at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{post.created_at.microsecond // 1000:03d}Z"
        if "author_id" in fields:
            item["author_id"] = post.author_id
        data.append(item)
    state.reads_billed += len(data)
    body: dict[str, Any] = {}
    if data:
        body["data"] = data
    if errors:
        body["errors"] = errors
    return 200, body


def me(state: _State, account: Account, query: dict[str, str], age: float) -> tuple[int, dict[str, Any]]:
    """GET /2/users/me: the user, with ``public_metrics`` when asked for."""
    fields = set(filter(None, query.get("user.fields", "").split(",")))
    if fields - USER_FIELDS:
        wrong = sorted(fields - USER_FIELDS)[0]
        return _invalid_parameter("user.fields", wrong, f"The `user.fields` query parameter value [{wrong}] is not "
                                  f"one of [{','.join(sorted(USER_FIELDS))}]")
    data: dict[str, Any] = {"id": account.user_id, "name": account.name, "username": account.username}
    if "public_metrics" in fields:
        data["public_metrics"] = {
            "followers_count": followers(account.username, age), "following_count": 42,
            "tweet_count": sum(1 for p in state.posts if p.author_id == account.user_id), "listed_count": 3,
            "like_count": 0}
    return 200, {"data": data}
