"""MAIL-2 send test: through the same mailer, at once, with the server's reply."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chakushin.cli import cli
from tests.builders import plain_text, snapshot
from tests.notifier.smtp_server import SmtpServer

NUMBER = "0312345678"


def run(db_url: str, smtp: SmtpServer, *args: str) -> tuple[int, str, str]:
    env = {
        "CHAKUSHIN_DATABASE_URL": db_url,
        "CHAKUSHIN_MAIL_SMTP_HOST": "127.0.0.1",
        "CHAKUSHIN_MAIL_SMTP_PORT": str(smtp.port),
        "CHAKUSHIN_MAIL_FROM_ADDRESS": "chakushin@example.jp",
    }
    result = CliRunner().invoke(cli, list(args), env=env)
    return result.exit_code, result.stdout, result.stderr


def test_MAIL_2_send_test_reaches_the_server_and_reports_its_reply(
    db_url: str, smtp: SmtpServer, tmp_config: Path
) -> None:
    assert run(db_url, smtp, "line", "add", NUMBER)[0] == 0
    code, out, err = run(db_url, smtp, "mail", "test", NUMBER, "boss@example.jp", "--json")
    assert code == 0, err
    assert json.loads(out) == {"accepted": True, "permanent": False, "reply": "OK queued"}
    (message,) = smtp.inbox.messages
    assert str(message["To"]) == "boss@example.jp"
    assert str(message["Subject"]) == "【着信お知らせメール】送信テスト"
    assert NUMBER in plain_text(message)


def test_MAIL_2_a_refused_test_mail_says_why_and_changes_nothing(
    db_url: str, smtp: SmtpServer, tmp_config: Path
) -> None:
    assert run(db_url, smtp, "line", "add", NUMBER)[0] == 0
    before = snapshot(db_url)
    smtp.inbox.refusals = ["550 5.1.1 no such user"]
    code, out, err = run(db_url, smtp, "mail", "test", NUMBER, "nobody@example.jp")
    assert code == 1 and out == ""
    assert err == "error: the mail server did not accept the test mail: 550 5.1.1 no such user\n"
    code, _, err = run(db_url, smtp, "mail", "test", NUMBER, "bad..address@example.jp")
    assert code == 1 and "two dots" in err
    code, _, err = run(db_url, smtp, "mail", "test", "0399999999", "a@example.jp")
    assert code == 1 and "no subscriber number" in err
    assert snapshot(db_url) == before and smtp.inbox.messages == []
