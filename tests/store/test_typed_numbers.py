"""Issue 14 flow 8 in the store: caller numbers as people type them (CLI and site alike).

The nuisance list (CALL-2) and the designated numbers (MAIL-5) take
03-1111-0000 and ０３１１１１００００ as 0311110000, to add, find and remove.
"""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy.orm import Session, sessionmaker

from chakushin.cli import cli
from store import db, service
from store.errors import AlreadyExists
from tests.builders import unchanged_after

NUMBER = "0312345678"


def test_CALL_2_flow8_nuisance_entries_are_taken_as_typed(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_nuisance(s, NUMBER, "03-1111-0000")
    unchanged_after(
        sessions, lambda s: service.add_nuisance(s, NUMBER, "０３１１１１００００"), AlreadyExists
    )
    with db.transaction(sessions) as s:
        assert [e.caller_number for e in service.get_number(s, NUMBER).nuisance] == ["0311110000"]
        service.remove_nuisance(s, NUMBER, caller_number="０３－１１１１－００００")
        assert service.get_number(s, NUMBER).nuisance == []


def test_MAIL_5_OPS_2_flow8_the_cli_takes_designated_numbers_as_typed(
    db_url: str, tmp_config: Path
) -> None:
    env = {"CHAKUSHIN_DATABASE_URL": db_url}
    runner = CliRunner()

    def run(*args: str) -> str:
        result = runner.invoke(cli, list(args), env=env)
        assert result.exit_code == 0, result.stderr
        return result.stdout

    run("line", "add", NUMBER)
    run("mail", "designated", "add", NUMBER, "０３－９８７６－５４３２")
    run("mail", "designated", "flag", NUMBER, "03-9876-5432", "off")
    shown = json.loads(run("number", "show", NUMBER, "--json"))
    assert shown["mail"]["designated_numbers"] == [
        {"position": 1, "caller_number": "0398765432", "designated": False}
    ]
    run("mail", "designated", "remove", NUMBER, "03 9876 5432")
    assert json.loads(run("number", "show", NUMBER, "--json"))["mail"]["designated_numbers"] == []
