"""`scheduler auth`: log in with OAuth 2.0 and say which credentials each account uses (never their values).

``report`` tells, for one account, what its network needs and what was found: X's OAuth 1.0a values or OAuth 2.0
token file; Bluesky's app password and whether a session is cached (logging in is rate-limited, so a cached one
matters); Mastodon's access token and, when asked to check, whether its server answers and its limit. It names
variables, files and sources, and holds booleans: never a secret, nor any part of one.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scheduler.config import BSKY_SERVICE, Config
from scheduler.domain.errors import CredentialsError
from scheduler.networks.factory import (
    NETWORK_NAMES,
    SECRET_NAMES,
    credentials_found,
    how_to_set,
    outbox_path,
    secret_sources,
    session_file,
    token_file,
    x_credentials,
)
from scheduler.networks.private import read_private
from scheduler.networks.x.credentials import OAuth1Credentials
from scheduler.text.mastodon_length import Limits


def login(config: Config, *, client_id: str, port: int, echo: Callable[[str], None]) -> Path:
    from scheduler.networks.x.oauth2 import run_login  # lazy: requests and the OAuth 2 flow ~60 ms only for `auth login` on X

    path = token_file(config)
    path.parent.mkdir(parents=True, exist_ok=True)
    run_login(client_id, token_file=path, api_url=config.api_url, port=port,
              clock=lambda: datetime.now(UTC), show=echo,
              client_secret=os.environ.get("X_CLIENT_SECRET") or None)
    return path


def report(config: Config, env: Mapping[str, str] | None = None, *, check: bool = False) -> dict[str, Any]:
    """The chosen account's credentials as a dict for --json (no secret in it): ``found``, where from, what its
    publisher will be, ``problem`` (a file that cannot be used, incomplete values) and ``summary`` for people.
    ``check``: also ask a Mastodon server whether it answers (``/api/v2/instance``, no token sent)."""
    env = os.environ if env is None else env
    network = config.network
    outbox = config["publisher"]["kind"] == "outbox"
    result: dict[str, Any] = {"handle": config.chosen.handle, "found": False, "problem": None}
    try:
        result["found"] = credentials_found(config, env)
        if network == "x":
            result.update(_x_report(config, env))
        else:
            name = SECRET_NAMES[network]
            result["from"] = secret_sources(config, env, (name,)).get(name)
    except CredentialsError as exc:
        result["problem"] = str(exc)
    if network == "bluesky":
        result.update(_bluesky_report(config))
    elif network == "mastodon":
        result.update(_mastodon_report(config, check))
    result["publisher"] = "outbox" if outbox or not result["found"] else network
    if result["publisher"] == "outbox":
        result["outbox"] = str(outbox_path(config))
    result["summary"] = _summary(config, result, outbox)
    return result


def _x_report(config: Config, env: Mapping[str, str]) -> dict[str, Any]:
    credentials = x_credentials(config, env)
    if credentials is None:
        return {"kind": None, "from": None, "token_file": str(token_file(config)), "api": config.api_url}
    if isinstance(credentials, OAuth1Credentials):
        names = tuple(name.removeprefix("X_") for name in ("X_API_KEY", "X_API_SECRET", "X_ACCESS_TOKEN",
                                                            "X_ACCESS_TOKEN_SECRET"))
        sources = secret_sources(config, env, names)
        return {"kind": "oauth1", "from": ", ".join(dict.fromkeys(sources.values())) or "the environment",
                "api": config.api_url}
    return {"kind": "oauth2", "from": str(credentials.token_file), "token_file": str(credentials.token_file),
            "api": config.api_url}


def _bluesky_report(config: Config) -> dict[str, Any]:
    path = session_file(config)
    cached, problem = False, None
    if path.exists():
        try:
            # A session string is "handle:::did:::tokens...": only its handle is looked at.
            cached = read_private(path).strip().split(":::")[0].lower() == (config.chosen.handle or "").lower()
        except CredentialsError as exc:
            problem = str(exc)
    found = {"service": config.chosen.instance or BSKY_SERVICE, "session_cached": cached, "session_file": str(path)}
    if problem:
        found["session_problem"] = problem
    return found


def _mastodon_report(config: Config, check: bool) -> dict[str, Any]:
    found: dict[str, Any] = {"instance": config.chosen.instance, "instance_reachable": None, "max_characters": None}
    if check:
        import requests  # lazy: requests ~90 ms only to ask a Mastodon instance; the other auth commands need not pay it

        try:
            response = requests.get(f"{config.chosen.instance}/api/v2/instance",
                                    timeout=config["fetch"]["timeout"].total_seconds())
            response.raise_for_status()
            found["max_characters"] = Limits.from_instance(response.json()).max_characters
            found["instance_reachable"] = True
        except (requests.RequestException, ValueError) as exc:
            found["instance_reachable"] = False
            found["instance_problem"] = type(exc).__name__
    return found


def _summary(config: Config, result: Mapping[str, Any], outbox: bool) -> str:
    network = config.network
    who = f"{config.account_name} ({NETWORK_NAMES[network]}, {config.chosen.handle or 'no handle configured'})"
    lines = [f"{who}:"]
    if result["problem"]:
        lines.append(f"  cannot use its credentials: {result['problem']}")
    elif network == "x" and result.get("kind") == "oauth1":
        lines.append(f"  OAuth 1.0a user context from {result['from']}; API {result['api']}")
    elif network == "x" and result.get("kind") == "oauth2":
        lines.append(f"  OAuth 2.0 user tokens from {result['from']}; API {result['api']}")
    elif result["found"]:
        secret = {"bluesky": "app password", "mastodon": "access token"}[network]
        lines.append(f"  {secret} from {result['from']}")
    else:
        lines.append(f"  no {NETWORK_NAMES[network]} credentials: {how_to_set(config)}")
    if network == "bluesky":
        lines.append(f"  session: {'cached in ' + result['session_file'] if result['session_cached'] else 'none cached yet (the first post logs in)'}"
                     f"; PDS {result['service']}")
        if result.get("session_problem"):
            lines.append(f"  session file cannot be used: {result['session_problem']}")
    if network == "mastodon":
        reach = {None: "not checked (--check asks it)", True: f"answers, max_characters {result['max_characters']}",
                 False: f"does not answer ({result.get('instance_problem')})"}[result["instance_reachable"]]
        lines.append(f"  server {result['instance']}: {reach}")
    if outbox:
        lines.append(f"  publisher: outbox ({result['outbox']}); {NETWORK_NAMES[network]} credentials are not used")
    elif result["publisher"] == "outbox":
        lines.append(f"  posts go to the outbox ({result['outbox']})")
    return "\n".join(lines)
