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
  password, as ``start_otp_enrolment`` / ``prove_otp_confirmation`` take them
  (``export_csv`` cannot fill the password in: only its hash is stored):
  for a number that has them already, the current ones, which prove the
  change as on the page of seeds (9), and stay as they are (issue 12 item
  9); for a number enrolling its first address, the values to set.
- Without an address change too: once a number has a confirmation ID and
  password, the row's are only proof of the current ones (issue 12 item 9
  follow-up). Seeds (11) change them only with 「変更前の確認用ID」 /
  「変更前のパスワード」, which the OTP settings pages ask for
  (``site_auth.change_confirmation_id`` / ``change_confirmation_password``);
  set by a row, a session alone would set a new password in one upload and
  move the address with it in the next. A row whose ID or password differs
  from the current one is refused (``confirmation_not_current``); empty
  fields, or the ID alone as ``export_csv`` writes it, keep them. A number without them yet (first
  enrolment) sets them from the row; an ID then needs its password.
- ``1`` with the verified address: the one-time password is used from now
  on. ``0``: not used; the address, ID and password are kept for a return
  (``set_otp_enabled``). A number that never chose stays unchosen with
  ``0`` and nothing else.

A refused file raises ``CsvRefused``: every problem of every line, each a
``CsvProblem`` pair of the line number (1-based, of the file as uploaded;
0 for the file as a whole) and the refusal, which carries a ``code`` and
``params`` for the site's Japanese sentence (``web.texts.japanese``) and
an English ``message``; nothing is written.

The package: ``rows`` (a row, the refusal, the result), ``file_format``
(``export_csv``, ``parse_csv``), ``check`` (``check_rows``, ``with_hashes``),
``apply`` (``apply_csv``, ``upload``).

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

from store.otp_csv.apply import apply_csv, upload
from store.otp_csv.check import (
    CHANGED,
    FIRST_ADDRESS,
    HASH_THREADS,
    MOVE_ADDRESS,
    UNCHANGED,
    check_rows,
    with_hashes,
)
from store.otp_csv.file_format import export_csv, parse_csv
from store.otp_csv.rows import (
    COLUMNS,
    CRLF,
    FILE,
    LIMITED,
    MAX_ROWS,
    OPERATOR_TEXT,
    WRONG_CONFIRMATION,
    CsvApplied,
    CsvProblem,
    CsvRefused,
    CsvRow,
    StoredConfirmation,
)

__all__ = [
    "CHANGED",
    "COLUMNS",
    "CRLF",
    "FILE",
    "FIRST_ADDRESS",
    "HASH_THREADS",
    "LIMITED",
    "MAX_ROWS",
    "MOVE_ADDRESS",
    "OPERATOR_TEXT",
    "UNCHANGED",
    "WRONG_CONFIRMATION",
    "CsvApplied",
    "CsvProblem",
    "CsvRefused",
    "CsvRow",
    "StoredConfirmation",
    "apply_csv",
    "check_rows",
    "export_csv",
    "parse_csv",
    "upload",
    "with_hashes",
]
