"""The dashboard's application: one Starlette app over one ledger and one configuration of one or more accounts.

Every page and API route works on one account: ``?account=NAME`` (a name or handle from ``[[accounts]]``),
else the configuration's chosen account (the only one, ``default_account``, or ``scheduler --account NAME
web``). With several accounts and none chosen, pages show the first and the API asks for ``?account=``, as
the CLI asks for ``--account``. ``account_web(request)`` gives the handlers a ``Web`` whose ``config`` is that
account's view (``Config.for_account``), so every read and every change stays within that account.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Mount
from starlette.staticfiles import StaticFiles

from scheduler.config import Config
from scheduler.ledger.store import Store
from scheduler.web.security import Guard
from scheduler.web.context import HERE, utc_now, Web
from scheduler.web import api, pages, review_routes

log = logging.getLogger("scheduler.web")














def create_app(config: Config, store: Store, *, local_only: bool = True,
               clock: Callable[[], datetime] = utc_now):
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
