"""Checking the accounts of scheduler.toml: the single [account] or the [[accounts]] entries (written inline or in
included files), each with its own calendar and quota over the top-level ones."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from scheduler.config.lines import entry_lines
from scheduler.config.schema import (
    ACCOUNT_SCHEMA,
    ACCOUNT_TABLES,
    DEFAULT_CREDENTIALS_ENV,
    HANDLE_CHECKS,
    SCHEMA,
)
from scheduler.config.settings import Account
from scheduler.domain.errors import ConfigError


@dataclass(frozen=True)
class AccountEntry:
    """One [[accounts]] table as written: its keys, its number in its file, and that file (as errors name it, its
    text, the lines of this table's keys), so every error about it says ``file:line``."""

    raw: Mapping[str, Any]
    number: int
    file: str
    text: str
    lines: Mapping[str, int]

    def where(self, dotted: str) -> str:
        """``file:line`` of ``accounts.key`` (or of the nearest table holding it) in this entry."""
        parts = dotted.split(".")
        line = None
        while parts and line is None:
            line = self.lines.get(".".join(parts))
            parts.pop()
        return f"{self.file}:{line}" if line else self.file

    @property
    def label(self) -> str:
        name = self.raw.get("name")
        return f"[[accounts]] #{self.number}" + (f" ({name})" if isinstance(name, str) else "")


def account_entries(raw: Any, *, file: str, text: str, key_line: int | None) -> list[AccountEntry]:
    """The [[accounts]] tables of one file, each with the lines of its keys (``key_line``: the first line
    ``accounts`` appears on)."""
    if not isinstance(raw, list) or not raw or not all(isinstance(entry, dict) for entry in raw):
        raise ConfigError(f"{file}:{key_line}: accounts must be one or more [[accounts]] tables" if key_line else
                          f"{file}: accounts must be one or more [[accounts]] tables")
    lines = entry_lines(text)
    if len(lines) != len(raw):  # written as an inline array of tables: only the key's own line is known
        lines = [{"accounts": key_line} if key_line else {}] * len(raw)
    return [AccountEntry(entry, number, file, text, lines[number - 1]) for number, entry in enumerate(raw, start=1)]


def check_accounts(entries: Sequence[AccountEntry], values: Mapping[str, Mapping[str, Any]]) -> tuple[Account, ...]:
    """Every entry checked key by key, then against each other (names, accounts and credentials each once)."""
    accounts: list[Account] = []
    for each in entries:
        entry, where, label = each.raw, each.where, each.label
        allowed = (*ACCOUNT_SCHEMA, *ACCOUNT_TABLES)
        for key in entry:
            if key not in allowed:
                raise ConfigError(f"{where(f'accounts.{key}')}: unknown key {key!r} in {label}; allowed: "
                                  f"{', '.join(allowed)}")
        checked: dict[str, Any] = {}
        for key, spec in ACCOUNT_SCHEMA.items():
            if key not in entry:
                checked[key] = spec.default
                continue
            try:
                checked[key] = spec.check(entry[key])
            except ValueError as exc:
                raise ConfigError(f"{where(f'accounts.{key}')}: {label} {key}: {exc}") from None
        for key in ("name", "handle"):
            if checked[key] is None:
                raise ConfigError(f"{where('accounts')}: {label} has no {key}; {ACCOUNT_SCHEMA[key].help}")
        network = checked["network"]
        try:
            handle = HANDLE_CHECKS[network](checked["handle"])
        except ValueError as exc:
            raise ConfigError(f"{where('accounts.handle')}: {label} handle: {exc}") from None
        instance = checked["instance"]
        if network == "mastodon" and not instance:
            raise ConfigError(f"{where('accounts')}: {label} is on Mastodon and needs its server: "
                              "instance = \"https://mastodon.example\"")
        overrides: dict[str, dict[str, Any]] = {}
        for table in ACCOUNT_TABLES:
            given = entry.get(table, {})
            if not isinstance(given, dict):
                raise ConfigError(f"{where(f'accounts.{table}')}: {label} {table} must be an [accounts.{table}] table")
            for key, value in given.items():
                if key not in SCHEMA[table]:
                    raise ConfigError(f"{where(f'accounts.{table}.{key}')}: unknown key {key!r} in [accounts.{table}] "
                                      f"of {label}; allowed: {', '.join(SCHEMA[table])}")
                try:
                    overrides.setdefault(table, {})[key] = SCHEMA[table][key].check(value)
                except ValueError as exc:
                    raise ConfigError(f"{where(f'accounts.{table}.{key}')}: {label} {table}.{key}: {exc}") from None
        if network != "x":
            # [quota] holds X's plan caps; other networks have rate limits, not monthly plans.
            overrides.setdefault("quota", {})
            for key in ("daily", "monthly"):
                overrides["quota"].setdefault(key, None)
        compose = {key: checked[key] for key in ("templates", "hashtags", "hashtags_from") if checked[key] is not None}
        if compose:
            overrides["compose"] = compose
        accounts.append(Account(
            name=checked["name"], network=network, handle=handle, instance=instance,
            timezone=checked["timezone"] or values["account"]["timezone"],
            credentials_env=checked["credentials_env"] or DEFAULT_CREDENTIALS_ENV[network],
            credentials_file=checked["credentials_file"], imports=checked["import"], overrides=overrides,
        ))
    seen: list[tuple[Account, AccountEntry]] = []
    for account, entry in zip(accounts, entries):
        for other, other_entry in seen:
            here, there = entry.where("accounts"), other_entry.where("accounts")
            if other.name.lower() == account.name.lower():
                raise ConfigError(f"{here}: two [[accounts]] are named {account.name!r} (here and at {there}); "
                                  "names must differ")
            if other.key == account.key:
                raise ConfigError(f"{here}: accounts {other.name!r} and {account.name!r} are the same "
                                  f"{account.network} account ({account.key}); keep one (the other is at {there})")
            if other.network == account.network and other.credentials_env == account.credentials_env:
                # Environment variables win over a file: both would read ..._ACCESS_TOKEN and post as one user
                # (and two X accounts would share one OAuth 2.0 token file and one outbox).
                raise ConfigError(
                    f"{here}: accounts {other.name!r} and {account.name!r} are both on "
                    f"{account.network} and read their credentials from the same {account.credentials_env}_* "
                    f"environment variables, so both would post as one user; give one of them a credentials_env "
                    f"of its own (e.g. credentials_env = \"{account.name.upper().replace('-', '_')}\" in {account.name!r})")
            if (other.credentials_file and other.network == account.network
                    and other.credentials_file == account.credentials_file):
                raise ConfigError(
                    f"{here}: accounts {other.name!r} and {account.name!r} are both on "
                    f"{account.network} and read the same credentials_file {account.credentials_file!r}, so both "
                    "would post as one user; give each its own file")
        seen.append((account, entry))
    return tuple(accounts)
