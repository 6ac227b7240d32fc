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
    canonical = {
        "v": HASH_VERSION,
        "parts": list(parts),
        "media": [media_digest(path, fresh=fresh) for path in media],
        "reply_settings": reply_settings,
    }
    encoded = json.dumps(canonical, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def hash_of(post, *, fresh: bool = False) -> str:
    """The content hash of a ledger post (``PostRecord``, ``QueuedPost`` or a row with parts and media)."""
    return content_hash(tuple(post.parts), tuple(post.media), getattr(post, "reply_settings", None), fresh=fresh)


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
