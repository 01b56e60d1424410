"""Issue 16 (MAIL-10): ``chakushin number show N --calls`` prints a mail server's raw reply,
which is whatever the server sent: in text, one reply is one line and nothing in it acts on
the operator's terminal; ``--json`` gives the reply as stored. On both databases."""

from __future__ import annotations

import datetime as dt
import json
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from chakushin.cli import cli
from store import db, service
from store.models import CallOutcome, MailStatus, OutboxMail, Presentation

CONTRACT = "0312345678"
VICTIM = "victim@example.jp"
T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)
# As a row written before replies were made safe keeps it (PostgreSQL takes no NUL):
# an embedded line that forges a delivery, a title change, a screen clear, a bidi override.
HOSTILE = (
    "554-5.7.1 first\n      forged@example.jp  sent 2026-11-22 10:00:03 +0900 after 1 attempt"
    "\n554 5.7.1 \x1b]0;pwned\x07\x1b[2J\u202eevil\r"
)


@pytest.fixture
def stored(db_url: str, tmp_config: Path) -> Iterator[sessionmaker[Session]]:
    engine = db.make_engine(db_url)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_address(s, CONTRACT, VICTIM)
        service.record_call_decision(
            s,
            now=T0,
            linkedid="h.1",
            subscriber_number=CONTRACT,
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="",
            forward_dial_status="",
            started_at=T0,
            ended_at=T0,
            mailed=True,
            reason="notify",
            mails=[service.QueuedMail(VICTIM, "s", "b", "<h.1@x>")],
        )
        s.execute(
            sa.update(OutboxMail).values(status=MailStatus.FAILED, attempts=1, last_error=HOSTILE)
        )
    yield sessions
    engine.dispose()


def run(db_url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"CHAKUSHIN_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    return result


def test_issue16_MAIL_10_number_show_calls_prints_a_hostile_reply_on_one_harmless_line(
    stored: sessionmaker[Session], db_url: str
) -> None:
    text = run(db_url, "number", "show", CONTRACT, "--calls").stdout
    assert not any(unicodedata.category(c) in ("Cc", "Cf") for c in text.replace("\n", "")), (
        "a control or format character reaches the terminal"
    )
    lines = text.splitlines()
    shown = (
        "554-5.7.1 first |       forged@example.jp  sent 2026-11-22 10:00:03 +0900 after 1 "
        "attempt | 554 5.7.1 \\x1b]0;pwned\\x07\\x1b[2J\\u202eevil"
    )
    assert f"      {VICTIM}  failed (refused) after 1 attempt: {shown}" in lines
    assert f"    1. {VICTIM}  refused: {shown}" in lines
    assert not any(line.lstrip().startswith("forged@") for line in lines)  # no forged line
    # JSON is for scripts: the reply as stored (json escapes what needs escaping).
    data = json.loads(run(db_url, "--json", "number", "show", CONTRACT, "--calls").stdout)
    assert data["calls"][0]["deliveries"][0]["reply"] == HOSTILE
    assert data["recently_failed"][0]["reply"] == HOSTILE
