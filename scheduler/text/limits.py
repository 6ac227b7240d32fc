"""How long a post may be on each network, as one rule the composer and the editors measure with.

- X: twitter-text's weighted length, at most 280 (scheduler.text.x_length).
- Bluesky: at most 300 graphemes and 3,000 bytes of the text as sent, links shortened (scheduler.text.bluesky_length).
- Mastodon: the server's ``max_characters``, every link ``characters_reserved_per_url`` (scheduler.text.mastodon_length).

``measure`` is what a person is shown ("212/300"); ``fits`` is the whole rule (Bluesky's byte limit too).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

from scheduler.text.x_length import MAX_WEIGHTED_LENGTH, weighted_length


@dataclass(frozen=True)
class LengthRule:
    network: str
    limit: int
    measure: Callable[[str], int]
    fits: Callable[[str], bool]  # not blank and within every limit of the network
    counting: str = ""  # how the network counts, for messages

    def too_long(self, text: str, what: str = "the post") -> str | None:
        """Why ``text`` is too long for the network, or None when it fits (a blank text is not judged here)."""
        if not text.strip() or self.fits(text):
            return None
        length = self.measure(text)
        if length <= self.limit:  # within the count, over another limit (Bluesky's 3,000 bytes)
            return f"{what} is over {NAMES[self.network]}'s other limit ({self.counting}): shorten it"
        return (f"{what} is {length} characters as {NAMES[self.network]} counts them ({self.counting}); the limit is "
                f"{self.limit}: shorten it by {length - self.limit}")


NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}


def _remembered(measure: Callable[[str], int]) -> Callable[[str], int]:
    """``measure``, remembering its last answers: the composer judges a text (``fits``), then records its length
    (``measure``), and the editors measure what they just judged; each is a pure function of the text."""
    return functools.lru_cache(maxsize=256)(measure)


def x_rule() -> LengthRule:
    measure = _remembered(weighted_length)
    return LengthRule("x", MAX_WEIGHTED_LENGTH, measure, lambda text: bool(text) and measure(text) <= MAX_WEIGHTED_LENGTH,
                      "links 23, emoji and CJK 2")


def bluesky_rule() -> LengthRule:
    from scheduler.text import bluesky_length  # lazy: the `regex` package ~10-20 ms; `scheduler --help` loads this module

    return LengthRule("bluesky", bluesky_length.MAX_GRAPHEMES, _remembered(bluesky_length.length),
                      _remembered(bluesky_length.fits),
                      "graphemes with long links shortened, and at most 3,000 bytes")


def mastodon_rule(limits=None) -> LengthRule:
    from scheduler.text import mastodon_length  # lazy: the `regex` package ~10-20 ms; `scheduler --help` loads this module

    limits = limits or mastodon_length.Limits()
    measure = _remembered(lambda text: mastodon_length.length(text, limits))
    # mastodon_length.fits, with the length remembered
    return LengthRule("mastodon", limits.max_characters, measure,
                      lambda text: bool(text.strip()) and measure(text) <= limits.max_characters,
                      f"links {limits.characters_reserved_per_url}, the server's limit")


X = x_rule()


def rule_for(config) -> LengthRule:
    """The rule of the configuration's chosen account. A Mastodon server's limits are read from its
    ``/api/v2/instance`` once per process (``[fetch]`` settings); a server that cannot be reached gets Mastodon's
    defaults (500, links 23), which every stock server accepts."""
    network = config.network
    if network == "bluesky":
        return bluesky_rule()
    if network == "mastodon":
        return mastodon_rule(instance_limits(config.chosen.instance, config["fetch"]["timeout"].total_seconds()))
    return X


def limit_for(config) -> int:
    """The limit a person is shown beside a post's length ("212/300"): the chosen account's network's."""
    return rule_for(config).limit


_LIMITS: dict[str, object] = {}
_FAILED: dict[str, float] = {}  # instance URL -> time.monotonic() of its last failed read
RETRY_FAILED_AFTER_S = 300.0  # a server that could not be read is asked again only after this long


def instance_limits(instance_url: str, timeout: float):
    """The server's limits, read once per process. A server that cannot be read gives Mastodon's defaults, and
    is not asked again for ``RETRY_FAILED_AFTER_S``: a dashboard page or a CLI call must not wait ``timeout``
    on every render for a server that drops connections."""
    import time

    from scheduler.text.mastodon_length import Limits  # lazy: the `regex` package ~10-20 ms; `scheduler --help` loads this module

    if instance_url in _LIMITS:
        return _LIMITS[instance_url]
    failed_at = _FAILED.get(instance_url)
    if failed_at is not None and time.monotonic() - failed_at < RETRY_FAILED_AFTER_S:
        return Limits()
    import requests  # lazy: requests ~90 ms only to ask a Mastodon instance its limits; `scheduler --help` loads this module

    try:
        response = requests.get(f"{instance_url}/api/v2/instance", timeout=timeout)
        response.raise_for_status()
        _LIMITS[instance_url] = Limits.from_instance(response.json())
    except (requests.RequestException, ValueError):
        _FAILED[instance_url] = time.monotonic()
        return Limits()
    _FAILED.pop(instance_url, None)
    return _LIMITS[instance_url]
