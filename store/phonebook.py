"""Issue 19 (BOOK-1): the phonebook of a subscriber number, caller names by number.

Every provisioned number may have one (no service subscription needed: the
names show in the call history and beside designated and nuisance numbers
too); at most ``MAX_PHONEBOOK`` entries. A caller number is taken as people
type it and stored as the designated numbers are (national digits,
``validation.diallable_number(validation.typed_number(x))``), so the
notifier's presented caller finds it (``store.service.caller_names``). Names
and notes pass ``validation.caller_name`` / ``phonebook_note``.

Every function checks all its values before writing; a refusal raises
before the caller's transaction commits, so nothing is half-stored. The
number's row is locked (``get_number(lock=True)``) by every writer, so two
writers cannot both take the 300th slot.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session

from store import validation
from store.caller_number import national_form
from store.errors import AlreadyExists, InvalidNumber, LimitExceeded, NotFound
from store.models import Number, PhonebookEntry
from store.service.lines import get_number

log = structlog.get_logger("store")


@dataclass(frozen=True)
class Entry:
    """One phonebook entry as shown: the caller's stored number, name and note."""

    caller_number: str
    name: str
    note: str

    @classmethod
    def of(cls, row: PhonebookEntry) -> Entry:
        return cls(caller_number=row.caller_number, name=row.name, note=row.note or "")


def stored_caller_number(value: str, *, field: str = "caller_number") -> str:
    """BOOK-1: the caller number as stored, from what was typed (０３-1234-5678 too).

    Refused with the phonebook's own codes: the designated numbers' sentences
    say "10 or 11 digits, no hyphens", but a phonebook takes any diallable
    number (10-18 digits) and hyphens. ``+81 3-1234-5678`` and ``0081312345678``
    are stored as ``0312345678``, the form in which the notifier looks up a
    presented caller (``caller_number.national_form``).
    """
    try:
        typed = national_form(validation.typed_number(value))
        return validation.diallable_number(typed, field=field)
    except InvalidNumber as exc:
        code = (
            "phonebook_number_not_digits"
            if exc.code == "number_not_digits"
            else "phonebook_number_format"
        )
        raise InvalidNumber(
            f"caller number {value[:40]!r}: 10 to 18 digits starting with 0",
            code=code,
            field=field,
        ) from None


def entries(session: Session, number: str) -> list[Entry]:
    """The number's phonebook in caller-number order; ``NotFound`` for an unknown number."""
    found = get_number(session, number)
    return sorted((Entry.of(row) for row in found.phonebook), key=lambda e: e.caller_number)


def entry(session: Session, number: str, caller_number: str) -> Entry:
    """The entry of ``caller_number`` (as typed); ``NotFound`` if the book has none."""
    return Entry.of(_find(get_number(session, number), caller_number))


def add_entry(
    session: Session, number: str, caller_number: str, name: str, note: str = ""
) -> Entry:
    """BOOK-1: one more entry.

    ``AlreadyExists`` for a caller in the book already, ``LimitExceeded`` at 300.
    """
    caller = stored_caller_number(caller_number)
    name = validation.caller_name(name)
    note = validation.phonebook_note(note)
    found = get_number(session, number, lock=True)
    if any(row.caller_number == caller for row in found.phonebook):
        raise AlreadyExists(
            f"{number}: {caller} is already in the phonebook",
            code="phonebook_entry_exists",
            field="caller_number",
        )
    if len(found.phonebook) >= validation.MAX_PHONEBOOK:
        raise LimitExceeded(
            f"{number}: the phonebook has {validation.MAX_PHONEBOOK} entries already "
            "(BOOK-1); remove one first",
            code="phonebook_full",
            field="caller_number",
            params={"max": validation.MAX_PHONEBOOK},
        )
    row = PhonebookEntry(caller_number=caller, name=name, note=note)
    found.phonebook.append(row)
    session.flush()
    log.info("phonebook_entry_added", number=number, count=len(found.phonebook))
    return Entry.of(row)


def update_entry(
    session: Session,
    number: str,
    caller_number: str,
    *,
    name: str,
    note: str,
    new_caller_number: str | None = None,
) -> Entry:
    """BOOK-1: the entry of ``caller`` gets ``name``, ``note`` and maybe a new number."""
    name = validation.caller_name(name)
    note = validation.phonebook_note(note)
    moved = stored_caller_number(new_caller_number) if new_caller_number is not None else None
    found = get_number(session, number, lock=True)
    row = _find(found, caller_number)
    if moved is not None and moved != row.caller_number:
        if any(other.caller_number == moved for other in found.phonebook):
            raise AlreadyExists(
                f"{number}: {moved} is already in the phonebook",
                code="phonebook_entry_exists",
                field="new_caller_number",
            )
        row.caller_number = moved
    row.name, row.note = name, note
    session.flush()
    log.info("phonebook_entry_updated", number=number, moved=moved is not None)
    return Entry.of(row)


def remove_entry(session: Session, number: str, caller_number: str) -> None:
    found = get_number(session, number, lock=True)
    row = _find(found, caller_number)
    found.phonebook.remove(row)
    session.flush()
    log.info("phonebook_entry_removed", number=number, count=len(found.phonebook))


def checked_rows(rows: Sequence[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Every row of a whole book checked (BOOK-1), the first refusal raised.

    A refused row's field names it: ``entries.3.name`` (0-based, as the API's
    body and ``PhonebookCsvRefused`` count). At most ``MAX_PHONEBOOK`` rows,
    no caller twice.
    """
    if len(rows) > validation.MAX_PHONEBOOK:
        raise LimitExceeded(
            f"{len(rows)} phonebook entries: at most {validation.MAX_PHONEBOOK} (BOOK-1)",
            code="phonebook_full",
            field="entries",
            params={"max": validation.MAX_PHONEBOOK},
        )
    seen: dict[str, int] = {}
    checked: list[tuple[str, str, str]] = []
    for index, (caller, name, note) in enumerate(rows):
        at = f"entries.{index}"
        stored = stored_caller_number(caller, field=f"{at}.caller_number")
        if stored in seen:
            raise AlreadyExists(
                f"{stored} is given twice (entries {seen[stored]} and {index})",
                code="phonebook_entry_twice",
                field=f"{at}.caller_number",
                params={"number": stored},
            )
        seen[stored] = index
        checked.append(
            (
                stored,
                validation.caller_name(name, field=f"{at}.name"),
                validation.phonebook_note(note, field=f"{at}.note"),
            )
        )
    return checked


def replace_entries(
    session: Session, number: str, rows: Sequence[tuple[str, str, str]]
) -> list[Entry]:
    """BOOK-1: the whole book becomes ``rows`` (caller, name, note), all or nothing.

    Every row is checked first (``checked_rows``); then an entry whose caller
    stays keeps its row (name and note set), the others are deleted and the
    new ones added. An empty ``rows`` empties the book.
    """
    wanted = {caller: (name, note) for caller, name, note in checked_rows(rows)}
    found = get_number(session, number, lock=True)
    for row in list(found.phonebook):
        kept = wanted.get(row.caller_number)
        if kept is None:
            found.phonebook.remove(row)
        else:
            row.name, row.note = kept
    session.flush()  # the removed callers' rows go before new ones could take their number
    have = {row.caller_number for row in found.phonebook}
    for caller, (name, note) in wanted.items():
        if caller not in have:
            found.phonebook.append(PhonebookEntry(caller_number=caller, name=name, note=note))
    session.flush()
    log.info("phonebook_replaced", number=number, count=len(wanted))
    return entries(session, number)


def _find(found: Number, caller: str) -> PhonebookEntry:
    wanted = validation.typed_number(caller)
    for row in found.phonebook:
        if row.caller_number == wanted:
            return row
    raise NotFound(
        f"{found.number}: {wanted[:40]!r} is not in the phonebook",
        code="phonebook_entry_not_found",
        field="caller_number",
    )
