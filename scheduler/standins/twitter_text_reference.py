"""The reference length: what twitter-text itself says of a post, for judges that must not trust our own counter.

The stand-in X server and the differential tests weigh posts with the reference implementation of twitter-text
(PyPI ``twitter-text-parser``, module ``twitter_text``), not with scheduler.text.x_length, so a bug in our counter
shows up as a refused post instead of being agreed with. It is a test dependency (``pip install -e '.[test]'``);
it needs setuptools below 82 for ``pkg_resources``.
"""

from __future__ import annotations

import functools
import warnings
from typing import Any

from scheduler.domain.errors import SchedulerError


class ReferenceUnavailable(SchedulerError):
    """The twitter-text reference implementation is not installed."""


@functools.cache
def _parse_tweet() -> Any:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # it imports pkg_resources, which setuptools deprecates
            from twitter_text import parse_tweet  # lazy: optional (the test extra): its absence is told as ReferenceUnavailable
    except ImportError as exc:
        raise ReferenceUnavailable(
            f"the twitter-text reference implementation cannot be imported ({exc}); install the test extra: "
            "pip install -e '.[test]' (it brings twitter-text-parser and setuptools<82 for pkg_resources)"
        ) from exc
    return parse_tweet


def reference_weighted_length(text: str) -> int:
    """The weighted length twitter-text gives ``text`` (v3: links 23, known emoji 2, CJK 2)."""
    return _parse_tweet()(text).weightedLength


def reference_is_valid(text: str) -> bool:
    """Whether twitter-text calls ``text`` a valid post: no invalid character, weighing 1 to 280."""
    return _parse_tweet()(text).valid
