"""Finding the numbered tips among an article's blocks, and what lies around them.

The rules, in order:

1. Every block that opens with a number is a *candidate*: an ordered list item, a
   heading like "## 1. Heading" or "Tip 1: ...", or a paragraph/line like "1. ...".
2. Candidates are grouped by how they are written (heading level, list item, line).
   Numbered headings, when there are at least two at a level, are the tips: lists
   under them are the tips' own steps. Otherwise the group with the longest run wins.
3. In that group, a restart (a number not above the one before) starts a new run.
   The longest run is the tip list; other runs are reported and kept as text.
   Skips inside the run are reported too. Numbers are never rewritten.
4. A tip's body is what follows it up to the next candidate (or a heading that closes
   its section). After the last tip, the conclusion starts at the first paragraph
   that wraps up ("in conclusion", "follow me on"...) or, when all other tips have
   bodies of the same length, after that many paragraphs.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from scheduler.articles.blocks import (
    Block,
    BlockKind,
    collapse_whitespace,
    match_numbering,
    reads_as_conclusion,
    split_first_sentence,
)
from scheduler.domain.errors import ArticleError
from scheduler.domain.models import Tip

_HEADING_GROUP = "heading"
_ITEM_GROUP = "item"
_LINE_GROUP = "line"


@dataclass(frozen=True)
class Candidate:
    index: int  # position in the article's blocks
    number: int
    headline: str
    inline_body: tuple[str, ...]  # body paragraphs inside the candidate's own block
    group: tuple[str, int]  # how it is written: (kind, heading level or 0)
    line: int
    glued: bool = False


@dataclass(frozen=True)
class TipLayout:
    tips: tuple[Tip, ...]
    intro: str
    conclusion: str
    warnings: tuple[str, ...]


def layout_tips(blocks: Sequence[Block], source: str, styles_tried: str) -> TipLayout:
    candidates = _choose_group([c for i, b in enumerate(blocks) if (c := _candidate(i, b))])
    if not candidates:
        raise ArticleError(
            f"{source}: no numbered tips found. Tried: {styles_tried}. "
            "Number each tip at the start of its own paragraph."
        )
    runs = _split_at_restarts(candidates)
    tip_run = max(runs, key=len)  # max() keeps the first of equally long runs
    warnings = [*_restart_warnings(runs, tip_run, source), *_skip_warnings(tip_run, source)]
    boundaries = [c.index for c in candidates] + [len(blocks)]
    bodies = [_body_blocks(blocks, c, _next_boundary(boundaries, c.index)) for c in tip_run]
    last_body, conclusion_start = _split_conclusion(tip_run, bodies)
    bodies[-1] = last_body
    tips = tuple(
        Tip(c.number, c.headline, _join(list(c.inline_body) + [b.text for b in body]))
        for c, body in zip(tip_run, bodies)
    )
    return TipLayout(
        tips=tips,
        intro=_join(b.text for b in blocks[: tip_run[0].index]),
        conclusion=_join(b.text for b in blocks[tip_run[-1].index + 1 + conclusion_start :]),
        warnings=tuple(warnings),
    )


# --- Candidates ------------------------------------------------------------------------


def _candidate(index: int, block: Block) -> Candidate | None:
    if block.kind is BlockKind.ITEM:
        if block.number is None or block.number <= 0:
            return None
        headline, body = _item_headline(block)
        return _make(index, block, block.number, headline, body, (_ITEM_GROUP, 0))
    numbered = match_numbering(block.texts[0]) if block.texts else None
    if numbered is None:
        return None
    if block.kind is BlockKind.HEADING:
        return _make(index, block, numbered.number, numbered.rest, (), (_HEADING_GROUP, block.level), numbered.glued)
    headline, body = _paragraph_headline(block, numbered.rest)
    return _make(index, block, numbered.number, headline, body, (_LINE_GROUP, 0), numbered.glued)


def _make(
    index: int,
    block: Block,
    number: int,
    headline: str,
    body: Sequence[str],
    group: tuple[str, int],
    glued: bool = False,
) -> Candidate | None:
    headline = collapse_whitespace(headline)
    if not headline:
        return None
    paragraphs = tuple(p for p in map(collapse_whitespace, body) if p)
    return Candidate(index, number, headline, paragraphs, group, block.line, glued)


def _item_headline(block: Block) -> tuple[str, list[str]]:
    """A list item's headline: its bold lead, else its first paragraph if it has
    several, else its first sentence."""
    first, *others = block.texts
    if block.lead and first.startswith(block.lead):
        return block.lead, [_after_lead(first, block.lead), *others]
    if others:
        return first, others
    headline, rest = split_first_sentence(first)
    return headline, [rest]


def _paragraph_headline(block: Block, numbered_rest: str) -> tuple[str, list[str]]:
    """A numbered paragraph's headline: its bold lead ("**1. Headline** body"), else its
    first line when that line is complete, else its first sentence."""
    text = " ".join((numbered_rest, *block.texts[1:]))
    lead_numbering = match_numbering(block.lead) if block.lead else None
    if lead_numbering and text.startswith(lead_numbering.rest):
        return lead_numbering.rest, [_after_lead(text, lead_numbering.rest)]
    if len(block.texts) > 1 and _line_is_complete(numbered_rest, block.texts[1]):
        headline, rest = split_first_sentence(numbered_rest)
        return headline, [" ".join((rest, *block.texts[1:]))]
    headline, rest = split_first_sentence(text)
    return headline, [rest]


def _line_is_complete(line: str, next_line: str) -> bool:
    # A hard-wrapped headline continues in lower case; a headline line followed by its
    # body either ends a sentence or is followed by a capitalised line.
    return line.rstrip("\"”’)").endswith((".", "!", "?", ":", "…")) or next_line[:1].isupper()


def _after_lead(text: str, lead: str) -> str:
    return text[len(lead) :].lstrip(" :–—")


# --- Choosing the tip list -------------------------------------------------------------


def _choose_group(candidates: list[Candidate]) -> list[Candidate]:
    groups: dict[tuple[str, int], list[Candidate]] = {}
    for candidate in candidates:
        groups.setdefault(candidate.group, []).append(candidate)
    groups = {key: _trust_glued_in_sequence(members) for key, members in groups.items()}
    groups = {key: members for key, members in groups.items() if members}
    if not groups:
        return []
    heading_levels = sorted(level for kind, level in groups if kind == _HEADING_GROUP)
    for level in heading_levels:
        if len(groups[(_HEADING_GROUP, level)]) >= 2:
            return groups[(_HEADING_GROUP, level)]
    # Explicit list markup beats numbered lines, and headings beat both, on a tie.
    priority = {_HEADING_GROUP: 2, _ITEM_GROUP: 1, _LINE_GROUP: 0}
    return max(
        groups.values(),
        key=lambda members: (max(map(len, _split_at_restarts(members))), priority[members[0].group[0]]),
    )


def _trust_glued_in_sequence(candidates: list[Candidate]) -> list[Candidate]:
    """Keep a number found behind glued caption text only where it continues the count."""
    trusted: list[Candidate] = []
    for position, candidate in enumerate(candidates):
        if candidate.glued and not _continues_count(trusted, candidates[position + 1 :], candidate.number):
            continue
        trusted.append(candidate)
    return trusted


def _continues_count(before: list[Candidate], after: list[Candidate], number: int) -> bool:
    if before:
        return number == before[-1].number + 1
    next_sure = next((c for c in after if not c.glued), None)
    return number == 1 and next_sure is not None and next_sure.number == 2


def _split_at_restarts(candidates: list[Candidate]) -> list[list[Candidate]]:
    runs: list[list[Candidate]] = [[]]
    for candidate in candidates:
        if runs[-1] and candidate.number <= runs[-1][-1].number:
            runs.append([])
        runs[-1].append(candidate)
    return runs


def _restart_warnings(runs: list[list[Candidate]], tip_run: list[Candidate], source: str) -> list[str]:
    kept = f"kept the {len(tip_run)} tips numbered {tip_run[0].number}-{tip_run[-1].number} from line {tip_run[0].line}"
    warnings = []
    for run in runs:
        if run is tip_run:
            continue
        where = "intro" if run[0].index < tip_run[0].index else "conclusion"
        warnings.append(
            f"{source}: numbering restarts at {run[0].number} (line {run[0].line}); {kept} "
            f"and read the {len(run)} numbered items from line {run[0].line} as {where} text. "
            "If they are tips too, number them on from the others."
        )
    return warnings


def _skip_warnings(tip_run: list[Candidate], source: str) -> list[str]:
    warnings = []
    if tip_run[0].number != 1:
        warnings.append(f"{source}: numbering starts at {tip_run[0].number}, not 1 (line {tip_run[0].line})")
    for previous, current in zip(tip_run, tip_run[1:]):
        if current.number != previous.number + 1:
            warnings.append(
                f"{source}: numbering skips from {previous.number} to {current.number} (line {current.line})"
            )
    return warnings


# --- Bodies and conclusion ----------------------------------------------------------------


def _next_boundary(boundaries: list[int], index: int) -> int:
    return boundaries[bisect.bisect_right(boundaries, index)]


def _body_blocks(blocks: Sequence[Block], candidate: Candidate, end: int) -> list[Block]:
    """The blocks after a candidate that belong to it: up to ``end`` or a heading that
    closes its section (any heading for list and line tips, one at the same or a higher
    level for heading tips)."""
    body = []
    for block in blocks[candidate.index + 1 : end]:
        if block.kind is BlockKind.HEADING and _closes_section(block, candidate):
            break
        body.append(block)
    return body


def _closes_section(heading: Block, candidate: Candidate) -> bool:
    kind, level = candidate.group
    return kind != _HEADING_GROUP or heading.level <= level


def _split_conclusion(tip_run: list[Candidate], bodies: list[list[Block]]) -> tuple[list[Block], int]:
    """(the last tip's body, how many blocks after the last tip it spans)."""
    last, last_body = tip_run[-1], bodies[-1]
    cut = min(_conclusion_by_wording(last, last_body), _conclusion_by_shape(tip_run, bodies))
    cut = min(cut, len(last_body))
    return last_body[:cut], cut


def _conclusion_by_wording(last: Candidate, body: list[Block]) -> int:
    # A tip written as a bare headline keeps at least one paragraph: its body.
    first_possible = 0 if last.inline_body else 1
    for position in range(first_possible, len(body)):
        if body[position].kind is BlockKind.PARAGRAPH and reads_as_conclusion(body[position].text):
            return position
    return len(body)


def _conclusion_by_shape(tip_run: list[Candidate], bodies: list[list[Block]]) -> int:
    """When every other tip has a body of the same length, the last one has too."""
    lengths = {len(c.inline_body) + len(body) for c, body in zip(tip_run[:-1], bodies[:-1])}
    if len(tip_run) < 3 or len(lengths) != 1:
        return len(bodies[-1])
    (length,) = lengths
    return max(length - len(tip_run[-1].inline_body), 0)


def _join(paragraphs: Iterable[str]) -> str:
    return "\n\n".join(p for p in paragraphs if p)
