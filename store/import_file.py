"""Issue 18 bulk import, the file: its limits, columns and rows (``store.importing`` applies them).

``parse`` reads a CSV or JSON Lines file into ``ImportRow`` values, checking
every limit before a value is used (``MAX_FILE_BYTES``, ``MAX_ROWS``,
``MAX_LINE_CHARS``, ``MAX_FIELD_CHARS``, UTF-8 only, no control or format
character, known columns only, no number twice, one auth unit per line) and
each value's type; every problem goes into the ``ImportReport``, with the line
of the file and the column. Nothing here touches the database.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import IO, Any, NamedTuple

from store import validation
from store.errors import DomainError
from store.models import AuthUnit, Service, VoiceWarpMode

FORMATS = ("csv", "jsonl")
MAX_FILE_BYTES = 32 * 2**20  # 32 MiB: 100,000 rows of settings with room
MAX_ROWS = 100_000
MAX_LINE_CHARS = 8192  # a line of the file (a valid row with every list full is about 3,500)
MAX_FIELD_CHARS = 2048  # one value (5 addresses of 254 characters fit)
MAX_PROBLEMS = 10_000  # reported; the count of refused rows is always whole
LIST_SEPARATOR, OFF_MARKER, CLEAR = ";", ":off", "-"
FILE = 0  # the line of a problem of the whole file

# The columns of a CSV file, in the order of the documentation; the JSON field is
# the API's (``mail_addresses`` is ``mail.addresses``).
COLUMNS: Mapping[str, str] = {
    "contract_number": "contract_number",
    "number": "number",
    "auth_unit": "auth_unit",
    "endpoint": "endpoint",
    "queue": "queue",
    "queue_seconds": "queue_seconds",
    "timezone": "timezone",
    "services": "services",
    "mail_started": "mail.started",
    "mail_unanswered_only": "mail.unanswered_only",
    "mail_designated_only": "mail.designated_only",
    "mail_addresses": "mail.addresses",
    "mail_designated_numbers": "mail.designated_numbers",
    "number_request_enabled": "number_request.enabled",
    "number_request_reject_payphone": "number_request.reject_payphone",
    "number_request_reject_unavailable": "number_request.reject_unavailable",
    "voice_warp_enabled": "voice_warp.enabled",
    "voice_warp_mode": "voice_warp.mode",
    "voice_warp_destination": "voice_warp.destination",
    "voice_warp_ring_seconds": "voice_warp.ring_seconds",
    "nuisance_numbers": "nuisance_numbers",
}
_FLAGS = frozenset(c for c in COLUMNS if c.endswith(("_started", "_only", "_enabled", "_payphone")))
_FLAGS |= {"number_request_reject_unavailable"}
_INTEGERS = frozenset({"queue_seconds", "voice_warp_ring_seconds"})
_CLEARABLE = frozenset({"endpoint", "queue", "queue_seconds", "voice_warp_destination"})
_CHOICES: Mapping[str, frozenset[str]] = {
    "auth_unit": frozenset(u.value for u in AuthUnit),
    "voice_warp_mode": frozenset(m.value for m in VoiceWarpMode),
    "services": frozenset(s.value for s in Service),
}
_ON = {"on": True, "true": True, "1": True, "yes": True}
_OFF = {"off": False, "false": False, "0": False, "no": False}
# JSON objects inside a row and their fields (the API's names).
_PAIR_LISTS = {
    "mail_addresses": ("address", "send"),
    "mail_designated_numbers": ("caller_number", "designated"),
}
_GROUPS = ("mail", "number_request", "voice_warp")

# Every code found here -> its English line for operators (web.texts.IMPORT has the Japanese).
OPERATOR_TEXT: Mapping[str, str] = {
    "import_refused": "the file has errors",
    "import_empty": "the file has no rows",
    "import_too_big": "the file is larger than {max} bytes",
    "import_too_many_rows": "the file has more than {max_rows} rows",
    "import_encoding": "the file is not UTF-8 (byte {offset} cannot be read)",
    "import_binary": "the file holds NUL bytes: not a text file",
    "import_line_too_long": "the line is longer than {max} characters",
    "import_csv_format": "the CSV file cannot be read from here on: {reason}",
    "import_too_many_columns": "the header has {count} columns; there are only {max} columns",
    "import_unknown_column": "unknown column(s): {names}",
    "import_duplicate_column": "the column {name} is given twice",
    "import_missing_column": "the header has no contract_number column",
    "import_field_count": "the row has {count} fields; the header has {expected}",
    "import_field_too_long": "the value is longer than {max} characters",
    "import_control_character": "the value holds a control or format character ({char})",
    "import_not_on_off": "{value!r} is not on or off (on/off, true/false, yes/no, 1/0)",
    "import_not_integer": "{value!r} is not a whole number of seconds",
    "import_choice": "{value!r} is not one of: {choices}",
    "import_empty_entry": "the list has an empty entry",
    "import_missing_value": "contract_number is needed on every row",
    "import_json": "the line is not one JSON object: {reason}",
    "import_not_object": "the line is not a JSON object",
    "import_unknown_field": "unknown field",
    "import_duplicate_field": "the field is given twice",
    "import_type": "the value must be {expected}",
    "import_duplicate": "the number {number} is on line {line} too",
    "import_auth_unit_conflict": "line {line} gives the line {contract_number} another auth unit",
    "import_database": "database error, the import stopped here and nothing was written: {reason}",
}


class ImportRefused(DomainError, ValueError):
    """A problem of the file or of one row's form, by its code in ``OPERATOR_TEXT``."""

    code = "import_refused"

    def __init__(self, code: str, *, field: str | None = None, **params: str | int) -> None:
        text = OPERATOR_TEXT[code].format_map(params)
        super().__init__(text, code=code, field=field, params=params)


class ImportProblem(NamedTuple):
    """A refused row (``line`` of the file, 1-based) or file (``FILE``), with the column."""

    line: int
    field: str | None
    code: str
    message: str

    def as_dict(self) -> dict[str, str | int | None]:
        return {"line": self.line, "field": self.field, "error": self.code, "message": self.message}


Pairs = tuple[tuple[str, bool], ...]


@dataclass
class ImportRow:
    """One row: ``values`` holds only the columns the row gives (None: clear)."""

    line: int
    contract_number: str
    number: str
    values: dict[str, Any] = field(default_factory=dict)

    @property
    def is_contract(self) -> bool:
        return self.number == self.contract_number

    def given(self, *columns: str) -> bool:
        return any(c in self.values for c in columns)


@dataclass
class ImportReport:
    rows: int = 0
    refused_rows: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    more_problems: int = 0  # beyond MAX_PROBLEMS
    lines_added: int = 0
    numbers_added: int = 0
    numbers_updated: int = 0
    written: bool = False
    aborted: bool = False
    refused_lines: set[int] = field(default_factory=set)

    def count(self, action: str) -> None:
        if action == "line_added":
            self.lines_added += 1
        elif action == "number_added":
            self.numbers_added += 1
        else:
            self.numbers_updated += 1

    def refuse(self, line: int, column: str | None, error: DomainError, fmt: str) -> None:
        if line != FILE and line not in self.refused_lines:
            self.refused_rows += 1
        self.refused_lines.add(line)
        if len(self.problems) >= MAX_PROBLEMS:
            self.more_problems += 1
            return
        shown = column if fmt == "csv" or column is None else COLUMNS.get(column, column)
        self.problems.append(ImportProblem(line, shown, error.code, error.message))


# --- the file ------------------------------------------------------------------------------


def read_limited(stream: IO[bytes]) -> bytes:
    """The whole stream; ``import_too_big`` past ``MAX_FILE_BYTES`` (read no further)."""
    data = stream.read(MAX_FILE_BYTES + 1)
    if len(data) > MAX_FILE_BYTES:
        raise ImportRefused("import_too_big", max=MAX_FILE_BYTES)
    return data


def format_of(path: str) -> str | None:
    """``csv`` or ``jsonl`` by the file's extension (``.ndjson`` too); None if neither."""
    lowered = path.lower()
    if lowered.endswith(".csv"):
        return "csv"
    if lowered.endswith((".jsonl", ".ndjson")):
        return "jsonl"
    return None


def parse(data: bytes, fmt: str, report: ImportReport) -> list[ImportRow]:
    """The rows of a file with no problem of their own; every problem into ``report``.

    A problem of the whole file (``FILE``, or a line too long in a CSV file)
    leaves no rows: nothing is applied then.
    """
    text = _decode(data, report, fmt)
    if text is None:
        return []
    rows = _csv_rows(text, report) if fmt == "csv" else _json_rows(text, report)
    if FILE in report.refused_lines:
        return []
    if not rows and not report.problems:
        report.refuse(FILE, None, ImportRefused("import_empty"), fmt)
    _refuse_duplicates(rows, report, fmt)
    report.rows = len(rows)
    return [r for r in rows if r.line not in report.refused_lines]


def _decode(data: bytes, report: ImportReport, fmt: str) -> str | None:
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
    if not data.strip():
        report.refuse(FILE, None, ImportRefused("import_empty"), fmt)
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        report.refuse(FILE, None, ImportRefused("import_encoding", offset=exc.start), fmt)
        return None
    if "\x00" in text:
        report.refuse(FILE, None, ImportRefused("import_binary"), fmt)
        return None
    return text


def _lines(text: str) -> Iterator[tuple[int, str]]:
    """The file's lines as the csv module and an editor count them: ended by LF, CR LF
    or CR, not by the other breaks of ``str.splitlines`` (U+2028, U+0085, form feed,
    ...), which may stand inside a value and would shift every later line number."""
    for line_no, line in enumerate(io.StringIO(text, newline=""), start=1):
        yield line_no, line.rstrip("\r\n")


def _long_lines(text: str) -> Iterator[int]:
    for line_no, line in _lines(text):
        if len(line) > MAX_LINE_CHARS:
            yield line_no


def _csv_rows(text: str, report: ImportReport) -> list[ImportRow]:
    long_lines = list(_long_lines(text))
    for line_no in long_lines:
        report.refuse(
            line_no, None, ImportRefused("import_line_too_long", max=MAX_LINE_CHARS), "csv"
        )
    if long_lines:
        return []
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    rows: list[ImportRow] = []
    header: list[str] | None = None
    line_no = 1
    try:
        for record in reader:
            start, line_no = line_no, reader.line_num + 1
            if not record or record == [""]:
                continue
            if header is None:
                header = _header(record, report)
                if header is None:
                    return []
                continue
            if len(rows) >= MAX_ROWS:
                report.refuse(
                    FILE, None, ImportRefused("import_too_many_rows", max_rows=MAX_ROWS), "csv"
                )
                return []
            if len(record) != len(header):
                error = ImportRefused("import_field_count", count=len(record), expected=len(header))
                report.refuse(start, None, error, "csv")
                rows.append(ImportRow(start, "", ""))
                continue
            cells = {c: v for c, v in zip(header, record, strict=True) if v != ""}
            row = _row(start, cells, report, "csv")
            rows.append(row)
    except csv.Error as exc:
        error = ImportRefused("import_csv_format", reason=str(exc))
        report.refuse(FILE, None, error, "csv")
        return []
    return rows


def _header(record: list[str], report: ImportReport) -> list[str] | None:
    names = [name.strip() for name in record]
    error: ImportRefused | None = None
    if len(names) > len(COLUMNS):
        error = ImportRefused("import_too_many_columns", count=len(names), max=len(COLUMNS))
    elif unknown := [n for n in names if n not in COLUMNS]:
        error = ImportRefused("import_unknown_column", names=", ".join(repr(n) for n in unknown))
    elif twice := [n for n in names if names.count(n) > 1]:
        error = ImportRefused("import_duplicate_column", name=twice[0])
    elif "contract_number" not in names:
        error = ImportRefused("import_missing_column")
    if error is not None:
        report.refuse(FILE, None, error, "csv")
        return None
    return names


def _json_rows(text: str, report: ImportReport) -> list[ImportRow]:
    rows: list[ImportRow] = []
    for line_no, line in _lines(text):
        if not line.strip():
            continue
        if len(rows) >= MAX_ROWS:
            report.refuse(
                FILE, None, ImportRefused("import_too_many_rows", max_rows=MAX_ROWS), "jsonl"
            )
            return []
        rows.append(ImportRow(line_no, "", ""))
        if len(line) > MAX_LINE_CHARS:
            report.refuse(
                line_no, None, ImportRefused("import_line_too_long", max=MAX_LINE_CHARS), "jsonl"
            )
            continue
        try:
            obj = json.loads(line, object_pairs_hook=_no_duplicate_keys)
        except _DuplicateKey as exc:
            report.refuse(line_no, exc.key, ImportRefused("import_duplicate_field"), "csv")
            continue
        except (ValueError, RecursionError) as exc:
            reason = str(exc)[:100] if isinstance(exc, ValueError) else "nested too deep"
            report.refuse(line_no, None, ImportRefused("import_json", reason=reason), "jsonl")
            continue
        if not isinstance(obj, dict):
            report.refuse(line_no, None, ImportRefused("import_not_object"), "jsonl")
            continue
        cells = _flatten(obj, line_no, report)
        if cells is not None:
            rows[-1] = _row(line_no, cells, report, "jsonl")
    return rows


class _DuplicateKey(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            raise _DuplicateKey(key[:100])
        found[key] = value
    return found


def _flatten(obj: dict[str, Any], line_no: int, report: ImportReport) -> dict[str, Any] | None:
    """The JSON object as columns (``mail.started`` -> ``mail_started``); None if refused."""
    cells: dict[str, Any] = {}
    bad = False

    def refuse(path: str, error: ImportRefused) -> None:
        nonlocal bad
        bad = True
        report.refuse(line_no, path, error, "csv")

    for key, value in obj.items():
        if key in _GROUPS:
            if not isinstance(value, dict):
                refuse(key, ImportRefused("import_type", expected="an object"))
                continue
            for inner, inner_value in value.items():
                column = f"{key}_{inner}"
                if COLUMNS.get(column) != f"{key}.{inner}":
                    refuse(f"{key}.{inner}"[:100], ImportRefused("import_unknown_field"))
                else:
                    cells[column] = inner_value
        elif key in COLUMNS and "." not in COLUMNS[key]:
            cells[key] = value
        else:
            refuse(key[:100], ImportRefused("import_unknown_field"))
    for column, (first, second) in _PAIR_LISTS.items():
        entries = cells.get(column)
        if not isinstance(entries, list):
            continue
        pairs: list[tuple[str, bool]] = []
        for entry in entries:
            path = COLUMNS[column]
            if not isinstance(entry, dict):
                refuse(path, ImportRefused("import_type", expected="a list of objects"))
                break
            if extra := [k for k in entry if k not in (first, second)]:
                refuse(f"{path}.{extra[0]}"[:100], ImportRefused("import_unknown_field"))
                break
            name, flag = entry.get(first), entry.get(second, True)
            if not isinstance(name, str) or not isinstance(flag, bool):
                expected = f"objects of {first} (text) and {second} (true or false)"
                refuse(path, ImportRefused("import_type", expected=expected))
                break
            pairs.append((name, flag))
        else:
            cells[column] = tuple(pairs)  # as given: OFF_MARKER is CSV's, not read here
    return None if bad else cells


def _row(line_no: int, cells: Mapping[str, Any], report: ImportReport, fmt: str) -> ImportRow:
    """One row's values by column, each of its type; every bad value reported."""
    values: dict[str, Any] = {}
    for column, raw in cells.items():
        try:
            values[column] = _value(column, raw, fmt)
        except ImportRefused as error:
            report.refuse(line_no, column, error, fmt)
    contract = values.pop("contract_number", None)
    number = values.pop("number", None) or contract
    if contract is None and "contract_number" not in cells:
        report.refuse(line_no, "contract_number", ImportRefused("import_missing_value"), fmt)
    return ImportRow(line_no, contract or "", number or "", values)


def _value(column: str, raw: Any, fmt: str) -> Any:
    if fmt == "jsonl":
        return _json_value(column, raw)
    if raw == CLEAR and column in _CLEARABLE:
        return None
    if column in ("services", "nuisance_numbers", *_PAIR_LISTS):
        items = [] if raw == CLEAR else _text(raw).split(LIST_SEPARATOR)
        return _list_value(column, items)
    return _scalar(column, raw)


def _json_value(column: str, raw: Any) -> Any:
    if raw is None and (column in _CLEARABLE or column == "number"):
        return None
    if column in _PAIR_LISTS and isinstance(raw, tuple):
        # _flatten's (name, flag) pairs: a name ending in ":off" is the domain's to refuse.
        _json_value(column, [name for name, _ in raw])  # the list's count and characters
        return raw
    if column in ("services", "nuisance_numbers", *_PAIR_LISTS):
        if not isinstance(raw, list) or not all(isinstance(i, str) for i in raw):
            raise ImportRefused("import_type", expected="a list of text")
        if len(raw) > validation.MAX_NUISANCE + 1:
            raise ImportRefused("import_field_too_long", max=validation.MAX_NUISANCE)
        return _list_value(column, raw)
    if column in _FLAGS:
        if not isinstance(raw, bool):
            raise ImportRefused("import_type", expected="true or false")
        return raw
    if column in _INTEGERS:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise ImportRefused("import_type", expected="a whole number")
        return _scalar(column, str(raw))
    if not isinstance(raw, str):
        raise ImportRefused("import_type", expected="text")
    return _scalar(column, raw)


def _text(raw: str) -> str:
    """Reject all C0/C1 controls and format characters: none belongs in any value."""
    if len(raw) > MAX_FIELD_CHARS:
        raise ImportRefused("import_field_too_long", max=MAX_FIELD_CHARS)
    for char in raw:
        if unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp"):
            raise ImportRefused("import_control_character", char=f"U+{ord(char):04X}")
    return raw


def _scalar(column: str, raw: str) -> Any:
    raw = _text(raw)
    if column in _FLAGS:
        flag = _ON.get(raw.lower(), _OFF.get(raw.lower()))
        if flag is None:
            raise ImportRefused("import_not_on_off", value=raw[:40])
        return flag
    if column in _INTEGERS:
        if not raw.isascii() or not raw.isdigit() or len(raw) > 4:
            raise ImportRefused("import_not_integer", value=raw[:40])
        return int(raw)
    if column in _CHOICES and raw not in _CHOICES[column]:
        raise ImportRefused(
            "import_choice", value=raw[:40], choices=", ".join(sorted(_CHOICES[column]))
        )
    if column == "auth_unit":
        return AuthUnit(raw)
    if column == "voice_warp_mode":
        return VoiceWarpMode(raw)
    return raw


def _list_value(column: str, items: Sequence[str]) -> Any:
    for item in items:
        _text(item)
        if not item:
            raise ImportRefused("import_empty_entry")
    if column == "services":
        for item in items:
            if item not in _CHOICES["services"]:
                raise ImportRefused(
                    "import_choice",
                    value=item[:40],
                    choices=", ".join(sorted(_CHOICES["services"])),
                )
        return frozenset(Service(i) for i in items)
    if column == "nuisance_numbers":
        return tuple(items)
    pairs: list[tuple[str, bool]] = []
    for item in items:
        off = item.endswith(OFF_MARKER)
        pairs.append((item[: -len(OFF_MARKER)] if off else item, not off))
    return tuple(pairs)


def _refuse_duplicates(rows: Sequence[ImportRow], report: ImportReport, fmt: str) -> None:
    """A number on two rows, or two auth units for one line: each row names the other."""
    lines_of: dict[str, list[int]] = {}
    for row in rows:
        if row.number:
            lines_of.setdefault(row.number, []).append(row.line)
    for number, lines in lines_of.items():
        for line in lines if len(lines) > 1 else ():
            other = lines[1] if line == lines[0] else lines[0]
            error = ImportRefused("import_duplicate", number=number, line=other)
            report.refuse(line, "number", error, fmt)
    refused = set(report.refused_lines)
    unit_of: dict[str, tuple[AuthUnit, int]] = {}
    for row in rows:
        unit = row.values.get("auth_unit")
        if unit is None or row.line in refused:
            continue
        first = unit_of.setdefault(row.contract_number, (unit, row.line))
        if first[0] != unit:
            error = ImportRefused(
                "import_auth_unit_conflict", line=first[1], contract_number=row.contract_number
            )
            report.refuse(row.line, "auth_unit", error, fmt)
    report.problems.sort(key=lambda p: p.line)
