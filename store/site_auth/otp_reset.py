"""The operator's reset of a number's one-time password settings (SITE-5, issue 14).

A support desk's way out for a subscriber who lost both the OTP mailbox and
the confirmation ID or password (the site's own way, seeds (9), needs
them): the one-time password is off, the OTP address and the confirmation
values are gone, every pending code and verification link stops working and
every site session of the number ends. The next login asks the choice of
seeds P.7 again. The counts of issue 12 (``otp_event``) stay: a reset does
not hand a guesser a fresh cap.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from store.errors import NotFound
from store.models import Number, SiteToken
from store.site_auth.otp_state import lock_line
from store.site_auth.scope import check_aware, credential_row, end_sessions

log = structlog.get_logger("store")


@dataclass(frozen=True)
class OtpReset:
    """What the reset found: whether the one-time password was on, and its address."""

    number: str
    was_enabled: bool
    had_address: bool
    had_confirmation: bool


def reset_otp(session: Session, number: str, *, now: dt.datetime) -> OtpReset:
    """SITE-5: the one-time password of ``number`` off and forgotten; its sessions end.

    A number without a site password has nothing to reset but its sessions
    (none can exist); the result says what there was.
    """
    check_aware(now)
    found = session.scalars(select(Number).where(Number.number == number)).one_or_none()
    if found is None:
        raise NotFound(f"no subscriber number {number!r}", field="number")
    lock_line(session, found)  # the OTP lock order: the line, then the credential row
    cred = credential_row(session, found.id, lock=True)
    result = OtpReset(
        number=number,
        was_enabled=cred is not None and cred.otp_enabled,
        had_address=cred is not None and cred.otp_address is not None,
        had_confirmation=cred is not None and cred.otp_confirmation_id is not None,
    )
    if cred is not None:
        cred.otp_enabled = False
        cred.otp_address = None
        cred.otp_address_verified_at = None
        cred.otp_confirmation_id = None
        cred.otp_confirmation_password_hash = None
        cred.otp_chosen_at = None
    # Codes and verification links: every token of the number.
    session.execute(delete(SiteToken).where(SiteToken.number_id == found.id))
    end_sessions(session, [found.id])
    session.flush()
    log.info("otp_reset", number=number, was_enabled=result.was_enabled)
    return result
