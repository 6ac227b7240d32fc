"""The dashboard's application: one Starlette app over one ledger and one configuration."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from scheduler.config import Config
from scheduler.store import Store

HERE = Path(__file__).parent


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

    def __post_init__(self):
        from scheduler.web.access import LoginLimiter

        if self.limiter is None:
            self.limiter = LoginLimiter()

    @property
    def session_seconds(self) -> int:
        from scheduler.web.access import SESSION_LIFETIME

        return int(SESSION_LIFETIME.total_seconds())

    def open_mode(self) -> bool:
        """No password set and bound to loopback: pages open to whoever can reach 127.0.0.1."""
        return self.local_only and not self.store.has_password()

    def open_session(self, username: str):
        from scheduler.web.access import open_session

        return open_session(self.store, username, self.clock())

    def actions(self, request):
        from scheduler.web.actions import Actions

        return Actions(self.store, self.config, request.state.principal.actor, self.clock)


def create_app(config: Config, store: Store, *, local_only: bool = True,
               clock: Callable[[], datetime] = utc_now):
    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.routing import Mount
    from starlette.staticfiles import StaticFiles

    from scheduler.web import api, pages, review_routes
    from scheduler.web.security import Guard

    web = Web(config, store, local_only, clock)
    routes = [
        Mount("/api/v1", routes=api.routes() + review_routes.api_routes()),
        Mount("/static", app=StaticFiles(directory=HERE / "static"), name="static"),
        *pages.routes(),
        *review_routes.routes(),
    ]
    app = Starlette(routes=routes, middleware=[Middleware(Guard, web=web)],
                    exception_handlers=api.exception_handlers())
    app.state.web = web
    return app
