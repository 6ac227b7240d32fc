"""A stand-in for a Mastodon server on 127.0.0.1, for tests and demos.

It answers the REST calls the publisher makes, as docs.joinmastodon.org describes them:

- ``GET /api/v2/instance``: the server's limits (``configuration.statuses.max_characters``, 500 by default,
  ``characters_reserved_per_url`` 23, at most 4 media); ``GET /api/v1/accounts/verify_credentials``.
- ``POST /api/v1/statuses`` (form or JSON: ``status``, ``in_reply_to_id``, ``media_ids[]``, ``visibility``) with
  an ``Idempotency-Key``: the same key from the same account within the idempotency window (1 hour, as Mastodon
  keeps it) answers the status it already made instead of a new one; after the window the key is forgotten. Too
  long is 422 "Text character limit of N exceeded", judged as Mastodon's StatusLengthValidator does, with the
  reference twitter-text's link extractor and ``pyuegc``'s graphemes when installed (not the project's counter).
  A blank text is 422, an unknown ``in_reply_to_id`` 404, more than 4 media 422. As PostStatusService's
  validate_media! does: a media id that is not the account's or is attached to another status already is 422
  "Media N not found or already attached to another post", and one still processing is 422 "Cannot attach
  files that have not finished processing. Try again in a moment!".
- Statuses come back as Mastodon renders them (REST::StatusSerializer, TextFormatter): ``content`` is HTML
  (paragraphs, ``<br />``, links split in invisible/ellipsis spans, hashtags as links, a mention of an account
  the server knows as an h-card link showing only ``@username``, its domain dropped) and there is no ``text``
  (Mastodon sends it only in the answer to a delete, for redrafting); ``mentions`` and ``tags`` list them.
  ``GET /api/v1/statuses/:id/source`` gives the author the plain text (``set_source_endpoint(False)``: a server
  without it, as before Mastodon 3.5 or another implementation, answers 404). The server knows its own accounts and
  the remote ones added with ``add_remote_account``; a mention of any other stays plain text. ``GET /api/v1/accounts/:id/statuses`` pages newest first (``limit`` up to 40,
  ``max_id``, ``since_id``, ``min_id``, a ``Link`` header); ids are snowflakes (milliseconds << 16).
- ``POST /api/v2/media`` (multipart ``file``, images up to 16 MB) answers a media attachment to attach. As
  Api::V2::MediaController does with ``delay_processing``: a still image is processed at once (200, with its
  ``url``); a GIF becomes a ``gifv`` processed in the background (202, ``url`` null) for ``media_processing``
  seconds, during which ``GET /api/v1/media/:id`` answers 206 and after which 200 with the ``url``.
- Access tokens do not expire (Mastodon's do not); ``revoke_token`` makes one fail with 401 "The access token
  was revoked"; ``app_token()`` is a token of the app alone (client credentials, no user), which
  ``require_user!`` answers with 422 "This method requires an authenticated user".
- Rate limits: every API answer carries ``X-RateLimit-Limit``, ``X-RateLimit-Remaining`` and
  ``X-RateLimit-Reset`` (an ISO 8601 time, as Mastodon sends it): 300 requests per 5 minutes per account, and
  posting statuses has its own budget (300 per 3 hours; ``set_status_budget``). Past either: 429.
- Metrics: every status carries ``favourites_count``, ``reblogs_count`` and ``replies_count`` growing with its
  age (``scheduler.standins.metrics``), the account its ``followers_count``; ``GET /api/v1/statuses?id[]=`` (4.3;
  at most 20 ids, else 422) answers the statuses found and leaves out deleted ones (``delete_post``), whose own
  ``GET /api/v1/statuses/:id`` is 404.
- Faults: those of ``standin_http``, plus ``forbidden`` (403, a token without the write scope). 502, 503 and 504
  come with an HTML body, as from the proxy in front of Mastodon.

Not reproduced: federation, streaming, scheduled statuses, polls, edits, OAuth app registration.

    with StandinMastodon() as server:
        server.url, server.token        # the instance URL and an access token for the default account
        server.inject("statuses", "create_then_unavailable")
        server.statuses()               # what was posted: id, text as posted, content as rendered, ...

``python -m scheduler.standins.mastodon --port 8097`` runs it in the foreground.
"""

from __future__ import annotations

import argparse

from scheduler.standins.http import serve_until_signalled
from scheduler.standins.mastodon.server import StandinMastodon

__all__ = ["StandinMastodon", "main"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scheduler.standins.mastodon",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--username", default="tipbot")
    parser.add_argument("--max-characters", type=int, default=500)
    args = parser.parse_args(argv)
    standin = StandinMastodon(port=args.port, username=args.username, max_characters=args.max_characters,
                              latency_ms=args.latency_ms)
    # The stand-in's own fake token, printed so a demo can use it.
    return serve_until_signalled(standin, lambda url: {"MASTODON_INSTANCE_URL": url,
                                                       "MASTODON_ACCESS_TOKEN": standin.token})
