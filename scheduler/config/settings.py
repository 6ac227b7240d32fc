"""The checked configuration (Config) and its accounts (Account): what the rest of the scheduler reads."""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from scheduler.config.checks import _url
from scheduler.config.schema import CONFIG_NAME
from scheduler.domain.errors import ConfigError


@dataclass(frozen=True)
class Account:
    """One account on one network. ``key`` names its rows in the ledger: an X handle (as the single [account]
    configuration always had), a Bluesky handle (holds a dot) or Mastodon's user@server (holds an @), so two
    networks never share a key and renaming an account keeps its history."""

    name: str
    network: str
    handle: str | None
    instance: str
    timezone: ZoneInfo
    credentials_env: str
    credentials_file: str
    imports: bool
    overrides: Mapping[str, Mapping[str, Any]]  # section -> key -> checked value, over the top-level sections

    @property
    def key(self) -> str:
        if self.handle is None:
            raise ConfigError(
                "no account handle is configured: add to scheduler.toml\n  [account]\n  handle = \"YourHandle\"\n"
                "(the X account posts go to, without @), or one [[accounts]] entry per account (docs/accounts.md)"
            )
        if self.network == "mastodon":
            return f"{self.handle.lower()}@{urlsplit(self.instance).hostname}"
        return self.handle.lower()


@dataclass(frozen=True)
class Config:
    """The checked configuration. ``values[section][key]`` holds checked values."""

    values: Mapping[str, Mapping[str, Any]]
    source: Path | None
    data_dir: Path
    lines: Mapping[str, int] = field(default_factory=dict)
    accounts: tuple[Account, ...] = ()
    selected: Account | None = None  # the account the sections below are for; None: several, none chosen
    default_account: str = ""
    base_values: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)  # before any account's overrides

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        return self.values[section]

    @property
    def chosen(self) -> Account:
        if self.selected is None:
            names = ", ".join(a.name for a in self.accounts)
            raise ConfigError(f"{len(self.accounts)} accounts are configured ({names}): choose one with "
                              f"--account NAME, or set default_account = \"NAME\" at the top of scheduler.toml")
        return self.selected

    @property
    def handle(self) -> str:
        self.chosen.key  # a missing handle is an error that says how to set it
        return self.chosen.handle

    @property
    def account(self) -> str:
        """The chosen account's key: its rows in the ledger."""
        return self.chosen.key

    @property
    def first_x_account(self) -> Account | None:
        """The first X account configured (the single [account] too): the one that gets the plain post ids when the
        ledger has recorded none yet (scheduler.ledger.post_ids)."""
        return next((a for a in self.accounts if a.network == "x"), None)

    @property
    def account_name(self) -> str:
        return self.chosen.name

    @property
    def network(self) -> str:
        return self.chosen.network

    @property
    def tz(self) -> ZoneInfo:
        return self.chosen.timezone

    def account_named(self, name: str) -> Account:
        wanted = name.lstrip("@").lower()
        for account in self.accounts:
            if wanted in (account.name.lower(), (account.handle or "").lower()):
                return account
        names = ", ".join(a.name for a in self.accounts) or "none"
        raise ConfigError(f"no account named {name!r} in {self.source or CONFIG_NAME}; configured: {names}")

    def for_account(self, name: str | None) -> Config:
        """This configuration as seen by one account: its calendar, quota and compose settings over the
        top-level ones. ``None``: the only account, else ``default_account``."""
        if name is None:
            return self if self.selected is not None else self._with(self.chosen)
        return self._with(self.account_named(name))

    def each_account(self) -> list[Config]:
        return [self._with(account) for account in self.accounts]

    def _with(self, account: Account) -> Config:
        return replace(self, values=_overlay(self.base_values or self.values, account), selected=account)


    @property
    def database_url(self) -> str:
        url = os.environ.get("SCHEDULER_DATABASE_URL") or self.values["database"]["url"]
        return url or f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"

    @property
    def api_url(self) -> str:
        env = os.environ.get("SCHEDULER_X_API_URL")
        own = self.selected.instance if self.selected is not None and self.selected.network == "x" else ""
        return _url(env) if env else own or self.values["publisher"]["api_url"]

    @property
    def templates_dir(self) -> Path | None:
        return self._relative(self.values["compose"]["templates"])

    @property
    def posts_dir(self) -> Path:
        return self._relative(self.values["compose"]["posts"]) or Path("posts")

    def _relative(self, value: str) -> Path | None:
        if not value:
            return None
        path = Path(value).expanduser()
        base = self.source.parent if self.source else Path.cwd()
        return path if path.is_absolute() else base / path

    def calendar(self):
        from scheduler.domain.calendar import Calendar  # lazy: the calendar costs every command ~0.1 s to import

        cal = self.values["calendar"]
        return _calendar(Calendar, self.tz, tuple(cal["slots"]), tuple(cal["cron"]), tuple(cal["blackout"]))

    def plan_settings(self):
        from scheduler.domain.planner import PlanSettings  # lazy: the planner costs every command ~0.07 s to import

        cal, quota = self.values["calendar"], self.values["quota"]
        return PlanSettings(
            min_spacing=cal["min_spacing"],
            series_gap=cal["series_gap"],
            daily_cap=quota["daily"],
            monthly_cap=quota["monthly"],
            grace=cal["grace"],
        )


def _overlay(values: Mapping[str, Mapping[str, Any]], account: Account) -> dict[str, Mapping[str, Any]]:
    merged: dict[str, Mapping[str, Any]] = dict(values)
    merged["account"] = {"handle": account.handle, "timezone": account.timezone}
    for section, keys in account.overrides.items():
        merged[section] = {**values[section], **keys}
    return merged


@functools.lru_cache(maxsize=16)
def _calendar(cls, tz, slots: tuple, cron: tuple, blackout: tuple):
    """One Calendar per set of rules, shared: it keeps the slots it has computed (calendar.py)."""
    return cls(tz, slots, cron, blackout)
