"""``chakushin nuisance`` and a hidden entry's digits (CALL-2, issue 16), on both backends.

The operator's CLI says of a caller number what the site says: a number only
a hidden entry (the phone's 144-2, a withheld caller) holds is added like
any other, and removing by it says "not listed" as for a number nobody
listed, leaving the hidden entry in place.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from click.testing import CliRunner, Result

from chakushin.cli import cli

NUMBER, WITHHELD, NOBODY = "0312345678", "0311112222", "0311113333"


def chakushin(db_url: str, workdir: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        list(args),
        env={"CHAKUSHIN_DATABASE_URL": db_url, "CHAKUSHIN_DATA_DIR": str(workdir / "data")},
        catch_exceptions=False,
    )


def listed(db_url: str, workdir: Path) -> list[dict[str, Any]]:
    shown = chakushin(db_url, workdir, "number", "show", NUMBER, "--json")
    assert shown.exit_code == 0, shown.stderr
    entries: list[dict[str, Any]] = json.loads(shown.stdout)["nuisance_list"]
    return entries


def test_issue16_CALL_2_the_cli_treats_a_hidden_entrys_digits_as_any_unlisted_number(
    db_url: str, tmp_config: Path
) -> None:
    for args in (
        ("line", "add", NUMBER),
        ("nuisance", "add", NUMBER, WITHHELD, "--hidden"),
    ):
        assert chakushin(db_url, tmp_config, *args).exit_code == 0
    by_digits = chakushin(db_url, tmp_config, "nuisance", "remove", NUMBER, WITHHELD)
    nobody = chakushin(db_url, tmp_config, "nuisance", "remove", NUMBER, NOBODY)
    assert by_digits.exit_code == nobody.exit_code != 0
    assert by_digits.stderr == nobody.stderr and "not on the nuisance list" in nobody.stderr
    assert listed(db_url, tmp_config) == [{"position": 1, "caller_number": None, "hidden": True}]
    added = chakushin(db_url, tmp_config, "nuisance", "add", NUMBER, WITHHELD)
    assert added.exit_code == 0, added.stderr
    removed = chakushin(db_url, tmp_config, "nuisance", "remove", NUMBER, WITHHELD)
    assert removed.exit_code == 0, removed.stderr  # the visible one
    assert listed(db_url, tmp_config) == [{"position": 1, "caller_number": None, "hidden": True}]
