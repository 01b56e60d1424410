"""``chakushin phonebook``: the caller names of a number (issue 19, BOOK-1).

List, add, edit and remove entries, and the whole book from or to a CSV
file (``store.phonebook_csv``: CR+LF, every field quoted, UTF-8 or
Shift_JIS; an upload replaces the book, all or nothing). Every write runs
in one transaction through ``store.phonebook`` and prints what is stored
after the commit; a refusal prints one line and changes nothing.
"""

from __future__ import annotations

import sys
from typing import Any

import click
from sqlalchemy.orm import Session

from chakushin.cli.app import App, Group, fail, pass_app
from chakushin.cli.output import emit
from store import phonebook, phonebook_csv, validation
from store.errors import DomainError
from store.phonebook import Entry

# Problems of a refused CSV file shown in its one error line; the rest are counted.
SHOWN_PROBLEMS = 20


@click.group("phonebook", cls=Group)
def phonebook_group() -> None:
    """Caller names of a number, shown in its mails and history (BOOK-1, at most 300)."""


def _entry_data(entry: Entry) -> dict[str, str]:
    return {"caller_number": entry.caller_number, "name": entry.name, "note": entry.note}


def _entry_line(entry: Entry) -> str:
    note = f"  ({entry.note})" if entry.note else ""
    return f"{entry.caller_number}  {entry.name}{note}"


def _book_data(number: str, entries: list[Entry]) -> dict[str, Any]:
    return {
        "number": number,
        "count": len(entries),
        "max": validation.MAX_PHONEBOOK,
        "entries": [_entry_data(e) for e in entries],
    }


def _book_text(data: dict[str, Any], entries: list[Entry]) -> str:
    head = f"{data['number']}: phonebook ({data['count']}/{data['max']})"
    return "\n".join([head, *(f"  {_entry_line(e)}" for e in entries)])


def _change(app: App, number: str, verb: str, change: Any) -> None:
    """One write and the entry it left, printed after the commit."""
    with app.transaction() as session:
        entry: Entry = change(session)
        count = len(phonebook.entries(session, number))
    data = {"number": number, verb: _entry_data(entry), "count": count}
    emit(
        app,
        data,
        lambda: f"{number}: {verb} {_entry_line(entry)} ({count}/{validation.MAX_PHONEBOOK})",
    )


@phonebook_group.command("list")
@click.argument("number")
@pass_app
def phonebook_list(app: App, number: str) -> None:
    """The number's phonebook, by caller number."""
    with app.transaction() as session:
        entries = phonebook.entries(session, number)
    data = _book_data(number, entries)
    emit(app, data, lambda: _book_text(data, entries))


@phonebook_group.command("add")
@click.argument("number")
@click.argument("caller_number")
@click.argument("name")
@click.option("--note", default="", help=f"At most {validation.MAX_PHONEBOOK_NOTE} characters.")
@pass_app
def phonebook_add(app: App, number: str, caller_number: str, name: str, note: str) -> None:
    """Add CALLER_NUMBER (03-1234-5678 too) with NAME (1-40 characters)."""

    def add(session: Session) -> Entry:
        return phonebook.add_entry(session, number, caller_number, name, note)

    _change(app, number, "added", add)


@phonebook_group.command("edit")
@click.argument("number")
@click.argument("caller_number")
@click.option("--name", help="The new name (default: unchanged).")
@click.option("--note", help="The new note (default: unchanged; '' clears it).")
@click.option("--number", "new_number", help="A new caller number for the entry.")
@pass_app
@click.pass_context
def phonebook_edit(
    ctx: click.Context,
    app: App,
    number: str,
    caller_number: str,
    name: str | None,
    note: str | None,
    new_number: str | None,
) -> None:
    """Change the name, note or number of CALLER_NUMBER's entry."""
    if name is None and note is None and new_number is None:
        fail(ctx, "usage", "nothing to change: give --name, --note and/or --number")

    def edit(session: Session) -> Entry:
        current = phonebook.entry(session, number, caller_number)
        return phonebook.update_entry(
            session,
            number,
            caller_number,
            name=current.name if name is None else name,
            note=current.note if note is None else note,
            new_caller_number=new_number,
        )

    _change(app, number, "changed", edit)


@phonebook_group.command("remove")
@click.argument("number")
@click.argument("caller_number")
@pass_app
def phonebook_remove(app: App, number: str, caller_number: str) -> None:
    """Remove CALLER_NUMBER's entry."""
    with app.transaction() as session:
        phonebook.remove_entry(session, number, caller_number)
        count = len(phonebook.entries(session, number))
    removed = validation.typed_number(caller_number)
    emit(
        app,
        {"number": number, "removed": removed, "count": count},
        lambda: f"{number}: removed {removed} ({count}/{validation.MAX_PHONEBOOK})",
    )


@phonebook_group.command("import")
@click.argument("number")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@pass_app
@click.pass_context
def phonebook_import(ctx: click.Context, app: App, number: str, file: str) -> None:
    """Replace the whole phonebook with FILE (CSV; - is stdin), all or nothing."""
    data = _read(ctx, file)
    try:
        rows = phonebook_csv.parse(data)
    except phonebook_csv.PhonebookCsvRefused as exc:
        raise DomainError(_refusal_line(exc), code=exc.code, field=exc.field) from None
    with app.transaction() as session:
        entries = phonebook.replace_entries(session, number, rows)
    book = _book_data(number, entries)
    emit(
        app,
        book,
        lambda: (
            f"{number}: phonebook replaced from {file} "
            f"({book['count']}/{validation.MAX_PHONEBOOK} entries)"
        ),
    )


@phonebook_group.command("export")
@click.argument("number")
@click.option(
    "--encoding",
    type=click.Choice(list(phonebook_csv.ENCODINGS)),
    default="utf-8",
    show_default=True,
    help="utf-8 (with a BOM, for Excel) or shift_jis.",
)
@click.option(
    "-o", "--output", type=click.Path(dir_okay=False, writable=True), help="Default: stdout."
)
@pass_app
@click.pass_context
def phonebook_export(
    ctx: click.Context, app: App, number: str, encoding: str, output: str | None
) -> None:
    """The whole phonebook as a CSV file (CR+LF, quoted; formula-like cells defused)."""
    with app.transaction() as session:
        entries = phonebook.entries(session, number)
    data = phonebook_csv.render(entries, encoding=encoding)
    if output is None or output == "-":
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
        with open(output, "wb") as opened:
            opened.write(data)
    except OSError as exc:
        fail(ctx, "phonebook_export_file", f"cannot write {output}: {exc.strerror or exc}")
    emit(
        app,
        {"number": number, "file": output, "count": len(entries), "encoding": encoding},
        lambda: f"{number}: {len(entries)} entries written to {output} ({encoding})",
    )


def _read(ctx: click.Context, file: str) -> bytes:
    """The file (or stdin), read no further than one byte over the upload limit."""
    try:
        if file == "-":
            return sys.stdin.buffer.read(phonebook_csv.MAX_CSV_BYTES + 1)
        with open(file, "rb") as opened:
            return opened.read(phonebook_csv.MAX_CSV_BYTES + 1)
    except OSError as exc:
        fail(ctx, "phonebook_import_file", f"cannot read {file}: {exc.strerror or exc}")


def _refusal_line(exc: phonebook_csv.PhonebookCsvRefused) -> str:
    """The file's problems on one line: ``...: line 3: ...; line 7, name: ...``."""
    parts = []
    for line, error in exc.problems[:SHOWN_PROBLEMS]:
        where = "file" if line == 0 else f"line {line}"
        field = f", {error.field}" if error.field and line else ""
        parts.append(f"{where}{field}: {error.message}")
    more = len(exc.problems) - SHOWN_PROBLEMS
    if more > 0:
        parts.append(f"and {more} more problems")
    return f"{exc.message}: " + "; ".join(parts)
