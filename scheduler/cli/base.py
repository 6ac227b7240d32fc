"""What every command shares: the context (configuration, ledger, account), time parsing, JSON output, the root group."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

import click

from scheduler.domain import when
from scheduler.domain.errors import InputError, SchedulerError

if TYPE_CHECKING:
    from scheduler.config import Config


class Context:
    """Lazily opened configuration and ledger, shared by one command's run."""

    def __init__(self, config_path: str | None, account_name: str | None = None):
        self.config_path = config_path
        self.account_name = account_name  # --account; None: the only account, or default_account
        self._root = None
        self._config = None
        self._store = None

    @property
    def root_config(self):
        """The whole configuration, every account."""
        if self._root is None:
            from scheduler.config import load_config  # lazy: config parsing (tomllib, zoneinfo) ~13 ms; `scheduler --help` loads every command module

            self._root = load_config(self.config_path)
        return self._root

    @property
    def config(self):
        """The configuration as the chosen account sees it."""
        if self._config is None:
            self._config = self.root_config.for_account(self.account_name)
        return self._config

    def for_account(self, name: str):
        """Another Context on the same ledger, for account ``name``."""
        other = Context(self.config_path, name)
        other._root, other._store = self.root_config, self.store
        return other

    @property
    def store(self):
        if self._store is None:
            from scheduler.ledger.store import Store  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

            # The ledger is every account's: opening it must not need an account chosen (`web token create`,
            # `web passwd` and `import --to` run with several accounts and no default_account).
            self._store = Store.open(self.root_config.database_url)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def now_utc() -> datetime:
    return datetime.now(UTC)


def parse_when(value: str, tz) -> datetime:
    """ISO 8601; without an offset it is the account's local time (scheduler.domain.when)."""
    try:
        return when.parse_when(value, tz)
    except InputError as exc:
        raise click.BadParameter(str(exc)) from None


def emit_json(data) -> None:
    click.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


pass_ctx = click.make_pass_decorator(Context)


class Dashboard(Protocol):
    """What the CLI needs of the dashboard. ``scheduler.entry`` hands it over: the CLI never imports the web
    layer, nor the web layer the CLI."""

    def serve_forever(self, config: Config, host: str, port: int) -> int:
        """`scheduler web`: serve in the foreground until stopped; the exit status."""

    def start(self, config: Config, address: str) -> Any:
        """`serve --web ADDRESS`: serve in a thread of this process; returns what to ``stop()``."""


_dashboard: list[Dashboard] = []


def use_dashboard(dashboard: Dashboard) -> None:
    _dashboard[:] = [dashboard]


def dashboard() -> Dashboard:
    if not _dashboard:
        raise click.ClickException("this program was built without the dashboard (run it as `scheduler`)")
    return _dashboard[0]


def _choose_account(ctx, param, value):
    if value is not None:
        ctx.ensure_object(Context).account_name = value
    return value


def account_option(expose: bool = False):
    return click.Option(["--account"], metavar="NAME", expose_value=expose, is_eager=True, callback=_choose_account,
                        help="The account (a name from [[accounts]]); default: the only one, or default_account.")


class AccountCommand(click.Command):
    """Every command takes --account NAME."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if not any(getattr(p, "name", None) == "account" for p in self.params):
            self.params.append(account_option())


def with_account(obj: Context, rows):
    from scheduler.app.views import with_account as add  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    return add(obj.config, rows)


class CLIGroup(click.Group):
    command_class = AccountCommand
    group_class = type  # subgroups are CLIGroups too, so their commands take --account

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except SchedulerError as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(exc.exit_code)
        finally:
            if isinstance(ctx.obj, Context):
                ctx.obj.close()


@click.group(cls=CLIGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--config", "config_path", metavar="PATH", help="scheduler.toml to use (default: $SCHEDULER_CONFIG, ./scheduler.toml).")
@click.option("--account", "account_name", metavar="NAME", help="The account every command below is for.")
@click.version_option(package_name="tip-scheduler")
@click.pass_context
def cli(ctx, config_path, account_name):
    """Turn articles of numbered tips into posts on X, Bluesky and Mastodon, published on a calendar."""
    ctx.obj = Context(config_path, account_name)


def _wrote(obj: Context, post_ids, now) -> None:
    """The command line's user (their login name) gave these posts their text: separation of duties in review."""
    from scheduler.review import policy as review  # lazy: pulls in SQLAlchemy and the ledger; `scheduler --help` loads every command module

    review.record_change(obj.store, obj.config, list(post_ids), who=review.actor(None), now=now)
