"""What a tip says: the sentences of its body worth posting beside its headline, and what kind of tip it is.

A post carries the substance of its tip. A headline alone is often only a label ("Child's pose.", "It's all in
the technique.", "Learn the warning signs."), so the composer adds the body's *point*:

- whole sentences, never a cut one;
- advice and concrete facts first (a step to take, a number, a time), scene-setting last or never
  ("Everyone is different...", "More and more people...");
- a sentence that leans on the one before it ("With this technique, ...", "This is why ...") only together with
  that one;
- a body that is a list (the warning signs, the steps) as that list, one item a line.

``point_options`` gives the points to try, richest first; the composer keeps the first whose post fits. A tip
whose best post still says too little (``MIN_TIP_WORDS``) is not posted: the import says so.

An article whose tips are things to avoid ("7 Habits That Make Back Pain Worse", "Lifting Mistakes") is told by
its title or introduction (``lists_things_to_avoid``); its tips that name the thing ("Smoking.", "Sitting for hours
at a stretch.") are posted as warnings, while tips already written as advice ("Lift with your legs.", "Don't skip
your warm-up.") stay advice (``names_a_thing``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from scheduler.compose import standing
from scheduler.compose.templates import sentence_ends
from scheduler.domain.content_rules import claims_in

# A post must carry at least this many words of its tip (besides the link and hashtags) to be worth posting.
MIN_TIP_WORDS = 10
# A headline this short is a label that needs its body: "Child's pose.", "Arrange for help."
LABEL_WORDS = 6
# A sentence the content rules flag as a myth or a promise is posted only when its tip has nothing else to say.
_CLAIM_PENALTY = 10
# A long sentence cut at a clause boundary keeps at least this many words (a whole instruction, not a scrap).
MIN_CLAUSE_WORDS = 6
_MAX_OPTIONS = 8

_WORD = re.compile(r"[^\W_]+(?:['’][^\W\d_]+)*")
# Faster, for scoring: words with their apostrophes, already case-folded ("don't").
_FOLDED_WORD = re.compile(r"[\w'’]+")
# The same two for ASCII text, where a letter or digit is [A-Za-z0-9] (and \w adds "_"): simpler classes, faster.
_ASCII_WORD = re.compile(r"[A-Za-z0-9]+(?:['’][A-Za-z]+)*")
_ASCII_FOLDED_WORD = re.compile(r"[A-Za-z0-9_'’]+")


def _folded_words(text: str) -> list[str]:
    """``_FOLDED_WORD.findall(text)``."""
    return (_ASCII_FOLDED_WORD if text.isascii() else _FOLDED_WORD).findall(text)
# Paragraphs of a body that are list items: "• item" (bulleted) or "2. item" (numbered steps).
_LIST_ITEM = re.compile(r"^(?:[•\-*]\s+|\d{1,3}[.)]\s+)")

# What makes a sentence worth posting, by the words in it: advice ("should", "make sure", "talk to your
# doctor"), concrete facts (numbers, times, amounts), descriptions ("uses", "a technique called").
_ADVICE = frozenset(
    """should must try avoid don't don’t never always ask check consult keep use help helps recommended limit
    stop instead call need sure remember important best talk aim doctor""".split()
)
_CONCRETE = frozenset(
    """one two three four five six seven eight nine ten twice half dozen minute minutes second seconds hour hours
    day days week weeks month months year years percent kilogram kilograms kilo kilos pound pounds inches
    centimeters centimetres times""".split()
)
_DESCRIBES = frozenset("uses called involves means consists works".split())
# "this technique", "these conditions": a reference back into the text before; the sentence needs it.
_POINTERS = frozenset("this these those such".split())
_POINTING_BACK = re.compile(r"\b(?:this|these|those|such) (?!(?:is|are|was|were|can|may|will|way)\b)\w{3,}")
_DIGIT = re.compile(r"\d")
_SCENE_SETTING = re.compile(
    r"^(?:every(?:one| person|body) is different|more and more|in some cases|there are (?:many|several|a few|some|lots)|"
    r"many people|most people|lots of people|it is (?:no secret|common|well known)|it['’]s (?:no secret|common)|"
    r"when it comes to|as (?:we|you) (?:age|know)|we all|nobody likes|no one likes|whether you|if you['’]re like)\b",
    re.IGNORECASE,
)
# A sentence opening like this leans on the sentence before it.
_LEANS_BACK = re.compile(
    r"^(?!it(?:['’]s|\s+is|\s+can\s+be|\s+may\s+be)\s+(?:\w+\s+){0,3}?(?:to|that)\b)"
    r"(?:this|that|these|those|they|them|it|its|it['’]s|he|she|such|however|but|and|also|so|then|thus|therefore|still|yet|"
    r"in addition|additionally|furthermore|moreover|otherwise|instead|as a result|for this reason|"
    r"with (?:this|that|these|those|it)|because of (?:this|that)|it also|here['’]s why)\b",
    re.IGNORECASE,
)
# First words that make a headline or sentence an instruction: "Lift with your legs.", "Don't skip it."
IMPERATIVES = frozenset(
    """add adjust aim alternate apply arch ask avoid bend book brace breathe bring build call carry change check
    choose consult count cross cut do don't don’t draw drink ease eat engage exhale find focus follow get give go
    hold hug inhale invest keep kneel lean learn let lie lift limit listen look lose lower make move never pick
    place plan point practice practise prepare press protect pull push put raise reach reduce relax release remember
    remove repeat replace rest return rock roll rotate save schedule see set sit skip sleep slide slow soak split
    squeeze stand start stay stop straighten strengthen stretch support swap switch take talk tell tighten tilt tuck
    turn twist use visit wait walk warm watch wear work wrap""".split()
)
_AFTER_A_VERB = frozenset(
    """a an the your my our their his her its it them him yourself yourselves this that these those some any
    every each enough more less plenty up down out off in on at for with to into onto from over around away back
    one two three four five ten""".split()
)
_NOT_VERBS = frozenset(
    """a an the this that these those my your our his her its their some any every each most many much more less
    few several all both either neither no one two three four five six seven eight nine ten i you he she it we they
    there here if when while because although though as since unless until after before during with without for
    from in on at by to of about over under between into through also however but and or so then yet still just
    only even often usually sometimes always never not very too people what which who why how where whether once
    what's it's that's there's here's""".split()
)
# Headline openings that already warn: posted as they are, never as "Avoid: Don't ...".
WARNS = frozenset("avoid don't don’t never stop quit no".split())
_WARNS = WARNS
_STOPWORDS = frozenset(
    """a an and are as at be been being but by can could do does for from had has have how i if in into is it its
    it's may might more most much my no not of on or our so some such than that the their them then there these
    they this those to too up us very was we were what when which who why will with would you your""".split()
)

# Titles that say the tips are things to avoid: "Lifting Mistakes", "Habits That Make Back Pain Worse",
# "Exercises to Avoid" (but not "Ways to Avoid Back Pain": those are advice).
_THINGS = r"(?:habits?|things?|activities|foods?|drinks?|exercises|movements|positions|culprits|sins)"
_AVOID_TITLE = re.compile(
    rf"\b(?:mistakes?|errors?|bad habits|worst habits|"
    rf"{_THINGS}\b[^.!?:]{{0,40}}\b(?:worse|hurts?|harms?|damages?|aggravates?|ruins?|wrecks?|to avoid)|"
    rf"(?:what|{_THINGS}) (?:to|you should) (?:avoid|never|stop))\b",
    re.IGNORECASE,
)
# An introduction says so more plainly: "Here are seven to avoid.", "these habits make it worse".
_AVOID_INTRO = re.compile(
    rf"\b(?:(?:here are|these are|below are)\b[^.!?:]{{0,40}}\b(?:to avoid|mistakes|you should never)|"
    rf"{_THINGS}\b[^.!?:]{{0,40}}\b(?:make|makes)\b[^.!?:]{{0,30}}\bworse)\b",
    re.IGNORECASE,
)


class _Unit(NamedTuple):
    """One sentence, or a sentence with the ones leaning on it; or a list: a run of text that reads on its own."""

    text: str
    start: int  # the body's sentences it spans, first and last (for the article's order, and overlaps)
    end: int
    score: float
    is_list: bool = False


@dataclass(frozen=True)
class _Reading:
    """What the composer needs to know of a tip, worked out once."""

    label: bool  # the headline is too short to say anything alone
    steps: tuple[str, ...]  # a how-to's sentences from its first instruction on, when the body is one
    units: tuple[_Unit, ...]


def words(text: str) -> list[str]:
    return (_ASCII_WORD if text.isascii() else _WORD).findall(text)


def first_word(text: str) -> str:
    found = _WORD.search(text)
    return found.group().casefold() if found else ""


def is_instruction(sentence: str, folded_words: list[str] | None = None) -> bool:
    """A sentence that tells what to do: "Hold for 30 seconds.", "Don't lift with your back.", "Arrange for help."

    Its first word is a verb we know, or reads as one: a word that is not a determiner, pronoun, preposition or
    adverb, does not end like a gerund, a past or a plural, and is followed by what follows a verb ("for", "your",
    "the"...).
    """
    first_two = folded_words[:2] if folded_words is not None else words(sentence[:80].casefold())[:2]
    if not first_two:
        return False
    if first_two[0] in IMPERATIVES:
        return True
    return (
        len(first_two) == 2
        and first_two[1] in _AFTER_A_VERB
        and first_two[0] not in _NOT_VERBS
        and not first_two[0].endswith(("ing", "ed", "s", "ly"))
    )


def is_label(headline: str) -> bool:
    """A headline too short to say anything on its own."""
    return len(words(headline)) < LABEL_WORDS


def is_how_to(headline: str, body: str) -> bool:
    """A tip that tells what to do (not what to stop doing): its headline does, or it names an exercise whose
    body gives the steps."""
    if is_instruction(headline) and first_word(headline) not in _WARNS:
        return True
    return bool(_read(headline, body).steps)


def has_steps(headline: str, body: str) -> bool:
    """A label headline whose body is a how-to: its steps, in order."""
    return bool(_read(headline, body).steps)


def opens_with_an_instruction(body: str) -> bool:
    """Whether the body's first sentence tells what to do, at its start or in a clause of it ("Keeping your
    shoulders flat, let both knees fall...")."""
    first = next(iter(_sentences(body.split("\n\n")[0])), "") if body else ""
    return is_instruction(first) or any(
        is_instruction(clause) for clause in re.split(r"[,;]\s+", first)[1:])


def warns_against(body: str) -> bool:
    """Whether a sentence of the body opens by warning against something ("Quit...", "Don't...", "Never...")."""
    return any(first_word(sentence) in WARNS | {"quit"}
               for paragraph in body.split("\n\n") for sentence in _sentences(paragraph))


def names_a_thing(headline: str) -> bool:
    """Whether a headline names something ("Smoking.", "Poor posture.") rather than telling what to do or not to do."""
    opening = first_word(headline)
    return bool(opening) and opening not in IMPERATIVES and opening not in _WARNS


def lists_things_to_avoid(title: str, intro: str) -> bool:
    """Whether an article's tips are things to avoid, as its title or the start of its introduction says."""
    return bool(_AVOID_TITLE.search(title) or _AVOID_INTRO.search(intro[:600]))


def extra_sentences(limit: int) -> int:
    """How many more units a point may hold on a network with ``limit`` than on X's 280: a post with room to spare
    carries more of its tip (Bluesky's 300: one more; Mastodon's 500 and up: two more)."""
    return 0 if limit <= 280 else 1 if limit < 450 else 2


def point_options(
    headline: str, body: str, room: int | None = None, measure: Callable[[str], int] = len, *, extra: int = 0
) -> tuple[str, ...]:
    """The points to try beside ``headline``, ending with "". ``body`` is the tip's paragraphs, each on one line
    and in NFC (as ``compose.clean`` leaves them), a blank line apart.

    The first is the richest that fits in ``room`` (as ``measure`` counts): the units most worth posting, taken
    while they fit; without ``room``, simply the best ones. Leaner ones follow, for when the post turns out longer
    than foreseen. ``extra``: units allowed beyond the two (three beside a label) an X post holds
    (``extra_sentences``).
    """
    reading = _read(headline, body)
    if reading.steps:
        return _prefix_options(reading.steps, room, measure)
    worth = sorted((u for u in reading.units if u.score > 0), key=lambda u: (-u.score, u.start))
    if not worth:
        # Only a sentence the content rules flag (a myth, an unsupported promise) has something to say: it is
        # posted, and the reviewer sees the finding.
        worth = sorted((u for u in reading.units if u.score + _CLAIM_PENALTY > 0), key=lambda u: (-u.score, u.start))
    base = 3 if reading.label else 2
    most = base + extra
    if room is not None:
        options = [_fill(worth, most, room, measure, base=base, headline=headline)]
        if not options[0]:
            # Nothing whole fits: the best unit cut at a clause boundary keeps a whole instruction.
            options += [cut for unit in worth[:2] for cut in _clause_cuts(unit.text, room, measure)][:1]
    else:
        options = [_joined(_best(worth, size, headline)) for size in range(most, 1, -1)]
    options += [unit.text for unit in worth if not standing.opens_unresolved(unit.text, headline)]
    kept = [option for option in dict.fromkeys(options) if option][: _MAX_OPTIONS - 1]
    return (*kept, "")


@functools.lru_cache(maxsize=4096)
def _read(headline: str, body: str) -> _Reading:
    headline_words = _folded_words(headline.casefold())
    label = len(headline_words) < LABEL_WORDS
    paragraphs = [p for p in body.split("\n\n") if p]
    units, sentences = _units(paragraphs, set(headline_words) - _STOPWORDS, label)
    return _Reading(label, _steps(sentences) if label else (), units)


def _steps(sentences: list[tuple[str, bool]]) -> tuple[str, ...]:
    """A how-to (an exercise, a routine) when most of a body without lists is instructions: its sentences from
    the first instruction on, kept in order and never skipped, so that a post carries the first steps."""
    instructions = [i for i, (_, instruction) in enumerate(sentences) if instruction]
    if len(instructions) < 2 or len(instructions) * 2 < len(sentences):
        return ()
    return tuple(sentence for sentence, _ in sentences[instructions[0] :])


def _units(
    paragraphs: list[str], headline_words: set[str], label: bool
) -> tuple[tuple[_Unit, ...], list[tuple[str, bool]]]:
    """The body as candidate units: each sentence; a sentence with those leaning on it; the sentence a run
    leans on, alone (worth a little less); a list with its lead-in. Also each sentence, and whether it is an
    instruction (none when the body holds a list)."""
    units: list[_Unit] = []
    heads: list[_Unit] = []
    sentences: list[tuple[str, bool]] = []
    has_list = False
    index = position = 0
    while index < len(paragraphs):
        items = _list_run(paragraphs, index)
        if len(items) >= 2:
            has_list = True
            lead, start = "", position
            if units and not units[-1].is_list and paragraphs[index - 1].endswith(":"):
                lead_unit = units.pop()
                lead, start = lead_unit.text, lead_unit.start
            texts = [item if item[:1].isdigit() else "• " + _LIST_ITEM.sub("", item) for item in items]
            units.append(_Unit("\n".join([lead, *texts] if lead else texts), start, position, 4.0 if label else 1.5,
                               is_list=True))
            index += len(items)
            position += 1
            continue
        for sentence in _sentences(paragraphs[index]):
            folded = _folded_words(sentence.casefold())
            instruction = is_instruction(sentence, folded)
            sentences.append((sentence, instruction))
            score = _score(sentence, folded, instruction, headline_words, label)
            leans = bool(_LEANS_BACK.match(sentence))
            if leans and units and not units[-1].is_list:
                previous = units[-1]
                if previous.start == previous.end:
                    heads.append(_Unit(previous.text, previous.start, previous.end, previous.score - 0.25))
                units[-1] = _Unit(f"{previous.text} {sentence}", previous.start, position, max(previous.score, score))
            else:
                units.append(_Unit(sentence, position, position, score - (2 if leans else 0)))
            position += 1
        index += 1
    return tuple(units + heads), [] if has_list else sentences


def _list_run(paragraphs: list[str], start: int) -> list[str]:
    items = []
    for paragraph in paragraphs[start:]:
        if not _LIST_ITEM.match(paragraph):
            break
        items.append(paragraph)
    return items


def sentences_of(paragraph: str) -> list[str]:
    """The sentences of one paragraph, in order."""
    return _sentences(paragraph)


def _sentences(paragraph: str) -> list[str]:
    sentences, begin = [], 0
    for end in [*sentence_ends(paragraph), len(paragraph)]:
        sentence = paragraph[begin:end].strip()
        if sentence:
            sentences.append(sentence)
        begin = end
    return sentences


def _score(sentence: str, folded: list[str], instruction: bool, headline_words: set[str], label: bool) -> float:
    """How much a sentence adds to its headline: above 0 is worth posting."""
    if len(folded) < 4 or not sentence.rstrip("\"'”’)").endswith((".", "!", "?", ":")):
        return -1.0
    present = set(folded)
    score = 1.0
    if _SCENE_SETTING.match(sentence):
        score -= 3
    if not _ADVICE.isdisjoint(present):
        score += 2
    if instruction:
        score += 3 if label else 1.5
    if not _CONCRETE.isdisjoint(present) or _DIGIT.search(sentence):
        score += 1
    if not _DESCRIBES.isdisjoint(present):
        score += 1
    if not _POINTERS.isdisjoint(present) and _POINTING_BACK.search(sentence.casefold()) and not _LEANS_BACK.match(sentence):
        score -= 1.5
    if claims_in(sentence):
        score -= _CLAIM_PENALTY  # a myth or an unsupported promise (content_rules.CLAIM_RULES)
    own = present - _STOPWORDS
    shared = len(own & headline_words)
    if not label and instruction and _same_instruction(folded, headline_words):
        return -1.0  # "Check with your doctor first." under "Check with a medical professional before...": a repeat
    if own and shared * 5 >= len(own) * 3:
        if not label:
            return -1.0  # it says the headline again: never beside it
        score -= 2
    else:
        score += min(shared, 3) * 0.5
    if sentence.endswith("?"):
        score -= 1
    if len(folded) > 45:
        score -= 1
    return score


# Words that name the same person to ask, for telling a repeated instruction.
_CLINICIAN = frozenset("doctor doctors physician gp professional surgeon clinician".split())


def _same_instruction(folded: list[str], headline_words: set[str]) -> bool:
    """Whether an instruction tells what the headline already tells: its verb is the headline's, and so is the
    first thing it names (a clinician counting as any other: "doctor" for "medical professional")."""
    if not folded or folded[0] not in headline_words:
        return False
    nouns = [w for w in folded[1:6] if w not in _STOPWORDS]
    if not nouns:
        return False
    first = nouns[0]
    return first in headline_words or (first in _CLINICIAN and not _CLINICIAN.isdisjoint(headline_words))


def _prefix_options(steps: tuple[str, ...], room: int | None, measure: Callable[[str], int]) -> tuple[str, ...]:
    prefixes = [" ".join(steps[:count]) for count in range(len(steps), 0, -1)]
    if room is not None:
        fitting = [prefix for prefix in prefixes if measure(prefix) <= room]
        if not fitting:
            # Not even the first step fits whole: it is cut at a clause boundary, so the post keeps a whole
            # instruction ("Lie on your back..., pull one knee toward your chest.").
            fitting = _clause_cuts(steps[0], room, measure)[:1]
        prefixes = fitting + [p for p in prefixes if p not in fitting]
    return (*prefixes[: _MAX_OPTIONS - 1], "")


def _fill(ranked: list[_Unit], most: int, room: int, measure: Callable[[str], int], base: int | None = None,
          headline: str = "") -> str:
    """The units most worth posting, best first, as many as fit in ``room`` (one space or line apart). Beyond
    ``base`` units (the extra room of a larger network), scene-setting is never taken: room is no reason for filler."""
    chosen: list[_Unit] = []
    used = -1
    for unit in ranked:
        if len(chosen) == most:
            break
        if any(_overlap(unit, other) for other in chosen):
            continue
        if (chosen or (base is not None and len(chosen) >= base)) and _SCENE_SETTING.match(unit.text):
            continue  # scene-setting only when there is nothing else to say
        if not _stands(unit, chosen, headline):
            continue
        if unit.is_list:
            unit = _longest_list_fitting(unit, room - used - 1, measure)
            if unit is None:
                continue
        weight = measure(unit.text)
        if used + 1 + weight <= room:
            chosen.append(unit)
            used += 1 + weight
    return _joined(chosen)


def _longest_list_fitting(unit: _Unit, room: int, measure: Callable[[str], int]) -> _Unit | None:
    """The list with as many of its items as fit (never fewer than two): items are dropped, never cut."""
    lines = unit.text.split("\n")
    lead = [] if lines[0].startswith("• ") or lines[0][:1].isdigit() else lines[:1]
    items = lines[len(lead) :]
    for count in range(len(items), 1, -1):
        text = "\n".join(lead + items[:count])
        if measure(text) <= room:
            return _Unit(text, unit.start, unit.end, unit.score, is_list=True)
    return None


def _best(ranked: list[_Unit], size: int, headline: str = "") -> list[_Unit]:
    chosen: list[_Unit] = []
    for unit in ranked:
        if len(chosen) == size:
            break
        if not any(_overlap(unit, other) for other in chosen) and _stands(unit, chosen, headline):
            chosen.append(unit)
    return chosen


def _stands(unit: _Unit, chosen: list[_Unit], headline: str) -> bool:
    """Whether ``unit`` opens with nothing the post leaves unexplained, read after the headline and the units
    chosen that come before it in the body (standing.opens_unresolved)."""
    before = " ".join([headline, *(other.text for other in sorted(chosen, key=lambda u: u.start)
                                    if other.end < unit.start)])
    return not standing.opens_unresolved(unit.text, before)


# Where a long sentence may end early and still give a whole instruction: before "; ", or before ", " that opens
# a new clause (an instruction, "then ...", "and" + an instruction, "which ...", "keeping ...").
_CLAUSE_OPENERS = frozenset("then which while so before until keeping letting as and or".split())
# These open a clause even without a comma before them: "hold it for thirty seconds while you breathe".
_BARE_OPENERS = ("while", "so that", "until", "before you")


def loses_a_step(point: str, body: str) -> bool:
    """Whether ``point``, a sentence of ``body`` cut at a clause boundary, leaves out a step: an instruction
    ("switch legs", "then lower it") in the rest of the sentence, not only a reason ("so that your back...")."""
    rest = _rest_of(point, body)
    return any(word.casefold() in IMPERATIVES or word.casefold() == "then"
               for word in re.findall(r"(?:^|[,;]\s+(?:and\s+)?)([^\W\d_]+)", rest))


def _rest_of(point: str, body: str) -> str:
    head = point[:-1] if point.endswith(".") else ""
    for paragraph in body.split("\n\n") if head else ():
        for sentence in _sentences(paragraph):
            if len(sentence) > len(point) and sentence.startswith(head) and sentence[len(head)] in ",; ":
                return sentence[len(head) :].lstrip(",; ")
    return ""


def shorter_cuts(point: str, body: str) -> list[str]:
    """The other clause-boundary cuts of the sentence ``point`` was cut from, shorter than it, longest first."""
    head = point[:-1]
    for paragraph in body.split("\n\n"):
        for sentence in _sentences(paragraph):
            if len(sentence) > len(point) and sentence.startswith(head) and sentence[len(head)] in ",; ":
                return [cut for cut in _clause_cuts(sentence, len(point) - 1, len) if cut != point]
    return []


def rest_after_cut(point: str, body: str) -> str:
    """When ``point`` is a sentence of ``body`` cut at a clause boundary (``_clause_cuts``), the rest of that
    sentence as a sentence of its own, if it opens with an instruction or "then" ("Then lower it, switch legs and
    repeat..."): a reply can carry it. Else ""."""
    if not point.endswith("."):
        return ""
    head = point[:-1]
    for paragraph in body.split("\n\n"):
        for sentence in _sentences(paragraph):
            if len(sentence) > len(point) and sentence.startswith(head) and sentence[len(head)] in ",; ":
                rest = sentence[len(head) :].lstrip(",; ")
                opener = first_word(rest)
                if opener in IMPERATIVES or opener == "then":
                    return rest[:1].upper() + rest[1:]
                return ""
    return ""


def _clause_cuts(sentence: str, room: int, measure: Callable[[str], int]) -> list[str]:
    """``sentence`` ended early at a clause boundary, longest first, each ending with a full stop and fitting in
    ``room``; only cuts that keep at least ``MIN_CLAUSE_WORDS`` words."""
    cuts = []
    for match in re.finditer(r"[,;]\s+(?=([^\W\d_]+)(?:\s+([^\W\d_]+))?)", sentence):
        opener = match.group(1).casefold()
        after = (match.group(2) or "").casefold()
        clause = (
            match.group().startswith(";")
            or opener in IMPERATIVES
            or (opener in _CLAUSE_OPENERS and (opener not in ("and", "or") or after in IMPERATIVES or after == "then"))
        )
        if clause:
            cuts.append(match.start())
    cuts += [match.start() for match in re.finditer(rf"\s(?=(?:{'|'.join(_BARE_OPENERS)})\b)", sentence)]
    kept = [sentence[:end].rstrip(" ,;:") + "." for end in sorted(set(cuts), reverse=True)]
    return [text for text in kept if len(words(text)) >= MIN_CLAUSE_WORDS and measure(text) <= room]


def _overlap(a: _Unit, b: _Unit) -> bool:
    return a.start <= b.end and b.start <= a.end


def _joined(units: list[_Unit]) -> str:
    """Units in the article's order; a list goes on lines of its own."""
    text = ""
    for unit in sorted(units, key=lambda u: u.start):
        glue = "\n" if unit.is_list or text.endswith((":", "\n")) else " "
        text = f"{text}{glue}{unit.text}" if text else unit.text
    return text
