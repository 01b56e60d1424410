"""Issue 17 (MAIL-9): the names an operator gives devices and queue members.

A mail says who answered an office's call, 「応答：受付（PJSIP/201）」: the
name given here for the interface that answered, else the interface alone.
Names are PBX-wide, by interface, as Asterisk's interfaces are.
"""

from __future__ import annotations

from collections.abc import Iterable

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from store import validation
from store.errors import InvalidInput, LimitExceeded, NotFound
from store.models import DeviceLabel

log = structlog.get_logger("store")


def name_device(session: Session, interface: str, label: str) -> DeviceLabel:
    """Give ``interface`` the name ``label`` (replacing the one it had)."""
    interface = validation.interface(interface)
    label = validation.device_label(label)
    if session.get_bind().dialect.name == "postgresql":
        # The count and the insert below are one step for concurrent writers:
        # without it two sessions at 999 names both add one (SQLite's writers
        # are serialised by BEGIN IMMEDIATE, store.db).
        session.execute(text("LOCK TABLE device_label IN SHARE ROW EXCLUSIVE MODE"))
    found = session.scalars(
        select(DeviceLabel).where(DeviceLabel.interface == interface).with_for_update()
    ).one_or_none()
    if found is None:
        count = session.scalar(select(func.count()).select_from(DeviceLabel)) or 0
        if count >= validation.MAX_DEVICE_LABELS:
            raise LimitExceeded(
                f"{validation.MAX_DEVICE_LABELS} devices are named already; remove one first",
                code="device_labels_full",
                field="interface",
            )
        found = DeviceLabel(interface=interface, label=label)
        session.add(found)
    else:
        found.label = label
    session.flush()
    log.info("device_named", interface=interface)
    return found


def unname_device(session: Session, interface: str) -> None:
    interface = validation.interface(interface)
    found = session.scalars(
        select(DeviceLabel).where(DeviceLabel.interface == interface)
    ).one_or_none()
    if found is None:
        raise NotFound(f"no name is given to {interface}", field="interface")
    session.delete(found)
    session.flush()
    log.info("device_unnamed", interface=interface)


def device_labels(session: Session, interfaces: Iterable[str] | None = None) -> dict[str, str]:
    """Interface -> name, of ``interfaces`` (all when None)."""
    stmt = select(DeviceLabel.interface, DeviceLabel.label).order_by(DeviceLabel.interface)
    if interfaces is not None:
        # As stored: a technology in Asterisk's own case (store.validation.interface).
        wanted = {_stored_form(i) for i in interfaces if i}
        if not wanted:
            return {}
        stmt = stmt.where(DeviceLabel.interface.in_(wanted))
    return {interface: label for interface, label in session.execute(stmt)}


def _stored_form(interface: str) -> str:
    try:
        return validation.interface(interface)
    except InvalidInput:
        return interface  # matches nothing stored
