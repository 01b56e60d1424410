"""Recorded calls over a real AMI connection into the running notifier, mails at a real SMTP server.

A loopback AMI server streams each recorded call (with chakushin's outcome
event, see chakushin/demo/recordings.py) to the notifier service as
Asterisk would; the test waits for the mails at an aiosmtpd server and
checks recipients, subjects, bodies and the stored decisions (MAIL-1 ...
MAIL-10, CALL-5).
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
import structlog
from sqlalchemy.orm import Session, sessionmaker

from chakushin import logs
from chakushin.demo import recordings as traces
from chakushin.demo.amiserver import encode_frame, event_frames
from store import db, service
from tests.builders import until
from tests.notifier.smtp_server import SmtpServer
from tests.notifier.steps import EXPECTED, Running, call_frames, running_notifier

NUMBER = traces.SUBSCRIBER
BOSS, DESK = "boss@example.jp", "desk@example.jp"
# Issue 15: a stream synthesised from forward_no_answer.ami (how: the file's header).
TARGET_ABSENT = Path(__file__).parent / "traces" / "forward_target_absent.ami"
TARGET_ABSENT_LINKEDID = "1795399022.40"


def synthesised_events(path: Path) -> bytes:
    """The event frames of a synthesised stream: its ``#`` header lines dropped."""
    lines = path.read_bytes().splitlines(keepends=True)
    return b"".join(event_frames(b"".join(line for line in lines if not line.startswith(b"#"))))


@pytest.fixture
def subscriber(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, BOSS)
        service.add_address(s, NUMBER, DESK)
        service.start_mail(s, NUMBER)
    return sessions


@pytest_asyncio.fixture
async def running(
    subscriber: sessionmaker[Session], smtp: SmtpServer, db_url: str
) -> AsyncIterator[Running]:
    async with running_notifier(subscriber, smtp, db_url) as started:
        yield started


@pytest.mark.asyncio
async def test_MAIL_recorded_calls_over_ami_become_decisions_and_mails(running: Running) -> None:
    await running.play(*traces.SCENARIOS)
    mailed = [n for n, (plain, _) in EXPECTED.items() if plain]
    await running.mails(2 * len(mailed))
    decided = running.decided()
    for name in traces.SCENARIOS:
        assert decided[traces.linkedid_of(name)][0] == EXPECTED[name][0], name
    assert decided[traces.linkedid_of("nuisance_rejected")] == (False, "nuisance_list")
    assert decided[traces.linkedid_of("anonymous_rejected")] == (False, "number_request")
    assert decided[traces.linkedid_of("forward_busy")] == (False, "forward_failed")
    inbox = running.smtp.inbox.messages
    assert sorted(str(m["To"]) for m in inbox) == sorted([BOSS, DESK] * len(mailed))
    assert set(running.smtp.inbox.message_ids().values()) == {1}


@pytest.mark.asyncio
async def test_ami_connection_lost_mid_stream_then_back(running: Running) -> None:
    await running.play("busy")
    await running.mails(2)
    await running.ami.drop()  # Asterisk restarts
    await running.ami.wait_until(lambda: running.ami.logins == 2, within=15)
    await running.play("no_answer_timeout")
    await running.mails(4)
    assert len(running.decided()) == 2


@pytest.mark.asyncio
async def test_malformed_frames_and_random_bytes_do_not_stop_the_notifier(
    running: Running,
) -> None:
    await running.ami.send(b"\x00\xff\xfe garbage\r\nno colon here\r\n\r\n")
    await running.ami.send(b"Event: UserEvent\r\nUserEvent: ChakushinCall\r\nLinkedid: x\r\n\r\n")
    await running.ami.send(bytes(range(256)) + b"\r\n\r\n")
    await running.play("busy")
    await running.mails(2)
    assert running.service.ami_state.value == "logged_in"


@pytest.mark.asyncio
async def test_MAIL_9_a_withheld_number_is_not_logged_at_info_level(running: Running) -> None:
    out = io.StringIO()
    logs.configure("info", "json", out)
    try:
        await running.play("anonymous_answered")
        await running.mails(2)  # queued only after the decision was logged
    finally:
        structlog.reset_defaults()
    text = out.getvalue()
    assert "call_decided" in text
    assert traces.CALLER not in text
    for message in running.smtp.inbox.messages:
        assert traces.CALLER.encode() not in message.as_bytes()


@pytest.mark.asyncio
async def test_item1_MAIL_10_a_call_too_long_for_its_columns_over_ami_blocks_no_later_call(
    running: Running,
) -> None:
    """The critical case of issue 12 end to end: on PostgreSQL every later decision used to fail."""

    poison = [
        *call_frames("poison.1", Subscriber="0" + "3" * 24),
        *call_frames("poison.2", Subscriber=NUMBER, Caller="0" * 33),
    ]
    await running.ami.send(b"".join(encode_frame(f) for f in poison))
    await running.play("busy")
    await running.mails(4)  # poison.2 (caller unusable, still a call) and busy, to both
    for _ in range(600):
        if {"poison.1", "poison.2", traces.linkedid_of("busy")} <= set(running.decided()):
            break
        await asyncio.sleep(0.05)
    decided = running.decided()
    assert decided["poison.1"] == (False, "malformed_subscriber_number")
    assert decided["poison.2"] == (True, "notify")
    assert decided[traces.linkedid_of("busy")] == (True, "notify")


@pytest.mark.asyncio
async def test_issue15_CALL_5_MAIL_8_a_forward_target_refused_at_once_is_forward_failed(
    running: Running,
) -> None:
    """The forward leg ends NOANSWER with cause 20 (subscriber absent): no mail.

    The recorded forward_no_answer.ami, whose target rang out, is still 転送 and mailed.
    """
    await running.ami.send(synthesised_events(TARGET_ABSENT))
    await running.play("forward_no_answer")
    await running.mails(2)
    forwarded = traces.linkedid_of("forward_no_answer")
    await until(
        lambda: {TARGET_ABSENT_LINKEDID, forwarded} <= set(running.decided()), "both decided"
    )
    decided = running.decided()
    assert decided[TARGET_ABSENT_LINKEDID] == (False, "forward_failed")
    assert decided[forwarded] == (True, "notify")
    inbox = running.smtp.inbox.messages
    assert sorted(str(m["To"]) for m in inbox) == [BOSS, DESK]
    assert all("転送" in m.get_content() and "転送失敗" not in m.get_content() for m in inbox)
