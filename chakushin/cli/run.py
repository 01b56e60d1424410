"""The commands that run or inspect the installation (OPS-1, OPS-3, OPS-4).

``serve`` runs the node; ``site``, ``agi-server`` and ``notifier`` are the
same node with fewer roles (``chakushin.serve.with_roles``), each with the
start-up line it always printed. ``demo``, ``status``, ``config``, ``db``
and ``dialplan`` read or prepare what the node runs on.
"""

from __future__ import annotations

import contextlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click
import structlog

from chakushin import bootstrap, logs
from chakushin import config as config_mod
from chakushin.cli.app import App, Command, Group, fail, pass_app
from chakushin.cli.output import emit
from chakushin.config import Config
from store import db

if TYPE_CHECKING:  # the node's parts are imported only by the commands that run it
    from chakushin.serve import Node, Ready


def _run_node(app: App, config: Config, on_ready: Callable[[Ready], None]) -> Node:
    """Run the node of ``config`` until SIGINT or SIGTERM, logging at the configured level."""
    import asyncio

    from chakushin import serve

    node = serve.Node(config, app.engine())
    logs.configure(config.log.level, config.log.format, on_problem=node.last_problem)
    asyncio.run(serve.serve_until_signal(node, on_ready))
    return node


@click.command("serve", cls=Command)
@pass_app
def serve_command(app: App) -> None:
    """Run this node's services (OPS-1) until SIGINT or SIGTERM.

    The FastAGI server, the notifier, the settings site for subscribers and
    the metrics endpoint, as switched on in [serve] (agi, notifier, site)
    and [metrics]; the site listens on site.host:site.port (127.0.0.1:8080
    by default). The SQLite database is created on first start. Exit status
    0 after a clean stop.
    """
    app.verbose = True
    config = app.config

    def ready(r: Ready) -> None:
        parts = []
        if r.agi_port is not None:
            parts.append(f"FastAGI on {config.agi.host}:{r.agi_port}")
        if "notifier" in r.roles:
            parts.append(f"notifier on AMI {config.ami.host}:{config.ami.port}")
        if r.site_port is not None:
            parts.append(f"settings site on http://{config.site.host}:{r.site_port}/")
        if r.api_port is not None:
            parts.append(f"provisioning API on http://{config.api.host}:{r.api_port}/api/v1")
        if r.metrics_port is not None:
            parts.append(f"metrics on http://{config.metrics.host}:{r.metrics_port}/metrics")
        click.echo(f"chakushin serve ({r.node_name}): {'; '.join(parts)}", err=True)

    _run_node(app, config, ready)


@click.command("site", cls=Command)
@pass_app
def site_command(app: App) -> None:
    """Run only the settings site (SITE-*) until SIGINT or SIGTERM (`serve` runs everything).

    The site's mails (one-time passwords, address verification) go through
    the outbox: a notifier on the same database delivers them.
    """
    from chakushin.serve import with_roles

    app.verbose = True
    config = app.config

    def ready(r: Ready) -> None:
        click.echo(f"settings site on http://{config.site.host}:{r.site_port}/", err=True)

    _run_node(app, with_roles(config, agi=False, notifier=False, site=True), ready)


@click.command("agi-server", cls=Command)
@pass_app
def agi_server(app: App) -> None:
    """Run only the FastAGI server until SIGINT or SIGTERM (`serve` runs everything)."""
    from chakushin.serve import with_roles

    app.verbose = True
    config = app.config
    log = structlog.get_logger("chakushin")

    def ready(r: Ready) -> None:
        log.info("agi_server_started", host=config.agi.host, port=r.agi_port)
        click.echo(f"FastAGI server listening on {config.agi.host}:{r.agi_port}", err=True)

    only_agi = with_roles(config, agi=True, notifier=False, site=False, metrics=False)
    node = _run_node(app, only_agi, ready)
    if node.agi is not None:
        sessions = dict(node.agi.stats.finished)
        log.info("agi_server_stopped", sessions=sessions, cut=node.agi_cut)


@click.command("notifier", cls=Command)
@pass_app
def notifier_command(app: App) -> None:
    """Run only the notifier (AMI -> decisions -> mail) until SIGINT or SIGTERM."""
    from chakushin.serve import with_roles

    app.verbose = True
    config = app.config

    def ready(_r: Ready) -> None:
        click.echo(f"notifier: AMI {config.ami.host}:{config.ami.port}", err=True)

    _run_node(app, with_roles(config, agi=False, notifier=True, site=False, metrics=False), ready)


@click.command("status", cls=Command)
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
                fail(ctx, "not_found", f"no node named {forget!r} has reported")
    health = node.check(app.sessions(), app.config.serve.outbox_alert_seconds)
    emit(app, health.as_dict(), lambda: node.render(health))
    if not health.healthy:
        ctx.exit(1)


@click.command("demo", cls=Command)
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
            fail(ctx, "usage", f"{keep} is not empty; --keep needs a new or empty directory")
        keep.mkdir(parents=True, exist_ok=True)
    with contextlib.ExitStack() as stack:
        directory = keep or Path(
            stack.enter_context(tempfile.TemporaryDirectory(prefix="chakushin-demo-"))
        )
        try:
            summary = asyncio.run(run_demo(directory, sys.stdout, show=not app.json))
        except TimeoutError as exc:
            fail(ctx, "demo_failed", str(exc))
    if app.json:
        click.echo(json.dumps(summary.as_dict(), ensure_ascii=False, indent=2))
    elif keep is not None:
        click.echo(f"\nkept in {keep}: chakushin.db, maildir/, chakushin.log")


# --- config, db, dialplan ---------------------------------------------------------------


@click.group(cls=Group)
def config() -> None:
    """Show and check the configuration."""


@config.command("check")
@pass_app
def config_check(app: App) -> None:
    """Validate the configuration and print the effective values (secrets masked).

    The mail templates are loaded and checked too, as ``serve`` will.
    """
    bootstrap.load_templates(app.config)
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

    emit(app, {"source": app.config.source, "config": shown}, text)


@click.group("db", cls=Group)
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
    emit(
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
    emit(
        app,
        {"current": current, "head": head, "up_to_date": current == head},
        lambda: f"database revision {current or '(empty)'}, this version needs {head}",
    )
    if current != head:
        sys.exit(1)


@click.group("dialplan", cls=Group)
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

    text = render(bootstrap.dialplan_settings(app.config))
    if out is None:
        click.echo(text, nl=False)
        return
    Path(out).write_text(text, encoding="utf-8")
    click.echo(f"wrote {out}", err=True)
