"""Issue 16 (MAIL-10, OPS-1): a mail server answering with bytes that are not UTF-8 used to
end the whole ``chakushin serve`` (site and AGI too) and, the mail still pending, again at
every restart. Now the mail is recorded as failed with a clean reply and the process goes
on: the next call is mailed, the site answers. The server is ``tests.notifier.raw_smtp``.
"""

from __future__ import annotations

import asyncio
import functools
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from chakushin.demo import recordings as traces
from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer
from notifier.config import MailConfig
from store import db, delivery, service
from store.models import MailStatus, OutboxMail
from tests.builders import count, until
from tests.notifier.raw_smtp import RawSmtpPeer
from tests.ops.serve_process import ChakushinProcess, clean_env

CONTRACT = traces.SUBSCRIBER  # the recorded calls ring this number
ADDRESS = "boss@example.jp"


def recorded(sessions: sessionmaker[Session], mails: int) -> bool:
    """Whether ``mails`` mails are no longer pending (sent or failed)."""
    return count(sessions, OutboxMail, OutboxMail.status != MailStatus.PENDING) == mails


def login_page_status(port: int) -> int:
    """GET /login, read and closed: a connection left open holds serve's graceful stop."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", None, 10) as page:
        page.read()
        return int(page.status)


@pytest.mark.asyncio
async def test_issue16_MAIL_10_serve_outlives_a_reply_that_is_not_utf8(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_address(s, CONTRACT, ADDRESS)
        service.start_mail(s, CONTRACT)
    peer = await RawSmtpPeer({b"DATA": [b"554 5.7.1 bad \xff\xfe bytes\r\n"]}).start()
    async with AmiServer() as ami:
        env = clean_env(
            CHAKUSHIN_DATABASE_URL=db_url,
            CHAKUSHIN_DATA_DIR=str(tmp_path),
            CHAKUSHIN_AGI_PORT="0",
            CHAKUSHIN_METRICS_PORT="0",
            CHAKUSHIN_SITE_PORT="0",
            CHAKUSHIN_AMI_PORT=str(ami.port),
            CHAKUSHIN_AMI_USERNAME=USERNAME,
            CHAKUSHIN_AMI_SECRET=SECRET,
            CHAKUSHIN_MAIL_SMTP_HOST="127.0.0.1",
            CHAKUSHIN_MAIL_SMTP_PORT=str(peer.port),
            CHAKUSHIN_MAIL_FROM_ADDRESS="chakushin@example.jp",
            CHAKUSHIN_LOG_FORMAT="json",
            CHAKUSHIN_LOG_LEVEL="info",
        )
        serve = ChakushinProcess(["serve"], env, tmp_path)
        try:
            ready = serve.wait_event("serve_ready")
            await ami.wait_until(lambda: ami.logins == 1, within=30)
            for index in (1, 2):  # the first mail meets the hostile reply, the second not
                _, frames = traces.renumbered("no_answer_timeout", index)
                await ami.send(b"".join(frames))
                await until(
                    functools.partial(recorded, sessions, index),
                    f"the mail of call {index} recorded",
                    explain=lambda: "\n".join(serve.lines[-20:]),
                )
            assert serve.process.poll() is None, "\n".join(serve.lines[-30:])
            status = await asyncio.to_thread(login_page_status, ready["site_port"])
            assert status == 200
            # OPS-1: the stop waits for no SMTP timeout (the default one, 30 s): the peer
            # answers the QUIT though this test's loop is blocked in terminate().
            assert serve.terminate(timeout=MailConfig().smtp_timeout_seconds / 2) == 0
        finally:
            serve.kill()
            await peer.stop()
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(OutboxMail.status, OutboxMail.last_error).order_by(OutboxMail.id)
        ).all()
    assert [tuple(r) for r in rows] == [
        (MailStatus.FAILED, "554 5.7.1 bad \\xff\\xfe bytes"),
        (MailStatus.SENT, None),
    ]
    assert delivery.failure_kind(rows[0].last_error) is delivery.FailureKind.REFUSED
    assert len(peer.accepted) == 1
