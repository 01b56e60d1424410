"""Issue 18 bulk import (``chakushin import``): lines, numbers, settings from CSV or JSONL.

One row is one subscriber number with its line and settings, named as the
provisioning API names them (``COLUMNS``: CSV flattens the API's objects,
``mail.addresses`` is the column ``mail_addresses``). The file is read in two
steps:

- ``parse`` (``store.import_file``): the file itself, every limit checked
  before a value is used (``MAX_FILE_BYTES``, ``MAX_ROWS``, ``MAX_LINE_CHARS``,
  ``MAX_FIELD_CHARS``, UTF-8 only, no control or format character, known columns only, no number
  twice) and every value's type; a refusal of the whole file stops here.
- ``apply_rows``: every row through ``store.service`` inside one transaction,
  each in a savepoint (new numbers in batches, run again row by row when one
  is refused), so that a refused row (the domain's code and message, the
  column it came from) never hides the next one.

What a row does: a number not stored yet is added (its line with it when the
row is the contract number's: ``number`` empty or equal to ``contract_number``)
with the row's values and the CLI's defaults for the rest (all services, the
config's time zone, mail stopped, ...); a stored number of the same line is
updated to the row. An empty CSV cell or an absent JSON field leaves a value as
it is; ``-`` (JSON ``null``) clears one (endpoint, queue, queue_seconds,
voice_warp_destination; a list ``-`` / ``[]`` empties it). Lists are whole:
the addresses and designated numbers take slots 1, 2, ... in the file's
order; the nuisance list gets the visible entries given (hidden ones, which
nobody can type, stay). Numbers not in the file are not touched; nothing is
removed. So importing the same file twice leaves the same state.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value

from store import db, service, validation
from store.errors import AlreadyExists, DomainError
from store.import_file import (
    CLEAR,
    COLUMNS,
    FILE,
    FORMATS,
    LIST_SEPARATOR,
    MAX_FIELD_CHARS,
    MAX_FILE_BYTES,
    MAX_LINE_CHARS,
    MAX_PROBLEMS,
    MAX_ROWS,
    OFF_MARKER,
    OPERATOR_TEXT,
    ImportProblem,
    ImportRefused,
    ImportReport,
    ImportRow,
    Pairs,
    format_of,
    parse,
    read_limited,
)
from store.models import AuthUnit, Number, Service

log = structlog.get_logger("store")

__all__ = [
    "CLEAR",
    "COLUMNS",
    "FILE",
    "FORMATS",
    "LIST_SEPARATOR",
    "MAX_FIELD_CHARS",
    "MAX_FILE_BYTES",
    "MAX_LINE_CHARS",
    "MAX_PROBLEMS",
    "MAX_ROWS",
    "OFF_MARKER",
    "OPERATOR_TEXT",
    "ImportProblem",
    "ImportRefused",
    "ImportReport",
    "ImportRow",
    "apply_rows",
    "format_of",
    "import_data",
    "parse",
    "read_limited",
]


# --- the rows, through store.service ---------------------------------------------------------


def import_data(
    sessions: sessionmaker[Session],
    data: bytes,
    fmt: str,
    *,
    default_timezone: str,
    dry_run: bool = False,
    partial: bool = False,
) -> ImportReport:
    """Parse ``data`` and apply its rows in one transaction; what was done or refused.

    All or nothing unless ``partial`` (the rows that pass are stored, each in
    its own savepoint); ``dry_run`` checks every row as a real import would and
    rolls everything back. A database error ends the import at its row
    (``aborted``), with nothing written.
    """
    report = ImportReport()
    rows = parse(data, fmt, report)
    if not rows:
        return report
    with sessions() as session:
        session.begin()
        try:
            apply_rows(session, rows, report, fmt, default_timezone=default_timezone)
            keep = not dry_run and not report.aborted and (partial or not report.refused_rows)
            if keep:
                session.commit()
                report.written = True
        finally:
            if not report.written:
                session.rollback()
    log.info(
        "import_done",
        rows=report.rows,
        refused=report.refused_rows,
        written=report.written,
        dry_run=dry_run,
        partial=partial,
    )
    return report


class _RowRefused(Exception):
    def __init__(self, column: str | None, error: DomainError) -> None:
        super().__init__(error.message)
        self.column, self.error = column, error


class _RowFailed(Exception):
    def __init__(self, column: str | None, error: SQLAlchemyError) -> None:
        super().__init__(str(error))
        self.column, self.error = column, error


@contextlib.contextmanager
def _step(column: str | None, by_field: Mapping[str, str] | None = None) -> Iterator[None]:
    """A domain call for ``column`` (else the column the error's field names)."""
    try:
        yield
    except DomainError as error:
        named = error.field if error.field in COLUMNS else None
        chosen = (by_field or {}).get(error.field or "", column or named)
        raise _RowRefused(chosen, error) from None
    except SQLAlchemyError as error:
        raise _RowFailed(column, error) from error


# Rows of new numbers written by one flush (issue 18: 10,000 numbers in under 30 s).
BATCH_ROWS = 250
# The file's stored numbers are locked and loaded this many per query.
HOLD_CHUNK = 5000


def apply_rows(
    session: Session,
    rows: Sequence[ImportRow],
    report: ImportReport,
    fmt: str,
    *,
    default_timezone: str,
) -> None:
    """Each row through ``store.service``, a line's contract-number row before its others.

    The file's stored numbers are locked and loaded once (``service.held_numbers``),
    so that no settings function queries them again; each of their rows runs in a
    savepoint of its own. Rows of new numbers run ``BATCH_ROWS`` at a time in one
    savepoint, written by one flush (``service.one_flush``); when one of them is
    refused, the batch is rolled back and its rows run one at a time, each in its
    savepoint, so that every refusal is found and the others still pass.
    """
    ordered = sorted(rows, key=lambda r: (not r.is_contract, r.line))
    wanted = sorted({r.number for r in rows})
    with contextlib.ExitStack() as holding:
        stored: dict[str, Number] = {}
        for start in range(0, len(wanted), HOLD_CHUNK):
            chunk = wanted[start : start + HOLD_CHUNK]
            stored.update(holding.enter_context(service.held_numbers(session, chunk)))
        i = 0
        while i < len(ordered) and not report.aborted:
            if ordered[i].number in stored:
                _apply_alone(session, ordered[i], stored, report, fmt, default_timezone)
                i += 1
                continue
            j = i
            while j < len(ordered) and j - i < BATCH_ROWS and ordered[j].number not in stored:
                j += 1
            _apply_batch(session, ordered[i:j], stored, report, fmt, default_timezone)
            i = j
    report.problems.sort(key=lambda p: p.line)


def _apply_batch(
    session: Session,
    rows: Sequence[ImportRow],
    stored: Mapping[str, Number],
    report: ImportReport,
    fmt: str,
    default_timezone: str,
) -> None:
    try:
        with session.begin_nested(), service.one_flush(session):
            actions = [_apply_row(session, row, stored, default_timezone) for row in rows]
    except (_RowRefused, _RowFailed, SQLAlchemyError):
        for row in rows:
            _apply_alone(session, row, stored, report, fmt, default_timezone)
            if report.aborted:
                return
        return
    for action in actions:
        report.count(action)


def _apply_alone(
    session: Session,
    row: ImportRow,
    stored: Mapping[str, Number],
    report: ImportReport,
    fmt: str,
    default_timezone: str,
) -> None:
    new = row.number not in stored
    try:
        writes = service.one_flush(session) if new else contextlib.nullcontext()
        with session.begin_nested(), writes:
            action = _apply_row(session, row, stored, default_timezone)
    except _RowRefused as refused:
        report.refuse(row.line, refused.column, refused.error, fmt)
        return
    except (_RowFailed, SQLAlchemyError) as failed:
        cause = failed.error if isinstance(failed, _RowFailed) else failed
        column = failed.column if isinstance(failed, _RowFailed) else None
        error = ImportRefused("import_database", reason=db.first_line(cause))
        report.refuse(row.line, column, error, fmt)
        report.aborted = True
        log.warning("import_aborted", line=row.line, error=db.first_line(cause))
        return
    report.count(action)


def _apply_row(
    session: Session, row: ImportRow, stored: Mapping[str, Number], default_timezone: str
) -> str:
    values, number = row.values, row.number
    found = stored.get(number)
    if found is not None and found.line.contract_number != row.contract_number:
        raise _RowRefused(
            "number",
            AlreadyExists(
                f"number {number} already belongs to the line {found.line.contract_number}",
                field="number",
            ),
        )
    action = "number_updated"
    if found is None:
        found, action = _add(session, row, default_timezone)
    else:
        _update_number(session, found, values)
    unit = values.get("auth_unit")
    if unit is not None and unit != found.line.auth_unit:
        with _step("auth_unit"):
            service.set_auth_unit(session, row.contract_number, unit)
    services = values.get("services")
    if services is not None and services != {s for s in Service if found.subscribes(s)}:
        with _step("services"):
            service.set_services(session, number, enable=services, disable=set(Service) - services)
    _mail(session, found, values)
    _number_request(session, found, values)
    _voice_warp(session, found, values)
    _nuisance(session, found, values)
    return action


def _add(session: Session, row: ImportRow, default_timezone: str) -> tuple[Number, str]:
    values = row.values
    settings: dict[str, Any] = {
        "timezone": values.get("timezone") or default_timezone,
        "endpoint": values.get("endpoint"),
        "queue": values.get("queue"),
        "queue_seconds": values.get("queue_seconds"),
        "services": values.get("services", service.ALL_SERVICES),
    }
    with _step(None):
        if row.is_contract:
            unit = values.get("auth_unit", AuthUnit.LINE)
            line = service.add_line(session, row.contract_number, auth_unit=unit, **settings)
            added, action = line.numbers[0], "line_added"
        else:
            added = service.add_number(session, row.contract_number, row.number, **settings)
            action = "number_added"
    # A new number has no list entries: known so, its settings need no query to find none.
    for lists in ("addresses", "designated", "nuisance"):
        set_committed_value(added, lists, [])
    return added, action


def _update_number(session: Session, found: Number, values: Mapping[str, Any]) -> None:
    """Devices or queue, queue timeout and time zone as the row has them (a change only)."""
    endpoint, queue = values.get("endpoint"), values.get("queue")
    both = endpoint is not None and queue is not None  # refused by the domain
    change: dict[str, Any] = {}
    if "endpoint" in values:
        if endpoint is not None and (both or endpoint != found.endpoint):
            change["endpoint"] = endpoint
        elif endpoint is None and found.endpoint is not None and queue is None:
            change["clear_endpoint"] = True
    if "queue" in values:
        if queue is not None and (both or queue != found.queue):
            change["queue"] = queue
        elif queue is None and found.queue is not None and endpoint is None:
            change["clear_queue"] = True
    seconds = values.get("queue_seconds")
    if seconds is not None and (change or seconds != found.queue_seconds):
        change["queue_seconds"] = seconds
    timezone = values.get("timezone")
    if timezone is not None and timezone != found.timezone:
        change["timezone"] = timezone
    with _step(None):
        if change:
            service.update_number(session, found.number, **change)
        if "queue_seconds" in values and seconds is None and found.queue_seconds is not None:
            # Back to call.ring_seconds: the domain clears a timeout only with its queue.
            name = found.queue
            service.update_number(session, found.number, clear_queue=True)
            service.update_number(session, found.number, queue=name)


def _slots(entries: Sequence[Any], name: str, flag: str) -> Pairs:
    return tuple((getattr(e, name), getattr(e, flag)) for e in entries)


def _mail(session: Session, found: Number, values: Mapping[str, Any]) -> None:
    """MAIL-1 ... MAIL-5 in the order the rules allow: off first, lists, conditions, start."""
    number, setting = found.number, found.notification
    started = values.get("mail_started")
    designated_only = values.get("mail_designated_only")
    unanswered_only = values.get("mail_unanswered_only")
    if started is False and setting.started:
        with _step("mail_started"):
            service.stop_mail(session, number)
    if designated_only is False and setting.designated_only:
        with _step("mail_designated_only"):
            service.set_conditions(session, number, designated_only=False)
    addresses = values.get("mail_addresses")
    if addresses is not None and (
        addresses != _slots(found.addresses, "address", "send")
        or [a.position for a in found.addresses] != list(range(1, len(addresses) + 1))
    ):
        with _step("mail_addresses"):
            service.set_addresses(session, number, list(addresses))
    designated = values.get("mail_designated_numbers")
    if designated is not None and (
        designated != _slots(found.designated, "caller_number", "designated")
        or [d.position for d in found.designated] != list(range(1, len(designated) + 1))
    ):
        with _step("mail_designated_numbers"):
            service.set_designated_numbers(session, number, list(designated))
    turn_on = designated_only is True and not setting.designated_only
    if turn_on or (unanswered_only is not None and unanswered_only != setting.unanswered_only):
        with _step("mail_designated_only" if turn_on else "mail_unanswered_only"):
            service.set_conditions(
                session,
                number,
                designated_only=True if turn_on else None,
                unanswered_only=unanswered_only,
            )
    if started is True and not setting.started:
        with _step("mail_started"):
            service.start_mail(session, number)


def _number_request(session: Session, found: Number, values: Mapping[str, Any]) -> None:
    setting = found.number_request
    change = {
        name: values[column]
        for column, name in (
            ("number_request_enabled", "enabled"),
            ("number_request_reject_payphone", "reject_payphone"),
            ("number_request_reject_unavailable", "reject_unavailable"),
        )
        if column in values and values[column] != getattr(setting, name)
    }
    if change:
        with _step("number_request_" + next(iter(change))):
            service.set_number_request(session, found.number, **change)


_VOICE_WARP_FIELDS = {
    "destination": "voice_warp_destination",
    "ring_seconds": "voice_warp_ring_seconds",
}


def _voice_warp(session: Session, found: Number, values: Mapping[str, Any]) -> None:
    setting = found.voice_warp
    change: dict[str, Any] = {}
    for column in ("voice_warp_enabled", "voice_warp_mode", "voice_warp_ring_seconds"):
        name = column.removeprefix("voice_warp_")
        if column in values and values[column] != getattr(setting, name):
            change[name] = values[column]
    if "voice_warp_destination" in values:
        destination = values["voice_warp_destination"]
        if destination is None and setting.destination is not None:
            change["clear_destination"] = True
        elif destination is not None and destination != setting.destination:
            change["destination"] = destination
    if change:
        first = next(c for c in COLUMNS if c.startswith("voice_warp_") and c in values)
        with _step(first, _VOICE_WARP_FIELDS):
            service.set_voice_warp(session, found.number, **change)


def _nuisance(session: Session, found: Number, values: Mapping[str, Any]) -> None:
    """CALL-2: the visible entries as given (hidden entries are kept where they are)."""
    wanted = values.get("nuisance_numbers")
    if wanted is None:
        return
    typed = [validation.typed_number(c) for c in wanted]
    visible = {e.caller_number: e.position for e in found.nuisance if not e.hidden}
    with _step("nuisance_numbers"):
        for caller, position in visible.items():
            if caller not in typed:
                service.remove_nuisance(session, found.number, position=position)
        kept: set[str] = set()
        for caller, given in zip(typed, wanted, strict=True):
            if caller in visible and caller not in kept:
                kept.add(caller)
            else:
                service.add_nuisance(session, found.number, given)
