"""The OpenAPI description of /api/v1/insights and /api/v1/insights/slots (merged into web/openapi.py's spec):
the objects of `scheduler insights --json` and `insights suggest-slots --json`, field for field."""

from __future__ import annotations

from scheduler.domain.post_curve import GROUP_BY

_INT_OR_NULL = {"type": ["integer", "null"]}
_RATE = {"type": ["number", "null"], "description": "interactions / rate_basis (a fraction: 0.05 is 5 %)"}
_BASIS = {"enum": ["impressions", "followers", None],
          "description": "what the rate is per: impressions where the network gives them (X), else the account's "
                         "followers at the time of the reading; null: neither known, no rate"}
_SINCE = {"name": "since", "in": "query", "schema": {"type": "string"},
          "description": "posts sent since: an age (30d, 12w, 48h), a date (local midnight) or an ISO 8601 "
                         "date-time (local without an offset); default: all"}

_POINT = {
    "read_at": {"type": "string", "format": "date-time", "description": "in the account's time zone"},
    "likes": {"type": "integer"}, "reposts": {"type": "integer"}, "replies": {"type": "integer"},
    "quotes": {"type": "integer"}, "impressions": _INT_OR_NULL, "bookmarks": _INT_OR_NULL, "followers": _INT_OR_NULL,
    "url_link_clicks": {"type": ["integer", "null"], "description": "X only: clicks on the post's link(s), a "
                        "non-public metric X gives for the account's own posts under 30 days; null otherwise"},
    "user_profile_clicks": {"type": ["integer", "null"], "description": "X only: visits to the account's profile "
                            "from the post, under the same terms as url_link_clicks"},
    "interactions": {"type": "integer", "description": "likes + reposts + replies + quotes"},
    "engagement_rate": _RATE, "rate_basis": _BASIS,
}
_POST = {
    "type": "object",
    "description": "A sent post's newest figures (its parts added up) and what made it.",
    "properties": {
        "post_id": {"type": "string"}, "account": {"type": "string"}, "network": {"enum": ["x", "bluesky", "mastodon"]},
        "kind": {"enum": ["tip", "adhoc", "recycle"]}, "article": {"type": ["string", "null"]}, "tip": _INT_OR_NULL,
        "template": {"type": ["string", "null"]}, "variant": {"type": "integer"}, "text": {"type": "string"},
        "sent_at": {"type": "string", "format": "date-time"}, "sent_at_utc": {"type": "string", "format": "date-time"},
        **_POINT,
        "curve": {"type": "array", "description": "every reading, oldest first (not in rankings)",
                  "items": {"type": "object", "properties": _POINT}},
    },
}
_REPORT = {
    "type": "object",
    "description": "The same object as `scheduler insights --json`.",
    "properties": {
        "now": {"type": "string", "format": "date-time"}, "since": {"type": ["string", "null"], "format": "date-time"},
        "by": {"enum": list(GROUP_BY)}, "accounts": {"type": "array", "items": {"type": "string"}},
        "time_zones": {"type": "object", "additionalProperties": {"type": "string"}},
        "no_metrics": {"type": "array", "description": "accounts posting to the outbox file: nothing to measure",
                       "items": {"type": "object", "properties": {"account": {"type": "string"},
                                                                  "why": {"type": "string"}}}},
        "measured_posts": {"type": "integer"}, "unmeasured_posts": {"type": "integer"},
        "groups": {"type": "array", "description": "one row per key and rate basis, the highest rate first",
                   "items": {"type": "object", "properties": {
                       "by": {"enum": list(GROUP_BY)}, "key": {"type": "string"}, "posts": {"type": "integer"},
                       "interactions": {"type": "integer"}, "impressions": _INT_OR_NULL,
                       "engagement_rate": {**_RATE, "description": "the mean of its posts' rates"},
                       "rate_basis": _BASIS}}},
        "rankings": {"type": "array", "description": "best and worst posts (5 each), within one rate basis",
                     "items": {"type": "object", "properties": {
                         "rate_basis": _BASIS, "best": {"type": "array", "items": {"$ref": "#/components/schemas/InsightPost"}},
                         "worst": {"type": "array", "items": {"$ref": "#/components/schemas/InsightPost"}}}}},
        "heatmap": {"type": "object", "description": "mean rate by weekday and hour sent, in the account's zone",
                    "properties": {"rate_basis": _BASIS, "cells": {"type": "array", "items": {
                        "type": "object", "properties": {"weekday": {"enum": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat",
                                                                               "Sun"]},
                                                         "hour": {"type": "integer"}, "posts": {"type": "integer"},
                                                         "engagement_rate": _RATE}}}}},
        "cost": {"type": "array", "description": "billed X calls per month of the account's calendar",
                 "items": {"type": "object", "properties": {
                     "account": {"type": "string"}, "month": {"type": "string", "description": "YYYY-MM"},
                     "usd": {"type": "number"}, "micro_usd": {"type": "integer"}, "calls": {"type": "integer"},
                     "by_kind_micro_usd": {"type": "object", "additionalProperties": {"type": "integer"}}}}},
        "posts": {"type": "array", "items": {"$ref": "#/components/schemas/InsightPost"}},
    },
}
_SLOTS = {
    "type": "object",
    "description": "The same object as `scheduler insights suggest-slots --json`. Nothing is changed.",
    "properties": {
        "account": {"type": "string"}, "network": {"type": "string"}, "time_zone": {"type": "string"},
        "measured_posts": {"type": "integer"}, "changes_calendar": {"const": False},
        "slots": {"type": "array", "items": {"type": "object", "properties": {
            "weekday": {"type": "string"}, "hour": {"type": "integer"}, "posts": {"type": "integer"},
            "engagement_rate": _RATE, "shrunk_rate": {"type": ["number", "null"],
                                                      "description": "the rate pulled toward the account's mean "
                                                                     "(docs/insights.md): what slots are ranked by"},
            "account_rate": _RATE, "rate_basis": _BASIS}}},
    },
}

SCHEMAS = {"InsightPost": _POST, "Insights": _REPORT, "SlotSuggestions": _SLOTS}


def paths(ok, errors: dict) -> dict:
    return {
        "/insights": {"get": {
            "summary": "How sent posts did, grouped, best and worst, weekday x hour, cost per month "
                       "(`scheduler insights --json`)",
            "parameters": [_SINCE, {"name": "by", "in": "query", "schema": {"enum": list(GROUP_BY), "default": "post"}}],
            "responses": {"200": ok({"$ref": "#/components/schemas/Insights"}), **errors}}},
        "/insights/slots": {"get": {
            "summary": "Slots the account's own history favours, with the evidence (`scheduler insights "
                       "suggest-slots --json`); changes nothing",
            "parameters": [_SINCE,
                           {"name": "count", "in": "query", "schema": {"type": "integer", "default": 5, "minimum": 1,
                                                                        "maximum": 168}},
                           {"name": "min_posts", "in": "query", "schema": {"type": "integer", "default": 3,
                                                                            "minimum": 1}}],
            "responses": {"200": ok({"$ref": "#/components/schemas/SlotSuggestions"}), **errors}}},
    }
