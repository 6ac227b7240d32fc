"""``include = ["accounts/*.toml"]``: [[accounts]] tables kept in files of their own (an agency's clinics, a file
each), found by glob relative to scheduler.toml's folder, each pattern's files read in sorted order, and checked
exactly as inline tables are (config/accounts.py), with errors naming the included file and line.

An included file holds only [[accounts]] tables. It cannot include others: every pattern is listed in
scheduler.toml itself, so one file says where all accounts come from and no include can loop."""

from __future__ import annotations

import glob
import os
import tomllib
from pathlib import Path
from typing import Any

from scheduler.config.accounts import AccountEntry, account_entries
from scheduler.config.lines import key_lines
from scheduler.domain.errors import ConfigError


def included_entries(raw: Any, *, source: Path | None, name: str, key_line: int | None) -> list[AccountEntry]:
    """The [[accounts]] tables of every file the ``include`` patterns match, in order; ``name`` and ``key_line``
    place the ``include`` key itself in scheduler.toml."""
    where = f"{name}:{key_line}" if key_line else name
    if not isinstance(raw, list) or not all(isinstance(pattern, str) and pattern for pattern in raw):
        raise ConfigError(f"{where}: include must be a list of file patterns, e.g. include = [\"accounts/*.toml\"]")
    base = source.parent if source is not None else Path.cwd()
    itself = source.resolve() if source is not None else None
    entries: list[AccountEntry] = []
    read: set[Path] = set()
    for pattern in raw:
        for path in _matches(pattern, base, where):
            if path.resolve() == itself:
                raise ConfigError(f"{where}: include {pattern!r} matches {name} itself; an included file holds "
                                  "only [[accounts]] tables, so keep them in a folder of their own")
            if path.resolve() not in read:
                read.add(path.resolve())
                entries += _file_entries(path, name)
    return entries


def _matches(pattern: str, base: Path, where: str) -> list[Path]:
    expanded = os.path.expanduser(pattern)
    full = expanded if os.path.isabs(expanded) else os.path.join(glob.escape(str(base)), expanded)
    found = sorted(Path(path) for path in glob.glob(full, recursive=True) if os.path.isfile(path))
    if not found:
        looked = expanded if os.path.isabs(expanded) else str(base / expanded)
        raise ConfigError(f"{where}: include {pattern!r} matches no file ({looked}); patterns are relative to the "
                          "configuration file's folder")
    return found


def _file_entries(path: Path, including: str) -> list[AccountEntry]:
    file = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read this included file: {exc}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{file}: not valid TOML: {exc}") from None
    lines = key_lines(text)
    for key in raw:
        place = f"{file}:{lines[key]}" if key in lines else file
        if key == "include":
            raise ConfigError(f"{place}: an included file cannot include others; list every pattern in the include "
                              f"of {including}")
        if key != "accounts":
            raise ConfigError(f"{place}: {key!r} in an included file, which holds only [[accounts]] tables; shared "
                              f"sections such as [calendar] stay in {including}, and an account's own go in "
                              f"[accounts.calendar], [accounts.quota] or [accounts.x]")
    if "accounts" not in raw:
        raise ConfigError(f"{file}: included by {including}, but holds no [[accounts]] table")
    return account_entries(raw["accounts"], file=file, text=text, key_line=lines.get("accounts"))
