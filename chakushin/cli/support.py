"""The support desk's commands (SITE-2, SITE-5, issue 14): ``chakushin support``.

For a subscriber who phones the operator:

- ``otp-reset``: the number's one-time password off, its OTP address and
  confirmation ID and password cleared, its site sessions ended (the
  subscriber lost the OTP mailbox and the confirmation values);
- ``temp-password``: a temporary password for the number, as the voice line
  sets one (IVR-7, IVR-9, SITE-2): 8 random digits, valid 24 hours,
  replacing an older one.

The temporary password is printed once, on the operator's terminal (stdout,
or the ``--json`` object); the log event of each command (warning level, so
it is written without ``-v``: a credential changed outside the subscriber's
own path) names the number and what was done, never the password.
"""

from __future__ import annotations

import datetime as dt
import secrets
import string

import click
import structlog

from chakushin.cli.app import App, Group, pass_app
from chakushin.cli.output import emit
from store import service, site_auth, validation
from store.models import AuthUnit
from store.site_auth.limits import local_time

log = structlog.get_logger("cli")


def new_temp_password() -> str:
    """IVR-7: a temporary password, ``TEMP_PASSWORD_DIGITS`` random digits."""
    digits = "".join(secrets.choice(string.digits) for _ in range(validation.TEMP_PASSWORD_DIGITS))
    return validation.temp_password(digits)


@click.group(cls=Group)
def support() -> None:
    """Support desk: reset a number's one-time password, issue a temporary password."""


@support.command("otp-reset")
@click.argument("number")
@pass_app
def otp_reset(app: App, number: str) -> None:
    """Switch NUMBER's one-time password off and clear its address, confirmation ID and
    confirmation password; end its site sessions (SITE-5).

    The next login asks again whether to use the one-time password.
    """
    now = dt.datetime.now(dt.UTC)
    with app.transaction() as session:
        done = site_auth.reset_otp(session, number, now=now)
        log.warning(
            "support_otp_reset",
            number=number,
            was_enabled=done.was_enabled,
            had_address=done.had_address,
            had_confirmation=done.had_confirmation,
        )
        data = {
            "number": number,
            "otp_was_enabled": done.was_enabled,
            "otp_enabled": False,
            "otp_address": None,
            "confirmation_id": None,
            "sessions_ended": True,
        }
        was = "on" if done.was_enabled else "off"
        emit(
            app,
            data,
            lambda: (
                f"{number}: one-time password reset (it was {was}); OTP address, confirmation "
                "ID and confirmation password cleared; site sessions ended. "
                "The next login asks whether to use the one-time password."
            ),
        )


@support.command("temp-password")
@click.argument("number")
@click.option(
    "--unit",
    type=click.Choice([unit.value for unit in AuthUnit]),
    help="The auth unit it sets (IVR-3; default: the line's current one).",
)
@pass_app
def temp_password(app: App, number: str, unit: str | None) -> None:
    """Issue a temporary password for NUMBER (8 digits, 24 hours; SITE-2) and print it.

    It replaces an older one and ends the number's site sessions, as one set
    by phone. Shown once, here; the log says that one was issued, not which.
    """
    password = new_temp_password()
    hashed = service.hash_temp_password(password)  # the slow KDF, before the transaction
    now = dt.datetime.now(dt.UTC)
    with app.transaction() as session:
        found = service.get_number(session, number)
        chosen = AuthUnit(unit) if unit else found.line.auth_unit
        stored = service.set_temp_password(
            session, found.line.contract_number, number, hashed, chosen, now=now
        )
        expires = local_time(stored.expires_at, found.timezone)
        log.warning(
            "support_temp_password_issued",
            number=number,
            auth_unit=chosen.value,
            expires_at=stored.expires_at.isoformat(),
        )
        data = {
            "number": number,
            "temp_password": password,
            "auth_unit": chosen.value,
            "expires_at": stored.expires_at.isoformat(),
        }
        emit(
            app,
            data,
            lambda: (
                f"{number}: temporary password {password} (auth unit {chosen.value}), "
                f"valid until {expires} ({found.timezone}). "
                "Tell it to the subscriber; it is not shown again."
            ),
        )
