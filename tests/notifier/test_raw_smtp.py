"""The raw SMTP peer of the issue 16 tests (``tests.notifier.raw_smtp``) answers like a server.

A real mail server, and aiosmtpd's controller, answer whatever the test's own
loop is doing. The peer used to run on that loop: a test that blocked it
(``ChakushinProcess.terminate()`` waits for the process) left ``chakushin
serve``'s QUIT unanswered until the SMTP timeout, so the stop took 30 s.
"""

from __future__ import annotations

import smtplib

import pytest

from tests.notifier.raw_smtp import RawSmtpPeer

MESSAGE = b"Subject: raw\r\n\r\nhello\r\n"


@pytest.mark.asyncio
async def test_issue16_MAIL_10_OPS_1_the_raw_peer_answers_while_the_tests_loop_is_blocked() -> None:
    peer = await RawSmtpPeer({b"DATA": [b"554 5.7.1 bad \xff\xfe bytes\r\n"]}).start()
    try:
        # Synchronous on purpose: the test's loop runs nothing until this returns.
        with smtplib.SMTP("127.0.0.1", peer.port, timeout=5) as client:
            assert client.ehlo()[0] == 250
            with pytest.raises(smtplib.SMTPDataError) as refused:
                client.sendmail("a@example.jp", ["b@example.jp"], MESSAGE)
            assert refused.value.smtp_code == 554
            assert refused.value.smtp_error == b"5.7.1 bad \xff\xfe bytes"
            assert client.rset()[0] == 250
            assert client.noop()[0] == 250
            assert client.sendmail("a@example.jp", ["b@example.jp"], MESSAGE) == {}
            assert client.quit()[0] == 221
    finally:
        await peer.stop()
    assert peer.accepted == [MESSAGE]
    assert peer.arrived.is_set()
