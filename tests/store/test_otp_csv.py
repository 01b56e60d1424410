"""SITE-9: the OTP bulk settings CSV, download and upload, on both backends.

argon2 takes about 60 ms a hash here: stored passwords are hashed once per
run (``tests.builders.hashed``, which ``give_site_password`` uses).
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import re
from email.message import EmailMessage

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import db, otp_csv, passwords, service, site_auth
from store.models import MailKind, OutboxMail, SiteCredential, SiteToken, SiteTokenKind
from store.otp_csv import CsvRefused, CsvRow
from tests.builders import OtpInUse, give_site_password, snapshot
from web.texts import japanese

C = "0359207146"  # contract number: OTP in use
E1 = "0359207147"  # a site password, no OTP
E2 = "0359207148"  # no site password yet
OTHER = "0661234570"  # a number of another line
SCOPE = (C, E1, E2)
TZ = "Asia/Tokyo"
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
SENDER = "noreply@site.example.jp"
LINK = "https://site.example.jp/otp/verify"
CONF_ID = "Kakunin82id"
CONF_PW = "kakunin7pw"
ADDRESS = "otp@mail.example.jp"
NEW_ADDRESS = "new.otp@mail.example.jp"
NOT_CURRENT = (
    "確認用IDと確認用パスワードは一括設定では変更できません。"
    "現在の確認用IDと確認用パスワードを入力するか、空欄にしてください"
    "(変更は「ワンタイムパスワード設定」の「確認用ID/パスワードの変更」で行えます)。"
)
HEADER = (
    '"電話番号","ワンタイムパスワード利用設定",'
    '"ワンタイムパスワード受信用メールアドレス","確認用ID","確認用パスワード"'
)


@pytest.fixture
def csv_line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The CSV's line: C in OTP, E1 with a site password only, E2 with none; another line."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        service.add_number(s, C, E1, timezone=TZ)
        service.add_number(s, C, E2, timezone=TZ)
        service.add_line(s, OTHER, timezone=TZ)
        give_site_password(s, C, now=NOW, otp=OtpInUse(ADDRESS, CONF_ID, CONF_PW))
        give_site_password(s, E1, now=NOW)
    return sessions


def csv(*lines: str, ending: str = "\r\n") -> bytes:
    return "".join(line + ending for line in lines).encode()


def exported(sessions: sessionmaker[Session], numbers: tuple[str, ...] = SCOPE) -> bytes:
    with db.transaction(sessions, read_only=True) as s:
        return otp_csv.export_csv(s, numbers)


def in_japanese(refused: CsvRefused) -> list[tuple[int, str]]:
    """The refusal's problems as the site shows them: (line, Japanese reason)."""
    return [(line, japanese(error)) for line, error in refused.problems]


def parse_refused(data: bytes, scope: tuple[str, ...] = SCOPE) -> list[tuple[int, str]]:
    with pytest.raises(CsvRefused) as err:
        otp_csv.parse_csv(data, allowed_numbers=scope)
    assert err.value.code == "csv_refused"
    assert err.value.field == "csv_file"
    assert "一括設定を行いませんでした" in japanese(err.value)
    return in_japanese(err.value)


def apply(sessions: sessionmaker[Session], data: bytes) -> otp_csv.CsvApplied:
    rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    with db.transaction(sessions) as s:
        return otp_csv.apply_csv(s, rows, link_base=LINK, sender=SENDER, now=NOW)


def apply_refused(sessions: sessionmaker[Session], data: bytes) -> list[tuple[int, str]]:
    rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    engine = sessions.kw["bind"]
    before = snapshot(engine)
    with pytest.raises(CsvRefused) as err, db.transaction(sessions) as s:
        otp_csv.apply_csv(s, rows, link_base=LINK, sender=SENDER, now=NOW)
    assert snapshot(engine) == before
    return in_japanese(err.value)


def upload(sessions: sessionmaker[Session], data: bytes) -> otp_csv.CsvApplied:
    """As the site does it: parse, check (read only), argon2 outside, then apply."""
    rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    with db.transaction(sessions, read_only=True) as s:
        rows = otp_csv.with_hashes(rows, otp_csv.check_rows(s, rows))
    with db.transaction(sessions) as s:
        return otp_csv.apply_csv(s, rows, link_base=LINK, sender=SENDER, now=NOW)


def upload_refused(sessions: sessionmaker[Session], data: bytes) -> list[tuple[int, str]]:
    """``upload`` refused at whichever step; every table as it was."""
    engine = sessions.kw["bind"]
    before = snapshot(engine)
    with pytest.raises(CsvRefused) as err:
        upload(sessions, data)
    assert snapshot(engine) == before
    return in_japanese(err.value)


def credential(sessions: sessionmaker[Session], number: str) -> SiteCredential:
    with db.transaction(sessions, read_only=True) as s:
        found = service.get_number(s, number)
        return s.scalars(select(SiteCredential).where(SiteCredential.number_id == found.id)).one()


def verification_mails(sessions: sessionmaker[Session]) -> list[OutboxMail]:
    with db.transaction(sessions, read_only=True) as s:
        return list(
            s.scalars(
                select(OutboxMail)
                .where(OutboxMail.kind == MailKind.ADDRESS_VERIFICATION)
                .order_by(OutboxMail.id)
            )
        )


def token_in(mail: OutboxMail) -> str:
    message = email.message_from_string(mail.body, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    body = message.get_body()
    assert body is not None
    found = re.search(re.escape(LINK) + r"\?token=([A-Za-z0-9_-]+)", body.get_content())
    assert found is not None
    return found.group(1)


# --- download ------------------------------------------------------------------------------


def test_SITE_9_export_is_quoted_crlf_lines_without_the_password(
    csv_line: sessionmaker[Session],
) -> None:
    assert exported(csv_line) == (
        b'"0359207146","1","otp@mail.example.jp","Kakunin82id",""\r\n'
        b'"0359207147","0","","",""\r\n'
        b'"0359207148","0","","",""\r\n'
    )
    assert exported(csv_line, (E2, C, E2)) == (
        b'"0359207148","0","","",""\r\n"0359207146","1","otp@mail.example.jp","Kakunin82id",""\r\n'
    )


def test_SITE_9_export_shows_otp_off_with_the_kept_address(csv_line: sessionmaker[Session]) -> None:
    with db.transaction(csv_line) as s:
        site_auth.set_otp_enabled(s, C, False, now=NOW)
    assert (
        exported(csv_line, (C,)) == b'"0359207146","0","otp@mail.example.jp","Kakunin82id",""\r\n'
    )


def test_SITE_9_round_trip_changes_nothing(csv_line: sessionmaker[Session]) -> None:
    data = exported(csv_line)
    rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    assert [(r.line, r.number, r.otp_enabled, r.otp_address) for r in rows] == [
        (1, C, True, ADDRESS),
        (2, E1, False, ""),
        (3, E2, False, ""),
    ]
    engine = csv_line.kw["bind"]
    before = snapshot(engine)
    result = apply(csv_line, data)
    assert result == otp_csv.CsvApplied(changed=(), unchanged=SCOPE, verification_sent=())
    assert snapshot(engine) == before


# --- upload: the file ----------------------------------------------------------------------


def test_SITE_9_every_bad_row_is_reported_with_its_line(csv_line: sessionmaker[Session]) -> None:
    problems = parse_refused(
        csv(
            f'"{C}","1","{ADDRESS}","{CONF_ID}",""',
            '"03-5920-7147","0","","",""',  # 2: hyphens
            f'"{E2}","2","","",""',  # 3: flag
            f'"{E1}","1","","",""',  # 4: flag 1 without address
            f'"{C}","0","","",""',  # 5: duplicate of line 1
            f'"{OTHER}","0","","",""',  # 6: another line's number
            f'"{E2}","0","a..b@example.jp","abcdefgh","12345678"',  # 7: 4 problems
            f'"{E2}","0","",""',  # 8: four fields
            f'"{E2}","0","","","',  # 9: quote not closed
        )
    )
    assert problems == [
        (2, "電話番号はハイフンなしの半角数字で入力してください。"),
        (
            3,
            "ワンタイムパスワード利用設定は「0」(利用なし)または「1」(利用あり)を入力してください。",
        ),
        (
            4,
            "ワンタイムパスワード利用設定が「1」の場合は、"
            "ワンタイムパスワード受信用メールアドレスを入力してください。",
        ),
        (5, "電話番号が1行目と重複しています。"),
        (6, "この電話番号の設定はできません。"),
        (7, "メールアドレスの形式が正しくありません。"),
        (7, "英字小文字のみの確認用IDは利用できません。"),
        (7, "確認用パスワードは英字と数字を組み合わせて入力してください。"),
        (7, "電話番号が3行目と重複しています。"),
        (8, "項目の数が正しくありません(5項目のところ、4項目あります)。"),
        (9, '「"」(ダブルクォーテーション)の使い方が正しくありません。'),
    ]


def test_SITE_9_one_bad_row_among_good_ones_changes_nothing(
    csv_line: sessionmaker[Session],
) -> None:
    engine = csv_line.kw["bind"]
    before = snapshot(engine)
    data = csv(
        f'"{C}","0","","",""',
        f'"{E1}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"',
        f'"{E2}","0","","","short1"',
    )
    assert parse_refused(data) == [
        (3, "確認用パスワードは8～12桁で入力してください。"),
        (3, "確認用パスワードを入力する場合は、確認用IDも入力してください。"),
    ]
    assert snapshot(engine) == before


def test_SITE_9_confirmation_password_only_with_an_id(csv_line: sessionmaker[Session]) -> None:
    problems = parse_refused(csv(f'"{E1}","0","","","{CONF_PW}"'))
    assert problems == [(1, "確認用パスワードを入力する場合は、確認用IDも入力してください。")]


def test_SITE_9_out_of_scope_number_is_refused(csv_line: sessionmaker[Session]) -> None:
    assert parse_refused(csv(f'"{E1}","0","","",""'), scope=(C,)) == [
        (1, "この電話番号の設定はできません。")
    ]
    # Excel drops the leading 0 of a number it takes for a numeric value.
    assert parse_refused(csv(f"{E1[1:]},0,,,")) == [
        (1, "電話番号の先頭の「0」が欠けています(表計算ソフトで保存すると欠けることがあります)。")
    ]


def test_SITE_9_lf_only_line_ends_are_refused_once(csv_line: sessionmaker[Session]) -> None:
    data = csv(f'"{C}","0","","",""', f'"{E1}","0","","",""', ending="\n")
    reason = "改行コードが「CR+LF」ではありません。改行コードを「CR+LF」にして保存してください。"
    assert parse_refused(data) == [(1, reason)]
    mixed = csv(f'"{C}","0","","",""') + f'"{E1}","0","","",""\n'.encode()
    assert parse_refused(mixed) == [(2, reason)]
    assert parse_refused(f'"{C}","0","","",""\r"{E1}","0","","",""'.encode()) == [(1, reason)]


def test_SITE_9_empty_or_undecodable_file_is_refused(csv_line: sessionmaker[Session]) -> None:
    empty = [(0, "CSVファイルに設定する行がありません。")]
    assert parse_refused(b"") == empty
    assert parse_refused(b"\r\n\r\n") == empty
    assert parse_refused(b"\xef\xbb\xbf" + HEADER.encode() + b"\r\n") == empty
    assert parse_refused(b"\x81\x20\r\n") == [
        (0, "CSVファイルの文字コードが正しくありません。UTF-8またはShift_JISで保存してください。")
    ]


def test_SITE_9_bom_header_unquoted_and_last_line_without_crlf_are_accepted(
    csv_line: sessionmaker[Session],
) -> None:
    data = (
        b"\xef\xbb\xbf"
        + HEADER.encode()
        + b"\r\n\r\n"
        + f'{C},1,{ADDRESS},{CONF_ID},\r\n "{E1}" , "0" ,"","",""'.encode()
    )
    rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    assert [(r.line, r.number, r.otp_enabled, r.otp_address, r.confirmation_id) for r in rows] == [
        (3, C, True, ADDRESS, CONF_ID),
        (4, E1, False, "", ""),
    ]


def test_SITE_9_shift_jis_file_from_excel_is_accepted(csv_line: sessionmaker[Session]) -> None:
    data = (HEADER + "\r\n" + f'"{E1}","0","","",""' + "\r\n").encode("cp932")
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    assert [(r.line, r.number) for r in rows] == [(2, E1)]


def test_SITE_9_header_only_as_the_first_line(csv_line: sessionmaker[Session]) -> None:
    problems = parse_refused(csv(f'"{E1}","0","","",""', HEADER))
    assert (2, "電話番号はハイフンなしの半角数字で入力してください。") in problems


def test_SITE_9_confirmation_password_is_not_in_the_repr() -> None:
    row = CsvRow(
        line=1,
        number=C,
        otp_enabled=True,
        otp_address=ADDRESS,
        confirmation_id=CONF_ID,
        confirmation_password=CONF_PW,
    )
    assert CONF_PW not in repr(row)


# --- upload: applying it -------------------------------------------------------------------


def test_SITE_9_SITE_5_new_address_gets_a_verification_link_changed_only(
    csv_line: sessionmaker[Session],
) -> None:
    result = apply(
        csv_line,
        csv(
            f'"{C}","1","{ADDRESS}","{CONF_ID}",""',  # unchanged
            f'"{E1}","1","{NEW_ADDRESS}","Other5Id","other7pw"',  # first address
            f'"{E2}","0","","",""',  # no site password, nothing asked
        ),
    )
    assert result == otp_csv.CsvApplied(changed=(E1,), unchanged=(C, E2), verification_sent=(E1,))
    mails = verification_mails(csv_line)
    assert [m.recipient for m in mails] == [NEW_ADDRESS]
    # Not trusted yet: OTP turns on when the link is followed.
    pending = credential(csv_line, E1)
    assert (pending.otp_enabled, pending.otp_address) == (False, None)
    assert pending.otp_confirmation_id == "Other5Id"
    assert pending.otp_confirmation_password_hash is not None
    assert passwords.verify_password(pending.otp_confirmation_password_hash, "other7pw")
    with db.transaction(csv_line) as s:
        assert site_auth.verify_otp_address(s, token_in(mails[0]), now=NOW) == E1
    done = credential(csv_line, E1)
    assert (done.otp_enabled, done.otp_address) == (True, NEW_ADDRESS)


def test_SITE_9_SITE_5_otp_in_use_keeps_its_address_until_the_new_one_is_verified(
    csv_line: sessionmaker[Session],
) -> None:
    result = apply(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"'))
    assert result.verification_sent == (C,)
    kept = credential(csv_line, C)
    assert (kept.otp_enabled, kept.otp_address) == (True, ADDRESS)
    [mail] = verification_mails(csv_line)
    assert mail.recipient == NEW_ADDRESS
    with db.transaction(csv_line) as s:
        site_auth.verify_otp_address(s, token_in(mail), now=NOW)
    assert credential(csv_line, C).otp_address == NEW_ADDRESS


def test_SITE_9_new_confirmation_values_with_a_new_address_while_otp_is_in_use(
    csv_line: sessionmaker[Session],
) -> None:
    """Issue 12 item 9 reversed this test's old expectation (the row used to set the new
    values and move the address at once): the current values are needed (seeds (9))."""
    problems = apply_refused(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","Neue5Id9","neue8pass"'))
    assert problems == [(1, "確認用IDまたは確認用パスワードが正しくありません。")]
    cred = credential(csv_line, C)
    assert cred.otp_confirmation_id == CONF_ID
    assert verification_mails(csv_line) == []


def test_SITE_9_flag_0_stops_otp_and_keeps_the_address(csv_line: sessionmaker[Session]) -> None:
    result = apply(csv_line, csv(f'"{C}","0","","",""'))
    assert result.changed == (C,)
    cred = credential(csv_line, C)
    assert (cred.otp_enabled, cred.otp_address, cred.otp_confirmation_id) == (
        False,
        ADDRESS,
        CONF_ID,
    )
    # and back on with the verified address: no new link needed
    result = apply(csv_line, csv(f'"{C}","1","{ADDRESS}","",""'))
    assert result == otp_csv.CsvApplied(changed=(C,), unchanged=(), verification_sent=())
    assert credential(csv_line, C).otp_enabled is True
    assert verification_mails(csv_line) == []


def test_SITE_9_confirmation_values_do_not_change_without_address_change(
    csv_line: sessionmaker[Session],
) -> None:
    """Issue 12 item 9 follow-up reversed this test's old expectation (the row set a new
    confirmation password without the current one: the first half of a bypass). Seeds (10):
    changing it needs the current one, on the OTP settings page."""
    problems = apply_refused(csv_line, csv(f'"{C}","1","{ADDRESS}","{CONF_ID}","kawari9pw"'))
    assert problems == [(1, NOT_CURRENT)]
    cred = credential(csv_line, C)
    assert cred.otp_confirmation_password_hash is not None
    assert passwords.verify_password(cred.otp_confirmation_password_hash, CONF_PW)
    assert not passwords.verify_password(cred.otp_confirmation_password_hash, "kawari9pw")
    assert verification_mails(csv_line) == []


def test_SITE_9_rows_refused_when_applied_are_all_reported_and_nothing_written(
    csv_line: sessionmaker[Session],
) -> None:
    problems = apply_refused(
        csv_line,
        csv(
            f'"{C}","1","{ADDRESS}","Kawatta5Id",""',  # new ID (C has one: not by CSV)
            f'"{E1}","1","{NEW_ADDRESS}","",""',  # new address without ID/password
            f'"{E2}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"',  # no site password
        ),
    )
    assert problems == [
        (1, NOT_CURRENT),
        (
            2,
            "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
            "確認用IDと確認用パスワードも入力してください。",
        ),
        (3, "先にパスワードを設定してください。"),
    ]
    assert verification_mails(csv_line) == []


def test_SITE_9_new_address_with_flag_0_is_refused(csv_line: sessionmaker[Session]) -> None:
    problems = apply_refused(csv_line, csv(f'"{E1}","0","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"'))
    assert problems == [
        (
            1,
            "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
            "ワンタイムパスワード利用設定を「1」にしてください。",
        )
    ]


def test_SITE_9_refused_apply_writes_nothing_even_if_the_caller_commits(
    csv_line: sessionmaker[Session],
) -> None:
    rows = otp_csv.parse_csv(
        csv(
            f'"{E1}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"',  # fine alone
            f'"{E2}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"',  # no site password
        ),
        allowed_numbers=SCOPE,
    )
    engine = csv_line.kw["bind"]
    before = snapshot(engine)
    with db.transaction(csv_line) as s, pytest.raises(CsvRefused) as err:
        otp_csv.apply_csv(s, rows, link_base=LINK, sender=SENDER, now=NOW)
    assert in_japanese(err.value) == [(2, "先にパスワードを設定してください。")]
    assert snapshot(engine) == before
    with db.transaction(csv_line, read_only=True) as s:
        assert (
            s.scalars(
                select(SiteToken).where(SiteToken.kind == SiteTokenKind.ADDRESS_VERIFICATION)
            ).all()
            == []
        )


def test_SITE_9_passwords_are_hashed_before_the_transaction(
    csv_line: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """argon2 never runs while the transaction (SQLite's write lock) is held.

    C's row used to set a new password ("fresh8pw") over C's current one;
    since issue 12 item 9's follow-up it can only prove the current one,
    which is verified before the transaction too."""
    rows = otp_csv.parse_csv(
        csv(
            f'"{E1}","1","{NEW_ADDRESS}","Other5Id","other7pw"',
            f'"{C}","0","{ADDRESS}","{CONF_ID}","{CONF_PW}"',
        ),
        allowed_numbers=SCOPE,
    )
    with db.transaction(csv_line, read_only=True) as s:
        rows = otp_csv.with_hashes(rows, otp_csv.check_rows(s, rows))
    assert rows[0].confirmation_password_hash and rows[1].proven_hash
    assert "other7pw" not in repr(rows) and rows[0].confirmation_password_hash not in repr(rows)

    def no_argon2(*_args: object) -> str:
        raise AssertionError("argon2 ran inside the transaction")

    monkeypatch.setattr(passwords, "hash_password", no_argon2)
    monkeypatch.setattr(passwords, "verify_password", no_argon2)
    with db.transaction(csv_line) as s:
        result = otp_csv.apply_csv(s, rows, link_base=LINK, sender=SENDER, now=NOW)
    assert result == otp_csv.CsvApplied(changed=(E1, C), unchanged=(), verification_sent=(E1,))
    monkeypatch.undo()
    assert passwords.verify_password(
        credential(csv_line, E1).otp_confirmation_password_hash or "", "other7pw"
    )
    kept = credential(csv_line, C)
    assert kept.otp_enabled is False
    assert passwords.verify_password(kept.otp_confirmation_password_hash or "", CONF_PW)


# --- issue 12 item 9: moving an enrolled OTP address needs the current ID and password ------


def test_item9_SITE_9_SITE_5_new_address_needs_the_current_confirmation_values(
    csv_line: sessionmaker[Session],
) -> None:
    """Seeds (9): the address moves only with the ID and password set at enrolment."""
    mismatch = "確認用IDまたは確認用パスワードが正しくありません。"
    problems = apply_refused(
        csv_line,
        csv(
            f'"{C}","1","{NEW_ADDRESS}","Neue5Id9","neue8pass"',  # new values, not the current
            f'"{E1}","0","","",""',
        ),
    )
    assert problems == [(1, mismatch)]
    assert apply_refused(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","wrong8pass"')) == [
        (1, mismatch)
    ]
    assert apply_refused(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","Kakunin83id","{CONF_PW}"')) == [
        (1, mismatch)
    ]
    assert apply_refused(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}",""')) == [
        (
            1,
            "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
            "現在の確認用IDと確認用パスワードを入力してください。",
        )
    ]
    assert verification_mails(csv_line) == []
    cred = credential(csv_line, C)
    assert (cred.otp_address, cred.otp_confirmation_id) == (ADDRESS, CONF_ID)
    assert passwords.verify_password(cred.otp_confirmation_password_hash or "", CONF_PW)
    # The current values move it, and stay the confirmation values.
    result = apply(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"'))
    assert result.verification_sent == (C,)
    assert [m.recipient for m in verification_mails(csv_line)] == [NEW_ADDRESS]
    assert passwords.verify_password(
        credential(csv_line, C).otp_confirmation_password_hash or "", CONF_PW
    )


def test_item9_SITE_9_proof_checked_outside_the_transaction(
    csv_line: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The current password is verified (argon2) before the write transaction, as hashing is."""
    rows = otp_csv.parse_csv(
        csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"'), allowed_numbers=SCOPE
    )
    with db.transaction(csv_line, read_only=True) as s:
        proofs = otp_csv.check_rows(s, rows)
    proven = otp_csv.with_hashes(rows, proofs)

    def no_argon2(*_args: object) -> bool:
        raise AssertionError("argon2 ran inside the transaction")

    monkeypatch.setattr(passwords, "verify_password", no_argon2)
    monkeypatch.setattr(passwords, "hash_password", no_argon2)
    with db.transaction(csv_line) as s:
        result = otp_csv.apply_csv(s, proven, link_base=LINK, sender=SENDER, now=NOW)
    assert result.verification_sent == (C,)


def test_item9_SITE_9_wrong_proof_is_refused_before_the_transaction(
    csv_line: sessionmaker[Session],
) -> None:
    rows = otp_csv.parse_csv(
        csv(f'"{E1}","0","","",""', f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","wrong8pass"'),
        allowed_numbers=SCOPE,
    )
    with db.transaction(csv_line, read_only=True) as s:
        proofs = otp_csv.check_rows(s, rows)
    with pytest.raises(CsvRefused) as err:
        otp_csv.with_hashes(rows, proofs)
    assert in_japanese(err.value) == [(2, "確認用IDまたは確認用パスワードが正しくありません。")]


# --- issue 12 item 19: every row checked before any argon2; a cap on rows ------------------


def test_item19_SITE_9_rows_are_checked_against_the_database_before_hashing(
    csv_line: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    rows = otp_csv.parse_csv(
        csv(
            f'"{E1}","1","{NEW_ADDRESS}","Other5Id","other7pw"',  # fine alone: would be hashed
            f'"{E2}","1","{NEW_ADDRESS}","Other5Id","other7pw"',  # no site password
            f'"{C}","1","{ADDRESS}","Kawatta5Id",""',  # new ID (C has one: not by CSV)
        ),
        allowed_numbers=SCOPE,
    )

    def no_argon2(*_args: object) -> str:
        raise AssertionError("argon2 ran for a file that is refused")

    monkeypatch.setattr(passwords, "hash_password", no_argon2)
    monkeypatch.setattr(passwords, "verify_password", no_argon2)
    engine = csv_line.kw["bind"]
    before = snapshot(engine)
    with db.transaction(csv_line, read_only=True) as s, pytest.raises(CsvRefused) as err:
        otp_csv.check_rows(s, rows)
    assert in_japanese(err.value) == [
        (2, "先にパスワードを設定してください。"),
        (3, NOT_CURRENT),
    ]
    assert snapshot(engine) == before


def test_item19_SITE_9_a_file_over_the_row_cap_is_refused(csv_line: sessionmaker[Session]) -> None:
    data = csv(*(f'"{n}","0","","",""' for n in SCOPE))
    with pytest.raises(CsvRefused) as err:
        otp_csv.parse_csv(data, allowed_numbers=SCOPE, max_rows=2)
    assert in_japanese(err.value) == [
        (0, "CSVファイルの行数が多すぎます。一度に設定できるのは2行までです。")
    ]
    assert len(otp_csv.parse_csv(data, allowed_numbers=SCOPE, max_rows=3)) == 3
    # Blank lines and the header line are not rows.
    with_header = (HEADER + "\r\n\r\n").encode() + data
    assert len(otp_csv.parse_csv(with_header, allowed_numbers=SCOPE, max_rows=3)) == 3


# --- issue 12 item 9 follow-up: once set, the CSV only proves the confirmation values ------


def test_item9_SITE_9_csv_cannot_change_confirmation_values_without_the_current_ones(
    csv_line: sessionmaker[Session],
) -> None:
    """Seeds (10): a new confirmation ID or password needs the current one (the OTP
    settings page asks for it). By CSV a row could set a new password without it and a
    second upload move the address with that password; now, for a number that has them,
    the row's values only prove the current ones. A first enrolment still sets them."""
    # First enrolment from a row, no address: the row's values are set (an ID needs its
    # password).
    assert upload_refused(csv_line, csv(f'"{E1}","0","","Other5Id",""')) == [
        (1, "確認用IDを変更する場合は、確認用パスワードも入力してください。")
    ]
    assert upload(csv_line, csv(f'"{E1}","0","","Other5Id","other7pw"')).changed == (E1,)
    assert credential(csv_line, E1).otp_confirmation_id == "Other5Id"

    # The bypass: a new password without the current one, then the move with it.
    attacker = "kawari9pw"
    assert upload_refused(csv_line, csv(f'"{C}","1","{ADDRESS}","{CONF_ID}","{attacker}"')) == [
        (1, NOT_CURRENT)
    ]
    assert upload_refused(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","{attacker}"')) == [
        (1, "確認用IDまたは確認用パスワードが正しくありません。")
    ]
    # Every such row is listed: new passwords (found by argon2, before the transaction) ...
    assert upload_refused(
        csv_line,
        csv(
            f'"{C}","1","{ADDRESS}","{CONF_ID}","{attacker}"',
            f'"{E2}","0","","",""',
            f'"{E1}","0","","Other5Id","neue8pass"',
        ),
    ) == [(1, NOT_CURRENT), (3, NOT_CURRENT)]
    # ... and new IDs (found before any argon2), with or without a password.
    assert upload_refused(
        csv_line,
        csv(
            f'"{E1}","0","","Neue5Id9","other7pw"',
            f'"{C}","1","{ADDRESS}","Neue5Id9",""',
        ),
    ) == [(1, NOT_CURRENT), (2, NOT_CURRENT)]
    # A caller that skips the checks before the transaction is refused inside it.
    assert apply_refused(
        csv_line,
        csv(
            f'"{C}","1","{ADDRESS}","{CONF_ID}","{attacker}"',
            f'"{E1}","0","","Neue5Id9","neue8pass"',
        ),
    ) == [(1, NOT_CURRENT), (2, NOT_CURRENT)]

    # Nothing was stored: the current values still prove, the attacker's do not.
    for number, conf_id, conf_pw in ((C, CONF_ID, CONF_PW), (E1, "Other5Id", "other7pw")):
        cred = credential(csv_line, number)
        assert cred.otp_confirmation_id == conf_id
        assert passwords.verify_password(cred.otp_confirmation_password_hash or "", conf_pw)
        assert not passwords.verify_password(cred.otp_confirmation_password_hash or "", attacker)
    assert verification_mails(csv_line) == []

    # The next valid upload works: the current values (or none, or the ID as downloaded)
    # with a change of the setting, and the current values move the address.
    result = upload(
        csv_line,
        csv(
            f'"{C}","0","{ADDRESS}","{CONF_ID}","{CONF_PW}"',
            f'"{E1}","0","","Other5Id","other7pw"',
            f'"{E2}","0","","",""',
        ),
    )
    assert result == otp_csv.CsvApplied(changed=(C,), unchanged=(E1, E2), verification_sent=())
    assert credential(csv_line, C).otp_enabled is False
    assert upload(csv_line, exported(csv_line)).changed == ()
    moved = upload(csv_line, csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"'))
    assert moved.verification_sent == (C,)
    assert [m.recipient for m in verification_mails(csv_line)] == [NEW_ADDRESS]
    cred = credential(csv_line, C)
    assert cred.otp_confirmation_id == CONF_ID
    assert passwords.verify_password(cred.otp_confirmation_password_hash or "", CONF_PW)
