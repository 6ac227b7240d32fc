"""The hash of exactly what a post sends: every thread part, the bytes of every image, the reply settings.

An approval is bound to this hash (see review.py). It is computed by this one function from the
values the publishing engine will send, never stored beside them: the ledger keeps only the hash
a reviewer approved, and every reader (the planner, ``review list``, the claim that starts a send)
recomputes the hash of what is there now. So any change, through any program, voids the approval
by itself: an edit, a re-import, a new template, a re-composition, an image swapped on disk, or a
plain SQL UPDATE.

Images count by their bytes (SHA-256), not their path: the same picture moved to another folder is
the same post, a different picture under the same name is not. A missing image hashes as missing,
so it can never match an approval made while it existed.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence

HASH_VERSION = 1

# Files hashed recently, by (path, size, mtime): planning hashes the same few images many times.
_file_digests: dict[tuple[str, int, int], str] = {}


def content_hash(parts: Sequence[str], media: Sequence[str] = (), reply_settings: str | None = None, *,
                 fresh: bool = False) -> str:
    """SHA-256 (hex) of what will be sent. ``reply_settings``: X's ``reply_settings`` value, if the post
    sets one (none does yet: the field is in the hash so that adding it later voids nothing silently).
    ``fresh``: read every image again (the check at send time), not the digest remembered for it."""
    return hash_from_digests(parts, [media_digest(path, fresh=fresh) for path in media], reply_settings)


def hash_from_digests(parts: Sequence[str], digests: Sequence[str], reply_settings: str | None = None) -> str:
    """``content_hash`` from the images' digests (``bytes_digest`` of bytes already read): the hash of exactly
    the bytes a caller holds, to upload or show them, not of the file as it may be a moment later."""
    canonical = {
        "v": HASH_VERSION,
        "parts": list(parts),
        "media": list(digests),
        "reply_settings": reply_settings,
    }
    encoded = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def hash_of(post, *, fresh: bool = False) -> str:
    """The content hash of a ledger post (``PostRecord``, ``QueuedPost`` or a row with parts and media)."""
    return content_hash(tuple(post.parts), tuple(post.media), getattr(post, "reply_settings", None), fresh=fresh)


def bytes_digest(data: bytes) -> str:
    """An image's digest from its bytes, as ``media_digest`` computes it from its file."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


def read_media(path: str, *, max_bytes: int | None = None) -> tuple[bytes | None, str]:
    """An image's bytes read once, and their digest (``missing:``/``unreadable:`` digests with no bytes, as
    ``media_digest`` gives them; ``max_bytes``: a larger file counts as unreadable)."""
    try:
        with open(path, "rb") as handle:
            data = handle.read() if max_bytes is None else handle.read(max_bytes + 1)
    except FileNotFoundError:
        return None, "missing:" + os.path.basename(path)
    except OSError:
        return None, "unreadable:" + os.path.basename(path)
    if max_bytes is not None and len(data) > max_bytes:
        return None, "unreadable:" + os.path.basename(path)
    return data, bytes_digest(data)


def media_digest(path: str, *, fresh: bool = False) -> str:
    try:
        stat = os.stat(path)
    except OSError:
        return "missing:" + os.path.basename(path)
    key = (path, stat.st_size, stat.st_mtime_ns)
    digest = None if fresh else _file_digests.get(key)
    if digest is None:
        sha = hashlib.sha256()
        try:
            with open(path, "rb") as handle:
                for block in iter(lambda: handle.read(1 << 16), b""):
                    sha.update(block)
        except OSError:
            return "unreadable:" + os.path.basename(path)
        digest = "sha256:" + sha.hexdigest()
        if len(_file_digests) > 4096:
            _file_digests.clear()
        _file_digests[key] = digest
    return digest
