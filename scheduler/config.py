"""scheduler.toml: where it is found, what it may hold, and the checked settings it yields.

Every key is declared once in ``SCHEMA`` with its type, default and meaning; anything else in the
file is an error naming the key, its line and what is allowed. The file is read whole and checked
whole before anything uses it, so a bad file changes nothing (the service keeps its previous
settings on a bad SIGHUP reload).

Lookup order: ``--config PATH``, then ``$SCHEDULER_CONFIG``, then ``./scheduler.toml``; with none,
the defaults below apply. ``$SCHEDULER_HOME`` moves the data directory (ledger, outbox, tokens).
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from scheduler.errors import ConfigError

DEFAULT_API_URL = "https://api.twitter.com"
CONFIG_NAME = "scheduler.toml"


def _duration(value: Any) -> timedelta:
    from scheduler.calendar import parse_duration

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
    from scheduler.tweet_length import weighted_length

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


def _handle(value: Any) -> str:
    value = _string(value).removeprefix("@")
    if not re.fullmatch(r"[A-Za-z0-9_]{1,15}", value):
        raise ValueError(f"{value!r} is not an X handle (1-15 letters, digits or _)")
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
    from scheduler.content_rules import check_rules_value

    return check_rules_value(value)


def _rule_names(value: Any):
    from scheduler.content_rules import check_rule_names

    return check_rule_names(value)


@dataclass(frozen=True)
class Key:
    check: Callable[[Any], Any]
    default: Any
    help: str


# section -> key -> Key. The README's configuration reference mirrors this table.
SCHEMA: dict[str, dict[str, Key]] = {
    "account": {
        "handle": Key(_handle, "GleiberMD", "the X account posts go to (without @)"),
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


@dataclass(frozen=True)
class Config:
    """The checked configuration. ``values[section][key]`` holds checked values."""

    values: Mapping[str, Mapping[str, Any]]
    source: Path | None
    data_dir: Path
    lines: Mapping[str, int] = field(default_factory=dict)

    def __getitem__(self, section: str) -> Mapping[str, Any]:
        return self.values[section]

    @property
    def handle(self) -> str:
        return self.values["account"]["handle"]

    @property
    def account(self) -> str:
        """Ledger rows are keyed by this, so more accounts can be added later."""
        return self.values["account"]["handle"].lower()

    @property
    def tz(self) -> ZoneInfo:
        return self.values["account"]["timezone"]

    @property
    def database_url(self) -> str:
        url = os.environ.get("SCHEDULER_DATABASE_URL") or self.values["database"]["url"]
        return url or f"sqlite:///{self.data_dir / 'ledger.sqlite3'}"

    @property
    def api_url(self) -> str:
        env = os.environ.get("SCHEDULER_X_API_URL")
        return _url(env) if env else self.values["publisher"]["api_url"]

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
        from scheduler.calendar import Calendar

        cal = self.values["calendar"]
        return Calendar(self.tz, cal["slots"], cal["cron"], cal["blackout"])

    def plan_settings(self):
        from scheduler.planner import PlanSettings

        cal, quota = self.values["calendar"], self.values["quota"]
        return PlanSettings(
            min_spacing=cal["min_spacing"],
            series_gap=cal["series_gap"],
            daily_cap=quota["daily"],
            monthly_cap=quota["monthly"],
            grace=cal["grace"],
        )


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

    values: dict[str, dict[str, Any]] = {}
    for section, value in raw.items():
        if section not in SCHEMA:
            raise ConfigError(f"{where(section)}: unknown section [{section}]; allowed: {', '.join(SCHEMA)}")
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
    config = Config(values=values, source=source, data_dir=data_dir(env), lines=lines)
    try:
        config.calendar()
    except ValueError as exc:
        key, value = _calendar_value_for(str(exc), values["calendar"])
        line = _value_line(text, lines.get(f"calendar.{key}"), value)
        place = f"{name}:{line}" if line else where(f"calendar.{key}")
        raise ConfigError(f"{place}: [calendar] {key}: {exc}") from None
    return config


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
