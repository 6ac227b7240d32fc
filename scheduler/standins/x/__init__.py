"""A stand-in for the X API v2 on 127.0.0.1, for tests, demos and benchmarks.

It answers the endpoints the publisher uses (POST /2/tweets, GET /2/tweets?ids=, GET /2/users/me,
GET /2/users/:id/tweets, POST /2/media/upload, the OAuth 2.0 authorize and token endpoints) the way X does, as far
as /work/shared/X_API.md and X's documentation say:

- OAuth 1.0a HMAC signatures are verified against X's own URL (a passing request was signed exactly as X
  needs); OAuth 2.0 PKCE runs with single-use refresh tokens and expiring access tokens.
- Length is judged by the reference twitter-text (PyPI ``twitter-text-parser``) when it is installed, not by
  this project's counter, so a wrong count in the project shows up as X's 400 "too long".
- Duplicate content (the same text as posted, before any rewriting) is refused with X's 403 body.
- Post text comes back rewritten, in the 201 body and in timelines: ``&``, ``<``, ``>`` become ``&amp;``,
  ``&lt;``, ``&gt;``; every link (found by ``scheduler.text.x_length.url_spans``, X's rules) becomes its own
  ``https://t.co/`` + 10 characters link; a post with media gets one more t.co link appended after a space.
  With ``tweet.fields=entities`` a timeline post carries ``entities.urls`` (start/end in code points over the
  returned text, ``expanded_url`` as posted with ``http://`` added to a scheme-less link, a media entry per
  image with ``expanded_url`` ``https://x.com/<user>/status/<id>/photo/<n>`` and its ``media_key``).
- Timelines: newest first; ``max_results`` 5..100 (default 10, anything else 400); ``start_time`` and
  ``end_time`` at second granularity, both inclusive, millisecond values refused; ``since_id``, ``until_id``,
  ``exclude``; opaque ``next_token``/``previous_token`` cursors that stay right while posts arrive; only the
  3,200 most recent posts; unknown query parameters refused. Reads lag: with ``set_read_lag(s)`` a post shows
  in timeline reads only ``s`` seconds after it was created (the lag as set at read time).
- Metrics (``lookup.py``): ``GET /2/tweets?ids=`` (up to 100) with ``tweet.fields=public_metrics`` gives each post's
  impressions, likes, reposts, replies, quotes and bookmarks, growing with its age (``scheduler.standins.metrics``);
  a deleted post (``delete_post``) comes back under ``errors`` as "Not Found Error", not as a failure of the call;
  ``GET /2/users/me?user.fields=public_metrics`` gives the followers. Faults on endpoint ``lookup`` strike the
  reads by id. ``non_public_metrics`` (link and profile clicks) only for the user's own posts under 30 days with
  user-context auth; ``app_token`` is an app-only Bearer token, which may read public metrics only.
- Reads are billed as on pay-per-use plans: every post a read returns counts (``reads_billed()``;
  ``/_standin/stats`` adds the cost at $0.005 a post).
- Faults, injected one at a time (``inject``) or at random (``set_fault_rate``): X's error statuses and
  bodies (401, 402, 403s, 429 with rate-limit headers, 500, 502, 503, 504), slow replies, and the dangerous
  ones where the post is created but the client never learns it: the connection dropped unanswered
  (``create_then_drop``), reset with a TCP RST as a failed TLS connection would be (``create_then_reset``),
  or a gateway answering 502/503/504 (``create_then_bad_gateway``, ``create_then_unavailable``,
  ``create_then_gateway_timeout``).

Not reproduced, or not sure: entities other than urls (X also lists hashtags, mentions and cashtags); X's exact
cut of a long ``display_url`` (here: scheme and ``www.`` dropped, then 30 characters and "…"); links are found
by the project's ``url_spans``, so where it and X disagree the stand-in wraps differently; whether X counts
entity start/end over the escaped text (as here) or the unescaped one is unconfirmed, so a client should find
a link by its t.co ``url``, not by its offsets; search and post look-up endpoints.

    with StandinX() as sx:
        url = sx.url                  # http://127.0.0.1:PORT
        sx.inject("tweets", "rate_limited", times=2, reset_in=60)
        ...
        sx.timeline("tipbot")         # what was "published": text as posted, and rendered_text as X shows it

``python -m scheduler.standins.x --port 8099`` runs it in the foreground; the ``/_standin/`` control
endpoints steer it from another process.
"""

from __future__ import annotations

import argparse

from scheduler.standins.http import serve_until_signalled
from scheduler.standins.x.server import StandinX

__all__ = ["StandinX", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.standins.x", description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="delay added to every API request")
    parser.add_argument("--username", default="tipbot")
    args = parser.parse_args(argv)
    standin = StandinX(port=args.port, username=args.username, latency_ms=args.latency_ms)
    # The credentials are the stand-in's own fixed fakes, printed so a demo can use them.
    account = standin.default_account
    return serve_until_signalled(standin, lambda url: {
        "SCHEDULER_X_API_URL": url,
        "X_API_KEY": standin.consumer_key,
        "X_API_SECRET": standin.consumer_secret,
        "X_ACCESS_TOKEN": account.access_token,
        "X_ACCESS_TOKEN_SECRET": account.access_token_secret,
    })
