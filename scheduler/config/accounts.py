"""Checking the accounts of scheduler.toml: the single [account] or the [[accounts]] entries, each with its
own calendar and quota over the top-level ones."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from scheduler.config.schema import (
    ACCOUNT_SCHEMA,
    ACCOUNT_TABLES,
    DEFAULT_CREDENTIALS_ENV,
    HANDLE_CHECKS,
    SCHEMA,
)
from scheduler.config.settings import Account
from scheduler.domain.errors import ConfigError


def _accounts(raw: Any, values: Mapping[str, Mapping[str, Any]], where: Callable[[str], str]) -> tuple[Account, ...]:
    if not isinstance(raw, list) or not raw or not all(isinstance(entry, dict) for entry in raw):
        raise ConfigError(f"{where('accounts')}: accounts must be one or more [[accounts]] tables")
    accounts: list[Account] = []
    for number, entry in enumerate(raw, start=1):
        label = f"[[accounts]] #{number}" + (f" ({entry['name']})" if isinstance(entry.get("name"), str) else "")
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
    seen: dict[str, Account] = {}
    for account in accounts:
        for other in seen.values():
            if other.name.lower() == account.name.lower():
                raise ConfigError(f"{where('accounts')}: two [[accounts]] are named {account.name!r}; names must differ")
            if other.key == account.key:
                raise ConfigError(f"{where('accounts')}: accounts {other.name!r} and {account.name!r} are the same "
                                  f"{account.network} account ({account.key}); keep one")
            if other.network == account.network and other.credentials_env == account.credentials_env:
                # Environment variables win over a file: both would read ..._ACCESS_TOKEN and post as one user
                # (and two X accounts would share one OAuth 2.0 token file and one outbox).
                raise ConfigError(
                    f"{where('accounts')}: accounts {other.name!r} and {account.name!r} are both on "
                    f"{account.network} and read their credentials from the same {account.credentials_env}_* "
                    f"environment variables, so both would post as one user; give one of them a credentials_env "
                    f"of its own (e.g. credentials_env = \"{account.name.upper().replace('-', '_')}\" in {account.name!r})")
            if (other.credentials_file and other.network == account.network
                    and other.credentials_file == account.credentials_file):
                raise ConfigError(
                    f"{where('accounts')}: accounts {other.name!r} and {account.name!r} are both on "
                    f"{account.network} and read the same credentials_file {account.credentials_file!r}, so both "
                    "would post as one user; give each its own file")
        seen[account.name] = account
    return tuple(accounts)
