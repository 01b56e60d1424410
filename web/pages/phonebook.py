"""A number's phonebook on the settings site (issue 19, BOOK-1): caller names.

``/numbers/{number}/phonebook``: the entries (number, name, note) with their
count (at most ``validation.MAX_PHONEBOOK``), one added as people type a
number, one changed on its own page (``/phonebook/edit?caller=…``), one
removed by its number; the whole book replaced from a CSV file (all or
nothing, every problem by its line) and downloaded as one, in UTF-8 or
Shift_JIS (the OTP CSV's conventions, ``store.phonebook_csv``). Every change
goes through ``store.phonebook`` in one transaction: a refusal changes
nothing and is said by its field in Japanese. The number is checked against
the login's scope first (SITE-1); no service subscription is needed.

The names the book gives are shown beside the designated numbers (MAIL-5)
and the nuisance entries (CALL-2) too: ``book_names``. Jinja escapes every
name and note (a name is the subscriber's text, never markup).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence

import structlog
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import phonebook, phonebook_csv, service, validation
from store.errors import DomainError, NotFound
from web.pages.base import NumberPage, Plumbing
from web.pages.forms import BadForm, one_of
from web.texts import japanese, page

log = structlog.get_logger("web")

# The upload's whole body: the file (``phonebook_csv.MAX_CSV_BYTES`` at most, its
# parse refuses more), its multipart framing and the CSRF token; ``web.app``
# bounds the body to it before anything parses it.
UPLOAD_BODY_BYTES = phonebook_csv.MAX_CSV_BYTES + 16_384
_UPLOAD_PATH = re.compile(r"/numbers/[^/]+/phonebook/csv")

ACTIONS = {"add": "add", "edit": "edit", "remove": "remove"}
ENCODINGS = {"utf-8": "utf-8", "shift_jis": "shift_jis"}


def is_upload(path: object) -> bool:
    """Whether ``path`` is a phonebook's CSV upload (the one form of it with a file)."""
    return isinstance(path, str) and _UPLOAD_PATH.fullmatch(path) is not None


def book_names(session: Session, number: str, callers: Iterable[str | None]) -> dict[str, str]:
    """Caller number -> its name in ``number``'s phonebook, for the numbers a page lists.

    The callers are numbers the subscriber typed (designated numbers, nuisance
    entries), never a call's withheld caller (BOOK-2): a hidden nuisance
    entry has no number to pass. A name that shows nothing printable (a row
    written around the store) is left out.
    """
    # Only what a phonebook can hold: a refused form's rows as typed ("12x") query nothing.
    found = service.caller_names(session, [(number, c) for c in callers if c and _stored(c)])
    return {caller: name for (_, caller), name in found.items() if all(map(_shows, name))}


def _stored(caller: str) -> bool:
    """Whether ``caller`` is in the form the phonebook stores callers (national digits)."""
    try:
        return validation.diallable_number(caller) == caller
    except DomainError:
        return False


def _field(exc: DomainError) -> str:
    """The form field a refusal is about (the add and edit forms name theirs alike)."""
    if exc.field in ("caller_number", "new_caller_number"):
        return "caller_number"
    if exc.field in ("name", "note"):
        return exc.field
    return "form"


def _typed(data: Mapping[str, str]) -> dict[str, str]:
    """An entry as the form holds it (the number as people type it: the store folds it)."""
    return {
        "caller_number": data.get("caller_number", "").strip(),
        # As typed: the store strips spaces, and refuses a line break rather than hide it.
        "name": data.get("name", ""),
        "note": data.get("note", ""),
    }


def _shows(char: str) -> bool:
    """A character a name may show: printable, or the ideographic space (山田　太郎)."""
    return char.isprintable() or char == "\u3000"


def _shown(typed: Mapping[str, str]) -> dict[str, str]:
    """What was typed, to put back in the fields: without control characters."""
    return {k: "".join(filter(_shows, v)) for k, v in typed.items()}


def _checked(typed: Mapping[str, str]) -> dict[str, list[str]]:
    """Every field's problem at once (BOOK-1), before the store is asked."""
    errors: dict[str, list[str]] = {}
    if not typed["caller_number"]:
        errors["caller_number"] = [page("phonebook.number_empty")]
    else:
        try:
            phonebook.stored_caller_number(typed["caller_number"])
        except DomainError as exc:
            errors["caller_number"] = [japanese(exc)]
    for field, check in (("name", validation.caller_name), ("note", validation.phonebook_note)):
        try:
            check(typed[field], field=field)
        except DomainError as exc:
            errors[field] = [japanese(exc)]
    return errors


def _entry(session: Session, number: str, caller: str) -> phonebook.Entry | None:
    return next((e for e in phonebook.entries(session, number) if e.caller_number == caller), None)


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def csv_problems(exc: DomainError) -> list[tuple[int, str]]:
    """A refused file's problems as (line, sentence); line 0: the file as a whole."""
    if isinstance(exc, phonebook_csv.PhonebookCsvRefused):
        return [(p.line, japanese(p.error)) for p in exc.problems]
    return [(0, japanese(exc))]


class PhonebookPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    # --- the list ----------------------------------------------------------------------

    async def phonebook(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.list_page(request, found)

    async def list_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        typed: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        problems: Sequence[tuple[int, str]] = (),
        notices: Sequence[str] = (),
        status: int = 200,
    ) -> Response:
        entries = await self.base.read(phonebook.entries, found.number)
        saved = request.query_params.get("saved", "") if status == 200 else ""
        # ?saved=… after a change: what the page says it did.
        done = {
            "added": page("phonebook.added"),
            "updated": page("phonebook.updated"),
            "removed": page("phonebook.removed"),
        }
        said = [done[saved]] if saved in done else []
        return self.base.render(
            request,
            "phonebook.html",
            {
                "title": page("phonebook.title"),
                "number": found.number,
                "entries": entries,
                "limit": validation.MAX_PHONEBOOK,
                "name_limit": validation.MAX_CALLER_NAME,
                "note_limit": validation.MAX_PHONEBOOK_NOTE,
                "typed": _shown(typed or {}),
                "errors": errors or {},
                "problems": list(problems),
                "problems_title": page("phonebook.file_refused"),
                "notices": [*said, *notices],
            },
            status=status,
            session=found.view,
        )

    # --- one entry: its page of change ---------------------------------------------------

    async def edit(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        caller = request.query_params.get("caller", "")
        entry = None
        if validation.MAX_TYPED_NUMBER >= len(caller) > 0 and caller.isascii():
            entry = await self.base.read(_entry, found.number, caller)
        if entry is None:  # a link of a page left open while the entry went
            return await self.list_page(
                request, found, errors={"form": [page("phonebook.gone")]}, status=404
            )
        typed = {"caller_number": entry.caller_number, "name": entry.name, "note": entry.note}
        return self.edit_page(request, found, entry.caller_number, typed)

    def edit_page(
        self,
        request: Request,
        found: NumberPage,
        caller: str,
        typed: Mapping[str, str],
        *,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        return self.base.render(
            request,
            "phonebook_edit.html",
            {
                "title": page("phonebook.edit_title"),
                "number": found.number,
                "caller": caller,
                "typed": _shown(typed),
                "name_limit": validation.MAX_CALLER_NAME,
                "note_limit": validation.MAX_PHONEBOOK_NOTE,
                "errors": errors or {},
            },
            status=status,
            session=found.view,
        )

    # --- add, change, remove -------------------------------------------------------------

    async def post_phonebook(self, request: Request) -> Response:
        base = self.base
        posted = await base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        data = form.data
        try:
            action = one_of(data, "action", ACTIONS)
            caller = data.get("caller", "")
            if action != "add" and not (
                caller.isascii() and caller.isdigit() and len(caller) <= 18
            ):
                raise BadForm("caller")
        except BadForm as exc:
            return base.bad_form(request, found.view, exc)
        if action == "remove":
            return await self._remove(request, found, caller)
        typed = _typed(data)
        errors = _checked(typed)
        if not errors:
            try:
                if action == "add":
                    await base.write(
                        phonebook.add_entry,
                        found.number,
                        typed["caller_number"],
                        typed["name"],
                        typed["note"],
                    )
                else:
                    await base.write(
                        phonebook.update_entry,
                        found.number,
                        caller,
                        name=typed["name"],
                        note=typed["note"],
                        new_caller_number=typed["caller_number"],
                    )
            except DomainError as exc:
                if action == "edit" and isinstance(exc, NotFound):
                    return await self.list_page(
                        request, found, errors={"form": [page("phonebook.gone")]}, status=404
                    )
                errors = {_field(exc): [japanese(exc)]}
        if errors:
            if action == "add":
                return await self.list_page(request, found, typed=typed, errors=errors, status=400)
            return self.edit_page(request, found, caller, typed, errors=errors, status=400)
        log.info("site_phonebook_changed", number=found.number, action=action)
        done = "added" if action == "add" else "updated"
        return RedirectResponse(f"/numbers/{found.number}/phonebook?saved={done}", status_code=303)

    async def _remove(self, request: Request, found: NumberPage, caller: str) -> Response:
        try:
            await self.base.write(phonebook.remove_entry, found.number, caller)
        except DomainError as exc:
            return await self.list_page(
                request, found, errors={"form": [japanese(exc)]}, status=400
            )
        log.info("site_phonebook_changed", number=found.number, action="remove")
        return RedirectResponse(f"/numbers/{found.number}/phonebook?saved=removed", status_code=303)

    # --- the CSV file, up and down ---------------------------------------------------------

    async def post_csv(self, request: Request) -> Response:
        """The whole book from a file: every row checked, all or nothing (BOOK-1)."""
        base = self.base
        found = await base.number_page(request)
        if isinstance(found, Response):
            return found
        # The page's one form with a file: read here, bounded (web.app let it in).
        try:
            async with request.form(
                max_files=1, max_fields=10, max_part_size=UPLOAD_BODY_BYTES
            ) as form:
                if not base.csrf_ok(found.view.csrf_token, _text(form.get("csrf_token"))):
                    return base.forbidden_csrf(request)
                upload = form.get("csv_file")
                data = b""
                if isinstance(upload, UploadFile):  # one byte more: parse says it is too large
                    data = await upload.read(phonebook_csv.MAX_CSV_BYTES + 1)
        except (HTTPException, MultiPartException, ValueError):  # a body that is not a form
            return base.forbidden_csrf(request)
        if not data:
            return await self.list_page(
                request, found, problems=[(0, page("phonebook.no_file"))], status=400
            )
        try:
            rows = phonebook_csv.parse(data)
            replaced = await base.write(phonebook.replace_entries, found.number, rows)
        except DomainError as exc:
            return await self.list_page(request, found, problems=csv_problems(exc), status=400)
        log.info("site_phonebook_imported", number=found.number, entries=len(replaced))
        return await self.list_page(
            request, found, notices=[page("phonebook.imported", count=len(replaced))]
        )

    async def download_csv(self, request: Request) -> Response:
        base = self.base
        found = await base.number_page(request)
        if isinstance(found, Response):
            return found
        try:
            encoding = one_of(dict(request.query_params), "encoding", ENCODINGS)
        except BadForm as exc:
            return base.bad_form(request, found.view, exc)
        entries = await base.read(phonebook.entries, found.number)
        try:
            data = phonebook_csv.render(entries, encoding=encoding)
        except DomainError as exc:  # a name Shift_JIS cannot write
            return await self.list_page(
                request, found, errors={"download": [japanese(exc)]}, status=400
            )
        charset = "shift_jis" if encoding == "shift_jis" else "utf-8"
        return Response(
            data,
            media_type=f"text/csv; charset={charset}",
            headers={
                "Content-Disposition": f'attachment; filename="phonebook_{found.number}.csv"',
                "Cache-Control": "no-store",
            },
        )
