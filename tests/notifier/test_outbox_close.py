"""OPS-1, MAIL-10 (issue 16): a stop is not held by a mail server that never answers QUIT.

``SmtpSender.close`` waited for QUIT's answer for the whole SMTP timeout, and
``DeliveryWorker.close`` closed the connections one after another, outside
the shutdown grace: a hung server held ``chakushin serve``'s stop for the
timeout times the connections. QUIT now waits ``outbox.QUIT_TIMEOUT`` at
most, all connections at once; the connection is dropped either way.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.orm import Session, sessionmaker

from notifier import outbox
from notifier.outbox import DeliveryWorker, SmtpSender, SmtpSettings
from tests.notifier.raw_smtp import RawSmtpPeer

pytestmark = pytest.mark.asyncio

MESSAGE = "From: a@example.jp\r\nTo: b@example.jp\r\nSubject: x\r\n\r\nbody\r\n"


async def test_issue16_OPS_1_MAIL_10_closing_waits_no_smtp_timeout_for_a_silent_quit(
    sessions: sessionmaker[Session],
) -> None:
    peer = await RawSmtpPeer(silent=frozenset({b"QUIT"})).start()
    try:
        settings = SmtpSettings("127.0.0.1", peer.port, timeout=120)  # far past the bound below
        senders = [SmtpSender(settings) for _ in range(4)]
        for sender in senders:  # each connection open, as after a busy round
            assert (await sender.send("a@example.jp", "b@example.jp", MESSAGE)).ok
        worker = DeliveryWorker(sessions, senders, "a@example.jp")
        # All four at once, each bounded: well inside one SMTP timeout (a guard, not a speed
        # target: the old close waited 4 x 120 s here).
        await asyncio.wait_for(worker.close(), timeout=4 * outbox.QUIT_TIMEOUT)
        assert all(sender._smtp is None for sender in senders)
    finally:
        await peer.stop()
    assert len(peer.accepted) == 4
