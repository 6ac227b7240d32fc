"""Where a published post can be seen, from what the ledger stores as its id (``posts.tweet_id``) on each network.

- X: the status id (digits): ``https://x.com/HANDLE/status/ID``.
- Bluesky: the record key the publisher chose (scheduler.networks.bluesky.publisher): ``https://bsky.app/profile/HANDLE/post/RKEY``.
- Mastodon: the status id the server gave: ``INSTANCE/@USER/ID``.
- A post that went to the outbox file instead (no credentials, or ``[publisher] kind = "outbox"``) has an id
  starting ``outbox-``: ``outbox:ID``, which is not a web address.

These are the publishers' own ``post_url`` (the service logs them), without a publisher: pages and ``--json``
need no credentials to say where a post is.
"""

from __future__ import annotations

import re

from scheduler.config import Config

OUTBOX_PREFIX = "outbox-"  # scheduler.networks.outbox.publisher.ID_PREFIX
_RKEY = re.compile(r"[A-Za-z0-9._:~-]{1,512}")  # atproto's record key syntax
NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}


def post_url(config: Config, remote_id: str | None) -> str | None:
    """The public address of the chosen account's post with this id (``outbox:ID`` for the outbox), or None."""
    if not remote_id:
        return None
    account = config.chosen
    if remote_id.startswith(OUTBOX_PREFIX) or (account.network == "x" and not (remote_id.isascii() and remote_id.isdigit())):
        return f"outbox:{remote_id}"
    if account.network == "bluesky":
        return f"https://bsky.app/profile/{account.handle}/post/{remote_id}"
    if account.network == "mastodon":
        return f"{account.instance.rstrip('/')}/@{account.handle.lstrip('@')}/{remote_id}"
    return f"https://x.com/{account.handle}/status/{remote_id}"


def remote_id_from(config: Config, value: str) -> str:
    """What a person gives to say a post went out (the id, or the post's address), as the ledger stores it;
    ``ValueError`` saying what is expected on the account's network."""
    value = value.strip()
    network = config.network
    address = _ADDRESS[network].fullmatch(value)
    if address:
        own = post_url(config, "ID").rsplit("ID", 1)[0]  # this account's posts' addresses begin so
        if network != "x" and not _strip_scheme(value).lower().startswith(_strip_scheme(own).lower()):
            raise ValueError(f"{value!r} is not a post of this {NAMES[network]} account: its posts' addresses begin {own}")
        value = address.group("id")
    if network == "bluesky":
        if _RKEY.fullmatch(value) and value not in (".", ".."):
            return value
        raise ValueError(f"{value!r} is not a Bluesky post: give its address (bsky.app/profile/<handle>/post/<key>) "
                         "or the key at its end")
    if value.isascii() and value.isdigit():  # "²".isdigit() too: only 0-9 make an id
        return value
    if network == "mastodon":
        raise ValueError(f"{value!r} is not a Mastodon post: give its address (<server>/@<user>/<id>) or the digits "
                         "at its end")
    raise ValueError(f"{value!r} is not a post id on X: give its address (x.com/<handle>/status/<id>) or the digits "
                     "at its end")


def _strip_scheme(url: str) -> str:
    return re.sub(r"^https?://", "", url)


_ADDRESS = {
    "x": re.compile(r"(?:https?://)?(?:www\.)?(?:x|twitter)\.com/[^/]+/status/(?P<id>[0-9]+)(?:[/?#].*)?"),
    "bluesky": re.compile(r"(?:https?://)?bsky\.app/profile/[^/]+/post/(?P<id>[^/?#]+)(?:[/?#].*)?"),
    "mastodon": re.compile(r"(?:https?://)?[^/]+/@[^/]+/(?P<id>[0-9]+)(?:[/?#].*)?"),
}
