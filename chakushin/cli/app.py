"""The plumbing of every ``chakushin`` command (OPS-2): the context, ``--json``, the errors.

``App`` is made once per invocation (no globals) and reads the config on
first use. Every expected failure leaves through one exit (``fail``): one
line on stderr, or with ``--json`` one JSON object, and exit status 1; a
usage error exits with 2 (click's own).
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

import click
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chakushin import bootstrap, logs
from chakushin import config as config_mod
from chakushin.config import Config, ConfigError
from chakushin.options import config_path_option
from store import db
from store.errors import DomainError, StoreUnavailable


@dataclass
class App:
    """What every command needs, made once per invocation (no globals)."""

    config_path: str | None = None
    json: bool = False
    verbose: bool = False
    _config: Config | None = None
    _engine: Engine | None = None
    _sessions: sessionmaker[Session] | None = field(default=None, repr=False)
    # Output of a command inside ``transaction``, held until the commit.
    _held: list[str] | None = field(default=None, repr=False)

    @property
    def config(self) -> Config:
        if self._config is None:
            self._config = config_mod.load(self.config_path)
            # The CLI's own output says what changed; -v adds the log events.
            # Services (agi-server) always log at the configured level.
            level = self._config.log.level if self.verbose else "warning"
            logs.configure(level, self._config.log.format)
        return self._config

    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = bootstrap.make_engine(self.config)
        return self._engine

    def sessions(self) -> sessionmaker[Session]:
        """The session factory, once the schema is current (created on first use)."""
        if self._sessions is None:
            self._sessions = bootstrap.open_sessions(self.engine())
        return self._sessions

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work; what the command prints inside it is printed after the commit.

        A commit that fails (a full disk, a lost connection) then prints
        nothing on stdout: the operator never sees data that was not stored.
        """
        self._held = []
        try:
            with db.transaction(self.sessions()) as session:
                yield session
        except BaseException:
            self._held = None
            raise
        held, self._held = self._held, None
        for line in held:
            click.echo(line)

    def echo(self, text: str) -> None:
        """Print now, or after the commit when inside ``transaction``."""
        if self._held is None:
            click.echo(text)
        else:
            self._held.append(text)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()


def fail(ctx: click.Context, code: str, message: str) -> NoReturn:
    """The one exit of an expected failure: one line (or JSON object) on stderr, status 1."""
    app = ctx.find_object(App)
    if app is not None and app.json:
        click.echo(json.dumps({"error": code, "message": message}, ensure_ascii=False), err=True)
    else:
        click.echo(f"error: {message}", err=True)
    ctx.exit(1)


def fail_config(ctx: click.Context, error: ConfigError) -> NoReturn:
    """A config that cannot be used: every problem, one line each (or in the JSON object)."""
    problems = error.problems
    app = ctx.find_object(App)
    if app is not None and app.json:
        shown = [{"key": p.key, "message": str(p)} for p in problems]
        line = {"error": "config", "message": str(error), "problems": shown}
        click.echo(json.dumps(line, ensure_ascii=False), err=True)
    else:
        if len(problems) > 1:
            click.echo(f"error: the configuration has {len(problems)} problems:", err=True)
        for problem in problems:
            click.echo(f"error: {problem}", err=True)
    ctx.exit(1)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        ctx.ensure_object(App).json = True


class Command(click.Command):
    """A command that also takes ``--json``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.params.append(
            click.Option(
                ["--json"],
                is_flag=True,
                expose_value=False,
                callback=_set_json,
                help="Print JSON (for scripts) instead of text.",
            )
        )


class Group(click.Group):
    command_class = Command
    group_class = type  # subgroups are Groups too


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's commands by name, each imported from its module when first asked for.

    ``where`` names each command as ``"module:attribute"``: ``chakushin line
    list`` imports the line commands, not the site, the API, the FastAGI
    server or the migrations (issue 18: a read command starts in well under
    a second). Listing the names imports nothing; ``--help``, which shows
    every command's summary, imports them all.
    """

    def __init__(self, where: Mapping[str, str]) -> None:
        self._where = dict(where)
        self._loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self._loaded:
            module, _, attribute = self._where[name].partition(":")
            command = getattr(importlib.import_module(module), attribute)
            if not isinstance(command, click.Command):
                raise TypeError(f"{self._where[name]} is not a click command")
            self._loaded[name] = command
        return self._loaded[name]

    def __contains__(self, name: object) -> bool:
        return name in self._where or name in self._loaded  # imports nothing

    def __setitem__(self, name: str, command: click.Command) -> None:
        self._loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self._where.pop(name, None)
        self._loaded.pop(name, None)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())

    def _names(self) -> dict[str, None]:
        return dict.fromkeys([*self._where, *self._loaded])


class RootGroup(Group):
    """Turns every expected failure into one line on stderr and exit status 1.

    Its commands are imported when they run (``add_lazy_commands``).
    """

    def add_lazy_commands(self, where: Mapping[str, str]) -> None:
        """Register each command of ``where`` (name: ``"module:attribute"``), imported on use."""
        lazy = LazyCommands(where)
        for name, command in self.commands.items():
            lazy[name] = command
        self.commands = lazy

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (DomainError, StoreUnavailable) as exc:
            # A refusal of the domain, or the store out of reach (issue 13:
            # not a DomainError any more): the same one line either way.
            fail(ctx, exc.code, exc.message)
        except ConfigError as exc:
            fail_config(ctx, exc)
        except IntegrityError as exc:
            # A concurrent writer got there first; the schema's constraints held.
            fail(
                ctx,
                "conflict",
                f"the change conflicts with stored data, nothing written ({db.first_line(exc)})",
            )
        except OperationalError as exc:
            fail(ctx, "database_unavailable", f"database error: {db.first_line(exc)}")
        except SQLAlchemyError as exc:
            fail(ctx, "database", f"database error: {db.first_line(exc)}")
        finally:
            app = ctx.find_object(App)
            if app is not None:
                app.close()


pass_app = click.make_pass_decorator(App)


@click.group(cls=RootGroup)
@config_path_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON (for scripts) instead of text.")
@click.option(
    "-v", "--verbose", is_flag=True, help="Log every change to stderr (at the config's log level)."
)
@click.version_option(package_name="chakushin")
@click.pass_context
def cli(ctx: click.Context, config_path: str | None, as_json: bool, verbose: bool) -> None:
    """chakushin: incoming-call notification mail (着信お知らせメール) for Asterisk."""
    app = ctx.ensure_object(App)
    app.config_path = config_path
    app.json = app.json or as_json
    app.verbose = verbose
