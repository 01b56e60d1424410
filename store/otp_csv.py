"""SITE-9: the one-time-password settings of many numbers as a CSV file, down and up.

Seeds 「ワンタイムパスワード各種一括設定」: one line per number,
``"電話番号","ワンタイムパスワード利用設定","ワンタイムパスワード受信用メールアドレス",
"確認用ID","確認用パスワード"``, 「改行コード:「CR+LF」」, the setting 「0:利用なし、
1:利用あり」, the ID and password under the SITE-5 rules (``store.password_rules``).

The file, as read by ``parse_csv`` and written by ``export_csv``:

- Encoding: UTF-8, with or without a BOM; a file that is not UTF-8 is read
  as Shift_JIS (cp932), which Japanese Excel writes. Every valid value is
  ASCII, so this matters only for a header line. ``export_csv`` writes
  ASCII (hence also UTF-8 and Shift_JIS).
- Lines end with CR+LF; a line ending with LF or CR alone makes the file
  refused (reported once, at the first such line). The last line may lack
  its CR+LF. Empty lines are skipped.
- Fields are separated by commas and double-quoted (``export_csv`` quotes
  every field). Unquoted fields are accepted too, because Excel drops the
  quotes when it saves a CSV; spaces around a field are ignored; ``""``
  inside a quoted field is one ``"``.
- No header line. A first line whose fields are exactly the seeds' five
  column names is skipped.

What a row means (``apply_csv``); an empty field keeps the current value:

- The address: a changed address (or a first one) is not trusted until its
  verification link is followed (SITE-5): ``site_auth`` mails the link
  through the outbox and the address becomes the OTP address, with the
  one-time password in use, when the link is followed
  (``verify_otp_address``). Until then a number that used the one-time
  password keeps using it with its current address. So a row that changes
  the address must say ``1``. It must also carry a confirmation ID and
  password, as ``start_otp_enrolment`` / ``change_otp_address`` take them
  (``export_csv`` cannot fill the password in: only its hash is stored):
  for a number that has them already, the current ones, which prove the
  change as on the page of seeds (9), and stay as they are (issue 12 item
  9); for a number enrolling its first address, the values to set.
- Without an address change too: once a number has a confirmation ID and
  password, the row's are only proof of the current ones (issue 12 item 9
  follow-up). Seeds (10) change them only with 「変更前の確認用ID」 /
  「変更前のパスワード」, which the OTP settings page asks for
  (``site_auth.change_otp_confirmation``); set by a row, a session alone
  would set a new password in one upload and move the address with it in
  the next. A row whose ID or password differs from the current one is
  refused (``confirmation_not_current``); empty fields, or the ID alone as
  ``export_csv`` writes it, keep them. A number without them yet (first
  enrolment) sets them from the row; an ID then needs its password.
- ``1`` with the verified address: the one-time password is used from now
  on. ``0``: not used; the address, ID and password are kept for a return
  (``set_otp_enabled``). A number that never chose stays unchosen with
  ``0`` and nothing else.

Errors carry the line number (1-based, of the file as uploaded; 0 for the
file as a whole) and the Japanese reason; every problem of every line is
reported and nothing is written.

The order of the work (issue 12 item 19): ``parse_csv`` (the file, at most
``max_rows`` rows), ``check_rows`` (every row against the stored settings,
read only), then ``with_hashes`` (argon2: the current confirmation
passwords that prove an address change are verified, the new ones hashed,
only for a file found valid so far, outside any transaction), then
``apply_csv`` in the write transaction, which checks every rule again.
``upload`` runs them in that order; it is what the site calls.

Wrong confirmation values (issue 12): a row whose confirmation ID or
password is not the number's current one is one wrong entry for that
number, counted in ``otp_event`` as on the pages of seeds (9) and (10)
(``site_auth.count_wrong_confirmation``) and committed by ``upload``
although the file is refused. A row that carries a confirmation ID or
password for a number that has them is an attempt: at the number's cap
(``OtpLimits.confirmation_failures_per_day`` in 24 hours) such a row is
refused, right values or not, and with it the whole file. A row with empty
confirmation fields proves nothing and is not refused by the cap.
"""

from __future__ import annotations

import codecs
import concurrent.futures
import dataclasses
import datetime as dt
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import db, password_rules, passwords, service, site_auth, validation
from store.errors import DomainError, InvalidAddress
from store.models import SiteCredential

HASH_THREADS = 2  # argon2 releases the GIL; store.passwords bounds the memory anyway
# Rows of one upload by default (site.csv_max_rows): what a large line has, with room.
MAX_ROWS = 1000

log = structlog.get_logger("store")

COLUMNS = (
    "電話番号",
    "ワンタイムパスワード利用設定",
    "ワンタイムパスワード受信用メールアドレス",
    "確認用ID",
    "確認用パスワード",
)
CRLF = "\r\n"
FILE = 0  # the line number of a problem of the whole file

MESSAGES: dict[str, str] = {
    "csv_refused": (
        "CSVファイルに誤りがあるため、一括設定を行いませんでした"
        "(どの電話番号の設定も変更されていません)。"
    ),
    "empty": "CSVファイルに設定する行がありません。",
    "too_many_rows": "CSVファイルの行数が多すぎます。一度に設定できるのは{max_rows}行までです。",
    "encoding": (
        "CSVファイルの文字コードが正しくありません。UTF-8またはShift_JISで保存してください。"
    ),
    "line_ending": (
        "改行コードが「CR+LF」ではありません。改行コードを「CR+LF」にして保存してください。"
    ),
    "quoting": '「"」(ダブルクォーテーション)の使い方が正しくありません。',
    "field_count": "項目の数が正しくありません(5項目のところ、{count}項目あります)。",
    "number_empty": "電話番号を入力してください。",
    "number_not_digits": site_auth.MESSAGES["number_not_digits"],
    "number_leading_zero": (
        "電話番号の先頭の「0」が欠けています(表計算ソフトで保存すると欠けることがあります)。"
    ),
    "number_out_of_scope": "この電話番号の設定はできません。",
    "number_duplicate": "電話番号が{line}行目と重複しています。",
    "otp_flag": (
        "ワンタイムパスワード利用設定は「0」(利用なし)または「1」(利用あり)を入力してください。"
    ),
    "otp_address_invalid": site_auth.MESSAGES["otp_address_invalid"],
    "otp_address_missing": (
        "ワンタイムパスワード利用設定が「1」の場合は、"
        "ワンタイムパスワード受信用メールアドレスを入力してください。"
    ),
    "confirmation_id_missing": "確認用パスワードを入力する場合は、確認用IDも入力してください。",
    # Found when the row is applied: they depend on the stored settings.
    "confirmation_password_for_id": (
        "確認用IDを変更する場合は、確認用パスワードも入力してください。"
    ),
    "confirmation_for_address": (
        "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
        "確認用IDと確認用パスワードも入力してください。"
    ),
    "current_confirmation_for_address": (
        "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
        "現在の確認用IDと確認用パスワードを入力してください。"
    ),
    "confirmation_mismatch": site_auth.MESSAGES["confirmation_mismatch"],
    "confirmation_not_current": (
        "確認用IDと確認用パスワードは一括設定では変更できません。"
        "現在の確認用IDと確認用パスワードを入力するか、空欄にしてください"
        "(変更は「ワンタイムパスワード設定」の「確認用ID/パスワードの変更」で行えます)。"
    ),
    "address_needs_otp_on": (
        "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
        "ワンタイムパスワード利用設定を「1」にしてください。"
    ),
    "number_not_found": "この電話番号は登録されていません。",
}

_LINE_BREAK = re.compile(r"\r\n|\n|\r")
_FLAGS = {"0": False, "1": True}


# --- errors and results ----------------------------------------------------------------


class CsvRefused(DomainError, ValueError):
    """SITE-9: the file (or a row of it, when applied) breaks a rule; nothing was written.

    ``problems``: every ``(line, reason)`` found, in line order; ``line`` is
    1-based in the uploaded file, 0 for the file as a whole; ``reason`` is
    Japanese. A line may have several.
    """

    code = "csv_refused"

    def __init__(
        self,
        problems: Sequence[tuple[int, str]],
        *,
        wrong: Sequence[tuple[int, str, str]] = (),
        counted: int = 0,
        limited: bool = False,
    ) -> None:
        self.problems = sorted(problems, key=lambda p: p[0])
        # Issue 12: (line, number, reason) of the rows with a wrong confirmation
        # ID or password, still to be counted (``upload`` counts them); how many
        # ``upload`` counted; whether a number at its cap refused the file.
        self.wrong = tuple(wrong)
        self.counted = counted
        self.limited = limited
        super().__init__(MESSAGES["csv_refused"], code="csv_refused", field="csv_file")


@dataclass(frozen=True)
class CsvRow:
    """One valid line of the file: the settings asked for one number.

    Empty ``otp_address``, ``confirmation_id`` or ``confirmation_password``
    keep the stored value. The confirmation password is a secret: it is not
    in the repr.
    """

    line: int
    number: str
    otp_enabled: bool
    otp_address: str
    confirmation_id: str
    confirmation_password: str = field(repr=False)
    # Filled by ``with_hashes`` outside the transaction (argon2 is slow on purpose).
    confirmation_password_hash: str = field(default="", repr=False)
    # Filled by ``with_hashes`` for a row whose password proves the current one
    # (a number that has confirmation values): the stored hash it was verified against.
    proven_hash: str = field(default="", repr=False)


@dataclass(frozen=True)
class StoredConfirmation:
    """The confirmation ID and password hash a row must prove (``check_rows``).

    ``refusal``: the ``MESSAGES`` key when the row's password is not the
    current one (moving the address, or not).
    """

    confirmation_id: str
    password_hash: str = field(repr=False)
    refusal: str = "confirmation_mismatch"


@dataclass(frozen=True)
class CsvApplied:
    """What ``apply_csv`` did, numbers in file order.

    ``changed``: numbers with any setting changed (a first confirmation ID
    and password count; a row proving the current ones does not).
    ``unchanged``: the rest.
    ``verification_sent``: numbers whose new address was mailed a
    verification link (a subset of ``changed``).
    """

    changed: tuple[str, ...]
    unchanged: tuple[str, ...]
    verification_sent: tuple[str, ...]


# --- download ----------------------------------------------------------------------------


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
        raise CsvRefused([(FILE, MESSAGES["encoding"])])
    lines = _lines(text)
    if _row_count(lines) > max_rows:
        log.info("otp_csv_refused", problems=1, stage="rows", max_rows=max_rows)
        raise CsvRefused([(FILE, MESSAGES["too_many_rows"].format(max_rows=max_rows))])
    scope = frozenset(allowed_numbers)
    problems: list[tuple[int, str]] = []
    rows: list[CsvRow] = []
    first_line_of: dict[str, int] = {}
    line_ending_reported = False
    seen_content = False
    for line_no, (line, ending) in enumerate(lines, start=1):
        if ending not in (CRLF, "") and not line_ending_reported:
            problems.append((line_no, MESSAGES["line_ending"]))
            line_ending_reported = True
        if not line.strip():
            continue
        fields = _split(line)
        first = not seen_content
        seen_content = True
        if fields is None:
            problems.append((line_no, MESSAGES["quoting"]))
            continue
        if first and tuple(fields) == COLUMNS:
            continue
        if len(fields) != len(COLUMNS):
            problems.append((line_no, MESSAGES["field_count"].format(count=len(fields))))
            continue
        row, row_problems = _row(line_no, fields, scope)
        if row is not None:
            earlier = first_line_of.setdefault(row.number, line_no)
            if earlier != line_no:
                row_problems.append(MESSAGES["number_duplicate"].format(line=earlier))
        problems.extend((line_no, reason) for reason in row_problems)
        if row is not None and not row_problems:
            rows.append(row)
    if not rows and not problems:
        problems.append((FILE, MESSAGES["empty"]))
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


def _row(line_no: int, fields: list[str], scope: frozenset[str]) -> tuple[CsvRow | None, list[str]]:
    """One line's values checked; the row (None if its number is unusable) and its problems."""
    number, flag, address, confirmation_id, confirmation_password = fields
    problems: list[str] = []
    number_ok = False
    if not number:
        problems.append(MESSAGES["number_empty"])
    elif not number.isascii() or not number.isdigit():
        problems.append(MESSAGES["number_not_digits"])
    elif number not in scope:
        if "0" + number in scope:
            problems.append(MESSAGES["number_leading_zero"])
        else:
            problems.append(MESSAGES["number_out_of_scope"])
    else:
        number_ok = True
    if flag not in _FLAGS:
        problems.append(MESSAGES["otp_flag"])
    if address:
        try:
            validation.mail_address(address, field="otp_address")
        except InvalidAddress:
            problems.append(MESSAGES["otp_address_invalid"])
    elif flag == "1":
        problems.append(MESSAGES["otp_address_missing"])
    if confirmation_id:
        problems.extend(e.message for e in password_rules.confirmation_id_problems(confirmation_id))
    if confirmation_password:
        problems.extend(
            e.message for e in password_rules.confirmation_password_problems(confirmation_password)
        )
        if not confirmation_id:
            problems.append(MESSAGES["confirmation_id_missing"])
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


# --- upload: applying it ------------------------------------------------------------------


def upload(
    sessions: sessionmaker[Session],
    data: bytes,
    *,
    allowed_numbers: Sequence[str],
    link_base: str,
    sender: str,
    now: dt.datetime,
    max_rows: int = MAX_ROWS,
    limits: site_auth.OtpLimits | None = None,
) -> CsvApplied:
    """SITE-9 一括設定 as the site runs it: parse, check (read only), argon2, apply.

    Issue 12: rows with a wrong confirmation ID or password are counted
    against their numbers and the counts committed before ``CsvRefused`` is
    raised (hence the session factory); ``counted`` says how many. A number
    at ``limits.confirmation_failures_per_day`` refuses its row, and the
    file, whatever the row's values (``limited``). So does a row that would
    mail a verification link past the number's or the line's cap
    (``site_auth.verification_refusal``).
    """
    limits = limits or site_auth.DEFAULT_OTP_LIMITS
    cap = limits.confirmation_failures_per_day
    rows = parse_csv(data, allowed_numbers=allowed_numbers, max_rows=max_rows)
    try:
        # Issue 12 item 19: the whole file is checked (form, then against the
        # database, read only) before argon2 runs for any row of it.
        with db.transaction(sessions, read_only=True) as s:
            proofs = check_rows(s, rows, now=now, confirmation_cap=cap, limits=limits)
        rows = with_hashes(rows, proofs)
        with db.transaction(sessions) as s:
            return apply_csv(
                s,
                rows,
                link_base=link_base,
                sender=sender,
                now=now,
                confirmation_cap=cap,
                limits=limits,
            )
    except CsvRefused as exc:
        if not exc.wrong:
            raise
        refusal = exc
    raise _count_wrong(sessions, refusal, now=now, cap=cap)


def _count_wrong(
    sessions: sessionmaker[Session], refusal: CsvRefused, *, now: dt.datetime, cap: int
) -> CsvRefused:
    """Count the refusal's wrong rows (one each, per number); the refusal to raise.

    A number that reached its cap (with this row or by others meanwhile) has
    its row's reason replaced by the cap's message.
    """
    capped: dict[int, str] = {}
    counted = 0
    with db.transaction(sessions) as s:
        # One lock order (by number) for uploads that run side by side.
        for line_no, number, _reason in sorted(refusal.wrong, key=lambda w: w[1]):
            found = service.find_number(s, number)
            if found is None:
                continue
            _credential_for_update(s, found.id, lock=True)
            outcome = site_auth.count_wrong_confirmation(s, found, now, cap)
            counted += outcome.counted
            if outcome.code == "confirmation_limit":
                capped[line_no] = outcome.message
    reasons = {line_no: reason for line_no, _number, reason in refusal.wrong}
    problems = [
        (line_no, capped[line_no] if line_no in capped and reason == reasons[line_no] else reason)
        for line_no, reason in refusal.problems
    ]
    log.info("otp_csv_confirmation_wrong", rows=len(refusal.wrong), counted=counted)
    return CsvRefused(problems, counted=counted, limited=refusal.limited or bool(capped))


# Refusals that mean: the row's confirmation ID or password is not the current one.
WRONG_CONFIRMATION = frozenset({"confirmation_mismatch", "confirmation_not_current"})
# Refusals of a cap of 24 hours (issue 12): the site answers 429.
LIMITED = frozenset({"confirmation_limit", "verification_number_limit", "verification_line_limit"})


def _attempts(row: CsvRow, cred: SiteCredential | None) -> bool:
    """Issue 12: the row brings confirmation values to compare with stored ones."""
    return (
        cred is not None
        and _enrolled(cred) is not None
        and bool(row.confirmation_id or row.confirmation_password)
    )


def apply_csv(
    session: Session,
    rows: Sequence[CsvRow],
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    confirmation_cap: int | None = None,
    limits: site_auth.OtpLimits | None = None,
) -> CsvApplied:
    """SITE-9 一括設定: apply ``parse_csv``'s rows in the caller's transaction, all or nothing.

    Each row runs in its own SAVEPOINT so that every refusal is collected;
    if any row is refused, ``CsvRefused`` lists them (line, Japanese
    reason) and everything is rolled back to where it began, even if the
    caller went on to commit. ``link_base`` and ``sender`` are those of
    ``site_auth.start_otp_enrolment``: each changed address is mailed its
    24-hour verification link through the outbox. Confirmation passwords
    are hashed here (argon2, about 0.1 s a row that carries one).
    ``confirmation_cap``: a row that proves confirmation values of a number at
    its cap is refused (issue 12; ``upload`` gives it, and counts the wrong
    rows listed in ``CsvRefused.wrong``). ``limits``: the caps of
    verification mails (issue 12, ``site_auth.verification_refusal``); a row
    past them is refused, and with it the file.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    # Issue 12: the lines' rows first (the per-line count of verification mails),
    # before any credential row: the lock order of ``site_auth``.
    site_auth.lock_lines_of(session, [row.number for row in rows])
    changed: list[str] = []
    unchanged: list[str] = []
    mailed: list[str] = []
    problems: list[tuple[int, str]] = []
    wrong: list[tuple[int, str, str]] = []
    limited = False
    with session.begin_nested():
        for row in rows:
            try:
                with session.begin_nested():
                    outcome = _apply_row(
                        session,
                        row,
                        link_base=link_base,
                        sender=sender,
                        now=now,
                        confirmation_cap=confirmation_cap,
                        limits=limits,
                    )
            except DomainError as exc:
                problems.append((row.line, exc.message))
                if exc.code in WRONG_CONFIRMATION:
                    wrong.append((row.line, row.number, exc.message))
                limited = limited or exc.code in LIMITED
                continue
            (changed if outcome != "unchanged" else unchanged).append(row.number)
            if outcome == "verification_sent":
                mailed.append(row.number)
        if problems:
            log.info("otp_csv_refused", problems=len(problems), stage="apply")
            raise CsvRefused(problems, wrong=wrong, limited=limited)
    log.info(
        "otp_csv_applied",
        changed=len(changed),
        unchanged=len(unchanged),
        verification_sent=len(mailed),
    )
    return CsvApplied(
        changed=tuple(changed), unchanged=tuple(unchanged), verification_sent=tuple(mailed)
    )


class _RowRefused(DomainError):
    """A row that the stored settings make impossible; the message is the Japanese reason."""

    code = "csv_row_refused"

    def __init__(self, key: str) -> None:
        super().__init__(MESSAGES[key], code=key)


# What a row does, decided from the stored settings alone (no argon2, no writes).
UNCHANGED, CHANGED = "unchanged", "changed"
FIRST_ADDRESS = "first_address"  # enrols an address: the row's ID and password are set
MOVE_ADDRESS = "move_address"  # moves an enrolled address: the row proves the current ones


def _enrolled(cred: SiteCredential) -> StoredConfirmation | None:
    if cred.otp_confirmation_id is None or cred.otp_confirmation_password_hash is None:
        return None
    return StoredConfirmation(cred.otp_confirmation_id, cred.otp_confirmation_password_hash)


def _plan_row(row: CsvRow, cred: SiteCredential | None) -> str:
    """SITE-9 with SITE-5: what ``row`` does to ``cred``; raises a ``DomainError`` if it may not."""
    asks_nothing = not (
        row.otp_enabled or row.otp_address or row.confirmation_id or row.confirmation_password
    )
    if cred is None:
        if asks_nothing:
            return UNCHANGED
        raise site_auth.OtpRefused("no_site_password")
    new_address = bool(row.otp_address) and row.otp_address != cred.otp_address
    if new_address:
        stored = _enrolled(cred)
        if not (row.confirmation_id and row.confirmation_password):
            key = (
                "confirmation_for_address" if stored is None else "current_confirmation_for_address"
            )
            raise _RowRefused(key)
        if not row.otp_enabled:
            raise _RowRefused("address_needs_otp_on")
        if stored is None:
            return FIRST_ADDRESS
        # Seeds (9): the ID and password set at enrolment prove the change.
        if not hmac.compare_digest(stored.confirmation_id.encode(), row.confirmation_id.encode()):
            raise _RowRefused("confirmation_mismatch")
        return MOVE_ADDRESS
    if (stored := _enrolled(cred)) is not None:
        # Seeds (10): only the page that asks for the current values changes them.
        if row.confirmation_id and not hmac.compare_digest(
            stored.confirmation_id.encode(), row.confirmation_id.encode()
        ):
            raise _RowRefused("confirmation_not_current")
        # A password is proof (``_proof``); it changes nothing.
        return CHANGED if row.otp_enabled != cred.otp_enabled else UNCHANGED
    new_id = bool(row.confirmation_id) and row.confirmation_id != cred.otp_confirmation_id
    if new_id and not row.confirmation_password:
        raise _RowRefused("confirmation_password_for_id")
    if row.confirmation_password or row.otp_enabled != cred.otp_enabled:
        return CHANGED
    return UNCHANGED


def _proof(row: CsvRow, cred: SiteCredential | None, plan: str) -> StoredConfirmation | None:
    """What the row's password must prove: the stored values, if it carries one and they exist."""
    if cred is None or not row.confirmation_password or plan == FIRST_ADDRESS:
        return None
    stored = _enrolled(cred)
    if stored is None or plan == MOVE_ADDRESS:
        return stored
    return dataclasses.replace(stored, refusal="confirmation_not_current")


def _credential_for_update(
    session: Session, number_id: int, *, lock: bool
) -> SiteCredential | None:
    query = select(SiteCredential).where(SiteCredential.number_id == number_id)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def check_rows(
    session: Session,
    rows: Sequence[CsvRow],
    *,
    now: dt.datetime | None = None,
    confirmation_cap: int | None = None,
    limits: site_auth.OtpLimits | None = None,
) -> dict[int, StoredConfirmation]:
    """Every row of ``parse_csv`` against the stored settings, before anything slow.

    Read only, no argon2: a file refused here costs no hashing (issue 12
    item 19). Raises ``CsvRefused`` with every row's problem; else returns,
    by line, the stored confirmation values that a row's password must prove
    (``with_hashes`` verifies them): a row that moves an enrolled address,
    or any row with a password for a number that has confirmation values.
    With ``now`` and ``confirmation_cap`` (issue 12), a row that brings
    confirmation values for a number at its cap is refused before they are
    looked at; rows whose ID is not the current one are in ``CsvRefused.wrong``.
    With ``now`` and ``limits``, a row that would mail a verification link
    past its number's or its line's cap is refused (the file's earlier rows
    count for the line).
    """
    problems: list[tuple[int, str]] = []
    wrong: list[tuple[int, str, str]] = []
    limited = False
    proofs: dict[int, StoredConfirmation] = {}
    mails_of_line: dict[int, int] = {}
    for row in rows:
        found = service.find_number(session, row.number)
        if found is None:
            problems.append((row.line, MESSAGES["number_not_found"]))
            continue
        cred = _credential_for_update(session, found.id, lock=False)
        if now is not None and confirmation_cap is not None and _attempts(row, cred):
            refusal = site_auth.confirmation_refusal(session, found, now, confirmation_cap)
            if refusal is not None:
                problems.append((row.line, refusal.message))
                limited = True
                continue
        try:
            plan = _plan_row(row, cred)
        except DomainError as exc:
            problems.append((row.line, exc.message))
            if exc.code in WRONG_CONFIRMATION:
                wrong.append((row.line, row.number, exc.message))
            continue
        if now is not None and limits is not None and plan in (FIRST_ADDRESS, MOVE_ADDRESS):
            pending = mails_of_line.get(found.line_id, 0)
            if (
                too_many := site_auth.verification_refusal(
                    session, found, now, limits, pending_line=pending
                )
            ) is not None:
                problems.append((row.line, too_many.message))
                limited = True
                continue
            mails_of_line[found.line_id] = pending + 1
        if (stored := _proof(row, cred, plan)) is not None:
            proofs[row.line] = stored
    if problems:
        log.info("otp_csv_refused", problems=len(problems), stage="check")
        raise CsvRefused(problems, wrong=wrong, limited=limited)
    return proofs


def _apply_row(
    session: Session,
    row: CsvRow,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    confirmation_cap: int | None = None,
    limits: site_auth.OtpLimits | None = None,
) -> str:
    """One row: "unchanged", "changed" or "verification_sent"; raises a ``DomainError``."""
    found = service.find_number(session, row.number)
    if found is None:
        raise _RowRefused("number_not_found")
    cred = _credential_for_update(session, found.id, lock=True)
    if confirmation_cap is not None and _attempts(row, cred):
        # Again under the lock: other uploads or pages may have reached the cap meanwhile.
        refusal = site_auth.confirmation_refusal(session, found, now, confirmation_cap)
        if refusal is not None:
            raise refusal
    plan = _plan_row(row, cred)
    if (stored := _proof(row, cred, plan)) is not None:
        assert cred is not None
        _check_proof(cred, row, stored.refusal)
    if plan == UNCHANGED:
        return "unchanged"
    assert cred is not None  # _plan_row refuses a row that changes a number without one
    if plan in (FIRST_ADDRESS, MOVE_ADDRESS):
        if plan == FIRST_ADDRESS:
            _set_confirmation(cred, row)
        # The current address stays in use until the new one's link is
        # followed, which also turns the one-time password on (仮登録, seeds P.7).
        site_auth.issue_address_verification(
            session,
            found,
            row.otp_address,
            link_base=link_base,
            sender=sender,
            now=now,
            limits=limits,
        )
        log.info("otp_csv_address_verification", number=row.number)
        return "verification_sent"
    if row.confirmation_password and _enrolled(cred) is None:
        _set_confirmation(cred, row)  # the first ones; once set, a row only proves them
    if row.otp_enabled != cred.otp_enabled:
        site_auth.set_otp_enabled(session, row.number, row.otp_enabled, now=now)
    session.flush()
    return "changed"


def _check_proof(cred: SiteCredential, row: CsvRow, refusal: str) -> None:
    """Seeds (9), (10): the row's password is the current confirmation password.

    ``with_hashes`` verified it outside the transaction against the hash
    stored then; if that hash is still the stored one, nothing slow runs
    here. A caller that skipped ``with_hashes`` gets it verified now.
    """
    stored = cred.otp_confirmation_password_hash or ""
    if row.proven_hash:
        proven = hmac.compare_digest(row.proven_hash.encode(), stored.encode())
    else:
        proven = passwords.verify_password(stored, row.confirmation_password)
    if not proven:
        raise _RowRefused(refusal)


def _set_confirmation(cred: SiteCredential, row: CsvRow) -> None:
    """The row's confirmation ID and password, stored as ``start_otp_enrolment`` stores them."""
    cred.otp_confirmation_id = row.confirmation_id
    cred.otp_confirmation_password_hash = row.confirmation_password_hash or (
        passwords.hash_password(row.confirmation_password)
    )


def with_hashes(
    rows: Sequence[CsvRow], proofs: Mapping[int, StoredConfirmation] | None = None
) -> list[CsvRow]:
    """The rows with their argon2 work done, before any transaction.

    ``proofs`` (from ``check_rows``): the rows whose password must be the
    current one have it verified against the stored hash; any mismatch
    raises ``CsvRefused`` with every such row. Every other row's
    confirmation password is hashed. argon2 takes tens of milliseconds per
    password on purpose; done inside ``apply_csv`` that would hold SQLite's
    write lock for seconds on a file of a few hundred numbers (and the
    notifier waits for it). Done here, in threads, the transaction only
    stores them.
    """
    proofs = proofs or {}
    to_verify = [row for row in rows if row.line in proofs]
    to_hash = [
        row
        for row in rows
        if row.line not in proofs
        and row.confirmation_password
        and not row.confirmation_password_hash
    ]
    if not (to_verify or to_hash):
        return list(rows)

    def verify(row: CsvRow) -> bool:
        return passwords.verify_password(proofs[row.line].password_hash, row.confirmation_password)

    with concurrent.futures.ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        verified = dict(
            zip((row.line for row in to_verify), pool.map(verify, to_verify), strict=True)
        )
        wrong = [(line, MESSAGES[proofs[line].refusal]) for line, ok in verified.items() if not ok]
        if wrong:
            log.info("otp_csv_refused", problems=len(wrong), stage="proof")
            number_of = {row.line: row.number for row in to_verify}
            raise CsvRefused(
                wrong, wrong=[(line, number_of[line], reason) for line, reason in wrong]
            )
        hashes = dict(
            zip(
                (row.line for row in to_hash),
                pool.map(lambda row: passwords.hash_password(row.confirmation_password), to_hash),
                strict=True,
            )
        )
    changed: list[CsvRow] = []
    for row in rows:
        if row.line in proofs:
            row = dataclasses.replace(row, proven_hash=proofs[row.line].password_hash)
        elif row.line in hashes:
            row = dataclasses.replace(row, confirmation_password_hash=hashes[row.line])
        changed.append(row)
    return changed
