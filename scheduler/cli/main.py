"""The command line: parse, call the module that owns the concept, print.

Heavy libraries (SQLAlchemy, tweepy, Jinja2, APScheduler) are imported inside the commands that
need them, so ``scheduler --help`` starts fast. Domain errors become a message and a non-zero exit
here, and nowhere else.
"""

from __future__ import annotations

from scheduler.cli.base import cli  # noqa: F401 (the root group, with every command below registered on it)
from scheduler.cli import content  # noqa: F401 (registers its commands)
from scheduler.cli import queue  # noqa: F401 (registers its commands)
from scheduler.cli import service  # noqa: F401 (registers its commands)
from scheduler.cli import dashboard  # noqa: F401 (registers its commands)
from scheduler.cli import demo  # noqa: F401 (registers its commands)
from scheduler.cli import feeds  # noqa: F401 (registers its commands)
from scheduler.cli import auth  # noqa: F401 (registers its commands)
from scheduler.cli import review  # noqa: F401 (registers its commands)

from scheduler.cli import insights  # noqa: F401 (registers its commands)
