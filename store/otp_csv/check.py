"""SITE-9: what each row does to the stored settings, checked before anything slow.

``check_rows`` (read only, no argon2) plans every row against the stored
settings; ``with_hashes`` then does the argon2 work outside any transaction.
``apply_csv`` (``store.otp_csv.apply``) plans each row again under its lock.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import datetime as dt
import hmac
from collections.abc import Mapping, Sequence

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from store import passwords, service, site_auth
from store.errors import DomainError
from store.models import SiteCredential
from store.otp_csv.rows import (
    WRONG_CONFIRMATION,
    CsvProblem,
    CsvRefused,
    CsvRow,
    RowRefused,
    StoredConfirmation,
)

log = structlog.get_logger("store")


HASH_THREADS = 2  # argon2 releases the GIL; store.passwords bounds the memory anyway


# What a row does, decided from the stored settings alone (no argon2, no writes).
UNCHANGED, CHANGED = "unchanged", "changed"
FIRST_ADDRESS = "first_address"  # enrols an address: the row's ID and password are set
MOVE_ADDRESS = "move_address"  # moves an enrolled address: the row proves the current ones


def enrolled(cred: SiteCredential) -> StoredConfirmation | None:
    if cred.otp_confirmation_id is None or cred.otp_confirmation_password_hash is None:
        return None
    return StoredConfirmation(cred.otp_confirmation_id, cred.otp_confirmation_password_hash)


def plan_row(row: CsvRow, cred: SiteCredential | None) -> str:
    """SITE-9 with SITE-5: what ``row`` does to ``cred``; raises a ``DomainError`` if it may not."""
    asks_nothing = not (
        row.otp_enabled or row.otp_address or row.confirmation_id or row.confirmation_password
    )
    if cred is None:
        if asks_nothing:
            return UNCHANGED
        raise site_auth.OtpRefused("no_site_password")
    new_address = bool(row.otp_address) and row.otp_address != cred.otp_address
    if new_address:
        stored = enrolled(cred)
        if not (row.confirmation_id and row.confirmation_password):
            code = (
                "confirmation_for_address" if stored is None else "current_confirmation_for_address"
            )
            raise RowRefused(code)
        if not row.otp_enabled:
            raise RowRefused("address_needs_otp_on")
        if stored is None:
            return FIRST_ADDRESS
        # Seeds (9): the ID and password set at enrolment prove the change.
        if not hmac.compare_digest(stored.confirmation_id.encode(), row.confirmation_id.encode()):
            raise RowRefused("confirmation_mismatch")
        return MOVE_ADDRESS
    if (stored := enrolled(cred)) is not None:
        # Seeds (10): only the page that asks for the current values changes them.
        if row.confirmation_id and not hmac.compare_digest(
            stored.confirmation_id.encode(), row.confirmation_id.encode()
        ):
            raise RowRefused("confirmation_not_current")
        # A password is proof (``proof_for``); it changes nothing.
        return CHANGED if row.otp_enabled != cred.otp_enabled else UNCHANGED
    new_id = bool(row.confirmation_id) and row.confirmation_id != cred.otp_confirmation_id
    if new_id and not row.confirmation_password:
        raise RowRefused("confirmation_password_for_id")
    if row.confirmation_password or row.otp_enabled != cred.otp_enabled:
        return CHANGED
    return UNCHANGED


def proof_for(row: CsvRow, cred: SiteCredential | None, plan: str) -> StoredConfirmation | None:
    """What the row's password must prove: the stored values, if it carries one and they exist."""
    if cred is None or not row.confirmation_password or plan == FIRST_ADDRESS:
        return None
    stored = enrolled(cred)
    if stored is None or plan == MOVE_ADDRESS:
        return stored
    return dataclasses.replace(stored, refusal="confirmation_not_current")


def credential_for_update(session: Session, number_id: int, *, lock: bool) -> SiteCredential | None:
    query = select(SiteCredential).where(SiteCredential.number_id == number_id)
    return session.scalars(query.with_for_update() if lock else query).one_or_none()


def check_rows(
    session: Session,
    rows: Sequence[CsvRow],
    *,
    now: dt.datetime | None = None,
    confirmation_cap: int | None = None,
    limits: site_auth.OtpLimits | None = None,
) -> dict[int, StoredConfirmation]:
    """Every row of ``parse_csv`` against the stored settings, before anything slow.

    Read only, no argon2: a file refused here costs no hashing (issue 12
    item 19). Raises ``CsvRefused`` with every row's problem; else returns,
    by line, the stored confirmation values that a row's password must prove
    (``with_hashes`` verifies them): a row that moves an enrolled address,
    or any row with a password for a number that has confirmation values.
    With ``now`` and ``confirmation_cap`` (issue 12), a row that brings
    confirmation values for a number at its cap is refused before they are
    looked at; rows whose ID is not the current one are in ``CsvRefused.wrong``.
    With ``now`` and ``limits``, a row that would mail a verification link
    past its number's or its line's cap is refused (the file's earlier rows
    count for the line).
    """
    problems: list[CsvProblem] = []
    wrong: list[tuple[int, str, str]] = []
    limited = False
    proofs: dict[int, StoredConfirmation] = {}
    mails_of_line: dict[int, int] = {}
    for row in rows:
        found = service.find_number(session, row.number)
        if found is None:
            problems.append(CsvProblem(row.line, RowRefused("number_not_found")))
            continue
        cred = credential_for_update(session, found.id, lock=False)
        if now is not None and confirmation_cap is not None and attempts_confirmation(row, cred):
            refusal = site_auth.confirmation_refusal(session, found, now, confirmation_cap)
            if refusal is not None:
                problems.append(CsvProblem(row.line, refusal))
                limited = True
                continue
        try:
            plan = plan_row(row, cred)
        except DomainError as exc:
            problems.append(CsvProblem(row.line, exc))
            if exc.code in WRONG_CONFIRMATION:
                wrong.append((row.line, row.number, exc.code))
            continue
        if now is not None and limits is not None and plan in (FIRST_ADDRESS, MOVE_ADDRESS):
            pending = mails_of_line.get(found.line_id, 0)
            if (
                too_many := site_auth.verification_refusal(
                    session, found, now, limits, pending_line=pending
                )
            ) is not None:
                problems.append(CsvProblem(row.line, too_many))
                limited = True
                continue
            mails_of_line[found.line_id] = pending + 1
        if (stored := proof_for(row, cred, plan)) is not None:
            proofs[row.line] = stored
    if problems:
        log.info("otp_csv_refused", problems=len(problems), stage="check")
        raise CsvRefused(problems, wrong=wrong, limited=limited)
    return proofs


def attempts_confirmation(row: CsvRow, cred: SiteCredential | None) -> bool:
    """Issue 12: the row brings confirmation values to compare with stored ones."""
    return (
        cred is not None
        and enrolled(cred) is not None
        and bool(row.confirmation_id or row.confirmation_password)
    )


def with_hashes(
    rows: Sequence[CsvRow], proofs: Mapping[int, StoredConfirmation] | None = None
) -> list[CsvRow]:
    """The rows with their argon2 work done, before any transaction.

    ``proofs`` (from ``check_rows``): the rows whose password must be the
    current one have it verified against the stored hash; any mismatch
    raises ``CsvRefused`` with every such row. Every other row's
    confirmation password is hashed. argon2 takes tens of milliseconds per
    password on purpose; done inside ``apply_csv`` that would hold SQLite's
    write lock for seconds on a file of a few hundred numbers (and the
    notifier waits for it). Done here, in threads, the transaction only
    stores them.
    """
    proofs = proofs or {}
    to_verify = [row for row in rows if row.line in proofs]
    to_hash = [
        row
        for row in rows
        if row.line not in proofs
        and row.confirmation_password
        and not row.confirmation_password_hash
    ]
    if not (to_verify or to_hash):
        return list(rows)

    def verify(row: CsvRow) -> bool:
        return passwords.verify_password(proofs[row.line].password_hash, row.confirmation_password)

    with concurrent.futures.ThreadPoolExecutor(max_workers=HASH_THREADS) as pool:
        verified = dict(
            zip((row.line for row in to_verify), pool.map(verify, to_verify), strict=True)
        )
        wrong = [line for line, ok in verified.items() if not ok]
        if wrong:
            log.info("otp_csv_refused", problems=len(wrong), stage="proof")
            number_of = {row.line: row.number for row in to_verify}
            raise CsvRefused(
                [CsvProblem(line, RowRefused(proofs[line].refusal)) for line in wrong],
                wrong=[(line, number_of[line], proofs[line].refusal) for line in wrong],
            )
        hashes = dict(
            zip(
                (row.line for row in to_hash),
                pool.map(lambda row: passwords.hash_password(row.confirmation_password), to_hash),
                strict=True,
            )
        )
    changed: list[CsvRow] = []
    for row in rows:
        if row.line in proofs:
            row = dataclasses.replace(row, proven_hash=proofs[row.line].password_hash)
        elif row.line in hashes:
            row = dataclasses.replace(row, confirmation_password_hash=hashes[row.line])
        changed.append(row)
    return changed
