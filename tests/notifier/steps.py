"""Steps of the notifier's tests that more than one module takes: one call's AMI frames,
the finished calls of a batch, the stored decisions, and what each recorded scenario mails.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from chakushin import bootstrap
from chakushin import config as config_mod
from chakushin.demo import recordings as traces
from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer, event_frames
from dialplan import variables
from notifier import ami
from notifier.app import NotifierService
from notifier.engine import Notifier
from notifier.model import CallRecord
from notifier.outbox import SmtpSender, SmtpSettings
from store import db, service
from store.models import StoredCall, StoredDecision
from tests.notifier.smtp_server import SmtpServer

NUMBER = "0312345678"
CALLER = "0398765432"
START = "1763800000"

# scenario -> (mailed with no conditions, mailed with unanswered-only)
EXPECTED = {
    "answered": (True, False),
    "no_answer_timeout": (True, True),
    "caller_hangs_up_ringing": (True, True),
    "busy": (True, True),
    "unreachable": (True, True),
    "anonymous_answered": (True, False),
    "anonymous_rejected": (False, False),  # MAIL-6
    "nuisance_rejected": (False, False),  # MAIL-7
    "forwarded_answered": (True, True),  # MAIL-8: forwarded counts as unanswered
    "forward_busy": (False, False),  # MAIL-8: forward failed
    "forward_no_answer": (True, True),
    # Issue 17 (CALL-1, CALL-5, MAIL-4): one decision per office call, whatever its legs.
    "ring_group_answered": (True, False),  # the third phone answered: answered
    "ring_group_no_answer": (True, True),
    "queue_answered": (True, False),  # a member answered (AgentConnect): answered
    "queue_caller_abandons": (True, True),
    "queue_timeout": (True, True),
}


def call_frames(linkedid: str, **body: str) -> list[dict[str, str]]:
    """Newchannel, the ChakushinCall event and Hangup of one call, as AMI sends them."""
    event = {
        "Subscriber": NUMBER,
        "Caller": CALLER,
        "Presentation": "allowed",
        "Start": START,
        "Outcome": "unanswered",
        "DialStatus": "NOANSWER",
        "ForwardDialStatus": "",
        "Route": "decided",
    } | body
    return [
        {
            "Event": "Newchannel",
            "Linkedid": linkedid,
            "Uniqueid": linkedid,
            "Context": variables.CONTEXT_SUBSCRIBERS,
            "Exten": event["Subscriber"],
        },
        {"Event": "UserEvent", "UserEvent": variables.EVENT_CALL, "Linkedid": linkedid} | event,
        {"Event": "Hangup", "Linkedid": linkedid, "Uniqueid": linkedid},
    ]


def finished_calls(notifier: Notifier, calls: dict[str, dict[str, str]]) -> list[CallRecord]:
    finished: list[CallRecord] = []
    for linkedid, body in calls.items():
        for frame in call_frames(linkedid, **body):
            event = ami.parse_event(frame)
            if event is not None:
                finished += notifier.handle(event)
    return finished


def stored(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str | None, str, bool, str]]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(
                StoredCall.linkedid,
                StoredCall.subscriber_number,
                StoredCall.caller_number,
                StoredCall.presentation,
                StoredDecision.mailed,
                StoredDecision.reason,
            ).join(StoredDecision)
        ).all()
    return {r[0]: (r[1], r[2], r[3].value, r[4], r[5]) for r in rows}


def one_subscriber(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """NUMBER, one address, the service started."""
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, "boss@example.jp")
        service.start_mail(s, NUMBER)
    return sessions


@pytest.fixture
def subscriber(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    return one_subscriber(sessions)


# --- issue 17: recorded and synthesised streams into the running notifier ------------------

TRACES = Path(__file__).parent / "traces"


def synthesised_events(name: str) -> list[bytes]:
    """The event frames of tests/notifier/traces/<name>.ami, its ``#`` header lines dropped."""
    lines = (TRACES / f"{name}.ami").read_bytes().splitlines(keepends=True)
    return event_frames(b"".join(line for line in lines if not line.startswith(b"#")))


def interleaved(calls: Sequence[Sequence[bytes]]) -> list[bytes]:
    """The frames of several calls mixed: one frame of each call in turn (round robin)."""
    mixed = itertools.chain.from_iterable(itertools.zip_longest(*calls))
    return [frame for frame in mixed if frame is not None]


@dataclass
class Running:
    """The notifier service on a loopback AMI server, mailing to an aiosmtpd server."""

    ami: AmiServer
    smtp: SmtpServer
    service: NotifierService
    sessions: sessionmaker[Session]

    async def send(self, frames: Sequence[bytes]) -> None:
        await self.ami.send(b"".join(frames))

    async def play(self, *names: str) -> None:
        """Each recording as chakushin's dialplan would have it (chakushin.demo.recordings)."""
        for name in names:
            await self.ami.send(b"".join(event_frames(traces.chakushin_stream(name))))

    def decided(self) -> dict[str, tuple[bool, str]]:
        """Linkedid -> (mailed, reason) of every stored decision."""
        with db.transaction(self.sessions, read_only=True) as s:
            rows = s.execute(
                sa.select(StoredCall.linkedid, StoredDecision.mailed, StoredDecision.reason).join(
                    StoredDecision
                )
            ).all()
        return {linkedid: (mailed, reason) for linkedid, mailed, reason in rows}

    async def mails(self, count: int) -> None:
        assert await asyncio.to_thread(self.smtp.inbox.wait_for, count, 30.0), (
            f"{len(self.smtp.inbox.messages)} of {count} mails arrived"
        )


@asynccontextmanager
async def running_notifier(
    sessions: sessionmaker[Session], smtp: SmtpServer, db_url: str
) -> AsyncIterator[Running]:
    """``chakushin serve``'s notifier, as bootstrap builds it, until the block ends."""
    async with AmiServer() as server:
        config = config_mod.load(
            env={
                "CHAKUSHIN_DATABASE_URL": db_url,
                "CHAKUSHIN_AMI_PORT": str(server.port),
                "CHAKUSHIN_AMI_USERNAME": USERNAME,
                "CHAKUSHIN_AMI_SECRET": SECRET,
                "CHAKUSHIN_MAIL_FROM_ADDRESS": "chakushin@example.jp",
            }
        )
        svc = bootstrap.notifier_service(
            config, sessions, senders=[SmtpSender(SmtpSettings("127.0.0.1", smtp.port))]
        )
        stop = asyncio.Event()
        task = asyncio.create_task(svc.run(stop))
        try:
            await server.wait_until(lambda: server.logins == 1, within=10)
            yield Running(server, smtp, svc, sessions)
        finally:
            stop.set()
            await asyncio.wait_for(task, 30)
