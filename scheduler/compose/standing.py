"""Whether a sentence stands on its own in a post: what it points back at, what language it is in, where its
emoji sit.

A post is read alone, out of its article. So a body sentence may not open by pointing at something the post has
not introduced ("It usually comes from...", "The therapist will...", "These conditions..."); a line in another
language pasted into an English tip ("Más vale prevenir que curar.") is left out, since nothing explains it; and an
emoji stays only where it reads naturally, at the end of a sentence: one in the middle of a sentence is dropped, one
just before the full stop moves after it.
"""

from __future__ import annotations

import re

import regex

from scheduler.compose.templates import sentence_ends

# Openings that point back at something said before: a pronoun, or a demonstrative.
# Not "it is important to" or "it's normal that" (nothing pointed at), nor "those with/who" (people who).
_POINTS_BACK = re.compile(
    r"^(?!it(?:['’]s|\s+is|\s+can\s+be|\s+may\s+be)\s+(?:\w+\s+){0,3}?(?:to|that)\b|those\s+(?:with|who|of)\b)"
    r"(?:it|its|it['’]s|they|them|their|he|she|his|her|this|that|these|those|such)\b", re.IGNORECASE)
# "for these conditions", "those exercises" inside a sentence: things said before it (but "these help" is a
# pronoun, and "this" is too often one: "This keeps you...").
_DEMONSTRATIVE = re.compile(
    r"\b(?:these|those)\s+(?!(?:is|are|was|were|can|could|may|might|will|would|should|must|do|did|have|had|help|"
    r"keep|make|work|include|ones|who|with|of|that|which)\b)([^\W\d_]{3,})", re.IGNORECASE)
# "The nerve ...", "The spasms ...": a definite noun the reader must already know.
_THE_NOUN = re.compile(r"^the\s+([^\W\d_]+(?:-[^\W\d_]+)?)", re.IGNORECASE)
_WORD = regex.compile(r"[^\W\d_]+")
# A noun introduced before counts when it shares its first letters ("therapy" introduces "the therapist").
_STEM = 5
# Nouns that need no introduction: the reader's own body and surroundings, and time.
_KNOWN = frozenset(
    """floor ground bed wall chair day week morning night evening first last next best right left same other whole
    pain body back spine""".split()
)

# Words almost every English sentence of some length holds; a longer sentence with none of them is in another
# language.
_ENGLISH = frozenset(
    """a an the and or but if of to in on at by for with from as is are was were be been it its this that these
    those you your yours we our they their he she his her not no do does don't can will may should would could
    than then so up out into about over after before when while what which who how all any some more most
    very just also only each every i my me us them there here""".split()
)

# An emoji: a pictograph (from the symbol blocks on: not ©, ® or ™), with its variation selector, skin tone and
# joined parts.
_EMOJI = regex.compile(
    r"(?:(?=[\u2300-\U0010FFFF])\p{Extended_Pictographic}[\uFE0F\uFE0E]?\p{Emoji_Modifier}?"
    r"(?:\u200D\p{Extended_Pictographic}[\uFE0F\uFE0E]?\p{Emoji_Modifier}?)*)+"
)
_EMOJI_RUN = regex.compile(rf"[ \t]*{_EMOJI.pattern}(?:[ \t]*{_EMOJI.pattern})*")
_SENTENCE_PUNCTUATION = ".!?…"
# An emoji before one of these stood for a pause: a comma takes its place.
_PAUSE = re.compile(r"(?:even|so|and|but|or|because|which|while|when|if|then|as|until|unless)\b")
_CLOSING = "\"'”’)]"
_PAUSE_MARKS = ",;:"
# The stops after an emoji, as one run: ".", '."', ". .", "?!)" and a pause mark straying after them (". ,"); a quote
# after a space opens the next sentence and is not part of it.
_STOP, _CLOSE, _MARK = (re.escape(chars) for chars in (_SENTENCE_PUNCTUATION, _CLOSING, _PAUSE_MARKS))
_STOPS = re.compile(rf"[{_STOP}{_CLOSE}]*(?:[ {_MARK}]+[{_STOP}][{_STOP}{_CLOSE}]*)*[ {_MARK}]*")


def opens_unresolved(sentence: str, before: str) -> bool:
    """Whether ``sentence`` opens by pointing (or, with "these conditions", points anywhere in its first sentence) at
    something ``before`` (what the reader has read: the headline and
    the post's earlier sentences) does not introduce: "It ...", "These conditions ...", "The nerve ...".

    "It"/"They" after a headline that is a statement about one thing ("Sciatica is a symptom.") still point at
    nothing the reader can be sure of, so any pronoun opening counts as unresolved.
    """
    stripped = sentence.lstrip("\"'“‘(")
    if _POINTS_BACK.match(stripped):
        return True
    stems = {word.casefold()[:_STEM] for word in _WORD.findall(before)}
    # "... for these conditions", "this technique": anywhere in the sentence, a thing said before it.
    first = stripped[: next(iter(sentence_ends(stripped)), len(stripped))]  # what leans on it says its own
    if any(m.group(1).casefold()[:_STEM] not in stems for m in _DEMONSTRATIVE.finditer(first)):
        return True
    the = _THE_NOUN.match(stripped)
    if the is None:
        return False
    noun = the.group(1).casefold()
    if noun in _KNOWN or stripped[the.end():].startswith(" of "):  # "The top of the screen" says which
        return False
    return noun[:_STEM] not in stems


def is_foreign(sentence: str) -> bool:
    """Whether ``sentence`` reads as another language than English: four words or more and none of the small
    words every English sentence of that length uses; with no letter outside ASCII, six words or more (so that a
    terse English step such as "Repeat slowly ten times." is never taken for one)."""
    words = [word.casefold() for word in _WORD.findall(sentence)]
    if len(words) < 4 or not _ENGLISH.isdisjoint(words):
        return False
    return not sentence.isascii() or len(words) >= 6


def place_emoji(text: str) -> str:
    """``text`` (one line) with each emoji where it reads naturally: kept after a sentence or at the end, moved
    after the full stop it stands before ("nourished 💧." -> "nourished. 💧"), dropped from the start or the middle
    of a sentence."""
    if text.isascii():
        return text
    out = ""
    position = 0
    for match in _EMOJI_RUN.finditer(text):
        start, end = match.span()
        emoji = match.group().strip()
        out += text[position:start]
        following = text[end:].lstrip()
        previous = out.rstrip()
        position = end
        if not previous:
            continue  # opening the text: dropped
        after_word = previous[-1].isalnum() or previous[-1] in _CLOSING
        stop = _STOPS.match(following).end()  # the stops that follow, as one run
        stops_end = len(text) - len(following) + stop
        if following and following[0] in _SENTENCE_PUNCTUATION + _PAUSE_MARKS and not after_word:
            # after a stop or a kept emoji: dropped with the stray stops and pause marks after it, a space kept
            # ("0. ✅ .0" -> "0. ✅ 0", not "0. ✅0"; "Rest. 💧 ✅, so" -> "Rest. 💧 so")
            out = previous + " "
            position = stops_end
        elif following and following[0] in _SENTENCE_PUNCTUATION:  # "nourished 💧." -> "nourished. 💧"
            out = f"{previous}{''.join(c for c in following[:stop] if c not in _PAUSE_MARKS).rstrip()} {emoji} "
            position = stops_end  # every stop of the run goes before it; stray pause marks go
        elif following and following[0] in _PAUSE_MARKS:  # "sore 💪, so" -> "sore, so": before a pause mark, dropped
            out = previous
            position = len(text) - len(following)
        elif previous.rstrip(_CLOSING).endswith(tuple(_SENTENCE_PUNCTUATION)) or not following:  # '.' or '.)'
            out = f"{previous} {emoji} "
        elif following[0] in _CLOSING:
            out = previous  # inside brackets or quotes, before they close: dropped
        elif _PAUSE.match(following) and previous[-1].isalnum():
            out = previous + ", "  # it stood for a pause before "even if", "so", "and"...: a comma
        else:
            out += " "  # mid-sentence: dropped, the words on either side kept apart
    out += text[position:]
    return " ".join(out.split())


def without_foreign(paragraphs: list[str]) -> list[str]:
    """The paragraphs without their sentences in another language, when most of them are English (a tip written
    in another language is left as it is). A paragraph left empty goes."""
    split = [[s for s in _sentences(paragraph)] for paragraph in paragraphs]
    sentences = [s for paragraph in split for s in paragraph]
    foreign = {s for s in sentences if is_foreign(s)}
    if not foreign or len(foreign) * 2 >= len(sentences):
        return paragraphs
    kept = [" ".join(s for s in paragraph if s not in foreign) for paragraph in split]
    return [paragraph for paragraph in kept if paragraph]


def _sentences(paragraph: str) -> list[str]:
    ends = [*sentence_ends(paragraph), len(paragraph)]
    begin, found = 0, []
    for end in ends:
        if paragraph[begin:end].strip():
            found.append(paragraph[begin:end].strip())
        begin = end
    return found
