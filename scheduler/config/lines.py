"""Where keys sit in a TOML text (tomllib keeps no positions): the line of each section and key, of each
[[accounts]] table's own keys, and of one value in a list, so errors can name ``file:line``."""

from __future__ import annotations

import re

_TABLE = re.compile(r"^\s*(\[\[?)\s*([A-Za-z0-9_.-]+)\s*\]")


_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def key_lines(text: str) -> dict[str, int]:
    """Line of each "section" and "section.key" (the first, for a table written several times)."""
    lines: dict[str, int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TABLE.match(line):
            section = match.group(2)
            lines.setdefault(section, number)
        elif match := _ASSIGN.match(line):
            dotted = f"{section}.{match.group(1)}" if section else match.group(1)
            lines.setdefault(dotted, number)
    return lines


def entry_lines(text: str, table: str = "accounts") -> list[dict[str, int]]:
    """For each ``[[table]]`` in order, the line of its header (``table``) and of its keys and sub-tables
    (``table.name``, ``table.calendar``, ``table.calendar.slots``)."""
    entries: list[dict[str, int]] = []
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TABLE.match(line):
            section = match.group(2)
            if match.group(1) == "[[" and section == table:
                entries.append({table: number})
            elif entries and section.startswith(f"{table}."):
                entries[-1].setdefault(section, number)
        elif (match := _ASSIGN.match(line)) and entries and (section == table or section.startswith(f"{table}.")):
            entries[-1].setdefault(f"{section}.{match.group(1)}", number)
    return entries


def value_line(text: str, key_line: int | None, value: str | None) -> int | None:
    """The line of a list element (lists may span lines), searching from its key's line."""
    if key_line is None or value is None:
        return key_line
    for number, line in enumerate(text.splitlines()[key_line - 1:], start=key_line):
        if f'"{value}"' in line or f"'{value}'" in line:
            return number
    return key_line
