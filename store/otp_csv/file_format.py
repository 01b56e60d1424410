"""SITE-9: the file itself, down (``export_csv``) and up (``parse_csv``).

The form of the file is described in ``store.otp_csv``; ``parse_csv``
checks it and every value, ``export_csv`` writes what it reads.
"""

from __future__ import annotations

import codecs
import re
from collections.abc import Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import password_rules, service, validation
from store.errors import DomainError, InvalidAddress
from store.models import SiteCredential
from store.otp_csv.rows import (
    COLUMNS,
    CRLF,
    FILE,
    MAX_ROWS,
    CsvProblem,
    CsvRefused,
    CsvRow,
    RowRefused,
)

log = structlog.get_logger("store")


_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_FLAGS = {"0": False, "1": True}


def export_csv(session: Session, numbers: Sequence[str]) -> bytes:
    """SITE-9 一括ダウンロード: the numbers' current settings, CR+LF lines, every field quoted.

    ``1`` only while the one-time password is in use with a verified
    address; the address is the verified one (a pending one is not shown).
    The confirmation password is stored only as a hash: its field is
    empty, which an upload reads as "unchanged". A number without a site
    password yet: ``"number","0","","",""``. Raises ``NotFound`` for an
    unknown number.
    """
    lines = []
    for number in dict.fromkeys(numbers):
        found = service.get_number(session, number)
        cred = session.scalars(
            select(SiteCredential).where(SiteCredential.number_id == found.id)
        ).one_or_none()
        address = cred.otp_address if cred is not None else None
        in_use = cred is not None and cred.otp_enabled and address is not None
        fields = (
            found.number,
            "1" if in_use else "0",
            address or "",
            (cred.otp_confirmation_id if cred is not None else None) or "",
            "",
        )
        lines.append(",".join(_quote(value) for value in fields) + CRLF)
    log.info("otp_csv_exported", numbers=len(lines))
    return "".join(lines).encode()  # ASCII: every stored value passed MAIL-3 / SITE-5


def _quote(value: str) -> str:
    return '"' + value.replace('"', '""') + '"'


# --- upload: the file ------------------------------------------------------------------


def parse_csv(
    data: bytes, *, allowed_numbers: Sequence[str], max_rows: int = MAX_ROWS
) -> list[CsvRow]:
    """SITE-9: every row of the uploaded file, checked; ``CsvRefused`` with every problem.

    ``allowed_numbers``: the numbers the login manages
    (``site_auth.managed_numbers``); any other number is refused. Checks
    the form of the file (encoding, CR+LF, quoting, five fields) and of each
    value (number, 0/1, MAIL-3 address, SITE-5 ID and password rules), and
    that no number appears twice; more than ``max_rows`` rows (blank lines
    and the header line aside) refuse the file before any row is looked at.
    What depends on the stored settings is checked by ``check_rows``.
    """
    text = _decode(data)
    if text is None:
        raise CsvRefused([CsvProblem(FILE, RowRefused("encoding"))])
    lines = _lines(text)
    if _row_count(lines) > max_rows:
        log.info("otp_csv_refused", problems=1, stage="rows", max_rows=max_rows)
        raise CsvRefused([CsvProblem(FILE, RowRefused("too_many_rows", max_rows=max_rows))])
    scope = frozenset(allowed_numbers)
    problems: list[CsvProblem] = []
    rows: list[CsvRow] = []
    first_line_of: dict[str, int] = {}
    line_ending_reported = False
    seen_content = False
    for line_no, (line, ending) in enumerate(lines, start=1):
        if ending not in (CRLF, "") and not line_ending_reported:
            problems.append(CsvProblem(line_no, RowRefused("line_ending")))
            line_ending_reported = True
        if not line.strip():
            continue
        fields = _split(line)
        first = not seen_content
        seen_content = True
        if fields is None:
            problems.append(CsvProblem(line_no, RowRefused("quoting")))
            continue
        if first and tuple(fields) == COLUMNS:
            continue
        if len(fields) != len(COLUMNS):
            problems.append(CsvProblem(line_no, RowRefused("field_count", count=len(fields))))
            continue
        row, row_problems = _row(line_no, fields, scope)
        if row is not None:
            earlier = first_line_of.setdefault(row.number, line_no)
            if earlier != line_no:
                row_problems.append(RowRefused("number_duplicate", line=earlier))
        problems.extend(CsvProblem(line_no, error) for error in row_problems)
        if row is not None and not row_problems:
            rows.append(row)
    if not rows and not problems:
        problems.append(CsvProblem(FILE, RowRefused("empty")))
    if problems:
        log.info("otp_csv_refused", problems=len(problems), stage="parse")
        raise CsvRefused(problems)
    return rows


def _row_count(lines: Sequence[tuple[str, str]]) -> int:
    """The lines that are rows: not blank, and not a header line first."""
    content = [line for line, _ending in lines if line.strip()]
    if content and tuple(_split(content[0]) or ()) == COLUMNS:
        return len(content) - 1
    return len(content)


def _decode(data: bytes) -> str | None:
    """UTF-8 (a BOM is dropped), else Shift_JIS as Japanese Excel saves it; None if neither."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8) :]
        encodings: tuple[str, ...] = ("utf-8",)
    else:
        encodings = ("utf-8", "cp932")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    return None


def _lines(text: str) -> list[tuple[str, str]]:
    """Each line with the break that ends it ("" for a last line without one)."""
    lines: list[tuple[str, str]] = []
    start = 0
    for match in _LINE_BREAK.finditer(text):
        lines.append((text[start : match.start()], match.group()))
        start = match.end()
    if start < len(text):
        lines.append((text[start:], ""))
    return lines


def _split(line: str) -> list[str] | None:
    """The fields of one line; None when its quotes are wrong.

    A field is quoted (``"…"``, ``""`` for a quote inside) or bare (no quote
    at all); spaces and tabs around it are ignored.
    """
    fields: list[str] = []
    i, end = 0, len(line)
    while True:
        while i < end and line[i] in " \t":
            i += 1
        if i < end and line[i] == '"':
            value: list[str] = []
            i += 1
            while True:
                close = line.find('"', i)
                if close == -1:
                    return None
                value.append(line[i:close])
                if line.startswith('""', close):
                    value.append('"')
                    i = close + 2
                    continue
                i = close + 1
                break
            while i < end and line[i] in " \t":
                i += 1
            fields.append("".join(value))
            if i == end:
                return fields
            if line[i] != ",":
                return None
            i += 1
        else:
            comma = line.find(",", i)
            stop = end if comma == -1 else comma
            bare = line[i:stop].strip(" \t")
            if '"' in bare:
                return None
            fields.append(bare)
            if comma == -1:
                return fields
            i = comma + 1


def _row(
    line_no: int, fields: list[str], scope: frozenset[str]
) -> tuple[CsvRow | None, list[DomainError]]:
    """One line's values checked; the row (None if its number is unusable) and its problems."""
    number, flag, address, confirmation_id, confirmation_password = fields
    problems: list[DomainError] = []
    number_ok = False
    if not number:
        problems.append(RowRefused("number_empty"))
    elif not number.isascii() or not number.isdigit():
        problems.append(RowRefused("number_not_digits"))
    elif number not in scope:
        if "0" + number in scope:
            problems.append(RowRefused("number_leading_zero"))
        else:
            problems.append(RowRefused("number_out_of_scope"))
    else:
        number_ok = True
    if flag not in _FLAGS:
        problems.append(RowRefused("otp_flag"))
    if address:
        try:
            validation.mail_address(address, field="otp_address")
        except InvalidAddress:
            problems.append(RowRefused("otp_address_invalid"))
    elif flag == "1":
        problems.append(RowRefused("otp_address_missing"))
    if confirmation_id:
        problems.extend(password_rules.confirmation_id_problems(confirmation_id))
    if confirmation_password:
        problems.extend(password_rules.confirmation_password_problems(confirmation_password))
        if not confirmation_id:
            problems.append(RowRefused("confirmation_id_missing"))
    if not number_ok:
        return None, problems
    row = CsvRow(
        line=line_no,
        number=number,
        otp_enabled=_FLAGS.get(flag, False),
        otp_address=address,
        confirmation_id=confirmation_id,
        confirmation_password=confirmation_password,
    )
    return row, problems
