"""The ``chakushin`` command (OPS-2): provisioning and settings for operators.

Every command that writes runs in one transaction through ``store.service``,
so bad input exits non-zero with a one-line reason and writes nothing.
``--json`` (on any command, or before it) prints machine-readable output.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import click
import structlog
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from chakushin import config as config_mod
from chakushin import logs
from chakushin.cli_prompts import prompts
from chakushin.config import Config, ConfigError
from chakushin.options import config_path_option
from store import db, service
from store.errors import DomainError
from store.models import AuthUnit, Number, Service, VoiceWarpMode

# --- context and error handling ---------------------------------------------------


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
            self._engine = db.make_engine(self.config.database_url)
        return self._engine

    def sessions(self) -> sessionmaker[Session]:
        """The session factory, once the schema is current (created on first use)."""
        if self._sessions is None:
            db.ensure_schema(self.engine())
            self._sessions = db.session_factory(self.engine())
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


def _fail(ctx: click.Context, code: str, message: str) -> NoReturn:
    app = ctx.find_object(App)
    if app is not None and app.json:
        click.echo(json.dumps({"error": code, "message": message}, ensure_ascii=False), err=True)
    else:
        click.echo(f"error: {message}", err=True)
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


class RootGroup(Group):
    """Turns every expected failure into one line on stderr and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DomainError as exc:
            _fail(ctx, exc.code, exc.message)
        except ConfigError as exc:
            _fail(ctx, "config", str(exc))
        except IntegrityError as exc:
            # A concurrent writer got there first; the schema's constraints held.
            _fail(
                ctx,
                "conflict",
                f"the change conflicts with stored data, nothing written ({db.first_line(exc)})",
            )
        except OperationalError as exc:
            _fail(ctx, "database_unavailable", f"database error: {db.first_line(exc)}")
        except SQLAlchemyError as exc:
            _fail(ctx, "database", f"database error: {db.first_line(exc)}")
        finally:
            app = ctx.find_object(App)
            if app is not None:
                app.close()


pass_app = click.make_pass_decorator(App)


def _emit(app: App, data: Any, text: Callable[[], str]) -> None:
    if app.json:
        app.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        app.echo(text())


def _on_off(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bool | None:
    return None if value is None else value.lower() == "on"


ON_OFF = click.Choice(["on", "off"], case_sensitive=False)


def _services(value: str | None) -> list[Service]:
    if value is None:
        return list(Service)
    names = [part.strip() for part in value.split(",") if part.strip()]
    wrong = [n for n in names if n not in {s.value for s in Service}]
    if wrong:
        raise click.BadParameter(
            f"unknown service(s) {', '.join(wrong)}; known: {', '.join(s.value for s in Service)}"
        )
    return [Service(n) for n in names]


# --- text output -------------------------------------------------------------------


def _yes(flag: bool) -> str:
    return "on" if flag else "off"


def render_number(d: dict[str, Any]) -> str:
    mail = d["mail"]
    role = "contract number" if d["is_contract"] else "additional number"
    lines = [
        f"{d['number']}  ({role} of line {d['contract_number']}, auth unit {d['auth_unit']})",
        f"  endpoint:        {d['endpoint'] or '-'}",
        f"  time zone:       {d['timezone']}",
        f"  services:        {', '.join(d['services']) or '-'}",
        f"  mail service:    {'started' if mail['started'] else 'stopped'}",
        f"  conditions:      designated only {_yes(mail['designated_only'])}, "
        f"unanswered only {_yes(mail['unanswered_only'])}",
        f"  addresses ({len(mail['addresses'])}/5):",
    ]
    lines += [
        f"    {a['position']}. {a['address']}  send {_yes(a['send'])}" for a in mail["addresses"]
    ]
    lines.append(f"  designated numbers ({len(mail['designated_numbers'])}/30):")
    lines += [
        f"    {x['position']}. {x['caller_number']}  designated {_yes(x['designated'])}"
        for x in mail["designated_numbers"]
    ]
    lines.append(f"  nuisance list ({len(d['nuisance_list'])}/30):")
    lines += [
        f"    {x['position']}. {x['caller_number'] or '(withheld caller)'}"
        for x in d["nuisance_list"]
    ]
    nr, vw = d["number_request"], d["voice_warp"]
    lines.append(
        f"  number request:  {_yes(nr['enabled'])} (payphone {_yes(nr['reject_payphone'])}, "
        f"unavailable {_yes(nr['reject_unavailable'])})"
    )
    lines.append(
        f"  voice warp:      {_yes(vw['enabled'])} ({vw['mode']} to {vw['destination'] or '-'}, "
        f"ring {vw['ring_seconds']} s)"
    )
    return "\n".join(lines)


def _show(app: App, found: Number) -> None:
    data = service.describe_number(found)
    _emit(app, data, lambda: render_number(data))


def _line_data(line: Any) -> dict[str, Any]:
    return {
        "contract_number": line.contract_number,
        "auth_unit": line.auth_unit.value,
        "numbers": [n.number for n in line.numbers],
    }


# --- root ---------------------------------------------------------------------------


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


def main() -> None:
    cli(prog_name="chakushin", obj=App(config_path=None))


# --- config and db --------------------------------------------------------------------


@cli.group()
def config() -> None:
    """Show and check the configuration."""


@config.command("check")
@pass_app
def config_check(app: App) -> None:
    """Validate the configuration and print the effective values (secrets masked).

    The mail templates are loaded and checked too, as ``serve`` will.
    """
    from notifier.mail import TemplateError, Templates

    try:
        Templates.load(app.config.mail.templates_dir or None)
    except TemplateError as exc:
        raise ConfigError(str(exc), key="mail.templates_dir") from None
    shown = config_mod.effective(app.config)

    def text() -> str:
        out = [f"# config: {app.config.source} (valid)"]
        for key, value in shown.items():
            if isinstance(value, dict):
                out.append(f"[{key}]")
                out += [f"{k} = {json.dumps(v, ensure_ascii=False)}" for k, v in value.items()]
            else:
                out.append(f"{key} = {json.dumps(value, ensure_ascii=False)}")
        return "\n".join(out)

    _emit(app, {"source": app.config.source, "config": shown}, text)


@cli.group("db")
def db_group() -> None:
    """Create or upgrade the database schema."""


@db_group.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Create the database or migrate it to the schema of this version."""
    engine = app.engine()
    before = db.current_revision(engine)
    db.upgrade(engine)
    after = db.current_revision(engine)
    _emit(
        app,
        {"from": before, "to": after},
        lambda: (
            f"database at revision {after}"
            + (f" (was {before or 'empty'})" if before != after else "")
        ),
    )


@db_group.command("status")
@pass_app
def db_status(app: App) -> None:
    """Print the schema revision of the database and the one this version needs."""
    engine = app.engine()
    current, head = db.current_revision(engine), db.head_revision(engine)
    _emit(
        app,
        {"current": current, "head": head, "up_to_date": current == head},
        lambda: f"database revision {current or '(empty)'}, this version needs {head}",
    )
    if current != head:
        sys.exit(1)


# --- services ----------------------------------------------------------------------


@cli.command("serve")
@pass_app
def serve_command(app: App) -> None:
    """Run this node's services (OPS-1) until SIGINT or SIGTERM.

    The FastAGI server, the notifier and the metrics endpoint, as switched
    on in [serve] and [metrics]; the SQLite database is created on first
    start. Exit status 0 after a clean stop.
    """
    import asyncio

    from chakushin import serve

    app.verbose = True
    config = app.config
    node = serve.Node(config, app.engine())
    logs.configure(config.log.level, config.log.format, on_problem=node.last_problem)

    def ready(r: serve.Ready) -> None:
        parts = []
        if r.agi_port is not None:
            parts.append(f"FastAGI on {config.agi.host}:{r.agi_port}")
        if "notifier" in r.roles:
            parts.append(f"notifier on AMI {config.ami.host}:{config.ami.port}")
        if r.site_port is not None:
            parts.append(f"settings site on http://{config.site.host}:{r.site_port}/")
        if r.metrics_port is not None:
            parts.append(f"metrics on http://{config.metrics.host}:{r.metrics_port}/metrics")
        click.echo(f"chakushin serve ({r.node_name}): {'; '.join(parts)}", err=True)

    asyncio.run(serve.serve_until_signal(node, ready))


@cli.command("site")
@pass_app
def site_command(app: App) -> None:
    """Run only the settings site (SITE-*) until SIGINT or SIGTERM (`serve` runs everything).

    The site's mails (one-time passwords, address verification) go through
    the outbox: a notifier on the same database delivers them.
    """
    import asyncio
    import dataclasses

    from chakushin import serve

    app.verbose = True
    config = app.config
    only_site = dataclasses.replace(
        config, serve=dataclasses.replace(config.serve, agi=False, notifier=False, site=True)
    )
    node = serve.Node(only_site, app.engine())
    logs.configure(config.log.level, config.log.format, on_problem=node.last_problem)

    def ready(r: serve.Ready) -> None:
        click.echo(f"settings site on http://{config.site.host}:{r.site_port}/", err=True)

    asyncio.run(serve.serve_until_signal(node, ready))


@cli.command("status")
@click.option(
    "--forget", metavar="NODE", help="Remove the reports of a retired node, then show the status."
)
@pass_app
@click.pass_context
def status_command(ctx: click.Context, app: App, forget: str | None) -> None:
    """Health of every node and of the outbox; exit status 1 when unhealthy (OPS-4).

    Healthy means: a node runs and reports, every running notifier is
    logged in to AMI, and no mail has waited longer than
    serve.outbox_alert_seconds.
    """
    from chakushin import node

    if forget is not None:
        with app.transaction() as session:
            if not node.forget_node(session, forget):
                _fail(ctx, "not_found", f"no node named {forget!r} has reported")
    health = node.check(app.sessions(), app.config.serve.outbox_alert_seconds)
    _emit(app, health.as_dict(), lambda: node.render(health))
    if not health.healthy:
        ctx.exit(1)


@cli.command("demo")
@click.option(
    "--keep",
    type=click.Path(file_okay=False, path_type=Path),
    help="Run in this (new or empty) directory and keep the database, mails and log.",
)
@pass_app
@click.pass_context
def demo_command(ctx: click.Context, app: App, keep: Path | None) -> None:
    """See chakushin work without Asterisk, in a throw-away database.

    Demo numbers are set up, the services start on free ports, a caller
    sets a temporary password over FastAGI, and 13 calls recorded from a
    real Asterisk reach the notifier over a loopback AMI connection; the
    decisions and the mails (a local Maildir) are shown. Your own config
    and database are not touched.
    """
    import asyncio
    import tempfile

    from chakushin.demo.run import run_demo

    if keep is not None:
        if keep.exists() and any(keep.iterdir()):
            _fail(ctx, "usage", f"{keep} is not empty; --keep needs a new or empty directory")
        keep.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        directory = keep or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="chakushin-demo-"))
        )
        try:
            summary = asyncio.run(run_demo(directory, sys.stdout, show=not app.json))
        except TimeoutError as exc:
            _fail(ctx, "demo_failed", str(exc))
    if app.json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    elif keep is not None:
        click.echo(f"\nkept in {keep}: chakushin.db, maildir/, chakushin.log")


@cli.command("agi-server")
@pass_app
def agi_server(app: App) -> None:
    """Run only the FastAGI server until SIGINT or SIGTERM (`serve` runs everything)."""
    from agi import wiring
    from agi.server import FastAGIServer, SessionLimits

    app.verbose = True
    config = app.config
    engine = app.engine()
    db.ensure_schema(engine)
    server = FastAGIServer(
        (config.agi.host, config.agi.port),
        wiring.routes(db.session_factory(engine), ivr=config.ivr, call=config.call),
        sounds_dir=config.ivr.sounds_dir,
        allowed_peers=config.agi.allowed_peers,
        limits=SessionLimits.from_config(config.agi),
    )
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, name="fastagi-accept")
    thread.start()
    log = structlog.get_logger("chakushin")
    log.info("agi_server_started", host=config.agi.host, port=server.port)
    click.echo(f"FastAGI server listening on {config.agi.host}:{server.port}", err=True)
    stop.wait()
    log.info("agi_server_stopping", active_sessions=server.stats.active)
    cut = server.stop(float(config.serve.shutdown_timeout_seconds))
    thread.join()
    log.info("agi_server_stopped", sessions=dict(server.stats.finished), cut=cut)


@cli.command("notifier")
@pass_app
def notifier_command(app: App) -> None:
    """Run only the notifier (AMI -> decisions -> mail) until SIGINT or SIGTERM."""
    import asyncio

    from notifier.app import NotifierService

    app.verbose = True
    config = app.config
    engine = app.engine()
    db.ensure_schema(engine)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, stop.set)
        service_ = NotifierService(config, db.session_factory(engine))
        click.echo(f"notifier: AMI {config.ami.host}:{config.ami.port}", err=True)
        await service_.run(stop)

    asyncio.run(main())


@cli.group("dialplan")
def dialplan_group() -> None:
    """The Asterisk dialplan chakushin needs (OPS-3)."""


@dialplan_group.command("render")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, writable=True),
    help="Write to this file instead of standard output.",
)
@pass_app
def dialplan_render(app: App, out: str | None) -> None:
    """Render extensions_chakushin.conf for this config (access numbers, AGI address)."""
    from dialplan.render import render

    text = render(app.config)
    if out is None:
        click.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}", err=True)


# --- lines ------------------------------------------------------------------------------

AUTH_UNIT = click.Choice([u.value for u in AuthUnit])


@cli.group()
def line() -> None:
    """Lines (契約者回線) and their auth unit."""


@line.command("add")
@click.argument("contract_number")
@click.option("--auth-unit", type=AUTH_UNIT, default=AuthUnit.LINE.value, show_default=True)
@click.option("--endpoint", help="Asterisk dial string that rings the contract number.")
@click.option("--timezone", help="IANA time zone (default: the config's timezone).")
@click.option("--services", help="Comma-separated services (default: all).")
@pass_app
def line_add(
    app: App,
    contract_number: str,
    auth_unit: str,
    endpoint: str | None,
    timezone: str | None,
    services: str | None,
) -> None:
    """Add a line with its contract number."""
    with app.transaction() as session:
        added = service.add_line(
            session,
            contract_number,
            auth_unit=AuthUnit(auth_unit),
            timezone=timezone or app.config.timezone,
            endpoint=endpoint,
            services=_services(services),
        )
        data = _line_data(added)
    _emit(app, data, lambda: f"line {contract_number} added (auth unit {auth_unit})")


@line.command("list")
@pass_app
def line_list(app: App) -> None:
    """List the lines with their numbers."""
    with app.transaction() as session:
        data = [_line_data(x) for x in service.list_lines(session)]

    def text() -> str:
        if not data:
            return "no lines"
        return "\n".join(
            f"{x['contract_number']}  {x['auth_unit']:<10}  {len(x['numbers'])} number(s)"
            for x in data
        )

    _emit(app, data, text)


@line.command("show")
@click.argument("contract_number")
@pass_app
def line_show(app: App, contract_number: str) -> None:
    """Show a line and every setting of its numbers."""
    with app.transaction() as session:
        found = service.get_line(session, contract_number)
        data = {**_line_data(found), "numbers": [service.describe_number(n) for n in found.numbers]}

    def text() -> str:
        head = f"line {contract_number}, auth unit {data['auth_unit']}"
        return "\n\n".join([head, *(render_number(n) for n in data["numbers"])])

    _emit(app, data, text)


@line.command("remove")
@click.argument("contract_number")
@click.option("--yes", is_flag=True, help="Confirm: removes every number and setting of the line.")
@pass_app
def line_remove(app: App, contract_number: str, yes: bool) -> None:
    """Remove a line with all its numbers and settings."""
    if not yes:
        raise click.UsageError("removing a line removes all its numbers and settings; add --yes")
    with app.transaction() as session:
        service.remove_line(session, contract_number)
    _emit(app, {"removed": contract_number}, lambda: f"line {contract_number} removed")


@line.command("auth-unit")
@click.argument("contract_number")
@click.argument("auth_unit", type=AUTH_UNIT)
@pass_app
def line_auth_unit(app: App, contract_number: str, auth_unit: str) -> None:
    """Set the auth unit (line, number, admin_user) of a line."""
    with app.transaction() as session:
        data = _line_data(service.set_auth_unit(session, contract_number, AuthUnit(auth_unit)))
    _emit(app, data, lambda: f"line {contract_number}: auth unit {auth_unit}")


# --- numbers -------------------------------------------------------------------------


@cli.group()
def number() -> None:
    """Subscriber numbers (contract and additional)."""


@number.command("add")
@click.argument("contract_number")
@click.argument("number")
@click.option("--endpoint", help="Asterisk dial string that rings this number.")
@click.option("--timezone", help="IANA time zone (default: the config's timezone).")
@click.option("--services", help="Comma-separated services (default: all).")
@pass_app
def number_add(
    app: App,
    contract_number: str,
    number: str,
    endpoint: str | None,
    timezone: str | None,
    services: str | None,
) -> None:
    """Add an additional number to the line CONTRACT_NUMBER."""
    with app.transaction() as session:
        added = service.add_number(
            session,
            contract_number,
            number,
            timezone=timezone or app.config.timezone,
            endpoint=endpoint,
            services=_services(services),
        )
        _show(app, added)


@number.command("list")
@click.option("--line", "contract_number", help="Only the numbers of this line.")
@pass_app
def number_list(app: App, contract_number: str | None) -> None:
    """List subscriber numbers."""
    with app.transaction() as session:
        data = [
            {
                "number": n.number,
                "contract_number": n.line.contract_number,
                "is_contract": n.is_contract,
                "mail_started": n.notification.started,
            }
            for n in service.list_numbers(session, contract_number)
        ]

    def text() -> str:
        return (
            "\n".join(
                f"{x['number']:<12} line {x['contract_number']:<12} "
                f"{'contract' if x['is_contract'] else 'additional':<10} "
                f"mail {'started' if x['mail_started'] else 'stopped'}"
                for x in data
            )
            or "no numbers"
        )

    _emit(app, data, text)


@number.command("show")
@click.argument("number")
@pass_app
def number_show(app: App, number: str) -> None:
    """Show everything about one number."""
    with app.transaction() as session:
        _show(app, service.get_number(session, number))


@number.command("remove")
@click.argument("number")
@click.option("--yes", is_flag=True, help="Confirm: removes the number's settings too.")
@pass_app
def number_remove(app: App, number: str, yes: bool) -> None:
    """Remove an additional number and its settings."""
    if not yes:
        raise click.UsageError("removing a number removes all its settings; add --yes")
    with app.transaction() as session:
        service.remove_number(session, number)
    _emit(app, {"removed": number}, lambda: f"number {number} removed")


@number.command("set")
@click.argument("number")
@click.option("--endpoint", help="Asterisk dial string that rings this number.")
@click.option("--no-endpoint", is_flag=True, help="Clear the endpoint.")
@click.option("--timezone", help="IANA time zone for this number's mails.")
@pass_app
def number_set(
    app: App, number: str, endpoint: str | None, no_endpoint: bool, timezone: str | None
) -> None:
    """Change a number's endpoint or time zone."""
    with app.transaction() as session:
        _show(
            app,
            service.update_number(
                session, number, endpoint=endpoint, clear_endpoint=no_endpoint, timezone=timezone
            ),
        )


SERVICE = click.Choice([s.value for s in Service])


@number.command("services")
@click.argument("number")
@click.option("--enable", multiple=True, type=SERVICE, help="Subscribe to a service.")
@click.option("--disable", multiple=True, type=SERVICE, help="Unsubscribe (also switches it off).")
@pass_app
def number_services(
    app: App, number: str, enable: tuple[str, ...], disable: tuple[str, ...]
) -> None:
    """Subscribe or unsubscribe a number's services."""
    with app.transaction() as session:
        _show(
            app,
            service.set_services(
                session,
                number,
                enable=[Service(s) for s in enable],
                disable=[Service(s) for s in disable],
            ),
        )


# --- notification mail -------------------------------------------------------------


@cli.group()
def mail() -> None:
    """Incoming-call notification mail (MAIL-1 ... MAIL-5)."""


@mail.command("start")
@click.argument("number")
@pass_app
def mail_start(app: App, number: str) -> None:
    """Start the service (MAIL-1: needs a destination address)."""
    with app.transaction() as session:
        service.start_mail(session, number)
        _show(app, service.get_number(session, number))


@mail.command("stop")
@click.argument("number")
@pass_app
def mail_stop(app: App, number: str) -> None:
    """Stop the service."""
    with app.transaction() as session:
        service.stop_mail(session, number)
        _show(app, service.get_number(session, number))


@mail.command("conditions")
@click.argument("number")
@click.option(
    "--designated-only",
    type=ON_OFF,
    callback=_on_off,
    help="Notify only calls from designated numbers.",
)
@click.option(
    "--unanswered-only", type=ON_OFF, callback=_on_off, help="Notify only calls not answered."
)
@pass_app
def mail_conditions(
    app: App, number: str, designated_only: bool | None, unanswered_only: bool | None
) -> None:
    """Set the mail conditions (MAIL-4)."""
    with app.transaction() as session:
        service.set_conditions(
            session, number, designated_only=designated_only, unanswered_only=unanswered_only
        )
        _show(app, service.get_number(session, number))


@mail.group("address")
def mail_address() -> None:
    """Destination addresses (at most 5, MAIL-2/3)."""


@mail_address.command("add")
@click.argument("number")
@click.argument("address")
@click.option("--send/--no-send", default=True, show_default=True, help="The send flag.")
@pass_app
def address_add(app: App, number: str, address: str, send: bool) -> None:
    """Add a destination address."""
    with app.transaction() as session:
        service.add_address(session, number, address, send=send)
        _show(app, service.get_number(session, number))


@mail_address.command("remove")
@click.argument("number")
@click.argument("address")
@pass_app
def address_remove(app: App, number: str, address: str) -> None:
    """Remove a destination address."""
    with app.transaction() as session:
        service.remove_address(session, number, address)
        _show(app, service.get_number(session, number))


@mail_address.command("send")
@click.argument("number")
@click.argument("address")
@click.argument("flag", type=ON_OFF, callback=_on_off)
@pass_app
def address_send(app: App, number: str, address: str, flag: bool) -> None:
    """Set an address's send flag on or off."""
    with app.transaction() as session:
        service.set_address_send(session, number, address, flag)
        _show(app, service.get_number(session, number))


@mail.command("test")
@click.argument("number")
@click.argument("address")
@pass_app
def mail_test(app: App, number: str, address: str) -> None:
    """Send a test mail to ADDRESS now and show the mail server's reply (MAIL-2)."""
    import asyncio

    from notifier.app import send_test_mail

    db.ensure_schema(app.engine())
    result = asyncio.run(
        send_test_mail(app.config, db.session_factory(app.engine()), number, address)
    )
    data = {"accepted": result.ok, "permanent": result.permanent, "reply": result.reply}
    if not result.ok:
        raise DomainError(
            f"the mail server did not accept the test mail: {result.reply}",
            code="test_mail_refused",
        )
    _emit(app, data, lambda: f"test mail to {address} accepted: {result.reply}")


@mail.group("designated")
def mail_designated() -> None:
    """Designated caller numbers (at most 30, MAIL-5)."""


@mail_designated.command("add")
@click.argument("number")
@click.argument("caller_number")
@click.option("--designated/--not-designated", default=True, show_default=True)
@pass_app
def designated_add(app: App, number: str, caller_number: str, designated: bool) -> None:
    """Add a designated caller number."""
    with app.transaction() as session:
        service.add_designated(session, number, caller_number, designated=designated)
        _show(app, service.get_number(session, number))


@mail_designated.command("remove")
@click.argument("number")
@click.argument("caller_number")
@pass_app
def designated_remove(app: App, number: str, caller_number: str) -> None:
    """Remove a designated caller number."""
    with app.transaction() as session:
        service.remove_designated(session, number, caller_number)
        _show(app, service.get_number(session, number))


@mail_designated.command("flag")
@click.argument("number")
@click.argument("caller_number")
@click.argument("flag", type=ON_OFF, callback=_on_off)
@pass_app
def designated_flag(app: App, number: str, caller_number: str, flag: bool) -> None:
    """Set the "designated" flag of a caller number on or off."""
    with app.transaction() as session:
        service.set_designated_flag(session, number, caller_number, flag)
        _show(app, service.get_number(session, number))


# --- supplementary services ----------------------------------------------------------


@cli.group()
def nuisance() -> None:
    """Nuisance-call list (迷惑電話おことわり, at most 30, CALL-2)."""


@nuisance.command("add")
@click.argument("number")
@click.argument("caller_number")
@click.option("--hidden", is_flag=True, help="Never show this caller number (withheld caller).")
@pass_app
def nuisance_add(app: App, number: str, caller_number: str, hidden: bool) -> None:
    """Add a caller to the nuisance list."""
    with app.transaction() as session:
        service.add_nuisance(session, number, caller_number, hidden=hidden)
        _show(app, service.get_number(session, number))


@nuisance.command("remove")
@click.argument("number")
@click.argument("caller_number", required=False)
@click.option("--position", type=int, help="Remove the entry at this list position.")
@pass_app
def nuisance_remove(app: App, number: str, caller_number: str | None, position: int | None) -> None:
    """Remove a caller (by number, or by --position for withheld callers)."""
    with app.transaction() as session:
        service.remove_nuisance(session, number, caller_number=caller_number, position=position)
        _show(app, service.get_number(session, number))


@cli.command("number-request")
@click.argument("number")
@click.option("--on/--off", "enabled", default=None, help="Switch Number Request on or off.")
@click.option(
    "--reject-payphone", type=ON_OFF, callback=_on_off, help="Also refuse payphone callers."
)
@click.option(
    "--reject-unavailable",
    type=ON_OFF,
    callback=_on_off,
    help="Also refuse callers without a number.",
)
@pass_app
def number_request(
    app: App,
    number: str,
    enabled: bool | None,
    reject_payphone: bool | None,
    reject_unavailable: bool | None,
) -> None:
    """Number Request (ナンバー・リクエスト, CALL-3): refuse withheld callers."""
    with app.transaction() as session:
        service.set_number_request(
            session,
            number,
            enabled=enabled,
            reject_payphone=reject_payphone,
            reject_unavailable=reject_unavailable,
        )
        _show(app, service.get_number(session, number))


@cli.command("voice-warp")
@click.argument("number")
@click.option("--on/--off", "enabled", default=None, help="Switch forwarding on or off.")
@click.option("--mode", type=click.Choice([m.value for m in VoiceWarpMode]))
@click.option("--to", "destination", help="Forwarding destination number.")
@click.option("--ring-seconds", type=int, help="Ring time before no-answer forwarding (5-60).")
@pass_app
def voice_warp(
    app: App,
    number: str,
    enabled: bool | None,
    mode: str | None,
    destination: str | None,
    ring_seconds: int | None,
) -> None:
    """Voice Warp (ボイスワープ, CALL-4): call forwarding."""
    with app.transaction() as session:
        service.set_voice_warp(
            session,
            number,
            enabled=enabled,
            mode=VoiceWarpMode(mode) if mode else None,
            destination=destination,
            ring_seconds=ring_seconds,
        )
        _show(app, service.get_number(session, number))


cli.add_command(prompts)


if __name__ == "__main__":  # pragma: no cover
    main()
