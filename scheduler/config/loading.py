"""Finding, reading and checking scheduler.toml: the lookup order, the data directory, and errors that name
the key, its line and what is allowed."""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from scheduler.config.accounts import account_entries, check_accounts
from scheduler.config.includes import included_entries
from scheduler.config.lines import key_lines, value_line
from scheduler.config.schema import CONFIG_NAME, SCHEMA
from scheduler.config.settings import Account, Config
from scheduler.domain.errors import ConfigError


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("SCHEDULER_HOME"):
        return Path(env["SCHEDULER_HOME"]).expanduser()
    import platformdirs  # lazy: only without SCHEDULER_HOME, and it costs start-up time

    return Path(platformdirs.user_data_dir("tip-scheduler", appauthor=False))


def find_config(explicit: str | Path | None, env: Mapping[str, str] | None = None) -> Path | None:
    env = os.environ if env is None else env
    if explicit:
        path = Path(explicit).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file (given with --config)")
        return path
    if env.get("SCHEDULER_CONFIG"):
        path = Path(env["SCHEDULER_CONFIG"]).expanduser()
        if not path.is_file():
            raise ConfigError(f"{path}: no such configuration file (named by SCHEDULER_CONFIG)")
        return path
    local = Path.cwd() / CONFIG_NAME
    return local if local.is_file() else None


def load_config(explicit: str | Path | None = None, env: Mapping[str, str] | None = None) -> Config:
    path = find_config(explicit, env)
    if path is None:
        return parse_config("", source=None, env=env)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the configuration file: {exc}") from None
    return parse_config(text, source=path, env=env)


def parse_config(text: str, *, source: Path | None, env: Mapping[str, str] | None = None) -> Config:
    name = str(source) if source else CONFIG_NAME
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: not valid TOML: {exc}") from None
    lines = key_lines(text)

    def where(dotted: str) -> str:
        line = lines.get(dotted) or lines.get(dotted.split(".")[0])
        return f"{name}:{line}" if line else name

    default_account = raw.pop("default_account", "")
    if not isinstance(default_account, str):
        raise ConfigError(f"{where('default_account')}: default_account must be an account's name, as a string")
    raw_accounts, include = raw.pop("accounts", None), raw.pop("include", None)
    values: dict[str, dict[str, Any]] = {}
    for section, value in raw.items():
        if section not in SCHEMA:
            raise ConfigError(f"{where(section)}: unknown section [{section}]; allowed: {', '.join(SCHEMA)}, "
                              "[[accounts]], include")
        if not isinstance(value, dict):
            raise ConfigError(f"{where(section)}: {section} must be a [{section}] table")
    for section, keys in SCHEMA.items():
        given = raw.get(section, {})
        for key in given:
            if key not in keys:
                raise ConfigError(
                    f"{where(f'{section}.{key}')}: unknown key {key!r} in [{section}]; allowed: {', '.join(keys)}"
                )
        checked: dict[str, Any] = {}
        for key, spec in keys.items():
            value = given.get(key, spec.default)
            if isinstance(value, tuple):
                value = list(value)
            try:
                checked[key] = spec.check(value)
            except ValueError as exc:
                raise ConfigError(f"{where(f'{section}.{key}')}: [{section}] {key}: {exc}") from None
        values[section] = checked
    # The file's own accounts, then the included files' (each checked the same way, errors naming its file).
    entries = [] if raw_accounts is None else account_entries(raw_accounts, file=name, text=text,
                                                              key_line=lines.get("accounts"))
    if include is not None:
        entries += included_entries(include, source=source, name=name, key_line=lines.get("include"))
    if not entries:
        account = values["account"]
        accounts = (Account(name=(account["handle"] or "default").lower(), network="x", handle=account["handle"],
                            instance="", timezone=account["timezone"], credentials_env="", credentials_file="",
                            imports=True, overrides={}),)
    else:
        if "account" in raw:
            raise ConfigError(f"{where('account')}: [account] and [[accounts]] cannot both be given (inline or "
                              "included): move its handle and timezone into an [[accounts]] entry (its ledger rows "
                              "stay: they are keyed by the handle)")
        accounts = check_accounts(entries, values)
    if default_account and not any(a.name == default_account for a in accounts):
        raise ConfigError(f"{where('default_account')}: default_account {default_account!r} names no account; "
                          f"configured: {', '.join(a.name for a in accounts)}")
    selected = (next(a for a in accounts if a.name == default_account) if default_account
                else accounts[0] if len(accounts) == 1 else None)
    config = Config(values=values, source=source, data_dir=data_dir(env), lines=lines, accounts=accounts,
                    default_account=default_account, base_values=values)
    if selected is not None:
        config = config._with(selected)
    for each in config.each_account():
        try:
            each.calendar()
        except ValueError as exc:
            key, value = _calendar_value_for(str(exc), each.values["calendar"])
            if value in values["calendar"].get(key, ()) or not entries:
                section, file, file_text, file_lines = "calendar", name, text, lines
            else:
                section, entry = "accounts.calendar", entries[[a.name for a in accounts].index(each.account_name)]
                file, file_text, file_lines = entry.file, entry.text, entry.lines
            line = value_line(file_text, file_lines.get(f"{section}.{key}"), value)
            raise ConfigError(f"{file}:{line}: [{section}] {key}: {exc}" if line else
                              f"{file}: [{section}] {key}: {exc}") from None
    return config


def _calendar_value_for(message: str, calendar: Mapping[str, Any]) -> tuple[str, str | None]:
    """The calendar's message quotes the bad value; find the key holding it."""
    for key in ("slots", "cron", "blackout"):
        for value in calendar[key]:
            if repr(value) in message:
                return key, value
    return "slots", None
