"""API endpoints: subscriber numbers (issue 18; OPS-2 ``chakushin number``).

``GET /numbers`` pages every number by its digits (``?line=`` one line's,
``?search=`` the site's number search with ``*``, SITE-7); ``GET/PUT/DELETE
/numbers/{number}``; ``PUT /numbers/{number}/services``. A PUT makes an
additional number (追加番号) on the line of ``contract_number`` or brings a
stored number to the body; it never moves a number to another line (409
``number_on_other_line``). Every write is one transaction through
``store.service``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from store import bulk, service, validation
from store.errors import AlreadyExists, NotFound
from store.models import Line, NotificationSetting, Number, Service
from web.api.deps import Reader, Writer
from web.api.paging import DEFAULT_LIMIT, Cursor, Limit, Page
from web.api.routes.numbers_models import (
    MAX_NUMBER,
    NumberOut,
    NumberSettings,
    apply_settings,
    describe_one,
    set_services,
)

router = APIRouter(tags=["numbers"])

# Its form is checked before any query (number_format, number_not_digits): the
# database is never asked about a value no number can have (PostgreSQL refuses NUL).
NumberPath = Annotated[str, Path(max_length=MAX_NUMBER, description="The number's digits.")]
CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": NumberOut, "description": "The number was made."}
}


class NumberItem(BaseModel):
    number: str
    contract_number: str
    is_contract: bool
    mail_started: bool


class NumberPut(NumberSettings):
    """An additional number on the line ``contract_number``, or a stored number's settings."""

    contract_number: str = Field(max_length=MAX_NUMBER)


class ServicesPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    services: list[Service] = Field(max_length=len(Service))


def _search_filter(search: str) -> tuple[str, object | None]:
    """SITE-7's pattern as typed (０３＊ as 03*), checked by the site's own function,
    and its SQL condition (digits and ``*`` only, so LIKE needs no escaping)."""
    pattern = validation.typed_number(search)
    bulk.search_numbers([], pattern)  # refuses a malformed pattern: search_pattern
    wanted = pattern.strip()
    if not wanted.strip(bulk.WILDCARD):
        return pattern, None
    if bulk.WILDCARD not in wanted:
        return pattern, Number.number.contains(wanted)
    return pattern, Number.number.like(wanted.replace(bulk.WILDCARD, "%"))


@router.get("/numbers")
def list_numbers(
    api: Reader,
    limit: Limit = DEFAULT_LIMIT,
    cursor: Cursor = None,
    line: Annotated[
        str | None, Query(max_length=MAX_NUMBER, description="Only this line's numbers.")
    ] = None,
    search: Annotated[
        str | None,
        Query(
            max_length=validation.MAX_TYPED_NUMBER,
            description="The site's number search: digits anywhere in the number, "
            "or with * (any digits) the whole number (03*, *4747, 03*47).",
        ),
    ] = None,
) -> Page[NumberItem]:
    """Numbers by their digits, with their line and whether their mail is started."""
    with api.read() as session:
        stmt = (
            select(Number.number, Line.contract_number, Number.is_contract, NotificationSetting)
            .join(Line, Line.id == Number.line_id)
            .outerjoin(NotificationSetting, NotificationSetting.number_id == Number.id)
            .order_by(Number.number)
            .limit(limit + 1)
        )
        pattern = None
        if search is not None:
            pattern, condition = _search_filter(search)
            if condition is not None:
                stmt = stmt.where(condition)  # type: ignore[arg-type]
        if line is not None:
            contract = validation.subscriber_number(line, field="line")
            # The line's id alone (get_line would load its 1,000 numbers for it);
            # an unknown line is get_line's NotFound.
            line_id = session.scalar(select(Line.id).where(Line.contract_number == contract))
            if line_id is None:
                line_id = service.get_line(session, contract).id
            stmt = stmt.where(Number.line_id == line_id)
        if cursor is not None:
            stmt = stmt.where(Number.number > cursor)
        rows = session.execute(stmt).all()
        more = len(rows) > limit
        rows = rows[:limit]
        shown = set(bulk.search_numbers([r[0] for r in rows], pattern)) if pattern else None
        items = [
            NumberItem(
                number=number,
                contract_number=contract,
                is_contract=is_contract,
                mail_started=bool(notification and notification.started),
            )
            for number, contract, is_contract, notification in rows
            if shown is None or number in shown
        ]
    return Page(items=items, next_cursor=rows[-1][0] if more else None)


@router.get("/numbers/{number}")
def get_number(api: Reader, number: NumberPath) -> NumberOut:
    """Everything about one number (``chakushin number show --json``)."""
    validation.subscriber_number(number)
    with api.read() as session:
        return describe_one(session, number)


@router.put("/numbers/{number}", responses=CREATED)
def put_number(api: Writer, number: NumberPath, body: NumberPut, response: Response) -> NumberOut:
    """Make an additional number on ``contract_number``'s line (201), or bring the stored
    number to the body (200). The same body twice leaves the same state."""
    validation.subscriber_number(number)
    validation.subscriber_number(body.contract_number, field="contract_number")
    with api.transaction() as session:
        try:
            found: Number | None = service.get_number(session, number, lock=True)
        except NotFound:
            found = None
        if found is None:
            service.add_number(
                session,
                body.contract_number,
                number,
                timezone=body.timezone or api.deps.default_timezone,
                endpoint=body.endpoint,
                services=service.ALL_SERVICES if body.services is None else body.services,
                queue=body.queue,
                queue_seconds=body.queue_seconds,
            )
            response.status_code = 201
        else:
            if found.line.contract_number != body.contract_number:
                raise AlreadyExists(
                    f"number {number} belongs to the line {found.line.contract_number}; "
                    "a PUT does not move a number to another line",
                    code="number_on_other_line",
                    field="contract_number",
                    params={"contract_number": found.line.contract_number},
                )
            apply_settings(session, found, body, api.deps.default_timezone)
        shown = describe_one(session, number)
    return shown


@router.delete("/numbers/{number}", status_code=204)
def delete_number(api: Writer, number: NumberPath) -> None:
    """Remove an additional number with its settings (a contract number: remove its line)."""
    validation.subscriber_number(number)
    with api.transaction() as session:
        service.remove_number(session, number)


@router.put("/numbers/{number}/services")
def put_services(api: Writer, number: NumberPath, body: ServicesPut) -> NumberOut:
    """Subscribe to exactly these services; one left is also switched off (its settings kept)."""
    validation.subscriber_number(number)
    with api.transaction() as session:
        set_services(session, service.get_number(session, number, lock=True), body.services)
        shown = describe_one(session, number)
    return shown
