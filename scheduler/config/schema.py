"""The keys scheduler.toml may hold: every section's keys with their checker, default and meaning (SCHEMA),
and those of one [[accounts]] entry (ACCOUNT_SCHEMA)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from scheduler.config.checks import (
    _account_name,
    _bluesky_handle,
    _boolean,
    _choice,
    _disclaimer,
    _duration,
    _emails,
    _env_name,
    _handle,
    _mastodon_handle,
    _metric_schedule,
    _optional_cap,
    _optional_money,
    _optional_url,
    _port,
    _positive_duration,
    _positive_int,
    _pricing,
    _workers,
    _review_rules,
    _rule_names,
    _string,
    _string_list,
    _timezone,
    _url,
)

DEFAULT_API_URL = "https://api.twitter.com"


CONFIG_NAME = "scheduler.toml"


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
    "x": {
        "monthly_budget": Key(_optional_money, 0, "most an X account may spend on X's API in a UTC calendar month, in "
                              "dollars (0: no budget); posts come first, metric reads use what is left"),
        "pricing": Key(_pricing, {}, "[x.pricing] post, post_with_link, read, user_read: X's prices in dollars "
                       "(defaults checked 2026-12-04: 0.015, 0.20, 0.005 per post read; user_read, the followers "
                       "read, as read unless given)"),
    },
    "metrics": {
        "enabled": Key(_boolean, True, "the service reads sent posts' metrics (likes, reposts, replies, quotes; "
                       "impressions on X) on the schedule below"),
        "schedule": Key(_metric_schedule, ("1h", "24h", "7d", "30d"), "when to read a sent post, after sending; a "
                        "reading missed while no service ran is made up once"),
        "max_age": Key(_positive_duration, "45d", "posts sent longer ago than this are not read any more"),
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
        "workers": Key(_workers, "auto", "publication runs at once, over all accounts (one per account at a "
                       "time); auto: 8 per CPU, at most 32"),
        "metrics_interval": Key(_positive_duration, "1m", "how often the service looks for metric readings due "
                                "(over all accounts)"),
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
        "default_rules": Key(_boolean, True, "check posts against the shipped content rules (docs/commands.md, Content rules)"),
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


# One [[accounts]] entry: its own keys, then [accounts.calendar], [accounts.quota], [accounts.x] and [accounts.metrics]
# tables whose keys are those of [calendar], [quota], [x] and [metrics] (a key left out takes the top-level value).
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


ACCOUNT_TABLES = ("calendar", "quota", "x", "metrics")
