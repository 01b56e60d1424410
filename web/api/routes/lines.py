"""API endpoints: lines (契約者回線; issue 18, OPS-2 ``chakushin line``).

``GET /lines`` pages the lines by contract number; ``GET /lines/{c}`` is a
line with every setting of its numbers; ``PUT /lines/{c}`` makes the line
with its contract number (201) or brings it to the body (200): the auth
unit and the contract number's devices or queue, time zone and services;
``DELETE`` removes it with all its numbers; ``PUT /lines/{c}/auth-unit``.
Every write is one transaction through ``store.service``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from store import service, validation
from store.errors import NotFound
from store.models import AuthUnit, Line, Number
from web.api.deps import Reader, Writer
from web.api.paging import DEFAULT_LIMIT, Cursor, Limit, Page
from web.api.routes.numbers_models import (
    MAX_NUMBER,
    NumberOut,
    NumberSettings,
    apply_settings,
    describe_one,
    described,
)

router = APIRouter(tags=["lines"])

ContractPath = Annotated[
    str, Path(max_length=MAX_NUMBER, description="The line's contract number.")
]


class LineItem(BaseModel):
    contract_number: str
    auth_unit: AuthUnit
    number_count: int


class LineOut(BaseModel):
    contract_number: str
    auth_unit: AuthUnit
    # The contract number first is not promised: numbers are in digit order.
    numbers: list[NumberOut]


class LineSet(LineItem):
    """A PUT's answer: the line, and its contract number as the body left it (the
    other numbers are not read: a PUT costs the same on a line of 1,000)."""

    contract: NumberOut


class LinePut(NumberSettings):
    """The line's auth unit (default: line) and its contract number's settings."""

    auth_unit: AuthUnit = AuthUnit.LINE


class AuthUnitPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    auth_unit: AuthUnit


CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": LineSet, "description": "The line was made."}
}


def _contract(value: str) -> str:
    """The path's contract number, its form checked before any query (PostgreSQL
    refuses NUL; a value no number can have is the domain's number_format)."""
    return validation.subscriber_number(value, field="contract_number")


def _line_out(session: Session, contract_number: str) -> LineOut:
    line = service.get_line(session, contract_number)
    return LineOut(
        contract_number=line.contract_number,
        auth_unit=line.auth_unit,
        numbers=described(session, line.numbers),
    )


def _set_auth_unit(session: Session, line: Line, auth_unit: AuthUnit) -> None:
    # Only a change: set_auth_unit ends every site session of the line, which a
    # retried PUT must not do again.
    if line.auth_unit != auth_unit:
        service.set_auth_unit(session, line.contract_number, auth_unit)


@router.get("/lines")
def list_lines(api: Reader, limit: Limit = DEFAULT_LIMIT, cursor: Cursor = None) -> Page[LineItem]:
    """Lines by contract number, each with its auth unit and how many numbers it has."""
    count = select(func.count(Number.id)).where(Number.line_id == Line.id).scalar_subquery()
    stmt = (
        select(Line.contract_number, Line.auth_unit, count)
        .order_by(Line.contract_number)
        .limit(limit + 1)
    )
    if cursor is not None:
        stmt = stmt.where(Line.contract_number > cursor)
    with api.read() as session:
        rows = session.execute(stmt).all()
    more = len(rows) > limit
    items = [LineItem(contract_number=c, auth_unit=u, number_count=n) for c, u, n in rows[:limit]]
    return Page(items=items, next_cursor=items[-1].contract_number if more else None)


@router.get("/lines/{contract_number}")
def get_line(api: Reader, contract_number: ContractPath) -> LineOut:
    """A line with every setting of each of its numbers (``chakushin line show --json``)."""
    with api.read() as session:
        return _line_out(session, _contract(contract_number))


@router.put("/lines/{contract_number}", responses=CREATED)
def put_line(
    api: Writer, contract_number: ContractPath, body: LinePut, response: Response
) -> LineSet:
    """Make the line (201), or bring the stored one to the body (200); twice: the same."""
    _contract(contract_number)
    with api.transaction() as session:
        try:
            line: Line | None = service.get_line(session, contract_number)
        except NotFound:
            line = None
        if line is None:
            service.add_line(
                session,
                contract_number,
                auth_unit=body.auth_unit,
                timezone=body.timezone or api.deps.default_timezone,
                endpoint=body.endpoint,
                services=service.ALL_SERVICES if body.services is None else body.services,
                queue=body.queue,
                queue_seconds=body.queue_seconds,
            )
            response.status_code = 201
        else:
            _set_auth_unit(session, line, body.auth_unit)
            found = service.get_number(session, contract_number, lock=True)
            apply_settings(session, found, body, api.deps.default_timezone)
        line = service.get_line(session, contract_number)
        shown = LineSet(
            contract_number=line.contract_number,
            auth_unit=line.auth_unit,
            number_count=len(line.numbers),
            contract=describe_one(session, contract_number),
        )
    return shown


@router.delete("/lines/{contract_number}", status_code=204)
def delete_line(api: Writer, contract_number: ContractPath) -> None:
    """Remove the line with all its numbers and their settings."""
    with api.transaction() as session:
        service.remove_line(session, _contract(contract_number))


@router.put("/lines/{contract_number}/auth-unit")
def put_auth_unit(api: Writer, contract_number: ContractPath, body: AuthUnitPut) -> LineItem:
    """Set the line's 認証単位; a change ends every site session of the line (SITE-1)."""
    with api.transaction() as session:
        line = service.get_line(session, _contract(contract_number))
        _set_auth_unit(session, line, body.auth_unit)
        item = LineItem(
            contract_number=line.contract_number,
            auth_unit=line.auth_unit,
            number_count=len(line.numbers),
        )
    return item
