"""Images for posts: checked locally, then uploaded with X's v2 simple upload.

tweepy 4.17 has no v2 media upload (only the deprecated v1.1 one), so this module sends
``POST /2/media/upload`` itself, through the tweepy client's own session (same transport adapter,
same timeout) and with the same auth tweepy uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from scheduler.networks.base import Rejected

# Bluesky's limit for each image (lexicon app.bsky.embed.images: maxSize): its publisher and the outbox's dry run
# hold images to it.
BLUESKY_MAX_IMAGE_BYTES = 1_000_000

UPLOAD_URL = "https://api.twitter.com/2/media/upload"  # rewritten by the transport adapter when aimed elsewhere
MB = 1024 * 1024


@dataclass(frozen=True)
class ImageKind:
    mime: str
    max_bytes: int
    category: str


# Keyed by extension; X's limits: images 5 MB, GIF 15 MB.
IMAGE_KINDS = {
    ".png": ImageKind("image/png", 5 * MB, "tweet_image"),
    ".jpg": ImageKind("image/jpeg", 5 * MB, "tweet_image"),
    ".jpeg": ImageKind("image/jpeg", 5 * MB, "tweet_image"),
    ".webp": ImageKind("image/webp", 5 * MB, "tweet_image"),
    ".gif": ImageKind("image/gif", 15 * MB, "tweet_gif"),
}


def sniff_mime(head: bytes) -> str | None:
    """The image type the file's first bytes say, whatever its name claims."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return None


def check_image(path: Path, *, max_bytes: int | None = None, network: str = "X") -> ImageKind:
    """Raise Rejected (naming the file) unless ``path`` is an image X accepts; with ``max_bytes``, the size limit is
    ``network``'s (Bluesky's, a Mastodon server's) instead of X's."""
    kind = IMAGE_KINDS.get(path.suffix.lower())
    if kind is None:
        raise Rejected(f"{path}: not a supported image (use {', '.join(sorted(IMAGE_KINDS))})")
    if not path.exists():
        raise Rejected(f"{path}: no such image file")
    if not path.is_file():
        raise Rejected(f"{path}: not a regular file")
    try:
        size = path.stat().st_size
        with path.open("rb") as f:
            head = f.read(16)
    except OSError as exc:
        raise Rejected(f"{path}: cannot be read ({exc.strerror})") from None
    if size == 0:
        raise Rejected(f"{path}: the image file is empty")
    if max_bytes is None and size > kind.max_bytes:
        raise Rejected(f"{path}: {size / MB:.1f} MB is over X's {kind.max_bytes // MB} MB limit for {kind.mime}")
    if max_bytes is not None and size > max_bytes:
        raise Rejected(f"{path}: {size:,} bytes is over {network}'s limit of {max_bytes:,} bytes per image")
    sniffed = sniff_mime(head)
    if sniffed != kind.mime:
        raise Rejected(f"{path}: the content is {sniffed or 'not an image'}, not the {kind.mime} its name says")
    return kind


def upload_image(
    session: requests.Session, path: Path, *, auth: Any = None, headers: dict[str, str] | None = None
) -> requests.Response:
    """Send the multipart upload; the caller maps HTTP errors (it knows the publisher's error rules)."""
    kind = check_image(path)
    with path.open("rb") as f:
        return session.post(
            UPLOAD_URL,
            files={"media": (path.name, f, kind.mime)},
            data={"media_category": kind.category, "media_type": kind.mime},
            auth=auth,
            headers=headers or {},
        )
