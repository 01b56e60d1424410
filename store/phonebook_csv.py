"""Issue 19 (BOOK-1): a number's phonebook as a CSV file, down (``render``) and up (``parse``).

The same conventions as the OTP bulk file (``store.otp_csv``), read by the
same reader:

- Encoding: UTF-8, with or without a BOM, else Shift_JIS (cp932, what
  Japanese Excel saves). ``render`` writes UTF-8 with a BOM (so that Excel
  opens it as UTF-8) or Shift_JIS (cp932); a name or note that Shift_JIS
  cannot hold refuses the download (``CsvUnencodable``, naming the caller
  numbers) instead of writing ``?``.
- Lines end with CR+LF (a line ending with LF or CR alone refuses the file,
  reported once); the last line may lack it; blank lines are skipped.
- Every field double-quoted by ``render``; bare fields (Excel drops the
  quotes) and spaces around a field are read too; ``""`` is one ``"``.
- Columns: number, name, note. ``render`` writes the header line
  ``"number","name","note"``; ``parse`` skips a first line that is that
  header or its Japanese form (電話番号, 名前, メモ). The note may be left out
  (two fields).
- Formulas (CSV injection): a spreadsheet runs a cell that starts with
  ``=``, ``+``, ``-`` or ``@`` (and tab, CR, and their full-width forms) as a
  formula, so ``render`` writes such a name or note with a ``'`` in front
  (Excel's own "this is text" mark), and a value that starts with ``'``
  gets one more. ``parse`` drops that one ``'`` again: a downloaded file
  uploaded as it is gives the same book back.

``parse`` checks the whole file (at most ``MAX_CSV_BYTES`` bytes and
``MAX_PHONEBOOK`` rows, looked at before any value) and every value of every
row (BOOK-1: ``store.phonebook.stored_caller_number``,
``validation.caller_name``, ``validation.phonebook_note``, no caller twice);
any problem raises ``PhonebookCsvRefused`` with all of them, by line, and
the caller stores nothing. Its rows go to ``store.phonebook.replace_entries``
as they are.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from store import validation
from store.errors import DomainError, InvalidInput
from store.otp_csv.file_format import _decode, _lines, _split
from store.otp_csv.rows import CRLF, FILE, CsvProblem
from store.phonebook import Entry, stored_caller_number

log = structlog.get_logger("store")

# A full book is at most 300 x (18 + 40 x 4 + 100 x 4 bytes of UTF-8, quotes, commas)
# = about 175 KB; anything larger is refused before it is decoded.
MAX_CSV_BYTES = 512 * 1024
COLUMNS = ("number", "name", "note")
JAPANESE_COLUMNS = ("電話番号", "名前", "メモ")
ENCODINGS = ("utf-8", "shift_jis")
# What a spreadsheet takes for the start of a formula (OWASP "CSV injection").
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "＝", "＋", "－", "＠")
TEXT_MARK = "'"

OPERATOR_TEXT: Mapping[str, str] = {
    "phonebook_csv_refused": "the CSV file has errors; the phonebook was not changed",
    "phonebook_csv_empty": "the CSV file has no rows",
    "phonebook_csv_too_large": "the CSV file is larger than {max} bytes",
    "phonebook_csv_too_many_rows": "the CSV file has more than {max} rows",
    "phonebook_csv_encoding": "the CSV file is neither UTF-8 nor Shift_JIS",
    "phonebook_csv_line_ending": "a line does not end with CR+LF",
    "phonebook_csv_quoting": "the double quotes of the line are wrong",
    "phonebook_csv_field_count": "the line has {count} fields, not 3 (number, name, note)",
    "phonebook_csv_leading_zero": "the number lacks its leading 0 (a spreadsheet dropped it)",
    "phonebook_csv_duplicate": "the number is on line {line} already",
    "phonebook_csv_unencodable": (
        "Shift_JIS cannot hold the name or note of {numbers}; download it as UTF-8"
    ),
}


class CsvRowRefused(DomainError, ValueError):
    """One problem of the file or of a line, by its code in ``OPERATOR_TEXT``."""

    code = "phonebook_csv_row_refused"

    def __init__(self, code: str, **params: str | int) -> None:
        super().__init__(OPERATOR_TEXT[code].format_map(params), code=code, params=params)


class PhonebookCsvRefused(DomainError, ValueError):
    """BOOK-1: the uploaded file breaks a rule; nothing was stored.

    ``problems``: every ``CsvProblem`` (line, error) in line order, line 0
    (``FILE``) for the file as a whole; each error has the ``code`` and
    ``params`` of its Japanese sentence (``web.texts.japanese``).
    """

    code = "phonebook_csv_refused"

    def __init__(self, problems: Sequence[CsvProblem]) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        super().__init__(OPERATOR_TEXT["phonebook_csv_refused"], field="csv_file")


class CsvUnencodable(InvalidInput):
    """A download in Shift_JIS of names it cannot hold (never written as ``?``)."""

    code = "phonebook_csv_unencodable"

    def __init__(self, numbers: tuple[str, ...]) -> None:
        super().__init__(
            OPERATOR_TEXT["phonebook_csv_unencodable"].format(numbers=", ".join(numbers)),
            field="encoding",
            params={"numbers": numbers},
        )


# --- download --------------------------------------------------------------------------


def render(entries: Sequence[Entry], *, encoding: str = "utf-8") -> bytes:
    """The book as a CSV file: the header line, then one CR+LF line per entry, all quoted."""
    if encoding not in ENCODINGS:
        raise InvalidInput(
            f"encoding {encoding[:20]!r}: utf-8 or shift_jis",
            code="phonebook_csv_encoding_choice",
            field="encoding",
        )
    lines = [_line(COLUMNS)] + [
        _line((e.caller_number, _defused(e.name), _defused(e.note))) for e in entries
    ]
    if encoding == "utf-8":
        return "\ufeff".encode() + "".join(lines).encode("utf-8")
    unencodable: list[str] = []
    for entry, line in zip(entries, lines[1:], strict=True):
        try:
            # cp932 writes some characters as others (‖ ¢ £ ¬ as ∥ ￠ ￡ ￢): those too,
            # or the file would not upload as the book it came from.
            same = line.encode("cp932").decode("cp932") == line
        except UnicodeEncodeError:
            same = False
        if not same:
            unencodable.append(entry.caller_number)
    if unencodable:
        raise CsvUnencodable(tuple(unencodable))
    return "".join(lines).encode("cp932")


def _line(fields: Sequence[str]) -> str:
    return ",".join('"' + value.replace('"', '""') + '"' for value in fields) + CRLF


def _defused(value: str) -> str:
    """A cell a spreadsheet shows as the text it is, never runs as a formula."""
    return TEXT_MARK + value if value.startswith((*FORMULA_START, TEXT_MARK)) else value


def _undefused(value: str) -> str:
    """``_defused`` undone: the one ``'`` it put in front goes."""
    if value.startswith(TEXT_MARK) and value[1:].startswith((*FORMULA_START, TEXT_MARK)):
        return value[1:]
    return value


# --- upload ----------------------------------------------------------------------------


def parse(data: bytes) -> list[tuple[str, str, str]]:
    """BOOK-1: the rows (caller number, name, note) of an uploaded file, all checked.

    The values are as stored (``store.phonebook.replace_entries`` takes
    them). ``PhonebookCsvRefused`` with every problem, by line, otherwise.
    """
    if len(data) > MAX_CSV_BYTES:
        raise _refused(FILE, CsvRowRefused("phonebook_csv_too_large", max=MAX_CSV_BYTES))
    text = _decode(data)
    if text is None:
        raise _refused(FILE, CsvRowRefused("phonebook_csv_encoding"))
    lines = _lines(text)
    content = [(no, line) for no, (line, _end) in enumerate(lines, start=1) if not _blank(line)]
    if content and _is_header(_split(content[0][1])):
        content = content[1:]
    if len(content) > validation.MAX_PHONEBOOK:
        raise _refused(
            FILE, CsvRowRefused("phonebook_csv_too_many_rows", max=validation.MAX_PHONEBOOK)
        )
    if not content:
        raise _refused(FILE, CsvRowRefused("phonebook_csv_empty"))
    problems: list[CsvProblem] = []
    for line_no, (_line_text, ending) in enumerate(lines, start=1):
        if ending not in (CRLF, ""):
            problems.append(CsvProblem(line_no, CsvRowRefused("phonebook_csv_line_ending")))
            break
    rows: list[tuple[str, str, str]] = []
    first_line_of: dict[str, int] = {}
    for line_no, line in content:
        fields = _split(line)
        if fields is None:
            problems.append(CsvProblem(line_no, CsvRowRefused("phonebook_csv_quoting")))
            continue
        if len(fields) not in (2, 3):
            problems.append(
                CsvProblem(line_no, CsvRowRefused("phonebook_csv_field_count", count=len(fields)))
            )
            continue
        row, row_problems = _row(fields)
        if row is not None:
            earlier = first_line_of.setdefault(row[0], line_no)
            if earlier != line_no:
                row_problems.append(CsvRowRefused("phonebook_csv_duplicate", line=earlier))
        problems.extend(CsvProblem(line_no, error) for error in row_problems)
        if row is not None and not row_problems:
            rows.append(row)
    if problems:
        log.info("phonebook_csv_refused", problems=len(problems))
        raise PhonebookCsvRefused(problems)
    return rows


def _blank(line: str) -> bool:
    """An empty line, or one of empty cells only (``,,``: Excel writes them for rows
    whose cells were once filled)."""
    fields = _split(line) if line.strip() else []
    return fields is not None and all(not field.strip() for field in fields)


def _refused(line: int, error: DomainError) -> PhonebookCsvRefused:
    log.info("phonebook_csv_refused", problems=1, code=error.code)
    return PhonebookCsvRefused([CsvProblem(line, error)])


def _is_header(fields: list[str] | None) -> bool:
    if fields is None or len(fields) not in (2, 3):
        return False
    names = tuple(f.lower() for f in fields)
    return names in (COLUMNS[: len(names)], JAPANESE_COLUMNS[: len(names)])


def _row(fields: list[str]) -> tuple[tuple[str, str, str] | None, list[DomainError]]:
    """One line's values checked: the row (None if its number is unusable) and its problems."""
    number, name = fields[0], _undefused(fields[1])
    note = _undefused(fields[2]) if len(fields) == 3 else ""
    problems: list[DomainError] = []
    caller: str | None = None
    try:
        caller = stored_caller_number(number, field="number")
    except InvalidInput as exc:
        dropped_zero = number.isascii() and number.isdigit() and not number.startswith("0")
        if dropped_zero and _diallable("0" + number):
            problems.append(CsvRowRefused("phonebook_csv_leading_zero"))
        else:
            problems.append(exc)
    try:
        name = validation.caller_name(name)
    except InvalidInput as exc:
        problems.append(exc)
    try:
        note = validation.phonebook_note(note)
    except InvalidInput as exc:
        problems.append(exc)
    if caller is None:
        return None, problems
    return (caller, name, note), problems


def _diallable(number: str) -> bool:
    try:
        validation.diallable_number(number)
    except InvalidInput:
        return False
    return True
