"""SITE-9 一括設定: the upload as the site runs it, and the write itself.

``upload`` runs ``parse_csv``, ``check_rows``, ``with_hashes`` and
``apply_csv`` in that order (issue 12 item 19) and counts the wrong
confirmation values of a refused file (issue 12).
"""

from __future__ import annotations

import datetime as dt
import hmac
from collections.abc import Sequence

import structlog
from sqlalchemy.orm import Session, sessionmaker

from store import db, passwords, service, site_auth
from store.errors import DomainError
from store.models import SiteCredential
from store.otp_csv.check import (
    FIRST_ADDRESS,
    MOVE_ADDRESS,
    UNCHANGED,
    attempts_confirmation,
    check_rows,
    credential_for_update,
    enrolled,
    plan_row,
    proof_for,
    with_hashes,
)
from store.otp_csv.file_format import parse_csv
from store.otp_csv.rows import (
    LIMITED,
    MAX_ROWS,
    WRONG_CONFIRMATION,
    CsvApplied,
    CsvProblem,
    CsvRefused,
    CsvRow,
    RowRefused,
)

log = structlog.get_logger("store")


def upload(
    sessions: sessionmaker[Session],
    data: bytes,
    *,
    allowed_numbers: Sequence[str],
    link_base: str,
    sender: str,
    now: dt.datetime,
    max_rows: int = MAX_ROWS,
    limits: site_auth.OtpLimits | None = None,
) -> CsvApplied:
    """SITE-9 一括設定 as the site runs it: parse, check (read only), argon2, apply.

    Issue 12: rows with a wrong confirmation ID or password are counted
    against their numbers and the counts committed before ``CsvRefused`` is
    raised (hence the session factory); ``counted`` says how many. A number
    at ``limits.confirmation_failures_per_day`` refuses its row, and the
    file, whatever the row's values (``limited``). So does a row that would
    mail a verification link past the number's or the line's cap
    (``site_auth.verification_refusal``).
    """
    limits = limits or site_auth.DEFAULT_OTP_LIMITS
    cap = limits.confirmation_failures_per_day
    rows = parse_csv(data, allowed_numbers=allowed_numbers, max_rows=max_rows)
    try:
        # Issue 12 item 19: the whole file is checked (form, then against the
        # database, read only) before argon2 runs for any row of it.
        with db.transaction(sessions, read_only=True) as s:
            proofs = check_rows(s, rows, now=now, confirmation_cap=cap, limits=limits)
        rows = with_hashes(rows, proofs)
        with db.transaction(sessions) as s:
            return apply_csv(
                s,
                rows,
                link_base=link_base,
                sender=sender,
                now=now,
                confirmation_cap=cap,
                limits=limits,
            )
    except CsvRefused as exc:
        if not exc.wrong:
            raise
        refusal = exc
    raise _count_wrong(sessions, refusal, now=now, cap=cap)


def _count_wrong(
    sessions: sessionmaker[Session], refusal: CsvRefused, *, now: dt.datetime, cap: int
) -> CsvRefused:
    """Count the refusal's wrong rows (one each, per number); the refusal to raise.

    A number that reached its cap (with this row or by others meanwhile) has
    its row's problem replaced by the cap's refusal.
    """
    capped: dict[int, DomainError] = {}
    counted = 0
    with db.transaction(sessions) as s:
        # One lock order (by number) for uploads that run side by side.
        for line_no, number, _code in sorted(refusal.wrong, key=lambda w: w[1]):
            found = service.find_number(s, number)
            if found is None:
                continue
            credential_for_update(s, found.id, lock=True)
            outcome = site_auth.count_wrong_confirmation(s, found, now, cap)
            counted += outcome.counted
            if outcome.code == "confirmation_limit":
                capped[line_no] = outcome
    codes = {line_no: code for line_no, _number, code in refusal.wrong}
    problems = [
        CsvProblem(p.line, capped[p.line]) if p.line in capped and p.code == codes[p.line] else p
        for p in refusal.problems
    ]
    log.info("otp_csv_confirmation_wrong", rows=len(refusal.wrong), counted=counted)
    return CsvRefused(problems, counted=counted, limited=refusal.limited or bool(capped))


def apply_csv(
    session: Session,
    rows: Sequence[CsvRow],
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    confirmation_cap: int | None = None,
    limits: site_auth.OtpLimits | None = None,
) -> CsvApplied:
    """SITE-9 一括設定: apply ``parse_csv``'s rows in the caller's transaction, all or nothing.

    Each row runs in its own SAVEPOINT so that every refusal is collected;
    if any row is refused, ``CsvRefused`` lists them (``CsvProblem``: the
    line and the refusal) and everything is rolled back to where it began,
    even if the caller went on to commit. ``link_base`` and ``sender`` are those of
    ``site_auth.start_otp_enrolment``: each changed address is mailed its
    24-hour verification link through the outbox. Confirmation passwords
    are hashed here (argon2, about 0.1 s a row that carries one).
    ``confirmation_cap``: a row that proves confirmation values of a number at
    its cap is refused (issue 12; ``upload`` gives it, and counts the wrong
    rows listed in ``CsvRefused.wrong``). ``limits``: the caps of
    verification mails (issue 12, ``site_auth.verification_refusal``); a row
    past them is refused, and with it the file.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    # Issue 12: the lines' rows first (the per-line count of verification mails),
    # before any credential row: the lock order of ``site_auth``.
    site_auth.lock_lines_of(session, [row.number for row in rows])
    changed: list[str] = []
    unchanged: list[str] = []
    mailed: list[str] = []
    problems: list[CsvProblem] = []
    wrong: list[tuple[int, str, str]] = []
    limited = False
    with session.begin_nested():
        for row in rows:
            try:
                with session.begin_nested():
                    outcome = _apply_row(
                        session,
                        row,
                        link_base=link_base,
                        sender=sender,
                        now=now,
                        confirmation_cap=confirmation_cap,
                        limits=limits,
                    )
            except DomainError as exc:
                problems.append(CsvProblem(row.line, exc))
                if exc.code in WRONG_CONFIRMATION:
                    wrong.append((row.line, row.number, exc.code))
                limited = limited or exc.code in LIMITED
                continue
            (changed if outcome != "unchanged" else unchanged).append(row.number)
            if outcome == "verification_sent":
                mailed.append(row.number)
        if problems:
            log.info("otp_csv_refused", problems=len(problems), stage="apply")
            raise CsvRefused(problems, wrong=wrong, limited=limited)
    log.info(
        "otp_csv_applied",
        changed=len(changed),
        unchanged=len(unchanged),
        verification_sent=len(mailed),
    )
    return CsvApplied(
        changed=tuple(changed), unchanged=tuple(unchanged), verification_sent=tuple(mailed)
    )


def _apply_row(
    session: Session,
    row: CsvRow,
    *,
    link_base: str,
    sender: str,
    now: dt.datetime,
    confirmation_cap: int | None = None,
    limits: site_auth.OtpLimits | None = None,
) -> str:
    """One row: "unchanged", "changed" or "verification_sent"; raises a ``DomainError``."""
    found = service.find_number(session, row.number)
    if found is None:
        raise RowRefused("number_not_found")
    cred = credential_for_update(session, found.id, lock=True)
    if confirmation_cap is not None and attempts_confirmation(row, cred):
        # Again under the lock: other uploads or pages may have reached the cap meanwhile.
        refusal = site_auth.confirmation_refusal(session, found, now, confirmation_cap)
        if refusal is not None:
            raise refusal
    plan = plan_row(row, cred)
    if (stored := proof_for(row, cred, plan)) is not None:
        assert cred is not None
        _check_proof(cred, row, stored.refusal)
    if plan == UNCHANGED:
        return "unchanged"
    assert cred is not None  # plan_row refuses a row that changes a number without one
    if plan in (FIRST_ADDRESS, MOVE_ADDRESS):
        if plan == FIRST_ADDRESS:
            _set_confirmation(cred, row)
        # The current address stays in use until the new one's link is
        # followed, which also turns the one-time password on (仮登録, seeds P.7).
        site_auth.issue_address_verification(
            session,
            found,
            row.otp_address,
            link_base=link_base,
            sender=sender,
            now=now,
            limits=limits,
        )
        log.info("otp_csv_address_verification", number=row.number)
        return "verification_sent"
    if row.confirmation_password and enrolled(cred) is None:
        _set_confirmation(cred, row)  # the first ones; once set, a row only proves them
    if row.otp_enabled != cred.otp_enabled:
        site_auth.set_otp_enabled(session, row.number, row.otp_enabled, now=now)
    session.flush()
    return "changed"


def _check_proof(cred: SiteCredential, row: CsvRow, refusal: str) -> None:
    """Seeds (9), (10): the row's password is the current confirmation password.

    ``with_hashes`` verified it outside the transaction against the hash
    stored then; if that hash is still the stored one, nothing slow runs
    here. A caller that skipped ``with_hashes`` gets it verified now.
    """
    stored = cred.otp_confirmation_password_hash or ""
    if row.proven_hash:
        proven = hmac.compare_digest(row.proven_hash.encode(), stored.encode())
    else:
        proven = passwords.verify_password(stored, row.confirmation_password)
    if not proven:
        raise RowRefused(refusal)


def _set_confirmation(cred: SiteCredential, row: CsvRow) -> None:
    """The row's confirmation ID and password, stored as ``start_otp_enrolment`` stores them."""
    cred.otp_confirmation_id = row.confirmation_id
    cred.otp_confirmation_password_hash = row.confirmation_password_hash or (
        passwords.hash_password(row.confirmation_password)
    )
