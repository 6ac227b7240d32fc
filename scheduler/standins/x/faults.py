"""The stand-in X's error replies: the faults it can inject and the bodies and headers X answers them with,
and its 400s for invalid requests and parameters."""

from __future__ import annotations

import time
from typing import Any

from scheduler.standins.http import (
    Fault,
    Reply,
)

PROBLEMS = "https://api.twitter.com/2/problems/"


# The faults a soak test meets by default: the three kinds X really produces under load.
DEFAULT_RANDOM_KINDS = ("unavailable", "rate_limited", "create_then_drop")


# Endpoint names used by fault injection and the request log.
ENDPOINTS = ("tweets", "timeline", "me", "media", "token", "authorize", "lookup")


FAULT_KINDS = (
    "unauthorized",  # 401
    "permission",  # 403 oauth1-permissions
    "client_forbidden",  # 403 client-not-enrolled
    "payment_required",  # 402 (body unconfirmed in the wild)
    "rate_limited",  # 429 with x-rate-limit-* headers
    "usage_capped",  # 429 UsageCapExceeded
    "server_error",  # 500
    "bad_gateway",  # 502
    "unavailable",  # 503
    "gateway_timeout",  # 504
    "slow",  # sleep `seconds`, then answer normally (a POST still creates the post)
    "create_then_drop",  # do the work (the post exists), then close the connection unanswered
    "create_then_reset",  # do the work, then abort the connection with a TCP RST (as a failed TLS link would)
    "create_then_bad_gateway",  # do the work, then answer 502
    "create_then_unavailable",  # do the work, then answer 503
    "create_then_gateway_timeout",  # do the work, then answer 504
    "create_then_truncate",  # do the work, then send the answer's head and half its body, and close
    "create_then_garbage",  # do the work, then write bytes that are no answer (under TLS: no TLS record) and reset
    "create_then_stall",  # do the work, then hold the answer `seconds` (the client's read times out)
    "drop",  # close the connection unanswered without doing anything
    "echo_request",  # 400 whose detail echoes the request's Authorization, as a misconfigured proxy may
)


_ERROR_BODIES: dict[str, tuple[int, dict[str, Any]]] = {
    "unauthorized": (401, {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}),
    "permission": (
        403,
        {
            "title": "Forbidden",
            "type": PROBLEMS + "oauth1-permissions",
            "status": 403,
            "detail": "Your client app is not configured with the appropriate oauth1 app permissions for this endpoint.",
        },
    ),
    "client_forbidden": (
        403,
        {
            "title": "Client Forbidden",
            "type": PROBLEMS + "client-forbidden",
            "reason": "client-not-enrolled",
            "required_enrollment": "Appropriate Level of API Access",
            "registration_url": "https://developer.x.com/en/docs/projects/overview",
            "detail": "When authenticating requests to the Twitter API v2 endpoints, you must use keys and tokens "
            "from a Twitter developer App that is attached to a Project. You can create a project via the "
            "developer portal.",
        },
    ),
    # X_API.md: the 402 body is unconfirmed; this shape is a guess in X's problem style.
    "payment_required": (
        402,
        {"title": "Payment Required", "type": "about:blank", "status": 402, "detail": "Payment Required"},
    ),
    "rate_limited": (
        429,
        {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429},
    ),
    "usage_capped": (
        429,
        {
            "title": "UsageCapExceeded",
            "detail": "Usage cap exceeded: Monthly product cap",
            "type": PROBLEMS + "usage-capped",
            "period": "Monthly",
            "scope": "Product",
        },
    ),
    "server_error": (
        500,
        {"title": "Internal Server Error", "detail": "Internal Server Error", "type": "about:blank", "status": 500},
    ),
    "bad_gateway": (502, {"title": "Bad Gateway", "detail": "Bad Gateway", "type": "about:blank", "status": 502}),
    "unavailable": (
        503,
        {"title": "Service Unavailable", "detail": "Service Unavailable", "type": "about:blank", "status": 503},
    ),
    "gateway_timeout": (
        504,
        {"title": "Gateway Timeout", "detail": "Gateway Timeout", "type": "about:blank", "status": 504},
    ),
}


DUPLICATE_BODY = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


TOO_LONG_MESSAGE = (
    "Your Tweet text is too long. For more information on how Twitter determines text length see "
    "https://github.com/twitter/twitter-text."
)


INVALID_TOKEN_BODY = {"error": "invalid_request", "error_description": "Value passed for the token was invalid."}


def _invalid(message: str) -> tuple[int, dict[str, Any]]:
    return 400, {
        "errors": [{"message": message}],
        "title": "Invalid Request",
        "detail": message,
        "type": PROBLEMS + "invalid-request",
        "status": 400,
    }


def _fault_reply(fault: Fault) -> Reply:
    status, body = _ERROR_BODIES[fault.kind]
    headers: dict[str, str] = {}
    if status == 429:
        reset = int(time.time() + fault.reset_in)
        headers = {"x-rate-limit-limit": "100", "x-rate-limit-remaining": "0", "x-rate-limit-reset": str(reset)}
        if fault.kind == "usage_capped":
            headers = {"x-user-limit-24hour-limit": "17", "x-user-limit-24hour-remaining": "0",
                       "x-user-limit-24hour-reset": str(reset)}
    return Reply(status, dict(body), headers=headers)


def _invalid_parameter(name: str, value: str, message: str) -> tuple[int, dict[str, Any]]:
    """X's 400 for a bad query parameter: the parameter and value in ``errors``, a general ``detail``."""
    return 400, {
        "errors": [{"parameters": {name: [value]}, "message": message}],
        "title": "Invalid Request",
        "detail": "One or more parameters to your request was invalid.",
        "type": PROBLEMS + "invalid-request",
    }
