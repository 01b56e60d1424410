"""API endpoints of the support desk (SITE-2, SITE-5, issue 18): what ``chakushin support`` does.

- ``POST /numbers/{number}/temp-password``: a temporary password for the
  number, as the voice line sets one (IVR-7, IVR-9): 8 digits, valid 24 hours,
  replacing an older one and ending the number's site sessions. The answer
  carries it once (``Cache-Control: no-store``); the log event (the CLI's
  ``support_temp_password_issued``, warning level) says one was issued for
  which number, never the password.
- ``POST /numbers/{number}/otp-reset``: the one-time password off, its
  address and confirmation values cleared, its codes void and its site
  sessions ended (``store.site_auth.reset_otp``), logged as the CLI's
  ``support_otp_reset``.

Both change credentials outside the subscriber's own path: a write token only.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import structlog
from fastapi import APIRouter, Body, Path, Response
from pydantic import BaseModel, ConfigDict

from store import service, site_auth, validation
from store.models import AuthUnit
from web.api.deps import Writer

log = structlog.get_logger("web.api")

router = APIRouter(tags=["support"])

# Digits only before any query (a NUL is a database error on PostgreSQL, not an unknown
# number); the domain checks the rest of the form (``validation.subscriber_number``).
NumberPath = Annotated[
    str, Path(max_length=32, pattern=r"^[0-9]+$", description="The subscriber number's digits.")
]


class TempPasswordIn(BaseModel):
    """The auth unit the temporary password sets (IVR-3); absent: the line's current one."""

    model_config = ConfigDict(extra="forbid")

    unit: AuthUnit | None = None


class TempPasswordOut(BaseModel):
    number: str
    temp_password: str  # shown once: tell it to the subscriber
    auth_unit: AuthUnit
    expires_at: dt.datetime


class OtpResetOut(BaseModel):
    number: str
    otp_was_enabled: bool
    otp_enabled: bool
    otp_address: None
    confirmation_id: None
    sessions_ended: bool


@router.post(
    "/numbers/{number}/temp-password",
    summary="Issue a temporary password (SITE-2): 8 digits, 24 hours; shown once.",
)
def issue_temp_password(
    api: Writer,
    number: NumberPath,
    response: Response,
    body: Annotated[TempPasswordIn | None, Body()] = None,
) -> TempPasswordOut:
    response.headers["Cache-Control"] = "no-store"
    validation.subscriber_number(number)  # its form (10 or 11 digits from 0) before anything
    password = api.deps.new_temp_password()
    hashed = service.hash_temp_password(password)  # the slow KDF, before the transaction
    unit = body.unit if body is not None else None
    with api.transaction() as session:
        found = service.get_number(session, number)
        chosen = unit or found.line.auth_unit
        stored = service.set_temp_password(
            session, found.line.contract_number, number, hashed, chosen, now=api.now()
        )
        expires_at = stored.expires_at
    log.warning(
        "support_temp_password_issued",
        number=number,
        auth_unit=chosen.value,
        expires_at=expires_at.isoformat(),
        token=api.token.name,
    )
    return TempPasswordOut(
        number=number, temp_password=password, auth_unit=chosen, expires_at=expires_at
    )


@router.post(
    "/numbers/{number}/otp-reset",
    summary="Reset the one-time password (SITE-5): off, address and confirmation values "
    "cleared, site sessions ended.",
)
def reset_otp(api: Writer, number: NumberPath) -> OtpResetOut:
    validation.subscriber_number(number)
    with api.transaction() as session:
        done = site_auth.reset_otp(session, number, now=api.now())
    log.warning(
        "support_otp_reset",
        number=number,
        was_enabled=done.was_enabled,
        had_address=done.had_address,
        had_confirmation=done.had_confirmation,
        token=api.token.name,
    )
    return OtpResetOut(
        number=number,
        otp_was_enabled=done.was_enabled,
        otp_enabled=False,
        otp_address=None,
        confirmation_id=None,
        sessions_ended=True,
    )
