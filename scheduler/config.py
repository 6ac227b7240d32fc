"""scheduler.toml: where it is found, what it may hold, and the checked settings it yields.

Every key is declared once in ``SCHEMA`` with its type, default and meaning; anything else in the
file is an error naming the key, its line and what is allowed. The file is read whole and checked
whole before anything uses it, so a bad file changes nothing (the service keeps its previous
settings on a bad SIGHUP reload).

Lookup order: ``--config PATH``, then ``$SCHEDULER_CONFIG``, then ``./scheduler.toml``; with none,
the defaults below apply. ``$SCHEDULER_HOME`` moves the data directory (ledger, outbox, tokens).
"""

from __future__ import annotations

import functools
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.domain.errors import ConfigError

DEFAULT_API_URL = "https://api.twitter.com"
CONFIG_NAME = "scheduler.toml"


def _duration(value: Any) -> timedelta:
    from scheduler.domain.calendar import parse_duration

    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration; use e.g. \"90s\", \"15m\", \"2h\", \"1d\" or seconds")
    return parse_duration(value)


def _positive_duration(value: Any) -> timedelta:
    duration = _duration(value)
    if duration <= timedelta(0):
        raise ValueError(f"{value!r} must be longer than 0s")
    return duration


def _string(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a string")
    return value


def _string_list(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{value!r} is not a list of strings, e.g. [\"mon-fri 09:00\"]")
    return tuple(value)


def _disclaimer(value: Any) -> str:
    from scheduler.text.x_length import weighted_length

    text = " ".join(_string(value).split())
    if weighted_length(text) > 100:
        raise ValueError(f"{text!r} weighs {weighted_length(text)} of a post's 280; keep a disclaimer under 100 "
                         "(or link to a page that says it)")
    return text


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{value!r} is not true or false")
    return value


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{value!r} is not a whole number of at least 1")
    return value


def _optional_cap(value: Any) -> int | None:
    """A quota cap: a positive number, or 0 for "no cap"."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{value!r} is not a whole number (0 means no cap)")
    return value or None


def _handle(value: Any) -> str | None:
    if value is None:
        return None  # no built-in account: Config.handle says how to name one
    value = _string(value).removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", value):
        raise ValueError(f"{value!r} is not an X handle (1-15 letters, digits or _)")
    return value


def _bluesky_handle(value: Any) -> str:
    value = _string(value).removeprefix("@").lower()
    if not re.fullmatch(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]", value):
        raise ValueError(f"{value!r} is not a Bluesky handle, e.g. \"clinic.bsky.social\"")
    return value


def _mastodon_handle(value: Any) -> str:
    value = _string(value).removeprefix("@").split("@")[0]
    if not re.fullmatch(r"[A-Za-z0-9_]{1,30}", value):
        raise ValueError(f"{value!r} is not a Mastodon username (letters, digits or _; the server is `instance`)")
    return value


def _account_name(value: Any) -> str:
    value = _string(value)
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_-]{0,31}", value):
        raise ValueError(f"{value!r} is not an account name (1-32 letters, digits, _ or -, e.g. \"bluesky\")")
    return value


def _timezone(value: Any) -> ZoneInfo:
    try:
        return ZoneInfo(_string(value))
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{value!r} is not an IANA time zone, e.g. \"America/New_York\" or \"Europe/Paris\"") from None


def _choice(*allowed: str) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if value not in allowed:
            raise ValueError(f"{value!r} is not one of: {', '.join(allowed)}")
        return value

    return check


def _url(value: Any) -> str:
    value = _string(value).rstrip("/")
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"{value!r} is not an http(s) URL")
    return value


def _optional_url(value: Any) -> str:
    return _url(value) if _string(value) else ""


def _emails(value: Any) -> tuple[str, ...]:
    addresses = _string_list(value)
    for address in addresses:
        if not re.fullmatch(r"[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+", address):
            raise ValueError(f"{address!r} is not an email address like \"name@example.com\"")
    return addresses


def _port(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 65535:
        raise ValueError(f"{value!r} is not a port number (1-65535)")
    return value


def _env_name(value: Any) -> str:
    value = _string(value)
    if value and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
        raise ValueError(f"{value!r} is not an environment variable name")
    return value


def _review_rules(value: Any):
    from scheduler.domain.content_rules import check_rules_value

    return check_rules_value(value)


def _rule_names(value: Any):
    from scheduler.domain.content_rules import check_rule_names

    return check_rule_names(value)


@dataclass(frozen=True)
class Key:
    check: Callable[[Any], Any]
    default: Any
    help: str


# section -> key -> Key. The README's configuration reference mirrors this table.
SCHEMA: dict[str, dict[str, Key]] = {
    "account": {
        "handle": Key(_handle, None, "the X account posts go to (without @); required"),
        "timezone": Key(_timezone, "America/New_York", "IANA zone for slots and for showing times"),
    },
    "calendar": {
        "slots": Key(_string_list, ("mon-fri 09:00",), "weekly slots like \"mon-fri 09:00\", \"sat 11:30\""),
        "cron": Key(_string_list, (), "extra slots as crontab lines, in the account's zone"),
        "blackout": Key(_string_list, (), "dates or ranges with no slot posts: \"2026-12-25\", \"2026-12-24..2026-12-26\""),
        "min_spacing": Key(_duration, "0s", "least time between two posts"),
        "series_gap": Key(_duration, "1d", "least time between two tips of the same article (1d: one per local day)"),
        "grace": Key(_duration, "15m", "a post missed by less than this goes out at once after downtime"),
    },
    "queue": {
        "duplicate_window": Key(_duration, "30d", "refuse a text sent or queued within this window"),
        "evergreen": Key(_boolean, False, "when the queue runs dry, recycle sent tips in another variant"),
        "evergreen_cooldown": Key(_duration, "90d", "least time before a sent tip comes back"),
        "evergreen_review_ahead": Key(_positive_int, 3, "with review on: recycled wordings put up for review when "
                                      "fewer approved posts than this wait for a slot"),
    },
    "quota": {
        "daily": Key(_optional_cap, 17, "X posts per local day (0: no cap); X Free plan: 17"),
        "monthly": Key(_optional_cap, 500, "X posts per local month (0: no cap); X Free plan: 500"),
    },
    "compose": {
        "templates": Key(_string, "", "directory of Jinja2 templates (default: the bundled templates/)"),
        "hashtags": Key(_string_list, (), "hashtags for articles whose front matter names none, without #"),
        "hashtags_from": Key(_string_list, (), "front matter keys (e.g. \"tags\", \"categories\") whose terms "
                             "become hashtags when an article names none"),
        "posts": Key(_string, "posts", "content library imported by `scheduler import` with no path"),
    },
    "publisher": {
        "kind": Key(_choice("auto", "x", "outbox"), "auto", "auto: X when credentials exist, else the outbox"),
        "api_url": Key(_url, DEFAULT_API_URL, "X API base URL (env SCHEDULER_X_API_URL wins)"),
        "timeout": Key(_duration, "20s", "how long to wait for X to answer one call"),
        "max_attempts": Key(_positive_int, 5, "tries for a post failing with 5xx or network errors"),
        "backoff": Key(_duration, "30s", "first retry delay; doubles each try, with jitter"),
        "backoff_max": Key(_duration, "30m", "longest retry delay"),
        "rate_limit_max_wait": Key(_duration, "1h", "longest wait for a 429's reset time"),
        "reconcile_delay": Key(_duration, "30s", "after a lost response, wait this long for X to show the post"),
        "lookup_max_failures": Key(_positive_int, 10, "failed look-ups of an uncertain post before it is left "
                                   "unknown for `scheduler resolve`"),
        "lookup_give_up_after": Key(_duration, "6h", "how long look-ups of an uncertain post may keep failing "
                                    "before it is left unknown"),
        "client_id": Key(_string, "", "OAuth 2.0 client id for `scheduler auth login`"),
    },
    "service": {
        "heartbeat": Key(_duration, "5s", "how often the service records that it is alive"),
        "watch_interval": Key(_duration, "2s", "how often the service checks the ledger for CLI changes"),
        "stop_timeout": Key(_duration, "4s", "on SIGTERM, how long an in-flight call may finish"),
    },
    "database": {
        "url": Key(_string, "", "SQLAlchemy URL; default: SQLite file in the data directory"),
    },
    "fetch": {
        "timeout": Key(_positive_duration, "20s", "longest time one web page or feed may take to arrive, in all"),
        "max_bytes": Key(_positive_int, 5_000_000, "largest page or feed accepted, in bytes"),
        "user_agent": Key(_string, "", "User-Agent sent with every request (default: tip-scheduler/<version> ...)"),
    },
    "feeds": {
        "interval": Key(_positive_duration, "1h", "how often the service checks each followed feed"),
        "backoff_max": Key(_positive_duration, "1d", "a failing feed is checked less often, doubling the wait up to this"),
    },
    "review": {
        "required": Key(_boolean, False, "every post needs a reviewer's approval of its exact text before it goes out"),
        "separate_duties": Key(_boolean, True, "with review required, whoever last changed a post's text cannot "
                                               "approve it"),
        "default_rules": Key(_boolean, True, "check posts against the shipped content rules (README, Content rules)"),
        "disabled_rules": Key(_rule_names, (), "shipped content rules to leave out, by name"),
        "rules": Key(_review_rules, (), "your content rules: [[review.rules]] with name, pattern, severity, message"),
        # The dashboard's own default address (`scheduler web`, scheduler/web/server.py): a link works on this
        # machine as soon as the dashboard runs; set the address reviewers reach it by for a phone.
        "link_base": Key(_url, "http://127.0.0.1:8040", "the dashboard's address, for reviewer links"),
        "disclaimer": Key(_disclaimer, "", "a sentence (or a link to one) the composer ends every post with, "
                                           "within the 280 rule, e.g. \"Not medical advice.\""),
    },
    "notify": {
        "reviewers": Key(_emails, (), "email addresses told when posts await review or a draft misses its slot"),
        "authors": Key(_emails, (), "email addresses told when a reviewer requests changes"),
        "webhook": Key(_optional_url, "", "URL that receives every notice as a JSON POST"),
        "smtp_host": Key(_string, "", "SMTP server for email notices (empty: no email)"),
        "smtp_port": Key(_port, 587, "SMTP port"),
        "smtp_security": Key(_choice("starttls", "ssl", "none"), "starttls", "starttls, ssl (implicit TLS) or none"),
        "smtp_username": Key(_string, "", "SMTP login (empty: no login)"),
        "smtp_password_env": Key(_env_name, "SCHEDULER_SMTP_PASSWORD", "environment variable holding the SMTP password"),
        "sender": Key(_string, "", "From: address of notices (default: the SMTP login, else scheduler@localhost)"),
        "check_interval": Key(_duration, "1m", "how often the service looks for posts awaiting review"),
        "timeout": Key(_duration, "10s", "how long one delivery may take"),
        "retry": Key(_duration, "1m", "first retry delay of a failed notice, doubling each time"),
        "max_attempts": Key(_positive_int, 8, "tries before a notice is given up (it stays listed as failed)"),
    },
}


NETWORKS = ("x", "bluesky", "mastodon")
HANDLE_CHECKS: dict[str, Callable[[Any], Any]] = {"x": _handle, "bluesky": _bluesky_handle, "mastodon": _mastodon_handle}
DEFAULT_CREDENTIALS_ENV = {"x": "X", "bluesky": "BLUESKY", "mastodon": "MASTODON"}
BSKY_SERVICE = "https://bsky.social"

# One [[accounts]] entry: its own keys, then [accounts.calendar] and [accounts.quota] tables whose keys are those
# of [calendar] and [quota] (a key left out takes the top-level value).
ACCOUNT_SCHEMA: dict[str, Key] = {
    "name": Key(_account_name, None, "what --account and import --to call it; required"),
    "network": Key(_choice(*NETWORKS), "x", "x, bluesky or mastodon"),
    "handle": Key(_string, None, "the account on its network: X \"GleiberMD\", Bluesky \"clinic.bsky.social\", "
                  "Mastodon \"clinic\" (with `instance`); required"),
    "instance": Key(_optional_url, "", "Mastodon: the server's URL (required); Bluesky: the PDS (default bsky.social); "
                    "X: the API (default [publisher] api_url)"),
    "timezone": Key(_timezone, None, "IANA zone of its calendar (default: [account] timezone's default)"),
    "credentials_env": Key(_env_name, "", "prefix of the environment variables holding its credentials "
                           "(default X, BLUESKY, MASTODON: X_API_KEY..., BLUESKY_APP_PASSWORD, MASTODON_ACCESS_TOKEN)"),
    "credentials_file": Key(_string, "", "a 0600 file of KEY=VALUE lines (or TOML) with the same names, without prefix"),
    "templates": Key(_string, None, "its templates directory (default: the bundled ones for its network)"),
    "hashtags": Key(_string_list, None, "hashtags for articles naming none (default: [compose] hashtags)"),
    "hashtags_from": Key(_string_list, None, "front matter keys for hashtags (default: [compose] hashtags_from)"),
    "import": Key(_boolean, True, "`scheduler import` without --to imports for this account too"),
}
ACCOUNT_TABLES = ("calendar", "quota")


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
                "(the X account posts go to, without @), or one [[accounts]] entry per account (README, Accounts)"
            )
        if self.network == "mastodon":
            from urllib.parse import urlsplit

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
        from scheduler.domain.calendar import Calendar

        cal = self.values["calendar"]
        return _calendar(Calendar, self.tz, tuple(cal["slots"]), tuple(cal["cron"]), tuple(cal["blackout"]))

    def plan_settings(self):
        from scheduler.domain.planner import PlanSettings

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


def data_dir(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    if env.get("SCHEDULER_HOME"):
        return Path(env["SCHEDULER_HOME"]).expanduser()
    import platformdirs

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
    lines = _key_lines(text)

    def where(dotted: str) -> str:
        line = lines.get(dotted) or lines.get(dotted.split(".")[0])
        return f"{name}:{line}" if line else name

    default_account = raw.pop("default_account", "")
    if not isinstance(default_account, str):
        raise ConfigError(f"{where('default_account')}: default_account must be an account's name, as a string")
    raw_accounts = raw.pop("accounts", None)
    values: dict[str, dict[str, Any]] = {}
    for section, value in raw.items():
        if section not in SCHEMA:
            raise ConfigError(f"{where(section)}: unknown section [{section}]; allowed: {', '.join(SCHEMA)}, "
                              "[[accounts]]")
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
    if raw_accounts is None:
        account = values["account"]
        accounts = (Account(name=(account["handle"] or "default").lower(), network="x", handle=account["handle"],
                            instance="", timezone=account["timezone"], credentials_env="", credentials_file="",
                            imports=True, overrides={}),)
    else:
        if "account" in raw:
            raise ConfigError(f"{where('account')}: [account] and [[accounts]] cannot both be given: move its handle "
                              "and timezone into an [[accounts]] entry (its ledger rows stay: they are keyed by the "
                              "handle)")
        accounts = _accounts(raw_accounts, values, where)
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
            section = "calendar" if value in values["calendar"].get(key, ()) else "accounts.calendar"
            line = _value_line(text, lines.get(f"{section}.{key}"), value)
            place = f"{name}:{line}" if line else where(f"{section}.{key}")
            raise ConfigError(f"{place}: [{section}] {key}: {exc}") from None
    return config


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


def _calendar_value_for(message: str, calendar: Mapping[str, Any]) -> tuple[str, str | None]:
    """The calendar's message quotes the bad value; find the key holding it."""
    for key in ("slots", "cron", "blackout"):
        for value in calendar[key]:
            if repr(value) in message:
                return key, value
    return "slots", None


def _value_line(text: str, key_line: int | None, value: str | None) -> int | None:
    """The line of a list element (lists may span lines), searching from its key's line."""
    if key_line is None or value is None:
        return key_line
    for number, line in enumerate(text.splitlines()[key_line - 1:], start=key_line):
        if f'"{value}"' in line or f"'{value}'" in line:
            return number
    return key_line


_TABLE = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_.-]+)\s*\]")
_ASSIGN = re.compile(r"^\s*([A-Za-z0-9_-]+)\s*=")


def _key_lines(text: str) -> dict[str, int]:
    """Line of each "section" and "section.key" (tomllib keeps no positions)."""
    lines: dict[str, int] = {}
    section = ""
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _TABLE.match(line):
            section = match.group(1)
            lines.setdefault(section, number)
        elif match := _ASSIGN.match(line):
            dotted = f"{section}.{match.group(1)}" if section else match.group(1)
            lines.setdefault(dotted, number)
    return lines


@functools.lru_cache(maxsize=16)
def _calendar(cls, tz, slots: tuple, cron: tuple, blackout: tuple):
    """One Calendar per set of rules, shared: it keeps the slots it has computed (calendar.py)."""
    return cls(tz, slots, cron, blackout)
