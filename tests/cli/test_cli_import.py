"""Issue 18 (OPS-2): ``chakushin import FILE`` on both databases, through the CLI runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from chakushin.cli import cli
from store import import_file
from tests.builders import snapshot
from tests.cli.conftest import Chakushin

C, E1, E2 = "0359207146", "0359207147", "0359207148"
GOOD = (
    "contract_number,number,auth_unit,endpoint,mail_addresses,mail_started,mail_unanswered_only\r\n"
    f"{C},,number,PJSIP/100,a@example.jp;b@example.jp:off,on,on\r\n"
    f"{C},{E1},,PJSIP/101,,,\r\n"
)
BAD = (
    "contract_number,number,endpoint,mail_addresses,mail_started\n"
    f"{C},,PJSIP/100,,\n"
    f"{C},{E1},PJSIP 101,,\n"  # line 3: a space in the endpoint
    f"{C},{E2},,x@,on\n"  # line 4: MAIL-3
)


def written(tmp_path: Path, name: str, text: str | bytes) -> str:
    path = tmp_path / name
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return str(path)


def with_stdin(chakushin: Chakushin, data: bytes, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        list(args),
        input=data,
        env={
            "CHAKUSHIN_DATABASE_URL": chakushin.db_url,
            "CHAKUSHIN_DATA_DIR": str(chakushin.workdir),
        },
        catch_exceptions=False,
    )


def test_issue18_import_csv_then_show_and_reimport(chakushin: Chakushin, tmp_path: Path) -> None:
    path = written(tmp_path, "numbers.csv", GOOD)
    result = chakushin("import", path)
    assert result.stdout.strip() == (
        "imported 2 row(s): 1 line(s) added, 1 other number(s) added, 0 number(s) updated"
    )
    shown = chakushin.json("number", "show", C)
    assert shown["auth_unit"] == "number" and shown["mail"]["started"]
    assert shown["mail"]["unanswered_only"]
    assert [(a["address"], a["send"]) for a in shown["mail"]["addresses"]] == [
        ("a@example.jp", True),
        ("b@example.jp", False),
    ]
    assert chakushin.json("number", "show", E1)["endpoint"] == "PJSIP/101"
    before = snapshot(chakushin.db_url)
    again = chakushin("import", path)
    assert "2 number(s) updated" in again.stdout
    assert snapshot(chakushin.db_url) == before


def test_issue18_import_jsonl_from_stdin(chakushin: Chakushin) -> None:
    rows = [
        {"contract_number": C, "voice_warp": {"destination": "0901234567", "enabled": True}},
        {"contract_number": C, "number": E1, "services": ["mail"]},
    ]
    data = "".join(json.dumps(r) + "\n" for r in rows).encode()
    result = with_stdin(chakushin, data, "import", "-", "--format", "jsonl")
    assert result.exit_code == 0, result.stderr
    assert chakushin.json("number", "show", C)["voice_warp"]["enabled"]
    assert chakushin.json("number", "show", E1)["services"] == ["mail"]
    usage = with_stdin(chakushin, data, "import", "-")
    assert usage.exit_code == 2 and "--format" in usage.stderr


def test_issue18_import_refuses_all_and_reports_every_row(
    chakushin: Chakushin, tmp_path: Path
) -> None:
    path = written(tmp_path, "bad.csv", BAD)
    before = snapshot(chakushin.db_url)
    result = chakushin("import", path, ok=False)
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert lines[0].startswith("error: line 3, endpoint: endpoint 'PJSIP 101'")
    assert lines[1].startswith("error: line 4, mail_addresses: address 'x@'")
    assert lines[2] == "error: 2 of 3 row(s) refused; nothing written (all or nothing)"
    assert snapshot(chakushin.db_url) == before


def test_issue18_import_json_report(chakushin: Chakushin, tmp_path: Path) -> None:
    path = written(tmp_path, "bad.csv", BAD)
    result = chakushin("--json", "import", path, "--partial", ok=False)
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert report["written"] and report["rows"] == 3 and report["refused_rows"] == 2
    assert [(p["line"], p["field"], p["error"]) for p in report["problems"]] == [
        (3, "endpoint", "endpoint_format"),
        (4, "mail_addresses", "address_at_last"),
    ]
    assert [n["number"] for n in chakushin.json("number", "list")] == [C]


def test_issue18_import_dry_run_stores_nothing(chakushin: Chakushin, tmp_path: Path) -> None:
    path = written(tmp_path, "numbers.csv", GOOD)
    before = snapshot(chakushin.db_url)
    result = chakushin("import", "--dry-run", path)
    assert result.stdout.startswith("dry run: 2 row(s) checked, no row refused")
    assert snapshot(chakushin.db_url) == before


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("binary.csv", b"\x00\x01\x02\x03", "error: the file holds NUL bytes"),
        ("latin.csv", "contract_number\nÄ\n".encode("latin-1"), "error: the file is not"),
        (
            "cols.csv",
            b"contract_number,colour\n1,2\n",
            "error: unknown column(s): 'colour'",
        ),
        ("dup.csv", f"contract_number\n{C}\n{C}\n".encode(), "error: line 2, number: the number"),
    ],
)
def test_issue18_import_hostile_files(
    chakushin: Chakushin, tmp_path: Path, name: str, data: bytes, message: str
) -> None:
    before = snapshot(chakushin.db_url)
    result = chakushin("import", written(tmp_path, name, data), ok=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.startswith(message), result.stderr
    assert snapshot(chakushin.db_url) == before


def test_issue18_import_too_big_and_missing_files(
    chakushin: Chakushin, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(import_file, "MAX_FILE_BYTES", 100)
    path = written(tmp_path, "big.csv", GOOD * 10)
    assert chakushin.refused("import", path) == "error: the file is larger than 100 bytes\n"
    missing = chakushin.refused("import", str(tmp_path / "none.csv"))
    assert missing.startswith("error: cannot read ") and "No such file" in missing
    usage = chakushin.refused("import", written(tmp_path, "x.txt", GOOD), status=2)
    assert "--format" in usage


def test_issue18_import_partial_says_what_was_stored(chakushin: Chakushin, tmp_path: Path) -> None:
    result = chakushin("import", "--partial", written(tmp_path, "bad.csv", BAD), ok=False)
    assert result.exit_code == 1 and result.stdout == ""
    assert result.stderr.strip().splitlines()[-1] == (
        "error: 2 of 3 row(s) refused; the other 1 stored: 1 line(s) added, "
        "0 other number(s) added, 0 number(s) updated"
    )
