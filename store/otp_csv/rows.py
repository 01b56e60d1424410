"""SITE-9: a row of the file, the refusal of a file and what an upload did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from store.errors import DomainError

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
    "number_not_digits": "電話番号はハイフンなしの半角数字で入力してください。",
    "number_leading_zero": (
        "電話番号の先頭の「0」が欠けています(表計算ソフトで保存すると欠けることがあります)。"
    ),
    "number_out_of_scope": "この電話番号の設定はできません。",
    "number_duplicate": "電話番号が{line}行目と重複しています。",
    "otp_flag": (
        "ワンタイムパスワード利用設定は「0」(利用なし)または「1」(利用あり)を入力してください。"
    ),
    "otp_address_invalid": "メールアドレスの形式が正しくありません。",
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
    "confirmation_mismatch": "確認用IDまたは確認用パスワードが正しくありません。",
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


class RowRefused(DomainError):
    """A row that the stored settings make impossible; the message is the Japanese reason."""

    code = "csv_row_refused"

    def __init__(self, key: str) -> None:
        super().__init__(MESSAGES[key], code=key)


# Refusals that mean: the row's confirmation ID or password is not the current one.
WRONG_CONFIRMATION = frozenset({"confirmation_mismatch", "confirmation_not_current"})
# Refusals of a cap of 24 hours (issue 12): the site answers 429.
LIMITED = frozenset({"confirmation_limit", "verification_number_limit", "verification_line_limit"})
