"""The one-time password's enrolment, address, confirmation values and choice (SITE-5).

Seeds P.7 and (8)…(11): 仮登録 (``start_otp_enrolment``: the OTP address,
a confirmation ID and password; a 24-hour link is mailed), 本登録
(``verify_otp_address``: the link is followed), a new address for a login
that proved the owner (``request_otp_address_change``; the proof by the
confirmation values is ``prove_otp_confirmation``), new confirmation values
proven by the current one (``change_confirmation_id``,
``change_confirmation_password``), and the choice to use it or not
(``set_otp_enabled``). The proof and the changes take a session *factory*:
a wrong confirmation ID or password counts (issue 12) and is committed
before the refusal is raised; the argon2 check runs between their
transactions.
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import structlog
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from store import db, password_rules, passwords, validation
from store.errors import DomainError
from store.models import Number, OtpEventKind, SiteCredential, SiteToken, SiteTokenKind
from store.site_auth.errors import OtpRefused, OutOfScope, violation
from store.site_auth.limits import ADDRESS_LINK_VALIDITY, DEFAULT_OTP_LIMITS, OtpLimits
from store.site_auth.mails import queue_verification_mail
from store.site_auth.otp_state import (
    confirmation_refusal,
    count_wrong_confirmation,
    digest,
    lock_line,
    number_and_credential,
    record_otp_event,
    verification_refusal,
    void_codes,
)
from store.site_auth.scope import (
    check_aware,
    credential_row,
    end_sessions,
    otp_address_verified,
)

log = structlog.get_logger("store")

T = TypeVar("T")


def _otp_address(address: str) -> str:
    """MAIL-3 rules for the OTP address (field ``otp_address``)."""
    return validation.mail_address(address, field="otp_address")


def enrolment_problems(
    address: str, confirmation_id: str, confirmation_password: str
) -> list[DomainError]:
    """Issue 14: every problem of the 仮登録 form at once, each with its field; [] if none.

    The address's MAIL-3 break (``otp_address``), then every SITE-5 rule the
    confirmation ID and the confirmation password break: the form shows them
    all by their fields in one answer (``start_otp_enrolment`` raises the first).
    """
    problems: list[DomainError] = []
    try:
        _otp_address(address)
    except DomainError as exc:
        problems.append(exc)
    problems.extend(password_rules.confirmation_id_problems(confirmation_id))
    problems.extend(password_rules.confirmation_password_problems(confirmation_password))
    return problems


def _check_link_base(link_base: str) -> None:
    """The site's own verification URL (configuration, not user input)."""
    if (
        not link_base.startswith(("https://", "http://"))
        or any(c in link_base for c in "?#")
        or not link_base.isprintable()
        or any(c.isspace() for c in link_base)
    ):
        raise ValueError(f"link_base {link_base!r}: an absolute http(s) URL without query")


def issue_address_verification(
    session: Session,
    found: Number,
    address: str,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> str:
    """SITE-5: a 24-hour verification link for ``address``, mailed to it; replaces older links.

    The caller has checked the address (MAIL-3) and the right to change it,
    and locked the number's line (``lock_line``) before its credential row.
    Issue 12: the mail is counted (``otp_event``); at the caps of
    ``verification_refusal`` it raises ``VerificationRefused`` and adds
    nothing (the caller's transaction then stores nothing either).
    """
    _check_link_base(link_base)
    lock_line(session, found)  # no-op when the caller holds it already
    refusal = verification_refusal(session, found, now, limits or DEFAULT_OTP_LIMITS)
    if refusal is not None:
        log.warning("otp_verification_limited", number=found.number, reason=refusal.code)
        raise refusal
    token = password_rules.new_token()
    session.execute(
        delete(SiteToken).where(
            SiteToken.number_id == found.id,
            SiteToken.kind == SiteTokenKind.ADDRESS_VERIFICATION,
        )
    )
    token_hash = digest(token)
    expires_at = now + ADDRESS_LINK_VALIDITY
    session.add(
        SiteToken(
            number_id=found.id,
            kind=SiteTokenKind.ADDRESS_VERIFICATION,
            token_hash=token_hash,
            address=address,
            created_at=now,
            expires_at=expires_at,
            wrong_count=0,
        )
    )
    queue_verification_mail(
        session,
        found,
        address=address,
        link=f"{link_base}?token={token}",
        expires_at=expires_at,
        token_hash=token_hash,
        sender=sender,
        now=now,
    )
    record_otp_event(session, found.id, OtpEventKind.VERIFICATION_MAILED, now)
    session.flush()
    return token


def start_otp_enrolment(
    session: Session,
    number: str,
    address: str,
    confirmation_id: str,
    confirmation_password: str,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> str:
    """SITE-5 仮登録 (seeds P.7): OTP address, confirmation ID and password; mails the link.

    Returns the token (also in the mailed link ``{link_base}?token=…``).
    The confirmation ID and (hashed) password are stored now; the address
    becomes the OTP address only when the link is followed
    (``verify_otp_address``), within 24 hours. Not while OTP is in use:
    then ``request_otp_address_change`` is the way (seeds (9), (10)). Issue 12: at the
    caps of ``verification_refusal`` ``VerificationRefused``, before
    anything is hashed or stored.
    """
    check_aware(now)
    _otp_address(address)
    password_rules.check_confirmation_id(confirmation_id)
    password_rules.check_confirmation_password(confirmation_password)
    _check_link_base(link_base)
    limits = limits or DEFAULT_OTP_LIMITS
    found, cred = number_and_credential(session, number, with_line=True)
    if cred.otp_enabled:
        raise OtpRefused("otp_already_enabled")
    if otp_address_verified(cred):
        # Issue 14: switched off, its address kept: new confirmation values would be set
        # without the current ones; ``request_otp_address_change`` after the proof is the way.
        raise OtpRefused("otp_already_enrolled")
    if (refusal := verification_refusal(session, found, now, limits)) is not None:
        log.warning("otp_verification_limited", number=number, reason=refusal.code)
        raise refusal
    cred.otp_confirmation_id = confirmation_id
    cred.otp_confirmation_password_hash = passwords.hash_password(confirmation_password)
    token = issue_address_verification(
        session, found, address, link_base=link_base, sender=sender, now=now, limits=limits
    )
    log.info("otp_enrolment_started", number=number)
    return token


def prove_otp_confirmation(
    sessions: sessionmaker[Session],
    number: str,
    confirmation_id: str,
    confirmation_password: str,
    *,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> None:
    """SITE-5, seeds (9) step 2: the confirmation ID and password set at enrolment, proven.

    The first step of the address change of a subscriber who lost the OTP
    mailbox (the site then lets the login name a new address,
    ``request_otp_address_change``). Nothing is written but a wrong entry,
    counted as on every proof of them (issue 12, the same cap).
    """
    check_aware(now)
    cap = (limits or DEFAULT_OTP_LIMITS).confirmation_failures_per_day
    field = "confirmation_id"
    stored = _read_confirmation(sessions, number, now=now, cap=cap, field=field)
    proven = _matches(stored, confirmation_id, confirmation_password)  # argon2, unlocked

    def act(_session: Session, _found: Number, _cred: SiteCredential) -> None:
        log.info("otp_confirmation_proven", number=number)

    _when_confirmed(
        sessions,
        number,
        stored,
        proven,
        (confirmation_id, confirmation_password),
        now=now,
        cap=cap,
        field=field,
        act=act,
    )


def request_otp_address_change(
    session: Session,
    number: str,
    new_address: str,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    limits: OtpLimits | None = None,
) -> str:
    """SITE-5, seeds (9) and (10): a new OTP address for a login that proved the owner.

    The caller vouches for the proof: a code at this login (seeds (10)) or
    ``prove_otp_confirmation`` (seeds (9)). The link goes to the new address
    (24 hours, as at enrolment); the current address stays the OTP address
    until it is followed. Returns the token, as ``start_otp_enrolment``.
    """
    check_aware(now)
    _otp_address(new_address)
    _check_link_base(link_base)
    found, cred = number_and_credential(session, number, with_line=True)
    if _confirmation_of(cred) is None:
        raise OtpRefused("otp_not_enrolled")
    token = issue_address_verification(
        session, found, new_address, link_base=link_base, sender=sender, now=now, limits=limits
    )
    log.info("otp_address_change_started", number=number)
    return token


def change_confirmation_id(
    sessions: sessionmaker[Session],
    number: str,
    current_id: str,
    new_id: str,
    confirm_id: str,
    *,
    now: dt.datetime,
    limits: OtpLimits | None = None,
    keep_session: str | None = None,
) -> None:
    """SITE-5, seeds (11) 〈確認用IDの変更〉: 「変更前の確認用ID」, the new one twice.

    The new ID under the SITE-5 rules, entered twice; a wrong current ID
    counts against the number (issue 12, the cap of ``prove_otp_confirmation``).
    A changed ID ends the number's site sessions (SITE-6) but ``keep_session``
    (the ``id_hash`` of the session that changed it), and voids a pending
    verification link (``_credentials_changed``).
    """
    check_aware(now)
    password_rules.check_confirmation_id(new_id, field="new_confirmation_id")
    if new_id != confirm_id:
        raise violation("confirmation_id_confirm_mismatch", "confirm_confirmation_id")
    cap = (limits or DEFAULT_OTP_LIMITS).confirmation_failures_per_day
    field = "current_confirmation_id"
    stored = _read_confirmation(sessions, number, now=now, cap=cap, field=field)
    proven = _matches(stored, current_id, None)

    def act(session: Session, found: Number, cred: SiteCredential) -> None:
        cred.otp_confirmation_id = new_id
        _credentials_changed(session, found, keep_session)
        session.flush()
        log.info("otp_confirmation_changed", number=number, id=True, password=False)

    _when_confirmed(
        sessions, number, stored, proven, (current_id, None), now=now, cap=cap, field=field, act=act
    )


def change_confirmation_password(
    sessions: sessionmaker[Session],
    number: str,
    current_password: str,
    new_password: str,
    confirm_password: str,
    *,
    now: dt.datetime,
    limits: OtpLimits | None = None,
    keep_session: str | None = None,
) -> None:
    """SITE-5, seeds (11) 〈確認用パスワードの変更〉: 「変更前のパスワード」, the new one twice.

    As ``change_confirmation_id``, for the confirmation password (hashed).
    """
    check_aware(now)
    password_rules.check_confirmation_password(new_password, field="new_confirmation_password")
    if new_password != confirm_password:
        raise violation("confirmation_password_confirm_mismatch", "confirm_confirmation_password")
    cap = (limits or DEFAULT_OTP_LIMITS).confirmation_failures_per_day
    field = "current_confirmation_password"
    stored = _read_confirmation(sessions, number, now=now, cap=cap, field=field)
    proven = _matches(stored, None, current_password)  # argon2, unlocked
    new_hash = passwords.hash_password(new_password) if proven else ""

    def act(session: Session, found: Number, cred: SiteCredential) -> None:
        cred.otp_confirmation_password_hash = new_hash or passwords.hash_password(new_password)
        _credentials_changed(session, found, keep_session)
        session.flush()
        log.info("otp_confirmation_changed", number=number, id=False, password=True)

    _when_confirmed(
        sessions,
        number,
        stored,
        proven,
        (None, current_password),
        now=now,
        cap=cap,
        field=field,
        act=act,
    )


def _credentials_changed(session: Session, found: Number, keep_session: str | None) -> None:
    """New confirmation values: what was opened or asked for under the old ones ends.

    The number's site sessions (SITE-6) but ``keep_session``, and every pending
    verification link (an address asked for by someone who proved the old values,
    seeds (9): the link needs no login, so it would outlive the sessions).
    """
    end_sessions(session, [found.id], keep=keep_session)
    session.execute(
        delete(SiteToken).where(
            SiteToken.number_id == found.id,
            SiteToken.kind == SiteTokenKind.ADDRESS_VERIFICATION,
        )
    )


@dataclass(frozen=True)
class _Confirmation:
    """A number's confirmation ID and password hash as read (SITE-5)."""

    confirmation_id: str
    password_hash: str


def _confirmation_of(cred: SiteCredential) -> _Confirmation | None:
    if cred.otp_confirmation_id is None or cred.otp_confirmation_password_hash is None:
        return None
    return _Confirmation(cred.otp_confirmation_id, cred.otp_confirmation_password_hash)


def _read_confirmation(
    sessions: sessionmaker[Session], number: str, *, now: dt.datetime, cap: int, field: str
) -> _Confirmation:
    """The values to prove, read without a lock; refused at the cap before any argon2."""
    with db.transaction(sessions, read_only=True) as session:
        found = session.scalars(select(Number).where(Number.number == number)).one_or_none()
        if found is None:
            raise OutOfScope("login_not_allowed")
        cred = credential_row(session, found.id, lock=False)
        if cred is None:
            raise OtpRefused("no_site_password")
        stored = _confirmation_of(cred)
        if stored is None:
            raise OtpRefused("otp_not_enrolled")
        if (refusal := confirmation_refusal(session, found, now, cap, field=field)) is not None:
            log.info("otp_confirmation_refused", number=number, reason=refusal.code)
            raise refusal
        return stored


def _matches(stored: _Confirmation, given_id: str | None, given_password: str | None) -> bool:
    """Whether the given values are the stored ones; None: that one is not asked for."""
    id_ok = given_id is None or hmac.compare_digest(
        stored.confirmation_id.encode(), given_id.encode()
    )
    password_ok = given_password is None or passwords.verify_password(
        stored.password_hash, given_password
    )
    return id_ok and password_ok


def _when_confirmed(
    sessions: sessionmaker[Session],
    number: str,
    stored: _Confirmation,
    proven: bool,
    given: tuple[str | None, str | None],
    *,
    now: dt.datetime,
    cap: int,
    field: str,
    act: Callable[[Session, Number, SiteCredential], T],
    with_line: bool = False,
) -> T:
    """Under the number's lock: ``act`` if the given values were right and the cap is not
    reached; else the wrong entry is counted and committed, then ``ConfirmationRefused``.

    The cap is checked again here: entries of other processes may have reached it
    since ``_read_confirmation`` (then nothing is counted and the answer is the
    cap, right values or not).
    """
    with db.transaction(sessions) as session:
        found, cred = number_and_credential(session, number, with_line=with_line)
        current = _confirmation_of(cred)
        if current is None:
            raise OtpRefused("otp_not_enrolled")
        if (refusal := confirmation_refusal(session, found, now, cap, field=field)) is not None:
            outcome = refusal
        else:
            if current != stored:  # changed meanwhile: checked again, under the lock
                proven = _matches(current, *given)
            if proven:
                return act(session, found, cred)
            outcome = count_wrong_confirmation(session, found, now, cap, field=field)
    log.info("otp_confirmation_refused", number=number, reason=outcome.code)
    raise outcome


def verify_otp_address(
    session: Session, token: str, *, now: dt.datetime, keep_session: str | None = None
) -> str:
    """SITE-5 本登録: follow the mailed link; returns the number whose OTP is now on.

    The link is valid for 24 hours (「24時間を経過した場合」: up to and
    including ``expires_at``) and once. The address becomes the OTP address,
    verified, and the one-time password is in use; codes mailed to an
    earlier address are void. A new address (seeds (9), (10)) ends the
    number's site sessions (SITE-6) but ``keep_session`` (the ``id_hash`` of
    the session of the browser that followed the link).
    """
    check_aware(now)
    if not token:
        raise OtpRefused("token_invalid")
    row = session.scalars(
        select(SiteToken)
        .where(
            SiteToken.token_hash == digest(token),
            SiteToken.kind == SiteTokenKind.ADDRESS_VERIFICATION,
        )
        .with_for_update()
    ).one_or_none()
    if row is None or row.address is None:
        raise OtpRefused("token_invalid")
    if row.used_at is not None:
        raise OtpRefused("token_used")
    if now > row.expires_at:
        raise OtpRefused("token_expired")
    cred = credential_row(session, row.number_id, lock=True)
    found = session.get(Number, row.number_id)
    if cred is None or found is None:
        raise OtpRefused("token_invalid")
    row.used_at = now
    if cred.otp_address is not None and cred.otp_address != row.address:
        end_sessions(session, [row.number_id], keep=keep_session)
    cred.otp_address = row.address
    cred.otp_address_verified_at = now
    cred.otp_enabled = True
    cred.otp_chosen_at = now
    void_codes(session, row.number_id)
    session.flush()
    log.info("otp_address_verified", number=found.number)
    return found.number


def set_otp_enabled(session: Session, number: str, enabled: bool, *, now: dt.datetime) -> None:
    """SITE-5, seeds P.7 and (8): use the one-time password or not (the subscriber's choice).

    Using it needs a verified OTP address (else ``otp_address_unverified``:
    the site shows the 仮登録 page, ``start_otp_enrolment``). Not using it
    keeps the address and the confirmation ID for a later return.
    """
    check_aware(now)
    found, cred = number_and_credential(session, number)
    if enabled and not otp_address_verified(cred):
        raise OtpRefused("otp_address_unverified", field="otp_enabled")
    cred.otp_enabled = enabled
    cred.otp_chosen_at = now
    if not enabled:
        void_codes(session, found.id)
    session.flush()
    log.info("otp_choice_set", number=number, enabled=enabled)
