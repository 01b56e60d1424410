"""The operator CLI (OPS-2) end to end, on both backends."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy
import sqlalchemy.orm
from click.testing import CliRunner, Result
from sqlalchemy.exc import OperationalError

from chakushin.cli import cli
from tests.builders import snapshot
from tests.cli.conftest import Chakushin

CONTRACT, SECOND, THIRD = "0312345678", "0312345679", "05012345678"


def test_OPS_2_provision_a_line_with_three_numbers_and_read_it_back(chakushin: Chakushin) -> None:
    run = chakushin
    run("line", "add", CONTRACT, "--auth-unit", "admin_user", "--endpoint", "PJSIP/0312345678")
    run("number", "add", CONTRACT, SECOND, "--endpoint", "PJSIP/reception")
    run(
        "number",
        "add",
        CONTRACT,
        THIRD,
        "--services",
        "mail,voice_warp",
        "--timezone",
        "America/Los_Angeles",
    )
    # MAIL-2/3: addresses with send flags
    run("mail", "address", "add", CONTRACT, "boss@example.jp")
    run("mail", "address", "add", CONTRACT, "desk+calls@example.co.jp", "--no-send")
    run("mail", "address", "send", CONTRACT, "desk+calls@example.co.jp", "on")
    run("mail", "address", "add", CONTRACT, "night@example.jp", "--no-send")
    run("mail", "address", "add", THIRD, "mobile@example.jp")
    # MAIL-4/5: conditions and designated numbers
    run("mail", "designated", "add", CONTRACT, "0398765432")  # before (a): issue 14
    run("mail", "conditions", CONTRACT, "--designated-only", "on", "--unanswered-only", "on")
    run("mail", "designated", "add", CONTRACT, "09011112222", "--not-designated")
    run("mail", "designated", "flag", CONTRACT, "09011112222", "on")
    run("mail", "designated", "add", CONTRACT, "0120123456")
    run("mail", "designated", "remove", CONTRACT, "0120123456")
    # MAIL-1
    run("mail", "start", CONTRACT)
    run("mail", "start", THIRD)
    # CALL-2/3/4
    run("nuisance", "add", CONTRACT, "0311110000")
    run("nuisance", "add", CONTRACT, "0311119999", "--hidden")
    run("number-request", CONTRACT, "--on", "--reject-payphone", "on")
    run(
        "voice-warp",
        SECOND,
        "--to",
        "09099998888",
        "--mode",
        "no_answer",
        "--ring-seconds",
        "15",
        "--on",
    )
    run("voice-warp", THIRD, "--to", "0312345678", "--mode", "busy")

    lines = chakushin.json("line", "list")
    assert lines == [
        {
            "contract_number": CONTRACT,
            "auth_unit": "admin_user",
            "numbers": [CONTRACT, SECOND, THIRD],
        }
    ]
    shown = chakushin.json("line", "show", CONTRACT)
    by_number = {n["number"]: n for n in shown["numbers"]}
    contract = by_number[CONTRACT]
    assert contract["is_contract"] is True and contract["endpoint"] == "PJSIP/0312345678"
    assert contract["services"] == ["mail", "nuisance", "number_request", "voice_warp"]
    assert contract["mail"] == {
        "started": True,
        "designated_only": True,
        "unanswered_only": True,
        "warnings": [],
        "addresses": [
            {"position": 1, "address": "boss@example.jp", "send": True},
            {"position": 2, "address": "desk+calls@example.co.jp", "send": True},
            {"position": 3, "address": "night@example.jp", "send": False},
        ],
        "designated_numbers": [
            {"position": 1, "caller_number": "0398765432", "designated": True},
            {"position": 2, "caller_number": "09011112222", "designated": True},
        ],
    }
    assert contract["nuisance_list"] == [
        {"position": 1, "caller_number": "0311110000", "hidden": False},
        {"position": 2, "caller_number": None, "hidden": True},
    ]
    assert contract["number_request"] == {
        "enabled": True,
        "reject_payphone": True,
        "reject_unavailable": False,
    }
    second = by_number[SECOND]
    assert second["is_contract"] is False and second["auth_unit"] == "admin_user"
    assert second["voice_warp"] == {
        "enabled": True,
        "mode": "no_answer",
        "destination": "09099998888",
        "ring_seconds": 15,
    }
    assert second["mail"]["started"] is False
    third = chakushin.json("number", "show", THIRD)
    assert third["services"] == ["mail", "voice_warp"]
    assert third["timezone"] == "America/Los_Angeles"
    assert third["voice_warp"]["enabled"] is False and third["voice_warp"]["mode"] == "busy"
    assert third["mail"]["started"] is True
    # The withheld caller's number appears nowhere in any output.
    assert "0311119999" not in run("line", "show", CONTRACT).stdout
    assert "0311119999" not in json.dumps(shown)


def test_human_output_shows_a_number(chakushin: Chakushin) -> None:
    chakushin("line", "add", CONTRACT)
    chakushin("mail", "address", "add", CONTRACT, "boss@example.jp")
    out = chakushin("number", "show", CONTRACT).stdout
    assert "0312345678  (contract number of line 0312345678, auth unit line)" in out
    assert "1. boss@example.jp  send on" in out
    assert "addresses (1/5)" in out


def bad(chakushin: Chakushin, *args: str) -> Result:
    """Run a command that must fail cleanly: exit 1, one line on stderr, no change."""
    before = snapshot(chakushin.db_url)
    result = chakushin(*args, ok=False)
    assert result.exit_code == 1, result.stdout
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert snapshot(chakushin.db_url) == before
    return result


def test_bad_input_gives_one_line_and_changes_nothing(chakushin: Chakushin) -> None:
    chakushin("line", "add", CONTRACT)
    for i in range(5):
        chakushin("mail", "address", "add", CONTRACT, f"user{i}@example.jp")
    for i in range(30):
        chakushin("mail", "designated", "add", CONTRACT, f"03987654{i:02d}")

    assert (
        "no subscriber number '0399999999'"
        in bad(chakushin, "mail", "address", "add", "0399999999", "a@example.jp").stderr
    )
    assert (
        "at most 5" in bad(chakushin, "mail", "address", "add", CONTRACT, "six@example.jp").stderr
    )
    assert (
        "at most 30" in bad(chakushin, "mail", "designated", "add", CONTRACT, "0398765499").stderr
    )
    assert (
        "two dots"
        in bad(chakushin, "mail", "address", "add", CONTRACT, "abc..def@ntt-east.jp").stderr
    )
    assert "hyphens" in bad(chakushin, "number", "add", CONTRACT, "03-1234-0000").stderr
    assert "no line" in bad(chakushin, "number", "add", "0399999999", "0311112222").stderr
    assert "already belongs" in bad(chakushin, "line", "add", CONTRACT).stderr
    assert (
        "5 to 60"
        in bad(
            chakushin, "voice-warp", CONTRACT, "--to", "09012345678", "--ring-seconds", "90"
        ).stderr
    )


def test_usage_errors_exit_2_and_change_nothing(chakushin: Chakushin) -> None:
    chakushin("line", "add", CONTRACT)
    before = snapshot(chakushin.db_url)
    for args in (
        ["mail", "conditions", CONTRACT, "--designated-only", "maybe"],
        ["line", "add", "0311112222", "--auth-unit", "everyone"],
        ["voice-warp", CONTRACT, "--ring-seconds", "ten"],
        ["line", "remove", CONTRACT],  # needs --yes
        ["number", "add", CONTRACT, "0312340000", "--services", "mail,fax"],
    ):
        result = chakushin(*args, ok=False)
        assert result.exit_code == 2, args
        assert "Error" in result.stderr
    assert snapshot(chakushin.db_url) == before


def test_json_errors_are_machine_readable(chakushin: Chakushin) -> None:
    result = chakushin("--json", "number", "show", "0399999999", ok=False)
    assert result.exit_code == 1
    assert json.loads(result.stderr) == {
        "error": "not_found",
        "message": "no subscriber number '0399999999'",
    }


def test_malformed_toml_is_refused_and_changes_nothing(chakushin: Chakushin) -> None:
    chakushin("line", "add", CONTRACT)
    broken = chakushin.workdir.parent / "broken.toml"
    broken.write_text("[ami\nport = 1\n", encoding="utf-8")
    result = bad(
        chakushin, "--config", str(broken), "mail", "address", "add", CONTRACT, "a@example.jp"
    )
    assert "not valid TOML" in result.stderr and "broken.toml" in result.stderr


def test_bad_database_url_is_refused(tmp_config: Path, db_url: str) -> None:
    before = snapshot(db_url)
    for url, words in (
        ("mysql://root@localhost/chakushin", "not supported"),
        ("::nonsense::", "not a URL"),
        ("postgresql+psycopg://nobody@127.0.0.1:1/x?connect_timeout=2", "cannot open database"),
    ):
        result = CliRunner().invoke(
            cli, ["line", "add", CONTRACT], env={"CHAKUSHIN_DATABASE_URL": url}
        )
        assert result.exit_code == 1
        assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert snapshot(db_url) == before


def test_remove_commands(chakushin: Chakushin) -> None:
    chakushin("line", "add", CONTRACT)
    chakushin("number", "add", CONTRACT, SECOND)
    chakushin("number", "remove", SECOND, "--yes")
    assert chakushin.json("line", "list")[0]["numbers"] == [CONTRACT]
    chakushin("line", "remove", CONTRACT, "--yes")
    assert chakushin.json("line", "list") == []
    assert chakushin("line", "list").stdout.strip() == "no lines"


def test_config_check_prints_the_effective_config_masked(tmp_config: Path) -> None:
    file = tmp_config / "chakushin.toml"
    file.write_text("[ami]\nsecret = 'amipw'\nport = 15038\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check"], env={"CHAKUSHIN_DATA_DIR": "/srv/x"})
    assert result.exit_code == 0, result.stderr
    assert "port = 15038" in result.stdout and "amipw" not in result.stdout
    assert 'effective_url = "sqlite:////srv/x/chakushin.db"' in result.stdout
    shown = json.loads(CliRunner().invoke(cli, ["config", "check", "--json"]).stdout)
    assert shown["config"]["ami"]["secret"] == "********"


def test_db_upgrade_and_status_on_a_fresh_sqlite_file(tmp_config: Path) -> None:
    runner = CliRunner()
    status = runner.invoke(cli, ["db", "status", "--json"])
    assert status.exit_code == 1 and json.loads(status.stdout)["current"] is None
    up = runner.invoke(cli, ["db", "upgrade"])
    assert up.exit_code == 0 and "database at revision" in up.stdout
    status = runner.invoke(cli, ["db", "status", "--json"])
    assert status.exit_code == 0 and json.loads(status.stdout)["up_to_date"] is True
    assert (tmp_config / "data" / "chakushin.db").exists()


# --- the installed command, as an operator runs it -------------------------------------


def _command() -> list[str]:
    installed = shutil.which("chakushin", path=os.path.dirname(sys.executable))
    assert installed, "the chakushin console script is not installed next to this Python"
    return [installed]


def test_installed_command_creates_the_database_and_logs_json(tmp_config: Path) -> None:
    """OPS-1: the real console script on a fresh SQLite file; -v logs one JSON event per change."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CHAKUSHIN_")}
    env["CHAKUSHIN_DATA_DIR"] = str(tmp_config / "data")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*_command(), *args],
            env=env,
            cwd=tmp_config,
            text=True,
            capture_output=True,
            timeout=60,
            check=False,
        )

    added = run("-v", "line", "add", CONTRACT)
    assert added.returncode == 0, added.stderr
    events = [json.loads(line) for line in added.stderr.splitlines()]
    assert [e["event"] for e in events] == ["line_added"]
    assert events[0]["contract_number"] == CONTRACT and events[0]["level"] == "info"

    quiet = run("mail", "address", "add", CONTRACT, "a@example.jp", "--json")
    assert quiet.returncode == 0 and quiet.stderr == ""
    assert json.loads(quiet.stdout)["mail"]["addresses"][0]["address"] == "a@example.jp"

    refused = run("mail", "address", "add", CONTRACT, "a@@example.jp")
    assert refused.returncode == 1
    assert refused.stderr == "error: address 'a@@example.jp': must contain exactly one @\n"


def test_config_check_fails_naming_the_key(tmp_config: Path) -> None:
    (tmp_config / "chakushin.toml").write_text("[agi]\nport = 70000\n", encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 1
    assert result.stderr == "error: agi.port: port must be 0-65535; got 70000\n"


def test_item3_OPS_1_config_check_loads_and_checks_the_templates(tmp_path: Path) -> None:
    bad = tmp_path / "templates"
    bad.mkdir()
    (bad / "subject.txt").write_text("着信 $nosuch\n", encoding="utf-8")
    for templates, expected in ((bad, "$nosuch"), (tmp_path / "none", "does not exist")):
        result = CliRunner().invoke(
            cli,
            ["config", "check"],
            env={"CHAKUSHIN_MAIL_TEMPLATES_DIR": str(templates), "CHAKUSHIN_CONFIG": ""},
        )
        assert result.exit_code == 1, result.output
        assert "mail.templates_dir" in result.output and expected in result.output


@pytest.mark.parametrize(
    "command",
    [
        ["mail", "address", "add", CONTRACT, "attacker@evil.example"],
        ["mail", "start", CONTRACT],
        ["number", "add", CONTRACT, SECOND],
        ["line", "auth-unit", CONTRACT, "number"],
    ],
)
def test_item17_OPS_2_a_failed_commit_prints_nothing_and_stores_nothing(
    chakushin: Chakushin, engine: Any, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """A full disk at COMMIT: stdout must not show data that was never stored."""
    chakushin("line", "add", CONTRACT)
    chakushin("mail", "address", "add", CONTRACT, "boss@example.jp")
    before = snapshot(engine)

    real_commit = sqlalchemy.orm.SessionTransaction.commit

    def disk_full(self: Any, _to_root: bool = False) -> None:
        if self._parent is not None:  # a flush's subtransaction: the writes themselves go
            real_commit(self, _to_root)
            return
        raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    monkeypatch.setattr(sqlalchemy.orm.SessionTransaction, "commit", disk_full)
    result = chakushin(*command, ok=False)
    monkeypatch.undo()
    assert result.exit_code == 1
    assert result.stdout == ""
    assert "database or disk is full" in result.stderr
    assert snapshot(engine) == before


def test_issue12_SITE_6_an_auth_unit_change_by_the_cli_ends_the_lines_sessions(
    chakushin: Chakushin, engine: Any
) -> None:
    """Who may log in and the idle timeout depend on the unit: no session outlives a change."""
    import datetime as dt

    from sqlalchemy.orm import Session as OrmSession

    from store.models import Number, SiteSession

    chakushin("line", "add", CONTRACT, "--auth-unit", "admin_user")
    chakushin("number", "add", CONTRACT, SECOND)
    now = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with OrmSession(engine) as s, s.begin():
        for i, number in enumerate(s.scalars(sqlalchemy.select(Number))):
            s.add(
                SiteSession(
                    id_hash=f"{i:064d}",
                    number_id=number.id,
                    stage="ready",
                    csrf_token="t",
                    idle_seconds=1800,
                    created_at=now,
                    last_seen_at=now,
                    expires_at=now + dt.timedelta(minutes=30),
                )
            )
    chakushin("line", "auth-unit", CONTRACT, "number")
    with OrmSession(engine) as s:
        assert s.scalars(sqlalchemy.select(SiteSession)).all() == []


def test_issue13_a_store_that_cannot_answer_is_one_line_and_one_json_object(
    tmp_path: Path,
) -> None:
    """store.db.DatabaseError is a StoreUnavailable, no longer a DomainError: the CLI's one
    exit shows it as before, one line on stderr or (--json) one object, status 1."""
    from store.errors import DomainError, StoreUnavailable

    assert not issubclass(StoreUnavailable, DomainError)
    damaged = tmp_path / "chakushin.db"
    damaged.write_bytes(b"not a database, a copy of something else")
    env = {"CHAKUSHIN_DATABASE_URL": f"sqlite:///{damaged}"}
    result = CliRunner().invoke(cli, ["line", "add", CONTRACT], env=env)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith("error: database file ")
    assert "is not a SQLite database" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    result = CliRunner().invoke(cli, ["--json", "number", "show", CONTRACT], env=env)
    assert result.exit_code == 1 and result.stdout == ""
    error = json.loads(result.stderr)
    assert error["error"] == "database_damaged" and "is not a SQLite database" in error["message"]
    assert damaged.read_bytes() == b"not a database, a copy of something else"
