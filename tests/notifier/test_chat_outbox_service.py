"""Issue 19 (CHAT-1, CHAT-3, MAIL-2, MAIL-10): the chat worker in ``chakushin notifier`` as
``chakushin.bootstrap`` builds it, and 送信テスト of a destination (bootstrap.chat_send_test).

A real AMI server plays a call, aiosmtpd takes the mail, a real HTTP server on 127.0.0.1 takes
the notice (``chat.allow_hosts = 127.0.0.1``); both databases.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks.webhooks import Webhook

from chakushin import bootstrap
from chakushin import config as config_mod
from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer, encode_frame
from notifier.outbox import SmtpSender, SmtpSettings
from store import db, destinations, service
from store.errors import NotFound
from store.models import ChatKind, MailKind, MailStatus, OutboxMail
from tests.builders import until
from tests.notifier.http_server import HttpServer
from tests.notifier.smtp_server import SmtpServer
from tests.notifier.steps import call_frames

NUMBER = "0312345678"
CALLER = "0398765432"
WITHIN = 60.0


@pytest.fixture
def receiver() -> Iterator[HttpServer]:
    with HttpServer() as running:
        yield running


def settings(db_url: str, **env: str) -> config_mod.Config:
    return config_mod.load(
        env={
            "CHAKUSHIN_DATABASE_URL": db_url,
            "CHAKUSHIN_AMI_USERNAME": USERNAME,
            "CHAKUSHIN_AMI_SECRET": SECRET,
            "CHAKUSHIN_MAIL_FROM_ADDRESS": "chakushin@example.jp",
            "CHAKUSHIN_CHAT_ALLOW_HOSTS": "127.0.0.1",
            "CHAKUSHIN_CHAT_TIMEOUT_SECONDS": "5",
        }
        | env
    )


def subscriber(sessions: sessionmaker[Session], receiver: HttpServer) -> str:
    """The number with one address and a generic webhook; returns its signing secret."""
    now = dt.datetime.now(dt.UTC)
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, "boss@example.jp")
        service.start_mail(s, NUMBER)
        _, secret = destinations.add_destination(
            s, NUMBER, ChatKind.WEBHOOK, url=receiver.url(), allow_hosts=("127.0.0.1",), now=now
        )
    assert secret is not None
    return secret


def kinds_sent(sessions: sessionmaker[Session]) -> dict[MailKind, MailStatus]:
    with db.transaction(sessions, read_only=True) as s:
        return {r.kind: r.status for r in s.scalars(sa.select(OutboxMail))}


@pytest.mark.asyncio
async def test_CHAT_3_MAIL_10_the_notifier_posts_a_call_s_notice_beside_its_mail(
    db_url: str, sessions: sessionmaker[Session], receiver: HttpServer, smtp: SmtpServer
) -> None:
    secret = subscriber(sessions, receiver)
    async with AmiServer() as box:
        config = settings(db_url, CHAKUSHIN_AMI_PORT=str(box.port))
        svc = bootstrap.notifier_service(
            config,
            sessions,
            senders=[SmtpSender(SmtpSettings("127.0.0.1", smtp.port, timeout=WITHIN))],
        )
        assert svc.chat.allow_hosts == frozenset({"127.0.0.1"}) and svc.chat.timeout == 5.0
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop))
        try:
            await box.wait_until(lambda: box.logins == 1, within=WITHIN)
            frames = call_frames("pbx1-1763800000.1", Subscriber=NUMBER, Caller=CALLER)
            await box.send(b"".join(encode_frame(f) for f in frames))
            await until(
                lambda: (
                    kinds_sent(sessions)
                    == {
                        MailKind.CALL_NOTIFICATION: MailStatus.SENT,
                        MailKind.CALL_CHAT: MailStatus.SENT,
                    }
                ),
                "the mail and the notice sent",
                within=WITHIN,
                explain=lambda: repr(kinds_sent(sessions)),
            )
        finally:
            stop.set()
            await asyncio.wait_for(task, WITHIN)
    (request,) = receiver.requests
    event = Webhook(secret).verify(request.body, request.headers)
    assert event["data"]["called_number"] == NUMBER
    assert len(smtp.inbox.messages) == 1
    assert svc.chat_worker.counts_by_kind[ChatKind.WEBHOOK]["sent"] == 1
    assert svc.worker.counts["sent"] == 1


@pytest.mark.asyncio
async def test_MAIL_2_CHAT_1_send_test_of_a_destination_posts_now(
    db_url: str, sessions: sessionmaker[Session], receiver: HttpServer
) -> None:
    secret = subscriber(sessions, receiver)
    send = bootstrap.chat_send_test(settings(db_url), sessions)
    result = await send(NUMBER, 1)
    assert result.ok and result.reply == "HTTP 200 OK: ok"
    (request,) = receiver.requests
    event = Webhook(secret).verify(request.body, request.headers)
    assert event["type"] == "test"
    assert request.headers["webhook-id"].startswith("msg_")
    with db.transaction(sessions, read_only=True) as s:  # not through the outbox
        assert s.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) == 0
    with pytest.raises(NotFound):
        await send(NUMBER, 2)
    assert json.loads(request.body)["type"] == "test"
