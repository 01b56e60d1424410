"""MAIL-4 (a) needs designated numbers (seeds P.10, issue 14 flow 5), whoever writes.

Seeds: お知らせ対象電話番号設定 「メール送信条件設定で「お知らせ対象電話番号からの着信のみ
お知らせする」を指定した場合に本設定が必要です」. With condition (a) on and no number
flagged 指定, no mail would ever go out. So the store keeps one rule both ways:
condition (a) cannot be switched on without a flagged designated number, and
while it is on the last flagged one cannot be removed or unflagged (refused,
not warned: the site and the CLI say why and nothing changes).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from chakushin.cli import cli
from store import db, service
from store.errors import RuleViolation
from tests.builders import snapshot, unchanged_after

NUMBER = "0312345678"
CALLER, OTHER = "0398765432", "09011112222"


@pytest.fixture
def line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
    return sessions


def test_MAIL_4a_cannot_be_switched_on_without_a_designated_number(
    line: sessionmaker[Session],
) -> None:
    def switch_on(s: Session) -> None:
        service.set_conditions(s, NUMBER, designated_only=True)

    err = unchanged_after(line, switch_on, RuleViolation)
    assert (err.code, err.field) == ("designated_only_without_numbers", "designated_only")
    with db.transaction(line) as s:  # a number without its 指定 flag does not count
        service.add_designated(s, NUMBER, CALLER, designated=False)
    err = unchanged_after(line, switch_on, RuleViolation)
    assert err.code == "designated_only_without_numbers"
    with db.transaction(line) as s:
        service.set_designated_flag(s, NUMBER, CALLER, True)
        service.set_conditions(s, NUMBER, designated_only=True)
        assert service.get_number(s, NUMBER).notification.designated_only is True
        # Switching (b) alone leaves (a) on, and is no new check of it.
        service.set_conditions(s, NUMBER, unanswered_only=True)


@pytest.mark.parametrize(
    "removal",
    [
        lambda s: service.remove_designated(s, NUMBER, CALLER),
        lambda s: service.set_designated_flag(s, NUMBER, CALLER, False),
        lambda s: service.set_designated_numbers(s, NUMBER, []),
        lambda s: service.set_designated_numbers(s, NUMBER, [(CALLER, False), (OTHER, False)]),
    ],
    ids=["remove", "unflag", "empty form", "all unflagged"],
)
def test_MAIL_4a_the_last_designated_number_stays_while_the_condition_is_on(
    line: sessionmaker[Session], removal: Callable[[Session], object]
) -> None:
    with db.transaction(line) as s:
        service.add_designated(s, NUMBER, CALLER)
        service.add_designated(s, NUMBER, OTHER, designated=False)
        service.set_conditions(s, NUMBER, designated_only=True)
    err = unchanged_after(line, removal, RuleViolation)
    assert err.code == "last_designated_of_designated_only"
    with db.transaction(line) as s:  # with (a) off, the list may become empty
        service.set_conditions(s, NUMBER, designated_only=False)
        removal(s)


def test_MAIL_4a_another_flagged_number_may_go(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        service.add_designated(s, NUMBER, CALLER)
        service.add_designated(s, NUMBER, OTHER)
        service.set_conditions(s, NUMBER, designated_only=True)
        service.remove_designated(s, NUMBER, OTHER)
        service.set_designated_numbers(s, NUMBER, [(OTHER, True), (CALLER, False)])
        assert [(d.caller_number, d.designated) for d in service.get_number(s, NUMBER).designated]


def test_MAIL_4a_OPS_2_the_cli_refuses_too(db_url: str, tmp_config: Path) -> None:
    env = {"CHAKUSHIN_DATABASE_URL": db_url}
    runner = CliRunner()
    assert runner.invoke(cli, ["line", "add", NUMBER], env=env).exit_code == 0
    before = snapshot(db_url)
    refused = runner.invoke(cli, ["mail", "conditions", NUMBER, "--designated-only", "on"], env=env)
    assert refused.exit_code == 1
    assert "designated" in refused.stderr and "MAIL-4" in refused.stderr
    assert snapshot(db_url) == before
