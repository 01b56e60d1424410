"""The one-time password's stored state (SITE-5): rows, locks, counted events and their caps.

Issue 12 counts what an attacker could repeat, per number over
``OTP_LIMIT_WINDOW`` (``otp_event`` rows): wrong codes, code mails, wrong
confirmation IDs/passwords and verification mails (these per line too).
The enrolment, the code and the CSV upload (``store.otp_csv``) share these
counts and one lock order: the line, then the number's credential row.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence

import structlog
from sqlalchemy import ColumnElement, delete, func, select
from sqlalchemy.orm import Session

from store.models import (
    Line,
    Number,
    OtpEvent,
    OtpEventKind,
    SiteCredential,
    SiteToken,
    SiteTokenKind,
)
from store.site_auth.errors import ConfirmationRefused, OtpRefused, OutOfScope, VerificationRefused
from store.site_auth.limits import OTP_LIMIT_WINDOW, OtpLimits, aware, local_time
from store.site_auth.scope import credential_row

log = structlog.get_logger("store")


def digest(secret: str) -> str:
    """SHA-256 of a random token or short-lived code: stored instead of the secret."""
    return hashlib.sha256(secret.encode()).hexdigest()


def number_and_credential(
    session: Session, number: str, *, with_line: bool = False
) -> tuple[Number, SiteCredential]:
    """The number and its credential row, locked (``no_site_password`` without one)."""
    found = session.scalars(select(Number).where(Number.number == number)).one_or_none()
    if found is None:
        raise OutOfScope("login_not_allowed")
    if with_line:  # before the credential row: the lock order of ``change_auth_unit``
        lock_line(session, found)
    cred = credential_row(session, found.id, lock=True)
    if cred is None:
        raise OtpRefused("no_site_password")
    return found, cred


def lock_line(session: Session, found: Number) -> None:
    """The line's row, locked: the per-line count of verification mails is serialised.

    Taken before any credential row of the line (``change_auth_unit`` takes
    the line, then credentials: one lock order).
    """
    session.execute(select(Line.id).where(Line.id == found.line_id).with_for_update())


def lock_lines_of(session: Session, numbers: Sequence[str]) -> None:
    """``lock_line`` for the lines of ``numbers`` (a CSV file), in one order (by id)."""
    line_ids = select(Number.line_id).where(Number.number.in_(numbers))
    session.execute(
        select(Line.id).where(Line.id.in_(line_ids)).order_by(Line.id).with_for_update()
    )


def void_codes(session: Session, number_id: int) -> None:
    """Every one-time password mailed to the number stops working."""
    session.execute(
        delete(SiteToken).where(
            SiteToken.number_id == number_id, SiteToken.kind == SiteTokenKind.OTP_CODE
        )
    )


def otp_events(session: Session, number_id: int, kind: OtpEventKind, now: dt.datetime) -> int:
    """How many ``kind`` events the number had in the 24 hours up to ``now``."""
    return int(
        session.scalar(
            select(func.count())
            .select_from(OtpEvent)
            .where(
                OtpEvent.number_id == number_id,
                OtpEvent.kind == kind,
                OtpEvent.at > now - OTP_LIMIT_WINDOW,
            )
        )
        or 0
    )


def record_otp_event(session: Session, number_id: int, kind: OtpEventKind, now: dt.datetime) -> int:
    """Count one more ``kind`` event; returns the count in the window, this one included.

    The number's events past the window go at the same time (the table stays small).
    """
    session.execute(
        delete(OtpEvent).where(
            OtpEvent.number_id == number_id, OtpEvent.at <= now - OTP_LIMIT_WINDOW
        )
    )
    session.add(OtpEvent(number_id=number_id, kind=kind, at=now))
    session.flush()
    return otp_events(session, number_id, kind, now)


# --- verification mails per number and per line (issue 12) --------------------------------


def _verification_times(
    session: Session, condition: ColumnElement[bool], now: dt.datetime
) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(OtpEvent.at)
            .join(Number, Number.id == OtpEvent.number_id)
            .where(
                condition,
                OtpEvent.kind == OtpEventKind.VERIFICATION_MAILED,
                OtpEvent.at > now - OTP_LIMIT_WINDOW,
            )
            .order_by(OtpEvent.at)
        )
    )


def line_verification_cap(session: Session, found: Number, limits: OtpLimits) -> int:
    """Issue 12: verification mails a line may send in 24 hours.

    Per line, not per login session: a session is free to make again (the
    flaw of issue 12 item 2), and the only login that manages many numbers
    is the contract number, which manages its whole line (SITE-1), under
    any auth unit and across auth-unit changes. One mail for each number of
    the line lets a bulk enrolment of every number through (SITE-9), plus
    ``verification_mails_per_day`` for retries; the same file sent again is
    refused, so a line cannot be used to mail many addresses day after day.
    """
    numbers = session.scalar(
        select(func.count()).select_from(Number).where(Number.line_id == found.line_id)
    )
    return int(numbers or 0) + limits.verification_mails_per_day


def verification_refusal(
    session: Session,
    found: Number,
    now: dt.datetime,
    limits: OtpLimits,
    *,
    pending_line: int = 0,
    field: str | None = None,
) -> VerificationRefused | None:
    """Issue 12: ``VerificationRefused`` if one more verification mail for ``found`` at ``now``
    would pass the number's cap (``limits.verification_mails_per_day`` in 24 hours) or its
    line's (``line_verification_cap``); else None. ``pending_line``: mails of the line not
    counted yet (earlier rows of the same CSV file, ``otp_csv.check_rows``)."""
    cap = limits.verification_mails_per_day
    code, pending = "verification_number_limit", 0
    times = _verification_times(session, OtpEvent.number_id == found.id, now)
    if len(times) < cap:
        code, pending = "verification_line_limit", pending_line
        cap = line_verification_cap(session, found, limits)
        times = _verification_times(session, Number.line_id == found.line_id, now)
        if len(times) + pending < cap:
            return None
    # Possible again once enough counted mails left the window (``pending`` < cap:
    # a file has one row per number, and the line's cap is above its numbers).
    oldest = times[max(0, len(times) + pending - cap)] if times else now
    retry_at = aware(oldest) + OTP_LIMIT_WINDOW
    return VerificationRefused(
        code, limit=cap, until=local_time(retry_at, found.timezone), retry_at=retry_at, field=field
    )


# --- wrong confirmation IDs/passwords per number (issue 12) --------------------------------


def _confirmation_limit(
    found: Number, times: Sequence[dt.datetime], cap: int, *, field: str | None, counted: bool
) -> ConfirmationRefused:
    # The number may try again once enough wrong entries left the window to be under the cap.
    retry_at = aware(times[len(times) - cap]) + OTP_LIMIT_WINDOW
    return ConfirmationRefused(
        "confirmation_limit",
        field=field,
        counted=counted,
        limit=cap,
        until=local_time(retry_at, found.timezone),
        retry_at=retry_at,
    )


def _wrong_confirmation_times(
    session: Session, number_id: int, now: dt.datetime
) -> list[dt.datetime]:
    return list(
        session.scalars(
            select(OtpEvent.at)
            .where(
                OtpEvent.number_id == number_id,
                OtpEvent.kind == OtpEventKind.CONFIRMATION_WRONG,
                OtpEvent.at > now - OTP_LIMIT_WINDOW,
            )
            .order_by(OtpEvent.at)
        )
    )


def confirmation_refusal(
    session: Session, found: Number, now: dt.datetime, cap: int, *, field: str | None = None
) -> ConfirmationRefused | None:
    """Issue 12: ``confirmation_limit`` when ``found`` had ``cap`` wrong confirmation
    entries in the 24 hours up to ``now`` (its params say until when); else None."""
    times = _wrong_confirmation_times(session, found.id, now)
    if len(times) < cap:
        return None
    return _confirmation_limit(found, times, cap, field=field, counted=False)


def count_wrong_confirmation(
    session: Session, found: Number, now: dt.datetime, cap: int, *, field: str | None = None
) -> ConfirmationRefused:
    """Issue 12: count one wrong confirmation ID/password of ``found``; the refusal to raise.

    The caller holds the lock of the number's credential row, so that parallel
    entries cannot pass the cap. ``confirmation_mismatch``, or
    ``confirmation_limit`` when this entry reached the cap (counted) or others
    reached it first (not counted). The caller commits, then raises.
    """
    if (refusal := confirmation_refusal(session, found, now, cap, field=field)) is not None:
        return refusal
    record_otp_event(session, found.id, OtpEventKind.CONFIRMATION_WRONG, now)
    times = _wrong_confirmation_times(session, found.id, now)
    if len(times) >= cap:
        log.warning("otp_confirmation_limit_reached", number=found.number, limit=cap)
        return _confirmation_limit(found, times, cap, field=field, counted=True)
    return ConfirmationRefused("confirmation_mismatch", field=field, counted=True)
