"""Issue 14, the operator's path in the CLI: every config error at once; no silent no-op."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from chakushin.cli import cli
from tests.builders import snapshot

CONTRACT = "0312345678"

THREE_BAD = """\
[ami]
port = 70000
[log]
level = "loud"
[mail]
from_address = "着信お知らせメール <noreply@example.jp"
"""


def test_issue14_OPS_2_config_check_names_every_bad_value(tmp_config: Path) -> None:
    (tmp_config / "chakushin.toml").write_text(THREE_BAD, encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "error: the configuration has 3 problems:"
    assert lines[1:] == [
        "error: mail.from_address: write Name <address> or the address alone; "
        "got '着信お知らせメール <noreply@example.jp'",
        "error: ami.port: port must be 1-65535; got 70000",
        "error: log.level: must be one of debug, info, warning, error; got 'loud'",
    ]


def test_issue14_OPS_2_config_check_json_lists_every_problem(tmp_config: Path) -> None:
    (tmp_config / "chakushin.toml").write_text(THREE_BAD, encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check", "--json"])
    assert result.exit_code == 1
    shown = json.loads(result.stderr)
    assert shown["error"] == "config"
    assert [p["key"] for p in shown["problems"]] == ["mail.from_address", "ami.port", "log.level"]


def test_issue14_OPS_2_mail_conditions_without_an_option_says_what_it_sets(
    db_url: str, tmp_config: Path
) -> None:
    env = {"CHAKUSHIN_DATABASE_URL": db_url}
    runner = CliRunner()
    added = runner.invoke(cli, ["line", "add", CONTRACT], env=env)
    assert added.exit_code == 0, added.stderr
    before = snapshot(db_url)
    result = runner.invoke(cli, ["mail", "conditions", CONTRACT], env=env)
    assert result.exit_code != 0
    assert result.stdout == ""
    assert result.stderr == (
        "error: nothing to set: give --designated-only on|off and/or --unanswered-only on|off\n"
    )
    assert snapshot(db_url) == before


def test_issue14_OPS_2_config_check_names_every_bad_template(tmp_config: Path) -> None:
    """MAIL-9: two broken templates in mail.templates_dir are both named, in one run."""
    templates = tmp_config / "templates"
    templates.mkdir()
    (templates / "subject.txt").write_text("着信 $calller\n", encoding="utf-8")
    (templates / "body.txt").write_text("料金 100$ です\n", encoding="utf-8")
    (tmp_config / "chakushin.toml").write_text(
        f'[mail]\ntemplates_dir = "{templates.as_posix()}"\n', encoding="utf-8"
    )
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0] == "error: the configuration has 2 problems:"
    assert len(lines) == 3
    assert "subject.txt" in lines[1] and "$calller" in lines[1]
    assert "body.txt" in lines[2] and "'$'" in lines[2]
    assert all(line.startswith("error: mail.templates_dir: ") for line in lines[1:])


def test_issue14_MAIL_4a_number_show_warns_of_the_condition_without_designated_numbers(
    db_url: str, tmp_config: Path
) -> None:
    """A number stored with (a) on and no ticked number mails nothing: show says so."""
    from store import db, service

    env = {"CHAKUSHIN_DATABASE_URL": db_url}
    runner = CliRunner()
    assert runner.invoke(cli, ["line", "add", CONTRACT], env=env).exit_code == 0
    shown = runner.invoke(cli, ["number", "show", CONTRACT], env=env)
    assert "warning" not in shown.stdout
    engine = db.make_engine(db_url)
    try:
        with db.transaction(db.session_factory(engine)) as s:
            service.get_number(s, CONTRACT).notification.designated_only = True
    finally:
        engine.dispose()
    shown = runner.invoke(cli, ["number", "show", CONTRACT], env=env)
    assert shown.exit_code == 0, shown.stderr
    assert (
        "  warning: designated only is on but no designated number is ticked: "
        "no call is mailed" in shown.stdout
    )
    as_json = runner.invoke(cli, ["--json", "number", "show", CONTRACT], env=env)
    assert json.loads(as_json.stdout)["mail"]["warnings"] == ["designated_only_without_numbers"]
