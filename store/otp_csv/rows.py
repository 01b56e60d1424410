"""SITE-9: a row of the file, the refusal of a file and what an upload did."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple

from store.errors import DomainError, Param

# Rows of one upload by default (site.csv_max_rows): what a large line has, with room.
MAX_ROWS = 1000

COLUMNS = (
    "電話番号",
    "ワンタイムパスワード利用設定",
    "ワンタイムパスワード受信用メールアドレス",
    "確認用ID",
    "確認用パスワード",
)
CRLF = "\r\n"
FILE = 0  # the line number of a problem of the whole file

# Every code of a problem found here -> its English line for operators; the
# ``{param}`` names are those of the Japanese sentence the site shows
# (web.texts.CSV; number_not_digits is web.texts.FORMS', otp_address_invalid
# and confirmation_mismatch web.texts.SITE_AUTH's, as on the pages).
OPERATOR_TEXT: Mapping[str, str] = {
    "csv_refused": "the CSV file has errors; no number's settings were changed",
    "empty": "the CSV file has no rows",
    "too_many_rows": "the CSV file has more than {max_rows} rows",
    "encoding": "the CSV file is neither UTF-8 nor Shift_JIS",
    "line_ending": "a line does not end with CR+LF",
    "quoting": "the double quotes of the line are wrong",
    "field_count": f"the line has {{count}} fields, not {len(COLUMNS)}",
    "number_empty": "no number",
    "number_not_digits": "the number must be half-width digits without hyphens",
    "number_leading_zero": "the number lacks its leading 0 (a spreadsheet dropped it)",
    "number_out_of_scope": "the login does not manage this number",
    "number_duplicate": "the number is on line {line} already",
    "otp_flag": "the one-time password setting must be 0 or 1",
    "otp_address_invalid": "the one-time password address breaks MAIL-3",
    "otp_address_missing": "the setting 1 needs a one-time password address",
    "confirmation_id_missing": "a confirmation password needs its confirmation ID",
    # Found when the row is applied: they depend on the stored settings.
    "confirmation_password_for_id": "a new confirmation ID needs its confirmation password",
    "confirmation_for_address": "a new address needs a confirmation ID and password",
    "current_confirmation_for_address": (
        "a new address needs the current confirmation ID and password"
    ),
    "confirmation_mismatch": "the confirmation ID or password is wrong",
    "confirmation_not_current": (
        "the confirmation ID and password are not changed by the CSV file: "
        "give the current ones or none"
    ),
    "address_needs_otp_on": "a new address needs the setting 1",
    "number_not_found": "no such subscriber number",
}


class RowRefused(DomainError, ValueError):
    """One problem of the file or of a row (SITE-9), by its code in ``OPERATOR_TEXT``."""

    code = "csv_row_refused"

    def __init__(self, code: str, **params: str | int) -> None:
        super().__init__(OPERATOR_TEXT[code].format_map(params), code=code, params=params)


class CsvProblem(NamedTuple):
    """One problem of an uploaded file: where it is, and the refusal.

    ``line`` is 1-based in the uploaded file, ``FILE`` (0) for the file as
    a whole. ``error`` carries the ``code`` and ``params`` of the sentence
    the site shows (``web.texts.japanese(error)``) and an English
    ``message``: a ``RowRefused``, a ``PasswordRuleError`` (SITE-5 ID and
    password rules) or a refusal of ``store.site_auth`` (no site password,
    the caps of issue 12). A pair, so ``for line, error in problems`` reads
    it.
    """

    line: int
    error: DomainError

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def params(self) -> Mapping[str, Param]:
        return self.error.params

    @property
    def message(self) -> str:
        return self.error.message


class CsvRefused(DomainError, ValueError):
    """SITE-9: the file (or a row of it, when applied) breaks a rule; nothing was written.

    ``problems``: every ``CsvProblem`` found, in line order (a line may have
    several). ``counted``: how many wrong confirmation entries ``upload``
    counted; ``limited``: a number at a cap of 24 hours refused the file
    (the site answers 429).
    """

    code = "csv_refused"

    def __init__(
        self,
        problems: Sequence[CsvProblem],
        *,
        wrong: Sequence[tuple[int, str, str]] = (),
        counted: int = 0,
        limited: bool = False,
    ) -> None:
        self.problems = tuple(sorted(problems, key=lambda p: p.line))
        # Issue 12: (line, number, code) of the rows with a wrong confirmation
        # ID or password, still to be counted (``upload`` counts them).
        self.wrong = tuple(wrong)
        self.counted = counted
        self.limited = limited
        super().__init__(OPERATOR_TEXT["csv_refused"], code="csv_refused", field="csv_file")


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

    ``refusal``: the code of the problem when the row's password is not the
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


# Refusals that mean: the row's confirmation ID or password is not the current one.
WRONG_CONFIRMATION = frozenset({"confirmation_mismatch", "confirmation_not_current"})
# Refusals of a cap of 24 hours (issue 12): the site answers 429.
LIMITED = frozenset({"confirmation_limit", "verification_number_limit", "verification_line_limit"})
