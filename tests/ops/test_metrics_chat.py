"""Issue 19 (CHAT-3, OPS-4): deliveries counted by kind and result in the metrics, the outbox
by kind in the metrics and in ``chakushin status``; on both databases.

A call's mail and its three chat notices go through the notifier's real workers: the mail
to a maildir, the notices over HTTP to real servers on 127.0.0.1 (200, 404, 503).
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from chakushin import node
from chakushin.metrics import ChakushinCollector, Sources
from notifier.app import NotifierService
from notifier.config import AmiConfig
from notifier.mail import Templates
from notifier.outbox import MaildirSender
from notifier.webhooks import WebhookSettings
from store import db, service
from store.models import ChatKind
from tests.builders import Clock
from tests.delivery_chat import a_call_with_chats, add_destination
from tests.notifier.http_server import HttpServer, Reply

NUMBER = "0312345678"
T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(sources: Sources) -> Samples:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChakushinCollector(sources))
    found: Samples = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


@pytest.mark.asyncio
async def test_issue19_CHAT_3_OPS_4_deliveries_by_kind_and_the_outbox_by_kind(
    sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    clock = Clock(T0)
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
    ok = HttpServer(default=Reply(200, b"ok"))
    gone = HttpServer(default=Reply(404, b"no_service"))
    busy = HttpServer(default=Reply(503, b"busy"))
    with ok, gone, busy:
        slack = add_destination(sessions, NUMBER, ChatKind.SLACK, position=1, url=ok.url(), now=T0)
        teams = add_destination(
            sessions, NUMBER, ChatKind.TEAMS, position=2, url=gone.url(), now=T0
        )
        discord = add_destination(
            sessions, NUMBER, ChatKind.DISCORD, position=3, url=busy.url(), now=T0
        )
        a_call_with_chats(
            sessions,
            number=NUMBER,
            linkedid="m.1",
            at=T0,
            mails=["boss@example.jp"],
            chats=[
                (slack, ChatKind.SLACK, "Slack"),
                (teams, ChatKind.TEAMS, "Microsoft Teams"),
                (discord, ChatKind.DISCORD, "Discord"),
            ],
        )
        svc = NotifierService(
            sessions,
            AmiConfig(),
            Templates.load(),
            [MaildirSender(str(tmp_path / "maildir"))],
            "chakushin@example.jp",
            grace=1.0,
            clock=clock,
            chat=WebhookSettings(allow_hosts=frozenset({"127.0.0.1"})),
        )
        sources = Sources(sessions, "n1", notifier=svc, clock=clock)
        before = scrape(sources)
        assert before[("chakushin_outbox_pending", ())] == 4  # every row, as before
        assert before[("chakushin_outbox_pending_by_kind", (("kind", "mail"),))] == 1
        assert before[("chakushin_outbox_pending_by_kind", (("kind", "slack"),))] == 1
        assert before[("chakushin_outbox_pending_by_kind", (("kind", "chatwork"),))] == 0
        clock.advance(10)
        assert before[("chakushin_deliveries_total", (("kind", "mail"), ("result", "sent")))] == 0
        try:
            assert await svc.worker.run_once() == 1
            assert await svc.chat_worker.run_once() == 3
        finally:
            await svc.worker.close()
            await svc.chat_worker.close()
    assert len(ok.requests) == len(gone.requests) == len(busy.requests) == 1

    m = scrape(sources)

    def delivered(kind: str, result: str) -> float:
        return m[("chakushin_deliveries_total", (("kind", kind), ("result", result)))]

    assert delivered("mail", "sent") == 1
    assert delivered("slack", "sent") == 1
    assert delivered("teams", "failed") == 1
    assert delivered("discord", "retrying") == 1
    assert delivered("webhook", "sent") == delivered("chatwork", "failed") == 0
    # The mails' own counter keeps its name and counts the mails only.
    assert m[("chakushin_mail_deliveries_total", (("result", "sent"),))] == 1
    assert m[("chakushin_mail_deliveries_total", (("result", "failed"),))] == 0
    # The outbox: the deferred Discord notice waits; Teams' 404 failed today.
    assert m[("chakushin_outbox_pending", ())] == 1
    assert m[("chakushin_outbox_retrying", ())] == 1

    def by_kind(name: str, kind: str) -> float:
        return m[(f"chakushin_outbox_{name}", (("kind", kind),))]

    assert by_kind("pending_by_kind", "discord") == 1
    assert by_kind("retrying_by_kind", "discord") == 1
    assert by_kind("pending_by_kind", "mail") == by_kind("pending_by_kind", "slack") == 0
    assert by_kind("oldest_pending_age_by_kind_seconds", "discord") == 10
    assert by_kind("oldest_pending_age_by_kind_seconds", "mail") == 0
    assert by_kind("failed_last_day_by_kind", "teams") == 1
    assert by_kind("failed_last_day_by_kind", "mail") == 0

    # chakushin status: the same by kind, in its text and its JSON.
    health = node.check(sessions, alert_seconds=900, now=clock())
    assert list(health.outbox.by_kind) == ["teams", "discord"]  # in CHANNELS order
    assert health.outbox.last_failure_channel in ("discord", "teams")
    text = node.render(health)
    assert "  discord: 1 waiting (1 retrying, 0 due), oldest 10 s; 0 failed in the last 24 h" in (
        text.splitlines()
    )
    assert "  teams: 0 waiting (0 retrying, 0 due); 1 failed in the last 24 h" in text
    data = json.loads(json.dumps(health.as_dict()))
    assert data["outbox"]["by_kind"]["discord"] == {
        "pending": 1,
        "retrying": 1,
        "due": 0,
        "oldest_pending_at": T0.isoformat(),
        "failed_last_day": 0,
    }
    assert data["outbox"]["pending"] == 1
