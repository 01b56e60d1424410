"""Issue 12: wrong OTP confirmation ID/password entries are capped per number (SITE-5, SITE-9).

Three surfaces prove the current confirmation values (SITE-5's
確認用ID / 確認用パスワード): the address change of seeds (9)
(``site_auth.prove_otp_confirmation``, then the new address), their change
of seeds (11) (``site_auth.change_confirmation_password``, the ID's alike)
and CSV rows of seeds (12) (``otp_csv.upload``). Each wrong entry is one ``otp_event`` of kind
``confirmation_wrong`` for the number, committed although the call fails; at
``OtpLimits.confirmation_failures_per_day`` in a rolling 24 hours (the site's
clock) every surface refuses the number, even with the right values, and
stores nothing. On both backends.
"""

from __future__ import annotations

import collections
import datetime as dt
import threading

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import db, otp_csv, passwords, service, site_auth
from store.errors import RuleViolation
from store.models import MailKind, OtpEvent, OtpEventKind, OutboxMail, SiteCredential
from store.otp_csv import CsvRefused
from store.site_auth import OtpLimits, OtpRefused
from tests.builders import OtpInUse, give_site_password, snapshot
from web.texts import japanese

C = "0359207146"  # OTP in use, confirmation values set
E1 = "0359207147"  # OTP in use too, its own confirmation values
TZ = "Asia/Tokyo"
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
SENDER = "noreply@site.example.jp"
LINK = "https://site.example.jp/otp/verify"
CONF_ID = "Kakunin82id"
CONF_PW = "kakunin7pw"
WRONG_PW = "chigau5pass"
ADDRESS = "otp@mail.example.jp"
NEW_ADDRESS = "new.otp@mail.example.jp"
LIMITS = OtpLimits(confirmation_failures_per_day=3)


@pytest.fixture
def both_in_otp(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """Both numbers of the line have a site password and OTP in use (SITE-5)."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        service.add_number(s, C, E1, timezone=TZ)
        for number in (C, E1):
            give_site_password(s, number, now=NOW, otp=OtpInUse(ADDRESS, CONF_ID, CONF_PW))
    return sessions


def wrong_entries(sessions: sessionmaker[Session], number: str = C) -> int:
    with db.transaction(sessions, read_only=True) as s:
        found = service.get_number(s, number)
        return int(
            s.scalar(
                select(func.count())
                .select_from(OtpEvent)
                .where(
                    OtpEvent.number_id == found.id,
                    OtpEvent.kind == OtpEventKind.CONFIRMATION_WRONG,
                )
            )
            or 0
        )


def verification_mails(sessions: sessionmaker[Session]) -> list[str]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.scalars(
            select(OutboxMail.recipient).where(OutboxMail.kind == MailKind.ADDRESS_VERIFICATION)
        )
        return list(rows)


def move_address(
    sessions: sessionmaker[Session], password: str, *, now: dt.datetime, number: str = C
) -> str:
    """Seeds (9): the confirmation values proven, then the new address (issue 14)."""
    site_auth.prove_otp_confirmation(sessions, number, CONF_ID, password, now=now, limits=LIMITS)
    with db.transaction(sessions) as s:
        return site_auth.request_otp_address_change(
            s, number, NEW_ADDRESS, link_base=LINK, sender=SENDER, now=now, limits=LIMITS
        )


def new_password(
    sessions: sessionmaker[Session], current: str, new: str, *, now: dt.datetime
) -> None:
    """Seeds (11) 〈確認用パスワードの変更〉."""
    site_auth.change_confirmation_password(sessions, C, current, new, new, now=now, limits=LIMITS)


def refused(action: object) -> OtpRefused:
    assert callable(action)
    with pytest.raises(OtpRefused) as err:
        action()
    return err.value


def test_issue12_SITE_5_wrong_confirmation_entries_are_capped_per_number(
    both_in_otp: sessionmaker[Session],
) -> None:
    """Both pages count into one cap per number; at the cap not even the right values work."""
    engine = both_in_otp.kw["bind"]
    # A wrong entry on either page counts once, and says so; nothing else is written.
    first = refused(lambda: move_address(both_in_otp, WRONG_PW, now=NOW))
    assert first.code == "confirmation_mismatch"
    assert wrong_entries(both_in_otp) == 1 and verification_mails(both_in_otp) == []
    second = refused(lambda: new_password(both_in_otp, WRONG_PW, "neue8pass", now=NOW))
    assert second.code == "confirmation_mismatch"
    assert wrong_entries(both_in_otp) == 2
    assert passwords.verify_password(credential_hash(both_in_otp), CONF_PW)
    # Before the cap the next valid attempt works (and counts nothing).
    token = move_address(both_in_otp, CONF_PW, now=NOW + dt.timedelta(minutes=1))
    assert (
        token
        and verification_mails(both_in_otp) == [NEW_ADDRESS]
        and wrong_entries(both_in_otp) == 2
    )
    # The third wrong entry reaches the cap of 3: the message says why and until when.
    third = refused(lambda: move_address(both_in_otp, WRONG_PW, now=NOW + dt.timedelta(minutes=2)))
    assert third.code == "confirmation_limit"
    assert "24時間で3回" in japanese(third)
    # 2026-11-24 01:00 UTC is 10:00 in Tokyo: when the first wrong entry leaves the window.
    assert "2026/11/24 10:00:00" in japanese(third)
    assert wrong_entries(both_in_otp) == 3
    # At the cap: the right values are refused on both pages, nothing stored or counted.
    later = NOW + dt.timedelta(hours=23, minutes=59)
    before = snapshot(engine)
    for attempt in (
        lambda: move_address(both_in_otp, CONF_PW, now=later),
        lambda: new_password(both_in_otp, CONF_PW, "neue8pass", now=later),
        lambda: move_address(both_in_otp, WRONG_PW, now=later),
    ):
        err = refused(attempt)
        assert err.code == "confirmation_limit" and "2026/11/24 10:00:00" in japanese(err)
    assert snapshot(engine) == before
    # Another number of the line has its own count.
    move_address(both_in_otp, CONF_PW, now=later, number=E1)
    # Rolling 24 hours on the injected clock: once the first wrong entry is out, one more try.
    window_passed = NOW + dt.timedelta(hours=24)
    new_password(both_in_otp, CONF_PW, "neue8pass", now=window_passed)
    assert passwords.verify_password(credential_hash(both_in_otp), "neue8pass")


def credential_hash(sessions: sessionmaker[Session], number: str = C) -> str:
    with db.transaction(sessions, read_only=True) as s:
        found = service.get_number(s, number)
        cred = s.scalars(select(SiteCredential).where(SiteCredential.number_id == found.id)).one()
        return cred.otp_confirmation_password_hash or ""


def test_issue12_SITE_5_default_cap_is_10_and_form_errors_do_not_count(
    both_in_otp: sessionmaker[Session],
) -> None:
    assert OtpLimits().confirmation_failures_per_day == 10
    # New values that break the rules are no guess at the current ones: not counted.
    with pytest.raises(RuleViolation):
        site_auth.change_confirmation_password(
            both_in_otp, C, WRONG_PW, "neue8pass", "neue9pass", now=NOW
        )
    assert wrong_entries(both_in_otp) == 0
    for index in range(10):
        err = refused(
            lambda: site_auth.change_confirmation_password(
                both_in_otp, C, WRONG_PW, "neue8pass", "neue8pass", now=NOW
            )
        )
        assert err.code == ("confirmation_limit" if index == 9 else "confirmation_mismatch")
    assert wrong_entries(both_in_otp) == 10


def test_issue12_SITE_5_parallel_wrong_confirmation_entries_do_not_pass_the_cap(
    both_in_otp: sessionmaker[Session],
) -> None:
    """6 wrong entries at once (as from several site processes) against a cap of 3."""
    attempts = 6
    start = threading.Barrier(attempts)
    codes: list[str] = []
    lock = threading.Lock()

    def attempt() -> None:
        start.wait()
        try:
            move_address(both_in_otp, WRONG_PW, now=NOW)
        except OtpRefused as exc:
            with lock:
                codes.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    assert collections.Counter(codes) == {"confirmation_mismatch": 2, "confirmation_limit": 4}
    assert wrong_entries(both_in_otp) == 3


# --- SITE-9: the CSV upload ---------------------------------------------------------------------


def csv(*lines: str) -> bytes:
    return "".join(line + "\r\n" for line in lines).encode()


def upload(sessions: sessionmaker[Session], data: bytes, *, now: dt.datetime) -> object:
    return otp_csv.upload(
        sessions,
        data,
        allowed_numbers=(C, E1),
        link_base=LINK,
        sender=SENDER,
        now=now,
        limits=LIMITS,
    )


def upload_refused(sessions: sessionmaker[Session], data: bytes, *, now: dt.datetime) -> CsvRefused:
    with pytest.raises(CsvRefused) as err:
        upload(sessions, data, now=now)
    return err.value


def test_issue12_SITE_9_wrong_confirmation_rows_count_and_the_cap_refuses_the_file(
    both_in_otp: sessionmaker[Session],
) -> None:
    engine = both_in_otp.kw["bind"]
    move_wrong = f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","{WRONG_PW}"'
    # A wrong password in a row (argon2 step) counts once for its number.
    err = upload_refused(both_in_otp, csv(move_wrong), now=NOW)
    assert [line_no for line_no, _ in err.problems] == [1]
    assert "確認用IDまたは確認用パスワードが正しくありません。" in japanese(err.problems[0].error)
    assert wrong_entries(both_in_otp) == 1
    # A row whose ID is not the current one (the check step) counts too, per number.
    not_current = upload_refused(
        both_in_otp,
        csv(f'"{E1}","1","{ADDRESS}","Chigau9id",""', f'"{C}","1","{ADDRESS}","Chigau9id",""'),
        now=NOW,
    )
    assert [line_no for line_no, _ in not_current.problems] == [1, 2]
    assert (wrong_entries(both_in_otp), wrong_entries(both_in_otp, E1)) == (2, 1)
    # Before the cap the next valid file works.
    upload(both_in_otp, csv(f'"{C}","1","{NEW_ADDRESS}","{CONF_ID}","{CONF_PW}"'), now=NOW)
    assert verification_mails(both_in_otp) == [NEW_ADDRESS]
    # The third wrong entry reaches the cap.
    third = upload_refused(both_in_otp, csv(move_wrong), now=NOW)
    assert "24時間で3回" in japanese(third.problems[0].error)
    assert wrong_entries(both_in_otp) == 3
    # At the cap a file with the right values for that number is refused as a whole,
    # listing the row; the other number's valid row is not applied either.
    before = snapshot(engine)
    capped = upload_refused(
        both_in_otp,
        csv(
            f'"{E1}","0","","",""',
            f'"{C}","1","{ADDRESS}","{CONF_ID}","{CONF_PW}"',
        ),
        now=NOW + dt.timedelta(hours=1),
    )
    assert [line_no for line_no, _ in capped.problems] == [2]
    capped_reason = japanese(capped.problems[0].error)
    assert "24時間で3回" in capped_reason and "2026/11/24 10:00:00" in capped_reason
    assert snapshot(engine) == before
    # A row that proves nothing (empty confirmation fields) still works at the cap.
    upload(both_in_otp, csv(f'"{C}","0","","",""'), now=NOW + dt.timedelta(hours=1))
    # After the window the right values work again.
    later = NOW + dt.timedelta(hours=24)
    upload(both_in_otp, csv(f'"{C}","1","{ADDRESS}","{CONF_ID}","{CONF_PW}"'), now=later)
