"""Issue 12: OTP address verification mails are capped per number and per line (SITE-5, SITE-9).

Every surface that mails the link of SITE-5's 本登録 (the enrolment of seeds
P.7, the address change of seeds (9), CSV rows of seeds (12) that enrol or
move an address) counts one ``otp_event`` of kind ``verification_mailed``.
At ``OtpLimits.verification_mails_per_day`` per number, or at the line's
numbers plus that many per line, in a rolling 24 hours (the site's clock),
each refuses with the reason and the time it may go again, and stores and
mails nothing. On both backends.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import db, otp_csv, service, site_auth
from store.models import MailKind, OtpEvent, OtpEventKind, OutboxMail
from store.otp_csv import CsvRefused
from store.site_auth import OtpLimits, VerificationRefused
from tests.builders import give_site_password, snapshot
from web.texts import japanese

C = "0359207146"  # the contract number
EXTRAS = ("0359207147", "0359207148", "0359207149")
TZ = "Asia/Tokyo"
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
SENDER = "noreply@site.example.jp"
LINK = "https://site.example.jp/otp/verify"
CONF_ID = "Kakunin82id"
CONF_PW = "kakunin7pw"
LIMITS = OtpLimits(verification_mails_per_day=2)  # per line: 4 numbers + 2 = 6


@pytest.fixture
def passworded_line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """A line of four numbers, each with a site password and no one-time password yet."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        for number in EXTRAS:
            service.add_number(s, C, number, timezone=TZ)
        for number in (C, *EXTRAS):
            give_site_password(s, number, now=NOW)
    return sessions


def outbox(sessions: sessionmaker[Session]) -> list[str]:
    """The recipients of the queued verification mails, oldest first."""
    with db.transaction(sessions, read_only=True) as s:
        return list(
            s.scalars(
                select(OutboxMail.recipient)
                .where(OutboxMail.kind == MailKind.ADDRESS_VERIFICATION)
                .order_by(OutboxMail.id)
            )
        )


def counted(sessions: sessionmaker[Session]) -> int:
    with db.transaction(sessions, read_only=True) as s:
        return int(
            s.scalar(
                select(func.count())
                .select_from(OtpEvent)
                .where(OtpEvent.kind == OtpEventKind.VERIFICATION_MAILED)
            )
            or 0
        )


def enrol(sessions: sessionmaker[Session], number: str, address: str, now: dt.datetime) -> str:
    with db.transaction(sessions) as s:
        return site_auth.start_otp_enrolment(
            s,
            number,
            address,
            CONF_ID,
            CONF_PW,
            link_base=LINK,
            sender=SENDER,
            now=now,
            limits=LIMITS,
        )


def move(sessions: sessionmaker[Session], number: str, address: str, now: dt.datetime) -> str:
    """Seeds (9): the confirmation values proven, then the new address (issue 14)."""
    site_auth.prove_otp_confirmation(sessions, number, CONF_ID, CONF_PW, now=now, limits=LIMITS)
    with db.transaction(sessions) as s:
        return site_auth.request_otp_address_change(
            s, number, address, link_base=LINK, sender=SENDER, now=now, limits=LIMITS
        )


def upload(sessions: sessionmaker[Session], rows: Sequence[str], now: dt.datetime) -> object:
    data = "".join(row + "\r\n" for row in rows).encode()
    return otp_csv.upload(
        sessions,
        data,
        allowed_numbers=(C, *EXTRAS),
        link_base=LINK,
        sender=SENDER,
        now=now,
        limits=LIMITS,
    )


def refused(action: Callable[[], object]) -> VerificationRefused:
    with pytest.raises(VerificationRefused) as err:
        action()
    return err.value


def test_issue12_SITE_5_verification_mails_are_capped_per_number(
    passworded_line: sessionmaker[Session],
) -> None:
    """The issue's attack: enrol once (the values are then known), then move the address
    again and again; each try mails a stranger. Two per number in 24 hours here."""
    engine = passworded_line.kw["bind"]
    enrol(passworded_line, C, "victim0@example.org", NOW)
    move(passworded_line, C, "victim1@example.org", NOW + dt.timedelta(minutes=1))
    assert outbox(passworded_line) == ["victim0@example.org", "victim1@example.org"]
    assert counted(passworded_line) == 2
    before = snapshot(engine)
    later = NOW + dt.timedelta(hours=23, minutes=59)
    for attempt in (
        lambda: move(passworded_line, C, "victim2@example.org", later),
        lambda: enrol(passworded_line, C, "victim3@example.org", later),
    ):
        err = refused(attempt)
        assert err.code == "verification_number_limit"
        assert "この電話番号" in japanese(err) and "24時間で2通" in japanese(err)
        # The first mail leaves the window at 2026-11-24 01:00 UTC, 10:00 in Tokyo.
        assert "2026/11/24 10:00:00" in japanese(err)
        assert err.retry_at == NOW + dt.timedelta(hours=24)
    # Nothing stored: no link, no mail, no count, the confirmation values as they were.
    assert snapshot(engine) == before
    # Another number of the line has its own count.
    enrol(passworded_line, EXTRAS[0], "x@example.jp", later)
    # Rolling 24 hours on the injected clock: once the first mail is out, one more goes.
    window_passed = NOW + dt.timedelta(hours=24)
    move(passworded_line, C, "mine@example.jp", window_passed)
    assert outbox(passworded_line)[-1] == "mine@example.jp"
    again = refused(lambda: move(passworded_line, C, "victim4@example.org", window_passed))
    assert again.retry_at == NOW + dt.timedelta(hours=24, minutes=1)


def test_issue12_SITE_9_csv_refuses_the_file_at_a_numbers_verification_cap(
    passworded_line: sessionmaker[Session],
) -> None:
    engine = passworded_line.kw["bind"]
    enrol(passworded_line, EXTRAS[0], "a0@example.jp", NOW)
    move(passworded_line, EXTRAS[0], "a1@example.jp", NOW)
    before = snapshot(engine)
    rows = [
        f'"{C}","1","c@example.jp","{CONF_ID}","{CONF_PW}"',
        f'"{EXTRAS[0]}","1","a2@example.jp","{CONF_ID}","{CONF_PW}"',
    ]
    with pytest.raises(CsvRefused) as err:
        upload(passworded_line, rows, NOW + dt.timedelta(hours=1))
    assert err.value.limited
    [(row, error)] = err.value.problems
    reason = japanese(error)
    assert row == 2 and "24時間で2通" in reason and "2026/11/24 10:00:00" in reason
    assert snapshot(engine) == before  # not even the first row's number was changed
    # The next valid file works: without the capped number, and with it after the window.
    applied = upload(passworded_line, rows[:1], NOW + dt.timedelta(hours=1))
    assert isinstance(applied, otp_csv.CsvApplied) and applied.verification_sent == (C,)
    applied = upload(passworded_line, rows[1:], NOW + dt.timedelta(hours=24))
    assert isinstance(applied, otp_csv.CsvApplied) and applied.verification_sent == (EXTRAS[0],)
    assert outbox(passworded_line)[-1] == "a2@example.jp"


def test_issue12_SITE_9_verification_mails_are_capped_per_line(
    passworded_line: sessionmaker[Session],
) -> None:
    """One login manages every number of the line: a bulk enrolment of all four goes
    through, the same file again does not (the line's cap is its numbers + 2)."""
    engine = passworded_line.kw["bind"]
    numbers = (C, *EXTRAS)

    def file(tag: str) -> list[str]:
        return [
            f'"{n}","1","{tag}{i}@example.org","{CONF_ID}","{CONF_PW}"'
            for i, n in enumerate(numbers)
        ]

    applied = upload(passworded_line, file("first"), NOW)
    assert isinstance(applied, otp_csv.CsvApplied) and applied.verification_sent == numbers
    assert counted(passworded_line) == 4
    before = snapshot(engine)
    # Each number is under its own cap (1 of 2), but the line has 2 of 6 left: rows 3, 4.
    later = NOW + dt.timedelta(hours=1)
    with pytest.raises(CsvRefused) as err:
        upload(passworded_line, file("again"), later)
    assert err.value.limited
    assert [row for row, _reason in err.value.problems] == [3, 4]
    assert all(
        "この回線" in japanese(e) and "24時間で6通" in japanese(e) for _r, e in err.value.problems
    )
    assert snapshot(engine) == before
    # Two rows still fit; then the line is at its cap on the page too, for any number.
    applied = upload(passworded_line, file("again")[:2], later)
    assert isinstance(applied, otp_csv.CsvApplied) and len(applied.verification_sent) == 2
    at_cap = snapshot(engine)
    err2 = refused(lambda: move(passworded_line, EXTRAS[2], "page@example.org", later))
    assert err2.code == "verification_line_limit"
    assert "2026/11/24 10:00:00" in japanese(err2)
    assert snapshot(engine) == at_cap
    # After the window of the first file the line may mail again.
    move(passworded_line, EXTRAS[2], "page@example.org", NOW + dt.timedelta(hours=24))
    assert outbox(passworded_line)[-1] == "page@example.org"
    assert counted(passworded_line) == 6  # the number's rows past the window went with its new one


def test_issue12_SITE_5_default_verification_cap_is_5_per_number() -> None:
    assert OtpLimits().verification_mails_per_day == 5
