"""How a post opens: the label before its headline, and the headline itself when it is only a name.

A label must agree with what follows it, and when in doubt there is none (templates read ``tip.label``):

- ``"try"`` ("Try this:", "Tip:") only before an instruction that is not a warning: "Walk every day.";
- ``"know"`` ("Worth knowing:") only before a statement, a sentence with a verb: "Massage does not replace
  exercise.";
- ``""`` before a warning ("Learn the warning signs.", anything that sends the reader to a doctor), a question, a
  bare name or fragment.

A headline that only names an exercise ("Cat-cow.", "Pelvic tilt.") whose body gives its steps is posted leading
with what to do: "Try cat-cow: Get on your hands and knees..." (``tip.name``, with ``tip.name_the`` when the name
reads with "the": "Try the pelvic tilt:"). A thing to avoid named as a fragment ("Smoking.", "Sitting for hours at
a stretch.") is posted as "Avoid smoking." (``tip.thing``), never as "Smoking. Best avoided."
"""

from __future__ import annotations

import re

from scheduler.compose import tip_points

TRY, KNOW, NONE = "try", "know", ""

# Whatever sends the reader to a doctor or names danger is a warning: no cheerful label before it.
_WARNING = re.compile(
    r"\b(?:doctor|doctors|surgeon|physician|emergency|911|warning|ambulance|hospital|urgent|urgently|ignored?|"
    r"x-ray|red flags?|right away|immediately)\b",
    re.IGNORECASE,
)
# Words that make a headline a statement (it has a verb), not a fragment.
_VERBS = frozenset(
    """is are was were be been has have had can could may might will would should must do does did don't doesn't
    isn't aren't can't won't makes make helps help matters matter works work needs need gets get takes take comes
    come causes cause leads lead keeps keep means mean deserves deserve adds add costs cost hurts hurt""".split()
)
# A verb after these belongs to a clause inside a fragment: "more than you can handle", "shoes that don't fit".
_CLAUSE_SUBJECTS = frozenset("you i we they that which who than to".split())
# An exercise named by one of these reads with "the": "Try the pelvic tilt", but "Try cat-cow", "Try bridges".
_WITH_THE = frozenset(
    """stretch pose tilt twist rotation raise press curl crunch plank squat lunge slide march kick reach hold
    bridge hinge""".split()
)
# An instruction to stop doing something is no "Try this:" ("Try this: Skip the sit-ups.").
_STOPPING = frozenset("skip quit cut drop ditch".split())
_HYPHENATED_FIRST = re.compile(r"^[^\W\d_]+-[^\W\d_]")
_VOCATIVE = re.compile(r"^[^,.!?]{1,40},\s+(\w+)")


def is_statement(headline: str) -> bool:
    """A headline that is a sentence, a verb with its subject: "Massage does not replace exercise.", not
    "Smoking.", "Cat-cow." or "Lifting more than you can handle." (a gerund's phrase, a verb in a relative
    clause)."""
    words = [w.casefold() for w in tip_points.words(headline)]
    if not words or words[0].endswith("ing"):
        return False
    return any(word in _VERBS and (i == 0 or words[i - 1] not in _CLAUSE_SUBJECTS) for i, word in enumerate(words))


def is_warning(text: str) -> bool:
    return bool(_WARNING.search(text))


def label(headline: str, point: str, name: str) -> str:
    """The label that agrees with the post's opening (``TRY``, ``KNOW``), or ``NONE``."""
    if name or headline.rstrip().endswith("?") or is_warning(f"{headline} {point}"):
        return NONE
    if tip_points.is_label(headline) and tip_points.names_a_thing(headline) and not is_statement(headline):
        return NONE  # a bare name or fragment: "Knee-to-chest stretch." is no instruction
    first = tip_points.first_word(headline)
    vocative = _VOCATIVE.match(headline)
    if (tip_points.is_instruction(headline) and first not in tip_points.WARNS | _STOPPING) or (
        vocative and vocative.group(1).casefold() in tip_points.IMPERATIVES
    ):
        return TRY
    if is_statement(headline) and first not in tip_points.WARNS:
        return KNOW
    return NONE


def exercise_name(headline: str, paragraphs: str) -> str:
    """The exercise a headline only names, as it reads after "Try" ("cat-cow"), when its body gives the steps
    (or, for a name that says it is an exercise, "Knee-to-chest stretch", opens with one); else "". Never a thing
    the body warns against ("Smoking." over "Quit today...")."""
    if (
        not tip_points.is_label(headline)
        # "Lower-trunk rotation" names a thing though "lower" alone could be a verb
        or not (tip_points.names_a_thing(headline) or _HYPHENATED_FIRST.match(headline))
        or is_statement(headline)
        or headline.rstrip().endswith("?")
        or tip_points.warns_against(paragraphs)
    ):
        return ""
    if tip_points.has_steps(headline, paragraphs) or (
        _names_an_exercise(headline) and tip_points.opens_with_an_instruction(paragraphs)
    ):
        return _lowered(headline)
    return ""


def _names_an_exercise(headline: str) -> bool:
    return not {w.casefold() for w in tip_points.words(headline)}.isdisjoint(_WITH_THE | {"exercise", "rotation"})


def reads_with_the(name: str) -> bool:
    words = tip_points.words(name)
    return bool(words) and words[-1].casefold() in _WITH_THE and "'" not in name and "’" not in name


def thing_to_avoid(headline: str) -> str:
    """A fragment naming a thing to avoid, as it reads after "Avoid" ("smoking"); "" for a headline that is a
    sentence of its own ("Heavy bags hurt your back.")."""
    if not headline or is_statement(headline) or not tip_points.names_a_thing(headline):
        return ""
    return _lowered(headline)


def _lowered(headline: str) -> str:
    """The headline without its full stop, its first letter lower-case unless it is an acronym ("NSAIDs")."""
    text = headline.rstrip()
    if text.endswith(".") and not text.endswith(".."):
        text = text[:-1]
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        text = text[0].lower() + text[1:]
    return text


_STOP = frozenset("a an the and or your you to of with for in on at by".split())


def superseded(headline: str, paragraphs: list[str]) -> tuple[str, list[str]]:
    """The headline, and the body's paragraphs; or, when the body's first sentence says what the headline says
    more exactly and differently ("Alternate heat and ice." over "Use ice first, ..., then switch to heat."), that
    sentence as the headline and the body without it: a post never shows the two disagreeing.

    The sentence supersedes when both are instructions, it names every word of the headline but the headline's
    verb, and not that verb."""
    if not paragraphs or not tip_points.is_instruction(headline):
        return headline, paragraphs
    first, *rest = tip_points.sentences_of(paragraphs[0]) or [""]
    if not first or not tip_points.is_instruction(first) or first.rstrip().endswith("?"):
        return headline, paragraphs
    head = [w.casefold() for w in tip_points.words(headline)]
    said = {w.casefold() for w in tip_points.words(first)}
    verb, objects = head[0], set(head[1:]) - _STOP
    if not objects or verb in said or not objects <= said:
        return headline, paragraphs
    remaining = [" ".join(rest), *paragraphs[1:]]
    return first, [paragraph for paragraph in remaining if paragraph]
