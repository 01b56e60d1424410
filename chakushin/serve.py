"""``chakushin serve``: every service of one node in one asyncio process (OPS-1).

The parts, each switched on or off by ``[serve]``: the FastAGI server (the
temporary-password IVR, call routing and the nuisance feature code; a
thread per call, see ``agi/server.py``), the notifier (AMI in, decisions
and mail out), the settings site, the provisioning API (issue 18, ``[api]``;
off by default) and the metrics endpoint; the node reports itself in the
database for ``chakushin status``. The SQLite database is created or
migrated on first start (a PostgreSQL one must be upgraded on purpose).

Stopping (``stop`` set, e.g. by SIGTERM): the AGI port closes at once and
the calls in progress get ``serve.shutdown_timeout_seconds`` to end; the
notifier decides the calls whose outcome has come, each SMTP connection
finishes its mail, and what is not sent in that time goes back to the
outbox, due at the next start. Nothing accepted is lost.

``chakushin site``, ``chakushin agi-server`` and ``chakushin notifier`` are
this node with fewer roles (``with_roles``). Every part is built by the
composition root, ``chakushin.bootstrap``; the node checks the database,
binds, starts and stops those parts in its order, and tells the reporter
when something worth reporting changes. It keeps only the last problem
logged (``last_problem``), made before the run so that the logging can
feed it.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import structlog
from sqlalchemy.engine import Engine

from agi.server import FastAGIServer
from chakushin import bootstrap, node
from chakushin.config import Config, ConfigError, is_loopback
from chakushin.metrics import MetricsServer
from notifier.app import NotifierService
from notifier.outbox import Sender
from store import db
from web.server import SiteServer
from web.sessions import purge_sessions

log = structlog.get_logger("chakushin.serve")
_T = TypeVar("_T")


@dataclass
class Ready:
    """What a started node listens on (ports are known once bound; 0 in the config picks one)."""

    node_name: str
    roles: tuple[str, ...]
    agi_port: int | None = None
    metrics_port: int | None = None
    site_port: int | None = None
    api_port: int | None = None


def roles_of(config: Config) -> tuple[str, ...]:
    s = config.serve
    parts = (("agi", s.agi), ("notifier", s.notifier), ("site", s.site), ("api", s.api))
    roles = tuple(name for name, on in parts if on)
    if not roles:
        raise ConfigError(
            "nothing to run: serve.agi, serve.notifier, serve.site and serve.api are all off",
            key="serve",
        )
    return roles


def with_roles(
    config: Config,
    *,
    agi: bool,
    notifier: bool,
    site: bool,
    api: bool = False,
    metrics: bool | None = None,
) -> Config:
    """The same node with only these roles (``metrics``: None keeps ``[metrics]``'s switch)."""
    return dataclasses.replace(
        config,
        serve=dataclasses.replace(config.serve, agi=agi, notifier=notifier, site=site, api=api),
        metrics=dataclasses.replace(
            config.metrics, enabled=config.metrics.enabled if metrics is None else metrics
        ),
    )


@dataclass
class Node:
    """One ``chakushin serve`` process. ``senders`` replaces the configured mailer (demo, tests)."""

    config: Config
    engine: Engine
    senders: list[Sender] | None = None
    last_problem: node.LastProblem = field(
        default_factory=lambda: node.LastProblem(lambda: dt.datetime.now(dt.UTC))
    )
    notifier: NotifierService | None = field(default=None, init=False)
    agi: FastAGIServer | None = field(default=None, init=False)
    # Sessions the AGI port's stop cut after the grace time (known once stopped).
    agi_cut: int | None = field(default=None, init=False)

    async def run(
        self, stop: asyncio.Event, on_ready: Callable[[Ready], None] | None = None
    ) -> None:
        c = self.config
        roles = roles_of(c)
        # Everything that can refuse to start is checked before any part
        # runs; a part that then fails to start stops the ones started (the
        # finally below), and the command exits 1 with one line (issue 12).
        sessions = await asyncio.to_thread(bootstrap.open_sessions, self.engine)
        await asyncio.to_thread(db.check_integrity, self.engine)
        # The AGI port's grace time; the root gives the notifier the same value.
        grace = float(c.serve.shutdown_timeout_seconds)
        mails = c.serve.notifier or c.serve.site or c.serve.api  # api: 送信テスト (MAIL-2)
        templates = bootstrap.load_templates(c) if mails else None
        if c.serve.notifier:
            self.notifier = bootstrap.notifier_service(
                c, sessions, senders=self.senders, templates=templates
            )

        reporter = bootstrap.node_reporter(c, sessions, roles, self._snapshot)
        name = reporter.name
        loop = asyncio.get_running_loop()

        def problem_logged() -> None:  # from any thread
            with contextlib.suppress(RuntimeError):  # the loop has already closed
                loop.call_soon_threadsafe(reporter.changed)

        self.last_problem.on_change = problem_logged
        if self.notifier is not None:
            self.notifier.state_listener = lambda _state: reporter.changed()

        agi_thread: threading.Thread | None = None
        metrics: MetricsServer | None = None
        site: SiteServer | None = None
        api: SiteServer | None = None
        try:
            if c.serve.agi:
                self.agi = _listen("agi", lambda: bootstrap.agi_server(c, sessions))
                agi_thread = threading.Thread(target=self.agi.serve_forever, name="fastagi-accept")
                agi_thread.start()
            site_deps = (
                bootstrap.site_deps(c, sessions, templates=templates) if c.serve.site else None
            )
            if site_deps is not None:
                app = bootstrap.site_app(site_deps)
                site = _listen("site", lambda: bootstrap.site_server(c, app))
            if c.serve.api:
                api_app = bootstrap.api_app(bootstrap.api_deps(c, sessions, templates=templates))
                api = _listen("api", lambda: bootstrap.api_server(c, api_app))
                if not is_loopback(c.api.host):
                    # Allowed: the operator set api.host (chakushin.example.toml says so).
                    log.info("api_beyond_loopback", host=c.api.host, port=api.port)
            if c.metrics.enabled:
                metrics = _listen(
                    "metrics",
                    lambda: bootstrap.metrics_server(
                        c,
                        sessions,
                        name,
                        notifier=self.notifier,
                        agi=self.agi.stats if self.agi is not None else None,
                        site_logins=site_deps.logins if site_deps is not None else None,
                    ),
                )
            ready = Ready(
                name,
                roles,
                agi_port=self.agi.port if self.agi is not None else None,
                metrics_port=metrics.port if metrics is not None else None,
                site_port=site.port if site is not None else None,
                api_port=api.port if api is not None else None,
            )
            log.info("serve_ready", **dataclasses.asdict(ready))
            if on_ready is not None:
                on_ready(ready)
            async with asyncio.TaskGroup() as group:
                group.create_task(reporter.run(stop))
                if self.notifier is not None:
                    group.create_task(self.notifier.run(stop))
                if self.agi is not None:
                    group.create_task(self._stop_agi_on(stop, grace))
                if site is not None and site_deps is not None:
                    group.create_task(site.run(stop))
                    group.create_task(purge_sessions(site_deps.store, stop))
                if api is not None:
                    group.create_task(api.run(stop))
        finally:
            if agi_thread is not None and self.agi is not None:
                if self.agi.socket.fileno() != -1:  # not stopped: another part failed
                    await asyncio.to_thread(self.agi.stop, grace)
                agi_thread.join()
            await reporter.stopped()
            if site is not None:
                site.close()  # a no-op once it has run
            if api is not None:
                api.close()
            if metrics is not None:
                metrics.stop()
            log.info("serve_stopped", node=name)

    async def _stop_agi_on(self, stop: asyncio.Event, grace: float) -> None:
        assert self.agi is not None
        await stop.wait()
        await asyncio.to_thread(self.agi.close_port)
        log.info("agi_stopping", active_sessions=self.agi.stats.active, grace=grace)
        self.agi_cut = await asyncio.to_thread(self.agi.finish, grace)
        log.info("agi_stopped", sessions=dict(self.agi.stats.finished), cut=self.agi_cut)

    def _snapshot(self) -> node.NodeSnapshot:
        return node.NodeSnapshot(
            ami_state=self.notifier.ami_state.value if self.notifier is not None else "",
            agi_active=self.agi.stats.active if self.agi is not None else 0,
            last_error=self.last_problem.text,
            last_error_at=self.last_problem.at,
        )


def _listen(part: str, make: Callable[[], _T]) -> _T:
    """Bind a listening part; a port in use becomes a clear config error."""
    try:
        return make()
    except OSError as exc:
        key = f"{part}.port"
        raise ConfigError(f"cannot listen: {exc.strerror or exc}", key=key) from None


async def serve_until_signal(node_: Node, on_ready: Callable[[Ready], None] | None = None) -> None:
    """Run until SIGINT or SIGTERM (what ``chakushin serve`` does)."""
    import signal

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await node_.run(stop, on_ready)
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(ValueError, RuntimeError):
                loop.remove_signal_handler(signum)
