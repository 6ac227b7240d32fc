"""How the stand-in X judges a post too long: the reference twitter-text when installed, else the project's
own counter."""

from __future__ import annotations

from scheduler.standins.twitter_text_reference import ReferenceUnavailable, reference_weighted_length
from scheduler.text.x_length import weighted_length

MAX_TEXT_LENGTH = 280


def _reference_available() -> bool:
    try:
        reference_weighted_length("")
    except ReferenceUnavailable:
        return False
    return True


def _weighted_length(text: str) -> int:
    """The length X judges ``text`` by: the reference twitter-text, as X's own servers use.

    Falls back to the project's counter (scheduler.text.x_length) when ``twitter-text-parser`` is not installed
    (it comes with the ``test`` extra). Then the stand-in judges with the very counter the tests should check,
    and cannot catch its mistakes. ``/_standin/stats`` says which is used. A text that is not valid Unicode
    (a lone surrogate from JSON) is refused as X refuses it.
    """
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return MAX_TEXT_LENGTH + 1
    if _reference_available():
        return reference_weighted_length(text)
    return weighted_length(text)


def length_judge() -> str:
    """Which counter decides "too long": the reference twitter-text, or the project's own fallback."""
    return "twitter-text" if _reference_available() else "scheduler.text.x_length"
