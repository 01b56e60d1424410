"""A node's reports in the database, and the health verdict of ``chakushin status``.

Every ``chakushin serve`` process (a node) writes one ``service_node`` row:
on start, every ``serve.heartbeat_seconds``, at once when its AMI state
changes, and when it stops. ``chakushin status``, run anywhere that reaches
the database, reads those rows and the outbox and says whether the whole
installation is healthy, so systemd, a monitor or an operator gets one
answer for all nodes sharing a PostgreSQL database.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import os
import socket
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store import aio, db
from store.errors import StoreUnavailable
from store.models import ServiceNode

# Issue 18: the outbox's view is the store's (the API reads it too, and web may not import
# chakushin); status, the metrics and their tests keep these names.
from store.outbox_state import OutboxView as OutboxView
from store.outbox_state import read_outbox as read_outbox

log = structlog.get_logger("chakushin.node")

# A node is "silent" (crashed, hung, cut off from the database) when its
# last report is older than this many heartbeats, plus a margin.
SILENT_AFTER_HEARTBEATS = 3
SILENT_MARGIN = dt.timedelta(seconds=5)
AMI_HEALTHY = "logged_in"
MIN_REPORT_INTERVAL = 1.0  # seconds


def default_node_name(roles: Iterable[str]) -> str:
    """The host name, plus the roles, so that two processes on one host differ."""
    return f"{socket.gethostname()}/{'+'.join(roles)}"


class LastProblem:
    """The newest warning or error logged in this process (thread-safe)."""

    def __init__(self, clock: Callable[[], dt.datetime]) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self.text: str | None = None
        self.at: dt.datetime | None = None
        self.on_change: Callable[[], None] | None = None

    def __call__(self, level: str, event: Mapping[str, Any]) -> None:
        fields = " ".join(
            f"{k}={v}" for k, v in event.items() if k not in ("event", "timestamp", "level")
        )
        text = f"{level}: {event.get('event', '')} {fields}".strip()[:2000]
        with self._lock:
            self.text, self.at = text, self._clock()
        if self.on_change is not None:
            self.on_change()


@dataclass(frozen=True)
class NodeSnapshot:
    """What a node reports about itself right now."""

    ami_state: str = ""
    agi_active: int = 0
    last_error: str | None = None
    last_error_at: dt.datetime | None = None


class NodeReporter:
    """Writes this node's row; ``run()`` keeps it fresh until stopped."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        name: str,
        roles: Sequence[str],
        heartbeat_seconds: int,
        snapshot: Callable[[], NodeSnapshot],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sessions = sessions
        self.name = name
        self.roles = ",".join(roles)
        self.heartbeat_seconds = heartbeat_seconds
        self.snapshot = snapshot
        self.clock = clock
        self.started_at = clock()
        self._changed = asyncio.Event()

    def changed(self) -> None:
        """Something worth reporting at once (AMI state); safe from the loop only."""
        self._changed.set()

    def report(self, *, stopped: bool = False) -> None:
        now = self.clock()
        snap = self.snapshot()
        with db.transaction(self.sessions) as session:
            row = session.get(ServiceNode, self.name, with_for_update=True)
            if row is None:
                row = ServiceNode(name=self.name)
                session.add(row)
            row.roles = self.roles
            row.pid = os.getpid()
            row.started_at = self.started_at
            row.heartbeat_at = now
            row.heartbeat_seconds = self.heartbeat_seconds
            row.stopped_at = now if stopped else None
            row.ami_state = snap.ami_state
            row.agi_active = snap.agi_active
            row.last_error = snap.last_error
            row.last_error_at = snap.last_error_at

    async def run(self, stop: asyncio.Event) -> None:
        """Report now, then every heartbeat and on every change, until ``stop``.

        Changes are reported at most once per ``MIN_REPORT_INTERVAL``: a
        storm of warnings costs one write a second, not one each.
        """
        loop = asyncio.get_running_loop()
        while True:
            # Cleared before the report, so a change while it is written
            # brings the next report at once, not a heartbeat later.
            self._changed.clear()
            await self._report_safely()
            if stop.is_set():
                return
            next_allowed = loop.time() + MIN_REPORT_INTERVAL
            await aio.wait_for_work(self._changed, stop, self.heartbeat_seconds)
            if stop.is_set():
                return
            if loop.time() < next_allowed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), next_allowed - loop.time())

    async def _report_safely(self, *, stopped: bool = False) -> None:
        try:
            await asyncio.to_thread(self.report, stopped=stopped)
        except (SQLAlchemyError, StoreUnavailable) as exc:
            # The services go on; status shows the node as silent meanwhile.
            log.error("node_report_failed", node=self.name, error=db.first_line(exc))

    async def stopped(self) -> None:
        await self._report_safely(stopped=True)


# --- reading: chakushin status --------------------------------------------------------


@dataclass(frozen=True)
class NodeView:
    name: str
    roles: tuple[str, ...]
    pid: int
    started_at: dt.datetime
    heartbeat_at: dt.datetime
    heartbeat_seconds: int
    stopped_at: dt.datetime | None
    ami_state: str
    agi_active: int
    last_error: str | None
    last_error_at: dt.datetime | None

    def state(self, now: dt.datetime) -> str:
        """``running``, ``stopped`` (cleanly) or ``silent`` (no recent report)."""
        if self.stopped_at is not None:
            return "stopped"
        silent_after = SILENT_AFTER_HEARTBEATS * dt.timedelta(seconds=self.heartbeat_seconds)
        if now - self.heartbeat_at > silent_after + SILENT_MARGIN:
            return "silent"
        return "running"


@dataclass(frozen=True)
class Health:
    healthy: bool
    problems: tuple[str, ...]
    nodes: tuple[NodeView, ...]
    outbox: OutboxView
    checked_at: dt.datetime

    def as_dict(self) -> dict[str, Any]:
        def when(value: dt.datetime | None) -> str | None:
            return value.isoformat() if value is not None else None

        nodes = []
        for node in self.nodes:
            data = asdict(node)
            data.update(
                roles=list(node.roles),
                state=node.state(self.checked_at),
                started_at=when(node.started_at),
                heartbeat_at=when(node.heartbeat_at),
                stopped_at=when(node.stopped_at),
                last_error_at=when(node.last_error_at),
            )
            nodes.append(data)
        outbox = asdict(self.outbox)
        outbox.update(
            oldest_pending_at=when(self.outbox.oldest_pending_at),
            last_failure_at=when(self.outbox.last_failure_at),
            oldest_pending_age_seconds=self.oldest_pending_age_seconds,
            # Issue 19: the same by kind (mail, slack, teams, ...).
            by_kind={
                kind: {**asdict(view), "oldest_pending_at": when(view.oldest_pending_at)}
                for kind, view in self.outbox.by_kind.items()
            },
        )
        return {
            "healthy": self.healthy,
            "problems": list(self.problems),
            "checked_at": when(self.checked_at),
            "nodes": nodes,
            "outbox": outbox,
        }

    @property
    def oldest_pending_age_seconds(self) -> float | None:
        oldest = self.outbox.oldest_pending_at
        return None if oldest is None else (self.checked_at - oldest).total_seconds()


def read_nodes(session: Session) -> list[NodeView]:
    rows = session.scalars(select(ServiceNode).order_by(ServiceNode.name)).all()
    return [
        NodeView(
            name=r.name,
            roles=tuple(role for role in r.roles.split(",") if role),
            pid=r.pid,
            started_at=r.started_at,
            heartbeat_at=r.heartbeat_at,
            heartbeat_seconds=r.heartbeat_seconds,
            stopped_at=r.stopped_at,
            ami_state=r.ami_state,
            agi_active=r.agi_active,
            last_error=r.last_error,
            last_error_at=r.last_error_at,
        )
        for r in rows
    ]


def forget_node(session: Session, name: str) -> bool:
    row = session.get(ServiceNode, name)
    if row is None:
        return False
    session.delete(row)
    return True


def assess(
    nodes: Sequence[NodeView], outbox: OutboxView, now: dt.datetime, alert_seconds: int
) -> Health:
    """The verdict: healthy only if every problem below is absent."""
    problems: list[str] = []
    running = [n for n in nodes if n.state(now) == "running"]
    if not running:
        problems.append("no chakushin serve node is running")
    for node in nodes:
        state = node.state(now)
        if state == "silent":
            problems.append(
                f"node {node.name} has not reported since {node.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
                " (crashed or cut off from the database; `chakushin status --forget` if retired)"
            )
        elif state == "running" and "notifier" in node.roles and node.ami_state != AMI_HEALTHY:
            problems.append(f"node {node.name}: AMI connection is {node.ami_state or 'unknown'}")
    if outbox.oldest_pending_at is not None:
        age = (now - outbox.oldest_pending_at).total_seconds()
        if age > alert_seconds:
            problems.append(
                f"{outbox.pending} mail(s) waiting, the oldest for {int(age)} s "
                f"(more than serve.outbox_alert_seconds = {alert_seconds})"
            )
    return Health(not problems, tuple(problems), tuple(nodes), outbox, now)


def check(
    sessions: sessionmaker[Session],
    alert_seconds: int,
    now: dt.datetime | None = None,
) -> Health:
    now = now or dt.datetime.now(dt.UTC)
    with db.transaction(sessions, read_only=True) as session:
        nodes = read_nodes(session)
        outbox = read_outbox(session, now)
    return assess(nodes, outbox, now, alert_seconds)


def render(health: Health) -> str:
    """The text ``chakushin status`` prints."""
    now = health.checked_at
    lines = [f"chakushin: {'healthy' if health.healthy else 'UNHEALTHY'}"]
    lines += [f"  problem: {p}" for p in health.problems]
    lines.append("nodes:")
    if not health.nodes:
        lines.append("  (none has reported: is `chakushin serve` running against this database?)")
    for n in health.nodes:
        ago = int((now - n.heartbeat_at).total_seconds())
        lines.append(
            f"  {n.name}  {n.state(now)}  roles {','.join(n.roles)}  pid {n.pid}  "
            f"last report {ago} s ago"
        )
        if "notifier" in n.roles:
            lines.append(f"    AMI: {n.ami_state or '-'}")
        if "agi" in n.roles:
            lines.append(f"    AGI sessions active: {n.agi_active}")
        if n.last_error:
            at = f"{n.last_error_at:%Y-%m-%d %H:%M:%S} UTC" if n.last_error_at else "?"
            lines.append(f"    last error ({at}): {n.last_error}")
    o = health.outbox
    age = health.oldest_pending_age_seconds
    lines.append(
        f"outbox: {o.pending} waiting ({o.retrying} retrying)"
        + (f", oldest {int(age)} s" if age is not None else "")
        + f"; {o.failed_last_day} failed in the last 24 h"
    )
    for kind, k in o.by_kind.items():  # issue 19: mails and each kind of chat notice
        since = k.oldest_pending_at
        lines.append(
            f"  {kind}: {k.pending} waiting ({k.retrying} retrying, {k.due} due)"
            + (f", oldest {int((now - since).total_seconds())} s" if since is not None else "")
            + f"; {k.failed_last_day} failed in the last 24 h"
        )
    if o.last_failure:
        at = f"{o.last_failure_at:%Y-%m-%d %H:%M:%S} UTC" if o.last_failure_at else "?"
        lines.append(f"  last delivery error ({at}): {o.last_failure}")
    return "\n".join(lines)
