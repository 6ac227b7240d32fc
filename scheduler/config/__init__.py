"""scheduler.toml: where it is found, what it may hold, and the checked settings it yields.

Every key is declared once in ``SCHEMA`` with its type, default and meaning; anything else in the
file is an error naming the key, its line and what is allowed. The file is read whole and checked
whole before anything uses it, so a bad file changes nothing (the service keeps its previous
settings on a bad SIGHUP reload).

Lookup order: ``--config PATH``, then ``$SCHEDULER_CONFIG``, then ``./scheduler.toml``; with none,
the defaults apply. ``$SCHEDULER_HOME`` moves the data directory (ledger, outbox, tokens).

    schema.py     every key: its checker, default and meaning (SCHEMA, ACCOUNT_SCHEMA)
    checks.py     the value checkers the schema names
    settings.py   the checked configuration (Config, Account)
    accounts.py   checking [account] / [[accounts]]
    includes.py   [[accounts]] from included files (include = ["accounts/*.toml"])
    lines.py      where keys sit in a TOML text, for errors naming file:line
    loading.py    finding, reading and checking the file (load_config, parse_config, data_dir)
"""

from __future__ import annotations

from scheduler.config.loading import load_config, parse_config
from scheduler.config.schema import BSKY_SERVICE
from scheduler.config.settings import Config

__all__ = ["BSKY_SERVICE", "Config", "load_config", "parse_config"]
