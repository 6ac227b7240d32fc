"""Each request's account: the ``Web`` (one ledger, one configuration) narrowed to the account a request names."""

from __future__ import annotations


import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa
from starlette.exceptions import HTTPException

from scheduler.app.access import FORGET_FAILURES, SESSION_LIFETIME, LoginLimiter, local_session, open_session
from scheduler.config import Config
from scheduler.domain.errors import ConfigError
from scheduler.ledger.store import Store
from scheduler.planning.plan_cache import PlanCache
from scheduler.web.actions import Actions


log = logging.getLogger("scheduler.web")

HERE = Path(__file__).parent


PRUNE_EVERY = timedelta(minutes=10)  # how often the dashboard deletes expired sessions from the ledger


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass
class Web:
    """What every handler needs: the configuration, the ledger, the clock and the login limiter."""

    config: Config
    store: Store
    local_only: bool  # bound to a loopback address: may run without a password
    clock: Callable[[], datetime] = utc_now
    limiter: object = field(default=None)
    # Plans and calendar parts kept while neither the ledger nor time has changed them (shared by the
    # accounts' views of this Web: ``for_account`` copies the reference).
    plan_cache: PlanCache = field(default_factory=PlanCache)
    _next_prune: datetime | None = field(default=None, init=False, repr=False)
    _prune_lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self):
        if self.limiter is None:
            self.limiter = LoginLimiter(self.store)

    @property
    def session_seconds(self) -> int:
        return int(SESSION_LIFETIME.total_seconds())

    def open_mode(self) -> bool:
        """No password set and bound to loopback: pages open to whoever can reach 127.0.0.1."""
        return self.local_only and not self.store.has_password()

    def open_session(self, username: str):
        return open_session(self.store, username, self.clock())

    def local_session(self):
        """A password-less session (a signed cookie; nothing written)."""
        return local_session(self.store, self.clock())

    def prune_if_due(self) -> None:
        """Every ``PRUNE_EVERY`` (by this Web's clock): expired sessions and forgotten sign-in counts leave the
        ledger."""
        now = self.clock()
        with self._prune_lock:
            if self._next_prune is not None and now < self._next_prune:
                return
            self._next_prune = now + PRUNE_EVERY
        try:
            self.store.prune_web(now, forget_logins=FORGET_FAILURES)
        except sa.exc.DBAPIError as exc:  # e.g. a deadlock with a sign-in on PostgreSQL: the next round prunes
            log.warning("could not delete expired sessions from the ledger (%s); trying again in %s",
                        type(exc.orig).__name__, PRUNE_EVERY)

    @property
    def several(self) -> bool:
        """More than one account: pages show the switcher and every link names its account."""
        return len(self.config.accounts) > 1

    def for_account(self, name: str | None, *, api: bool) -> Web:
        """This Web as account ``name`` sees it (None: the chosen account); ``AccountNotFound`` when unknown."""
        root = self.config
        known = ", ".join(a.name for a in root.accounts) or "none"
        if name is None:
            if root.selected is not None or not root.accounts:
                return self
            if api:
                raise AccountNotFound(400, f"{len(root.accounts)} accounts are configured ({known}): add "
                                           f"?account=NAME to the request (or set default_account in scheduler.toml)")
            return replace(self, config=root.for_account(root.accounts[0].name))
        try:
            account = root.account_named(name)
        except ConfigError:
            raise AccountNotFound(404, f"no account named {name!r}; this dashboard's accounts: {known} "
                                       f"(use ?account=NAME)") from None
        if root.selected is account:
            return self
        return replace(self, config=root.for_account(account.name))

    def actions(self, request):
        principal = request.state.principal
        return Actions(self.store, self.config, principal.actor, self.clock, principal.role)


class AccountNotFound(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def account_web(request) -> Web:
    """The request's ``Web`` for its account (``?account=``), resolved once per request."""
    state = request.scope.setdefault("state", {})
    if "account_web" not in state:
        web: Web = request.app.state.web
        name = request.query_params.get("account") or None
        try:
            state["account_web"] = web.for_account(name, api=request.url.path.startswith("/api/"))
        except AccountNotFound as exc:
            raise HTTPException(exc.status, exc.message) from None
    return state["account_web"]


def account_link(request, path: str) -> str:
    """``path`` on this site for the request's account: with several accounts it names the account, so a
    choice made with the switcher holds while navigating. Call after ``account_web`` has succeeded."""
    web = account_web(request)
    return with_account_query(path, web.config.account_name if web.several else None)


def with_account_query(path: str, account: str | None) -> str:
    if not account:
        return path
    from urllib.parse import quote

    path, hash_, fragment = path.partition("#")
    sep = "&" if "?" in path else "?"
    return f"{path}{sep}account={quote(account, safe='')}{hash_}{fragment}"
