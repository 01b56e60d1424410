"""OPS-4: the Prometheus metrics of one ``chakushin serve`` process.

The services keep plain counters (``NotifierService``, ``DeliveryWorker``,
``SessionStats``); this collector reads them at scrape time, so nothing in
the call path knows about Prometheus, and the registry is this process's
own (no module-level global). The outbox gauges come from the database at
scrape time: with several nodes on one PostgreSQL database they describe
the shared outbox, which is what an alert on undelivered mail needs.

Issue 19 (CHAT-3): deliveries are also counted by kind, ``mail`` or the chat
kind (slack, teams, discord, chatwork, webhook), in
``chakushin_deliveries{kind,result}`` (the mail worker's counts and the chat
worker's ``counts_by_kind``); ``chakushin_mail_deliveries`` stays the mails'.
The outbox gauges keep counting every row; the ``..._by_kind`` ones split
them by the same kinds (every kind listed, 0 when it has no row).
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agi.server import REFUSAL_REASONS, SessionStats
from chakushin import node
from notifier.amiclient import AmiState
from notifier.app import NotifierService
from store import db
from store.errors import StoreUnavailable
from store.models import ChatKind
from store.outbox_state import CHANNELS, MAIL_CHANNEL, KindView

# The results a delivery is counted under (the workers' counts keys).
RESULTS = ("sent", "failed", "retrying")


@dataclass
class Sources:
    """What this process runs; a part that is switched off is ``None``."""

    sessions: sessionmaker[Session]
    node_name: str
    notifier: NotifierService | None = None
    agi: SessionStats | None = None
    # The site's login attempts by result (web.app.SiteDeps.logins).
    site_logins: Mapping[str, int] | None = None
    clock: Callable[[], dt.datetime] = field(default=lambda: dt.datetime.now(dt.UTC))


class ChakushinCollector(Collector):
    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        s = self.sources
        info = GaugeMetricFamily(
            "chakushin_node_info", "This chakushin serve node", labels=["node"]
        )
        info.add_metric([s.node_name], 1)
        yield info
        if s.notifier is not None:
            yield from self._notifier(s.notifier)
        if s.agi is not None:
            yield from self._agi(s.agi)
        if s.site_logins is not None:
            logins = CounterMetricFamily(
                "chakushin_site_logins",
                "Settings site login attempts: ok, refused (wrong or invalid password), "
                "invalid (malformed input), throttled (too many failures from one address)",
                labels=["result"],
            )
            for result in ("ok", "refused", "invalid", "throttled"):
                logins.add_metric([result], s.site_logins.get(result, 0))
            yield logins
        yield from self._outbox()

    @staticmethod
    def _notifier(n: NotifierService) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "chakushin_calls_seen",
            "Calls to subscriber numbers that ended and were handed to the rules",
            value=n.calls_seen,
        )
        decisions = CounterMetricFamily(
            "chakushin_decisions",
            "Decisions written, by reason (mailed or why not)",
            labels=["reason"],
        )
        for reason, count in sorted(n.notifier.counts.items()):
            decisions.add_metric([reason], count)
        yield decisions
        yield CounterMetricFamily(
            "chakushin_mails_queued",
            "Notification mails put in the outbox",
            value=n.notifier.mails_queued,
        )
        attempts = CounterMetricFamily(
            "chakushin_mail_deliveries",
            "Delivery attempts by result: sent, failed (given up), retrying (will retry)",
            labels=["result"],
        )
        for result, count in sorted(n.worker.counts.items()):
            attempts.add_metric([result], count)
        yield attempts
        yield CounterMetricFamily(
            "chakushin_chats_queued",
            "Chat and webhook notices put in the outbox (one per destination)",
            value=n.notifier.chats_queued,
        )
        by_kind = CounterMetricFamily(
            "chakushin_deliveries",
            "Delivery attempts by kind (mail, slack, teams, discord, chatwork, webhook) and "
            "result: sent, failed (given up), retrying (will retry)",
            labels=["kind", "result"],
        )
        for result in RESULTS:
            by_kind.add_metric([MAIL_CHANNEL, result], n.worker.counts.get(result, 0))
        for kind in ChatKind:
            chat = n.chat_worker.counts_by_kind.get(kind, {})
            for result in RESULTS:
                by_kind.add_metric([kind.value, result], chat.get(result, 0))
        yield by_kind
        yield GaugeMetricFamily(
            "chakushin_ami_connected",
            "1 while logged in to the Asterisk Manager Interface",
            value=1 if n.ami_state is AmiState.LOGGED_IN else 0,
        )
        state = GaugeMetricFamily(
            "chakushin_ami_state",
            "The AMI client's state (1 for the current one)",
            labels=["state"],
        )
        for member in AmiState:
            state.add_metric([member.value], 1 if n.ami_state is member else 0)
        yield state

    @staticmethod
    def _agi(stats: SessionStats) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "chakushin_agi_sessions_active", "FastAGI sessions in progress", value=stats.active
        )
        done = CounterMetricFamily(
            "chakushin_agi_sessions",
            "FastAGI sessions ended, by outcome of the flow",
            labels=["outcome"],
        )
        for outcome, count in sorted(stats.finished.items()):
            done.add_metric([outcome], count)
        yield done
        refused = CounterMetricFamily(
            "chakushin_agi_refused",
            "FastAGI connections refused or sessions cut by a limit, by reason: "
            "not_allowed_peer, too_many_sessions, line_too_long, too_many_env_lines, "
            "deadline, idle",
            labels=["reason"],
        )
        for reason in REFUSAL_REASONS:
            refused.add_metric([reason], stats.refused.get(reason, 0))
        yield refused

    def _outbox(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("chakushin_database_up", "1 when the database answered this scrape")
        now = self.sources.clock()
        try:
            with db.transaction(self.sources.sessions, read_only=True) as session:
                outbox = node.read_outbox(session, now)
        except (SQLAlchemyError, StoreUnavailable):
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "chakushin_outbox_pending", "Mails waiting for delivery", value=outbox.pending
        )
        yield GaugeMetricFamily(
            "chakushin_outbox_retrying",
            "Mails waiting after at least one failed attempt",
            value=outbox.retrying,
        )
        oldest = outbox.oldest_pending_at
        yield GaugeMetricFamily(
            "chakushin_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered mail (0 when none waits)",
            value=0.0 if oldest is None else max(0.0, (now - oldest).total_seconds()),
        )
        yield from self._outbox_by_kind(outbox.by_kind, now)

    @staticmethod
    def _outbox_by_kind(by_kind: Mapping[str, KindView], now: dt.datetime) -> Iterator[Metric]:
        """Issue 19: the outbox gauges by kind, every kind listed (0 when it has no row)."""
        families = (
            ("chakushin_outbox_pending_by_kind", "Outbox rows waiting for delivery, by kind"),
            (
                "chakushin_outbox_retrying_by_kind",
                "Outbox rows waiting after at least one failed attempt, by kind",
            ),
            (
                "chakushin_outbox_oldest_pending_age_by_kind_seconds",
                "Age of the oldest undelivered outbox row of the kind (0 when none waits)",
            ),
            (
                "chakushin_outbox_failed_last_day_by_kind",
                "Outbox rows queued in the last 24 hours and given up, by kind",
            ),
        )
        gauges = [GaugeMetricFamily(name, text, labels=["kind"]) for name, text in families]
        kinds = list(CHANNELS) + [k for k in by_kind if k not in CHANNELS]
        for kind in kinds:
            view = by_kind.get(kind, KindView())
            since = view.oldest_pending_at
            age = 0.0 if since is None else max(0.0, (now - since).total_seconds())
            values = (view.pending, view.retrying, age, view.failed_last_day)
            for gauge, value in zip(gauges, values, strict=True):
                gauge.add_metric([kind], value)
        yield from gauges


@dataclass
class MetricsServer:
    """``/metrics`` over HTTP in a thread of its own (prometheus-client's server)."""

    server: WSGIServer
    thread: threading.Thread

    @classmethod
    def start(cls, host: str, port: int, sources: Sources) -> MetricsServer:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(ChakushinCollector(sources))
        server, thread = start_http_server(port, addr=host, registry=registry)
        return cls(server, thread)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()
