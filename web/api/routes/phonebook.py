"""API endpoints: the phonebook of a number (issue 19, BOOK-1).

``GET /numbers/{number}/phonebook`` is the whole book (at most 300 entries,
by caller number); ``PUT`` replaces it whole, all or nothing (the same body
twice stores the same rows); ``POST`` adds one entry (201);
``PATCH /numbers/{number}/phonebook/{caller}`` changes one and ``DELETE``
removes it (204). Every value goes through ``store.phonebook`` (BOOK-1:
caller numbers as people type them, names of 1-40 characters without
control, format or bidi characters, notes of at most 100). Writes need a
write token. The names are shown in the notification, the history and the
site beside a presented caller only (BOOK-2).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field

from store import phonebook, validation
from store.phonebook import Entry
from web.api.deps import Reader, Writer

router = APIRouter(tags=["phonebook"])

NumberPath = Annotated[
    str, Path(max_length=32, pattern=r"^[0-9]+$", description="The subscriber number's digits.")
]
CallerPath = Annotated[
    str,
    Path(
        max_length=validation.MAX_TYPED_NUMBER,
        pattern=r"^[0-9-]+$",
        description="The caller number of the entry (digits, hyphens allowed).",
    ),
]
# Bounded before NFC and the rules see them (the rules count characters after NFC).
CallerNumber = Annotated[
    str,
    Field(
        max_length=validation.MAX_TYPED_NUMBER,
        description="Digits, or as people type it (03-1234-5678, full-width digits).",
    ),
]
Name = Annotated[
    str,
    Field(
        max_length=validation.MAX_CALLER_NAME * 4,
        description=(
            f"1-{validation.MAX_CALLER_NAME} characters after Unicode NFC and trimming spaces; "
            "no control, format (bidi), private-use or invisible characters."
        ),
    ),
]
Note = Annotated[
    str,
    Field(
        max_length=validation.MAX_PHONEBOOK_NOTE * 4,
        description=f"0-{validation.MAX_PHONEBOOK_NOTE} characters, the name's character rule.",
    ),
]


class EntryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caller_number: CallerNumber
    name: Name
    note: Note = ""


class EntryPatch(BaseModel):
    """Only the fields given change."""

    model_config = ConfigDict(extra="forbid")

    caller_number: CallerNumber | None = None
    name: Name | None = None
    note: Note | None = None


class EntryOut(BaseModel):
    caller_number: str
    name: str
    note: str

    @classmethod
    def of(cls, entry: Entry) -> EntryOut:
        return cls(caller_number=entry.caller_number, name=entry.name, note=entry.note)


class PhonebookOut(BaseModel):
    number: str
    count: int
    max: int
    entries: list[EntryOut]

    @classmethod
    def of(cls, number: str, entries: list[Entry]) -> PhonebookOut:
        return cls(
            number=number,
            count=len(entries),
            max=validation.MAX_PHONEBOOK,
            entries=[EntryOut.of(e) for e in entries],
        )


@router.get("/numbers/{number}/phonebook", summary="The number's phonebook (BOOK-1)")
def get_phonebook(number: NumberPath, api: Reader) -> PhonebookOut:
    with api.read() as session:
        return PhonebookOut.of(number, phonebook.entries(session, number))


@router.put(
    "/numbers/{number}/phonebook",
    summary="Replace the whole phonebook (BOOK-1), all or nothing",
    description=(
        f"At most {validation.MAX_PHONEBOOK} entries, no caller number twice; a refused entry "
        "is named by its index (``entries.3.name``) and nothing is changed. An empty list "
        "empties the book. The body may be up to 512 KiB."
    ),
)
def put_phonebook(
    number: NumberPath,
    body: Annotated[list[EntryIn], Field(max_length=validation.MAX_PHONEBOOK)],
    api: Writer,
) -> PhonebookOut:
    with api.transaction() as session:
        entries = phonebook.replace_entries(
            session, number, [(e.caller_number, e.name, e.note) for e in body]
        )
    return PhonebookOut.of(number, entries)


@router.post(
    "/numbers/{number}/phonebook",
    status_code=201,
    summary="Add one entry to the phonebook (BOOK-1)",
    description="409 ``phonebook_entry_exists`` for a caller in the book; 422 "
    "``phonebook_full`` at 300 entries.",
)
def add_phonebook_entry(number: NumberPath, body: EntryIn, api: Writer) -> EntryOut:
    with api.transaction() as session:
        entry = phonebook.add_entry(session, number, body.caller_number, body.name, body.note)
    return EntryOut.of(entry)


@router.patch(
    "/numbers/{number}/phonebook/{caller}",
    summary="Change one entry's name, note or caller number (BOOK-1)",
)
def patch_phonebook_entry(
    number: NumberPath, caller: CallerPath, body: EntryPatch, api: Writer
) -> EntryOut:
    with api.transaction() as session:
        current = phonebook.entry(session, number, caller)
        entry = phonebook.update_entry(
            session,
            number,
            caller,
            name=current.name if body.name is None else body.name,
            note=current.note if body.note is None else body.note,
            new_caller_number=body.caller_number,
        )
    return EntryOut.of(entry)


@router.delete(
    "/numbers/{number}/phonebook/{caller}",
    status_code=204,
    summary="Remove one entry from the phonebook (BOOK-1)",
)
def delete_phonebook_entry(number: NumberPath, caller: CallerPath, api: Writer) -> Response:
    with api.transaction() as session:
        phonebook.remove_entry(session, number, caller)
    return Response(status_code=204)
