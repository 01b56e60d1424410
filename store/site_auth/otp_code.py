"""The one-time password itself (SITE-5): mail a code, check the code the subscriber types.

``check_otp_code`` takes a session *factory*: a wrong code counts (5 per
mailed code, ``OtpLimits.wrong_codes_per_day`` per number) even though the
call then fails, so the counts are committed before the refusal is raised.
"""

from __future__ import annotations

import datetime as dt
import hmac
from dataclasses import dataclass

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import db, password_rules
from store.models import Number, OtpEventKind, SiteToken, SiteTokenKind
from store.site_auth.errors import OtpRefused, invalid_input
from store.site_auth.limits import (
    DEFAULT_OTP_LIMITS,
    OTP_CODE_DIGITS,
    OTP_CODE_MAX_WRONG,
    OTP_CODE_RESEND_AFTER,
    OTP_CODE_VALIDITY,
    PASSWORD_VALIDITY,
    OtpLimits,
    aware,
)
from store.site_auth.mails import queue_otp_code_mail
from store.site_auth.otp_state import (
    digest,
    number_and_credential,
    otp_events,
    record_otp_event,
    void_codes,
)
from store.site_auth.scope import check_aware, credential_row, otp_address_verified

log = structlog.get_logger("store")


def _otp_digest(number_id: int, code: str) -> str:
    # The number in the digest keeps equal codes of two numbers apart (token_hash is unique).
    return digest(f"otp_code:{number_id}:{code}")


def send_otp_code(
    session: Session,
    number: str,
    *,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits = DEFAULT_OTP_LIMITS,
) -> None:
    """SITE-5 「ワンタイムパスワードを送信」: mail a new 6-digit code, valid 300 seconds.

    The new code replaces any earlier one of the number, used or not. At
    most ``limits.code_mails_per_day`` mails per number in 24 hours
    (``otp_mail_limit``), and none once the wrong codes reached their cap.
    """
    check_aware(now)
    found, cred = number_and_credential(session, number)
    if not (cred.otp_enabled and otp_address_verified(cred)) or cred.otp_address is None:
        raise OtpRefused("otp_not_enrolled")
    wrong_cap, mail_cap = limits.wrong_codes_per_day, limits.code_mails_per_day
    if otp_events(session, found.id, OtpEventKind.CODE_WRONG, now) >= wrong_cap:
        raise OtpRefused("otp_wrong_limit", field="otp_code", limit=wrong_cap)
    if otp_events(session, found.id, OtpEventKind.CODE_MAILED, now) >= mail_cap:
        log.warning("otp_mail_limit_reached", number=number, limit=mail_cap)
        raise OtpRefused("otp_mail_limit", field="otp_code", limit=mail_cap)
    last_sent = session.scalar(
        select(func.max(SiteToken.created_at)).where(
            SiteToken.number_id == found.id, SiteToken.kind == SiteTokenKind.OTP_CODE
        )
    )
    if last_sent is not None and now - aware(last_sent) < OTP_CODE_RESEND_AFTER:
        raise OtpRefused("otp_code_too_soon", field="otp_code")
    void_codes(session, found.id)
    code = password_rules.new_otp_code(OTP_CODE_DIGITS)
    expires_at = now + OTP_CODE_VALIDITY
    session.add(
        SiteToken(
            number_id=found.id,
            kind=SiteTokenKind.OTP_CODE,
            token_hash=_otp_digest(found.id, code),
            created_at=now,
            expires_at=expires_at,
            wrong_count=0,
        )
    )
    queue_otp_code_mail(
        session,
        found,
        recipient=cred.otp_address,
        code=code,
        expires_at=expires_at,
        sender=sender,
        now=now,
    )
    record_otp_event(session, found.id, OtpEventKind.CODE_MAILED, now)
    session.flush()
    log.info("otp_code_sent", number=number)


@dataclass(frozen=True)
class OtpAccepted:
    """SITE-5: the code was right. ``password_expired``: the SITE-4 change comes next."""

    password_expired: bool


def check_otp_code(
    sessions: sessionmaker[Session],
    number: str,
    code: str,
    *,
    now: dt.datetime,
    limits: OtpLimits = DEFAULT_OTP_LIMITS,
) -> OtpAccepted:
    """SITE-5: the mailed code completes the login; once, within 300 seconds.

    「300秒を経過した場合」: valid up to and including ``expires_at``. A wrong
    code counts; the 5th wrong entry makes the code void (a new one must be
    sent). Wrong codes are also counted per number over 24 hours: from
    ``limits.wrong_codes_per_day`` on, no code is taken, not even the right
    one (``otp_wrong_limit``, one of ``OTP_STAGE_ENDING``). The counts are
    committed before ``OtpRefused`` is raised, hence the session factory.
    """
    check_aware(now)
    if not code:
        raise invalid_input("otp_code_empty", "otp_code")
    if not (code.isascii() and code.isdigit() and len(code) == OTP_CODE_DIGITS):
        # Never a code we mailed: refused as bad input, not counted as a guess.
        raise invalid_input("otp_code_format", "otp_code")
    with db.transaction(sessions) as session:
        outcome = _check_code(session, number, code, now, limits)
    if isinstance(outcome, OtpRefused):
        log.info("otp_code_refused", number=number, reason=outcome.code)
        raise outcome
    log.info("otp_code_accepted", number=number, password_expired=outcome.password_expired)
    return outcome


def _check_code(
    session: Session, number: str, code: str, now: dt.datetime, limits: OtpLimits
) -> OtpRefused | OtpAccepted:
    found = session.scalars(select(Number).where(Number.number == number)).one_or_none()
    if found is None:
        return OtpRefused("otp_code_missing", field="otp_code")
    # The credential row's lock serialises the number's code checks and
    # mails, so that parallel wrong codes cannot pass the cap.
    cred = credential_row(session, found.id, lock=True)
    row = session.scalars(
        select(SiteToken)
        .where(SiteToken.number_id == found.id, SiteToken.kind == SiteTokenKind.OTP_CODE)
        .with_for_update()
    ).one_or_none()
    if row is None:
        return OtpRefused("otp_code_missing", field="otp_code")
    wrong_cap = limits.wrong_codes_per_day
    if otp_events(session, found.id, OtpEventKind.CODE_WRONG, now) >= wrong_cap:
        return OtpRefused("otp_wrong_limit", field="otp_code", limit=wrong_cap)
    if row.used_at is not None:
        return OtpRefused("otp_code_used", field="otp_code")
    if row.wrong_count >= OTP_CODE_MAX_WRONG:
        return OtpRefused("otp_code_void", field="otp_code")
    if now > row.expires_at:
        return OtpRefused("otp_code_expired", field="otp_code")
    if not hmac.compare_digest(row.token_hash, _otp_digest(found.id, code)):
        row.wrong_count += 1
        wrong_today = record_otp_event(session, found.id, OtpEventKind.CODE_WRONG, now)
        session.flush()
        if wrong_today >= wrong_cap:
            log.warning("otp_wrong_limit_reached", number=number, limit=wrong_cap)
            return OtpRefused("otp_wrong_limit", field="otp_code", limit=wrong_cap)
        if row.wrong_count >= OTP_CODE_MAX_WRONG:
            return OtpRefused("otp_code_void", field="otp_code")
        return OtpRefused("otp_code_wrong", field="otp_code")
    row.used_at = now
    session.flush()
    return OtpAccepted(
        password_expired=cred is not None and now >= cred.changed_at + PASSWORD_VALIDITY
    )
