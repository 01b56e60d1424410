"""API endpoints: device names (issue 17 MAIL-9, issue 18; ``chakushin device``).

A name is PBX-wide, by Asterisk interface (PJSIP/201, Local/desk@phones/n):
mails say who answered with it (「応答：受付（PJSIP/201）」). The interface is
the path's rest (it holds ``/``); ``store.service`` checks it and the name.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from sqlalchemy import select

from store import service, validation
from store.models import DeviceLabel
from web.api.deps import Reader, Writer
from web.api.paging import DEFAULT_LIMIT, Limit, Page

router = APIRouter(tags=["devices"])

InterfacePath = Annotated[
    str,
    Path(
        max_length=validation.MAX_INTERFACE,
        description="Asterisk interface, TECH/resource (PJSIP/201, Local/desk@phones/n).",
    ),
]


def _cursor_interface(value: str) -> str:
    """The cursor is the last interface in URL-safe base64 (an interface holds / @ #)."""
    try:
        found = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ValueError("not a cursor of this list") from exc
    if not found.isprintable():  # no interface holds one; PostgreSQL refuses NUL (issue 18)
        raise ValueError("not a cursor of this list")
    return found


def _cursor_of(interface: str) -> str:
    return base64.urlsafe_b64encode(interface.encode("ascii")).decode("ascii").rstrip("=")


LabelCursor = Annotated[
    str | None,
    Query(
        max_length=4 * validation.MAX_INTERFACE // 3 + 4,
        pattern=r"^[0-9A-Za-z_-]+$",
        description="next_cursor of the page before; absent for the first page.",
    ),
    AfterValidator(lambda v: None if v is None else _cursor_interface(v)),
]


class DeviceLabelOut(BaseModel):
    interface: str
    label: str


class DeviceLabelPut(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # 1-20 printable characters once spaces around are dropped (the domain checks).
    label: str = Field(max_length=2 * validation.MAX_DEVICE_LABEL)


CREATED: dict[int | str, dict[str, Any]] = {
    201: {"model": DeviceLabelOut, "description": "The device was named."}
}


@router.get("/device-labels")
def list_device_labels(
    api: Reader, limit: Limit = DEFAULT_LIMIT, cursor: LabelCursor = None
) -> Page[DeviceLabelOut]:
    """The named devices and queue members, by interface."""
    stmt = (
        select(DeviceLabel.interface, DeviceLabel.label)
        .order_by(DeviceLabel.interface)
        .limit(limit + 1)
    )
    if cursor is not None:
        stmt = stmt.where(DeviceLabel.interface > cursor)
    with api.read() as session:
        rows = session.execute(stmt).all()
    more = len(rows) > limit
    items = [DeviceLabelOut(interface=i, label=label) for i, label in rows[:limit]]
    return Page(items=items, next_cursor=_cursor_of(items[-1].interface) if more else None)


@router.put("/device-labels/{interface:path}", responses=CREATED)
def put_device_label(
    api: Writer, interface: InterfacePath, body: DeviceLabelPut, response: Response
) -> DeviceLabelOut:
    """Name the interface (201), or rename it (200). At most 1,000 names."""
    with api.transaction() as session:
        # Checked first: a value no interface can have is never queried (PostgreSQL
        # refuses NUL), it is the domain's interface_format.
        known = service.device_labels(session, [validation.interface(interface)])
        named = service.name_device(session, interface, body.label)
        out = DeviceLabelOut(interface=named.interface, label=named.label)
    if not known:
        response.status_code = 201
    return out


@router.delete("/device-labels/{interface:path}", status_code=204)
def delete_device_label(api: Writer, interface: InterfacePath) -> None:
    """Remove the interface's name (mails then show the interface alone)."""
    with api.transaction() as session:
        service.unname_device(session, interface)
