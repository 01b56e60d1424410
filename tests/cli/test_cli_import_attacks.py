"""Issue 18 (OPS-2): ``chakushin import`` of hostile files, found by probing, on both databases.

The report names every refused row by its line in the file as an editor
counts lines: a line ends at a line feed (or CR LF, or a lone CR in CSV),
never at a character Python's ``str.splitlines`` also breaks at (U+2028,
U+0085, form feed ...), which may stand inside a value.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.builders import snapshot
from tests.cli.conftest import Chakushin

C1, C2 = "0359207146", "0359207147"


def problems(chakushin: Chakushin, tmp_path: Path, name: str, data: str) -> list[Any]:
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8"))
    before = snapshot(chakushin.db_url)
    result = chakushin("import", str(path), "--json", ok=False)
    assert result.exit_code == 1, result.stdout
    assert snapshot(chakushin.db_url) == before
    found: list[Any] = json.loads(result.stdout)["problems"]
    return [(p["line"], p["field"], p["error"]) for p in found]


@pytest.mark.parametrize("inside", ["\u2028", "\u2029", "\x85"])
def test_issue18_jsonl_a_line_break_character_inside_a_value_keeps_the_lines(
    chakushin: Chakushin, tmp_path: Path, inside: str
) -> None:
    """Valid JSON may hold U+2028 / U+0085 unescaped: the row was cut in two there
    (line 1 "not one JSON object") and every later row was named a line too far."""
    rows = [
        {"contract_number": C1, "endpoint": f"PJSIP/1{inside}"},
        {"contract_number": C2, "endpoint": "PJSIP 2"},
    ]
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows)
    assert problems(chakushin, tmp_path, "rows.jsonl", text) == [
        (1, "endpoint", "import_control_character"),
        (2, "endpoint", "endpoint_format"),
    ]


@pytest.mark.parametrize("inside", ["\x0c", "\x0b", "\u2028", "\x1e"])
def test_issue18_csv_a_line_too_long_is_named_by_its_line(
    chakushin: Chakushin, tmp_path: Path, inside: str
) -> None:
    text = f"contract_number,endpoint\n{C1},PJSIP/1{inside}\n{C2},PJSIP/{'2' * 9000}\n"
    assert problems(chakushin, tmp_path, "rows.csv", text) == [(3, None, "import_line_too_long")]


@pytest.mark.parametrize(
    ("group", "entry", "code"),
    [
        (
            "designated_numbers",
            {"caller_number": "0311112222:off", "designated": True},
            "number_not_digits",
        ),
        ("addresses", {"address": "a@example.jp:off", "send": True}, "address_domain_chars"),
    ],
)
def test_issue18_jsonl_a_value_ending_in_off_is_not_the_csv_marker(
    chakushin: Chakushin, tmp_path: Path, group: str, entry: dict[str, Any], code: str
) -> None:
    """``:off`` is CSV's way to write send/designated false; in JSON the flag says it.
    A JSON value ending in ``:off`` was cut and stored as another, switched off
    (0311112222 not designated) instead of refused as the value it is."""
    row = {"contract_number": C1, "mail": {group: [entry]}}
    found = problems(chakushin, tmp_path, "rows.jsonl", json.dumps(row) + "\n")
    assert found == [(1, f"mail.{group}", code)]
