"""The program's entry point: the command line, handed the dashboard.

The CLI (``scheduler.cli``) and the dashboard (``scheduler.web``) are two interfaces over the same application
functions and never import each other. Two commands run the dashboard (`scheduler web`, `scheduler serve --web`);
this module, the composition root, is the one place that joins them.
"""

from __future__ import annotations

from scheduler.cli.base import use_dashboard
from scheduler.cli.main import cli


class _Dashboard:
    """scheduler.web.server, imported only by the commands that run it."""

    def serve_forever(self, config, host: str, port: int) -> int:
        from scheduler.web.server import serve_forever  # lazy: Starlette and uvicorn would slow every command

        return serve_forever(config, host, port)

    def start(self, config, address: str):
        from scheduler.web.server import start  # lazy: as above

        return start(config, address)


def main() -> None:
    use_dashboard(_Dashboard())
    cli(prog_name="scheduler")
