"""The common shape every article format is read into, and the text rules they share.

Each format reader (plain text, Markdown, HTML) turns its document into a flat,
ordered list of ``Block``s. Finding the tips (``article_tips``) then works on blocks
alone, so numbering styles, run checks and the conclusion rule behave the same in
every format.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, replace


class BlockKind(enum.Enum):
    HEADING = "heading"
    PARAGRAPH = "paragraph"
    ITEM = "item"  # one entry of a list (ordered when ``number`` is set)


@dataclass(frozen=True)
class Block:
    kind: BlockKind
    # HEADING: one line; PARAGRAPH: its lines as written; ITEM: its paragraphs.
    texts: tuple[str, ...]
    line: int  # 1-based line of the source file where the block starts (0: unknown)
    level: int = 0  # heading level 1..6
    number: int | None = None  # an ordered list item's number, as the markup gives it
    lead: str = ""  # bold text the block opens with: the author's own headline

    @property
    def text(self) -> str:
        """The block as one run of prose, for intro, body and conclusion text."""
        joined = " ".join(self.texts)
        if self.kind is BlockKind.ITEM:
            return f"{self.number}. {joined}" if self.number is not None else f"• {joined}"
        return joined


def collapse_whitespace(text: str) -> str:
    return " ".join(text.split())


# --- Numbering -------------------------------------------------------------------

# Up to three digits: tips rarely pass 999, and years ("2019.") must not look like tips.
_NUMBER = r"(?P<number>\d{1,3})"
_TIP_WORDS = r"(?:tip|step|rule|idea|way|reason|hack|lesson|mistake|secret|habit|no\.?|number)"

# Each pattern matches at the start of a line or heading; ``rest`` is the headline
# and whatever follows it on that line.
NUMBERING_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("'1. Headline'", re.compile(rf"{_NUMBER}\.\s+(?P<rest>\S.*)")),
    ("'1) Headline'", re.compile(rf"\(?{_NUMBER}\)\s+(?P<rest>\S.*)")),
    ("'1: Headline'", re.compile(rf"{_NUMBER}:\s+(?P<rest>\S.*)")),
    ("'1 - Headline'", re.compile(rf"{_NUMBER}\s+[-–—]\s+(?P<rest>\S.*)")),
    (
        "'Tip #1:', 'Tip 1:', 'Step 1 -' (also Rule, Idea, Reason, No.)",
        re.compile(
            rf"{_TIP_WORDS}\s*#?\s*{_NUMBER}\s*(?:[:.)]|\s[-–—])\s*(?P<rest>\S.*)",
            re.IGNORECASE,
        ),
    ),
    ("'#1 Headline'", re.compile(rf"#{_NUMBER}(?:[:.)]|\s[-–—])?\s+(?P<rest>\S.*)")),
)

# Text pasted from a web page often glues an image's caption or alt text to the next
# number ("jumpingrope2. Exercising..."). The caption is a few words without sentence
# punctuation ending in a letter, directly followed by the number. This is a weak
# signal, trusted only where the number continues the tip sequence.
_GLUED_NUMBER = re.compile(
    rf"(?P<glue>[^\W\d][^.!?:]{{0,59}}?[^\W\d_]){_NUMBER}[.)]\s+(?P<rest>(?:[^\W\d_]|[\"“‘'(]).*)"
)


@dataclass(frozen=True)
class Numbered:
    number: int
    rest: str  # the line without its number prefix
    glued: bool = False  # found only behind glued-on caption text (weak)


def match_numbering(line: str) -> Numbered | None:
    """The tip number a line opens with, if it opens with one."""
    for _, pattern in NUMBERING_PATTERNS:
        match = pattern.fullmatch(line)
        if match:
            return _numbered(match)
    match = _GLUED_NUMBER.fullmatch(line)
    if match:
        return _numbered(match, glued=True)
    return None


def _numbered(match: re.Match[str], *, glued: bool = False) -> Numbered | None:
    number = int(match["number"])
    rest = match["rest"].strip()
    if number == 0 or not rest:
        return None
    return Numbered(number, rest, glued)


def numbering_styles_tried() -> str:
    return ", ".join(name for name, _ in NUMBERING_PATTERNS)


# --- Headline and body -------------------------------------------------------------

# Abbreviations that end in a period without ending the sentence.
_ABBREVIATIONS = {"dr", "mr", "mrs", "ms", "st", "vs", "etc", "e.g", "i.e", "no", "approx", "jr", "sr"}
_SENTENCE_END = re.compile(r"[.!?…][\"”’)]*\s+(?=[\"“‘(]?[A-Z0-9])")


def split_first_sentence(text: str) -> tuple[str, str]:
    """(first sentence, the rest). A headline written as prose is its first sentence."""
    for match in _SENTENCE_END.finditer(text):
        last_word = text[: match.start()].rsplit(" ", 1)[-1].lower()
        if last_word.rstrip(".") in _ABBREVIATIONS:
            continue
        return text[: match.end()].rstrip(), text[match.end():].strip()
    return text, ""


# --- Web chrome ----------------------------------------------------------------

# Text copied from a web page drags along browser notices, cookie banners and share
# buttons. These phrases never carry a tip; a line made of them is dropped. Long lines
# are kept whatever they say: chrome is short, prose that mentions browsers is not.
_WEB_CHROME = re.compile(
    r"|".join(
        (
            r"\bupgrade\b.{0,60}\bbrowser",
            r"\bsupported browsers?\b",
            r"\bgoogle chrome frame\b",
            r"\bdesigned for a range of browsers\b",
            r"\b(?:enable|turn on) javascript\b",
            r"\bjavascript is (?:disabled|required)\b",
            r"\b(?:this|our) (?:web)?site uses cookies\b",
            r"^accept (?:all )?cookies\b",
            r"^skip to (?:main )?content$",
            r"^(?:share|tweet|pin it|print|email)(?: this(?: post| article| page)?)?:?$",
            r"^(?:click|tap) (?:here )?to (?:share|print|email)\b",
            r"^advertisement$",
            r"^(?:leave a (?:comment|reply)|related posts?:?)$",
        )
    ),
    re.IGNORECASE,
)
_WEB_CHROME_MAX_CHARS = 300


def is_web_chrome(line: str) -> bool:
    return len(line) <= _WEB_CHROME_MAX_CHARS and _WEB_CHROME.search(line) is not None


def without_web_chrome(blocks: list[Block]) -> list[Block]:
    """The blocks with web-chrome lines removed; a numbered line is always kept."""
    kept = []
    for block in blocks:
        if block.kind is BlockKind.ITEM:
            kept.append(block)
            continue
        lines = tuple(line for line in block.texts if match_numbering(line) or not is_web_chrome(line))
        if lines == block.texts:
            kept.append(block)
        elif lines:
            kept.append(replace(block, texts=lines, lead=block.lead if lines[0] == block.texts[0] else ""))
    return kept


# --- Conclusion --------------------------------------------------------------------

# A paragraph after the last tip that opens or contains one of these is the author
# wrapping up (a summary, a call to action), not more of the last tip.
_CONCLUSION_OPENERS = re.compile(
    r"^(?:in conclusion|to conclude|to sum (?:it )?up|in summary|in short|all in all|"
    r"(?:the )?bottom line|final thoughts|wrapping up|now that you know|hopefully|i hope|we hope)\b",
    re.IGNORECASE,
)
_CONCLUSION_PHRASES = re.compile(
    r"\b(?:follow (?:me|us) on|for more (?:tips|information|advice|ideas)|"
    r"consider these (?:suggestions|tips)|(?:these|the above) (?:tips|suggestions|steps)|"
    r"subscribe to|sign up for (?:my|our)|contact (?:me|us|our office)|call (?:us|our office)|"
    r"schedule (?:an|your) (?:appointment|consultation))\b",
    re.IGNORECASE,
)


def reads_as_conclusion(paragraph: str) -> bool:
    return bool(_CONCLUSION_OPENERS.search(paragraph) or _CONCLUSION_PHRASES.search(paragraph))
