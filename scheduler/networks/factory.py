"""Which publisher an account gets: its network's when its credentials exist (or are required), else the outbox.

Credentials per account (``[[accounts]]``): environment variables named with the account's ``credentials_env``
prefix, over a 0600 ``credentials_file`` holding the same names without the prefix:

- X: ``<PREFIX>_API_KEY``, ``_API_SECRET``, ``_ACCESS_TOKEN``, ``_ACCESS_TOKEN_SECRET`` (prefix ``X`` by default,
  so the single-account names stay valid), or the OAuth 2.0 token file of ``scheduler auth login``;
- Bluesky: ``<PREFIX>_APP_PASSWORD`` (an app password, never the account's own);
- Mastodon: ``<PREFIX>_ACCESS_TOKEN``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import datetime
from pathlib import Path

from scheduler.config import BSKY_SERVICE, Config
from scheduler.domain.errors import CredentialsError
from scheduler.networks.base import Publisher
from scheduler.networks.x.credentials import (
    CREDENTIALS_FILE_ENV,
    OAUTH1_ENV,
    _credentials_file_values,
    _key_value_lines,
    load_credentials,
    read_private,
)

OUTBOX_NAME = "outbox.jsonl"
TOKENS_NAME = "x-tokens.json"
SECRET_NAMES = {"bluesky": "APP_PASSWORD", "mastodon": "ACCESS_TOKEN"}
NETWORK_NAMES = {"x": "X", "bluesky": "Bluesky", "mastodon": "Mastodon"}


def _own_files(config: Config) -> bool:
    """Accounts beyond the first X one keep their files apart: named after the account."""
    account = config.chosen
    return not (account.network == "x" and account.credentials_env in ("", "X"))


def token_file(config: Config) -> Path:
    return config.data_dir / (f"x-tokens-{config.account_name}.json" if _own_files(config) else TOKENS_NAME)


def outbox_path(config: Config) -> Path:
    return config.data_dir / (f"outbox-{config.account_name}.jsonl" if _own_files(config) else OUTBOX_NAME)


def session_file(config: Config) -> Path:
    return config.data_dir / f"bluesky-session-{config.account_name}.json"


def account_secrets(config: Config, env: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """``names`` (without prefix) from the account's credentials file, then its prefixed environment variables."""
    return {name: value for name, (value, _) in _secrets_and_sources(config, env, names).items()}


def secret_sources(config: Config, env: Mapping[str, str], names: tuple[str, ...]) -> dict[str, str]:
    """Where each of ``names`` that is set comes from ("CLINIC_BSKY_APP_PASSWORD", "the file ..."), never its value."""
    return {name: source for name, (_, source) in _secrets_and_sources(config, env, names).items()}


def _secrets_and_sources(config: Config, env: Mapping[str, str],
                         names: tuple[str, ...]) -> dict[str, tuple[str, str]]:
    account = config.chosen
    values: dict[str, tuple[str, str]] = {}
    if account.network == "x" and not _own_files(config) and not account.credentials_file:
        # The single-account names: X_API_KEY... over the file named by X_CREDENTIALS_FILE.
        if env.get(CREDENTIALS_FILE_ENV):
            file_values = _credentials_file_values(env)
            values.update({name: (file_values[f"X_{name}"], f"the file {env[CREDENTIALS_FILE_ENV]}")
                           for name in names if file_values.get(f"X_{name}")})
    elif account.credentials_file:
        path = Path(account.credentials_file).expanduser()
        if not path.is_absolute() and config.source is not None:
            path = config.source.parent / path
        raw = _key_value_lines(read_private(path))
        prefix = (account.credentials_env + "_").upper()
        for key, value in raw.items():
            name = key.upper().removeprefix(prefix)
            if name in names and value:
                values[name] = (value, f"the file {path}")
    prefix = account.credentials_env or {"x": "X"}.get(account.network, account.network.upper())
    values.update({name: (env[f"{prefix}_{name}"], f"{prefix}_{name}") for name in names
                   if env.get(f"{prefix}_{name}")})
    return values


def credentials_found(config: Config, env: Mapping[str, str]) -> bool:
    network = config.network
    if network == "x":
        return _x_credentials(config, env, load_credentials) is not None
    return bool(account_secrets(config, env, (SECRET_NAMES[network],)))


def x_credentials(config: Config, env: Mapping[str, str]):
    """The X account's credentials (None: none set), as its publisher would use them."""
    return _x_credentials(config, env, load_credentials)


def _x_credentials(config: Config, env: Mapping[str, str], load_credentials):
    if not _own_files(config) and not config.chosen.credentials_file:
        return load_credentials(env, token_file(config))  # the single-account names, as always
    values = account_secrets(config, env, tuple(name.removeprefix("X_") for name in OAUTH1_ENV))
    return load_credentials({f"X_{k}": v for k, v in values.items()}, token_file(config))


def make_publisher(config: Config, *, clock: Callable[[], datetime], env: Mapping[str, str] | None = None) -> Publisher:
    env = os.environ if env is None else env
    kind = config["publisher"]["kind"]
    network = config.network
    found = None if kind == "outbox" else (
        _x_credentials(config, env, load_credentials) if network == "x"
        else account_secrets(config, env, (SECRET_NAMES[network],)).get(SECRET_NAMES[network])
    )
    if not found:
        if kind == "x":
            raise CredentialsError(
                f"[publisher] kind is \"x\" but no {NETWORK_NAMES[network]} credentials were found for account "
                f"{config.account_name!r}: {how_to_set(config)}"
            )
        from scheduler.networks.outbox.publisher import OutboxPublisher  # lazy: the network's client library, loaded only for an account on it

        return OutboxPublisher(outbox_path(config), config.handle, clock=clock, network=config.network)
    timeout = config["publisher"]["timeout"].total_seconds()
    timeouts = (min(5.0, timeout), timeout)
    if network == "bluesky":
        from scheduler.networks.bluesky.publisher import BlueskyPublisher  # lazy: the network's client library, loaded only for an account on it

        return BlueskyPublisher(handle=config.handle, app_password=found,
                                service_url=config.chosen.instance or BSKY_SERVICE,
                                session_file=session_file(config), timeout=timeouts, clock=clock)
    if network == "mastodon":
        from scheduler.networks.mastodon.publisher import MastodonPublisher  # lazy: the network's client library, loaded only for an account on it

        return MastodonPublisher(access_token=found, instance_url=config.chosen.instance, handle=config.handle,
                                 timeout=timeouts, clock=clock)
    from scheduler.networks.x.publisher import XPublisher  # lazy: the network's client library, loaded only for an account on it

    return XPublisher(found, handle=config.handle, api_url=config.api_url, timeout=timeouts, clock=clock)


def unusable(config: Config, exc: CredentialsError) -> CredentialsError:
    """``exc`` (a credentials file missing, unreadable or readable by others; credentials incomplete) said of the
    account it belongs to, so that with several accounts a person knows which one to fix."""
    account = config.chosen
    fix = ""
    if account.credentials_file and str(exc).endswith(": no such file"):
        names = (["API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET"] if account.network == "x"
                 else [SECRET_NAMES[account.network]])
        fix = (f"; write it (mode 0600) with {', '.join(names)} as KEY=VALUE lines, or take credentials_file "
               f"out of the account in {config.source or 'scheduler.toml'}")
    return CredentialsError(f"account {config.account_name!r} ({NETWORK_NAMES[config.network]}) cannot use its "
                            f"credentials: {exc}{fix}")


def how_to_set(config: Config) -> str:
    account = config.chosen
    if account.network == "x" and not _own_files(config):
        return ("set X_API_KEY, X_API_SECRET, X_ACCESS_TOKEN and X_ACCESS_TOKEN_SECRET, or run "
                "`scheduler auth login`")
    prefix = account.credentials_env
    names = (["API_KEY", "API_SECRET", "ACCESS_TOKEN", "ACCESS_TOKEN_SECRET"] if account.network == "x"
             else [SECRET_NAMES[account.network]])
    return (f"set {', '.join(f'{prefix}_{n}' for n in names)} in the environment, or put "
            f"{', '.join(names)} in the account's credentials_file (mode 0600)")


def destination(config: Config) -> dict:
    """Where posts go: X, or the outbox file (and why), told without loading the X client."""
    kind = config["publisher"]["kind"]
    if kind == "outbox":
        return {"kind": "outbox", "outbox": str(outbox_path(config)), "why": "[publisher] kind = \"outbox\""}
    try:
        found = credentials_found(config, os.environ)
    except CredentialsError:  # incomplete or insecure credentials: `auth status` says which; the network is meant
        found = True
    if found or kind == "x":
        return {"kind": config.network, "outbox": None, "why": None}
    return {"kind": "outbox", "outbox": str(outbox_path(config)),
            "why": f"no {NETWORK_NAMES[config.network]} credentials"}
