"""A number as the API shows it (``store.service.describe_number``), and what a PUT sets.

Shared by ``routes.lines`` (a line with its numbers) and ``routes.numbers``.
Numbers are read with their settings in a fixed number of queries however
many there are (``described``), and written through ``store.service`` only
(``apply_settings``): the same checks and codes as the CLI's.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Select, select
from sqlalchemy.orm import Session, joinedload, selectinload

from store import service, validation
from store.models import AuthUnit, Number, Service, VoiceWarpMode

# A number or contract number in a path or a body; the domain checks its form.
MAX_NUMBER = 32


class DeviceOut(BaseModel):
    interface: str
    # The name ``chakushin device name`` / PUT /device-labels gave it, else null.
    label: str | None = None


class AddressOut(BaseModel):
    position: int
    address: str
    send: bool


class DesignatedOut(BaseModel):
    position: int
    caller_number: str
    designated: bool


class MailOut(BaseModel):
    started: bool
    designated_only: bool
    unanswered_only: bool
    # Codes of settings under which no call is mailed (designated_only_without_numbers).
    warnings: list[str]
    addresses: list[AddressOut]
    designated_numbers: list[DesignatedOut]


class NuisanceOut(BaseModel):
    position: int
    # null for an entry added from a withheld caller (hidden: the number is never shown).
    caller_number: str | None
    hidden: bool


class NumberRequestSetting(BaseModel):
    enabled: bool
    reject_payphone: bool
    reject_unavailable: bool


class VoiceWarpSetting(BaseModel):
    enabled: bool
    mode: VoiceWarpMode
    destination: str | None
    ring_seconds: int


class NumberOut(BaseModel):
    """Everything about one number, as ``chakushin number show --json``."""

    number: str
    contract_number: str
    is_contract: bool
    auth_unit: AuthUnit
    endpoint: str | None
    devices: list[DeviceOut]
    queue: str | None
    queue_seconds: int | None
    timezone: str
    services: list[Service]
    mail: MailOut
    nuisance_list: list[NuisanceOut]
    number_request: NumberRequestSetting
    voice_warp: VoiceWarpSetting


class NumberSettings(BaseModel):
    """What a PUT of a line or a number sets on its number: the whole of it.

    A number rings its devices (``endpoint``) or waits in a ``queue`` (with
    ``queue_seconds``, null: call.ring_seconds), not both; neither: the PBX's
    fallback device. ``timezone`` absent: the node's time zone. ``services``
    absent: every service for a new number, the ones it has for a stored one
    (PUT /numbers/{number}/services sets them on their own).
    """

    model_config = ConfigDict(extra="forbid")

    endpoint: str | None = Field(
        None,
        max_length=validation.MAX_ENDPOINT,
        description="Asterisk dial string, up to 8 devices joined by & (PJSIP/201&PJSIP/202).",
    )
    queue: str | None = Field(None, max_length=validation.MAX_QUEUE)
    queue_seconds: int | None = Field(None, description="Queue timeout, 5-300 s.")
    timezone: str | None = Field(None, max_length=validation.MAX_TIME_ZONE)
    services: list[Service] | None = Field(None, max_length=len(Service))


def _with_settings() -> Select[Number]:
    """Numbers with every relation ``describe_number`` reads, in one query each (no N+1)."""
    return select(Number).options(
        joinedload(Number.line),
        joinedload(Number.notification),
        joinedload(Number.number_request),
        joinedload(Number.voice_warp),
        selectinload(Number.addresses),
        selectinload(Number.designated),
        selectinload(Number.nuisance),
    )


def _shown(session: Session, found: Sequence[Number]) -> list[NumberOut]:
    data = [service.describe_number(n) for n in found]
    # Issue 17: each device with its name, the names of all of them in one query.
    labels = service.device_labels(session, {d for x in data for d in x["devices"]})
    for x in data:
        x["devices"] = [{"interface": d, "label": labels.get(d)} for d in x["devices"]]
    return [NumberOut.model_validate(x) for x in data]


def described(session: Session, found: Sequence[Number]) -> list[NumberOut]:
    """``found`` (a line's numbers) with their settings, in a fixed number of queries."""
    if not found:
        return []
    loaded = {
        n.id: n
        for n in session.scalars(
            _with_settings().where(Number.id.in_([n.id for n in found]))
        ).unique()
    }
    return _shown(session, [loaded[n.id] for n in found])


def describe_one(session: Session, number: str) -> NumberOut:
    """One number by its digits, read with its settings (5 queries however big the
    database is); an unknown one is ``store.service.get_number``'s ``NotFound``."""
    found = session.scalars(_with_settings().where(Number.number == number)).unique().one_or_none()
    return _shown(session, [found if found is not None else service.get_number(session, number)])[0]


def apply_settings(
    session: Session, found: Number, want: NumberSettings, default_timezone: str
) -> None:
    """Bring a stored number to ``want`` through ``store.service.update_number``.

    The domain refuses what it always refuses (``endpoint_or_queue``,
    ``queue_seconds_without_queue``, formats); the caller's transaction then
    rolls back every step made before.
    """
    number = found.number
    timezone = want.timezone or default_timezone
    if want.queue is not None:
        if want.queue_seconds is None and found.queue_seconds is not None:
            # No timeout in the body is call.ring_seconds: the stored one goes.
            service.update_number(session, number, clear_queue=True)
        service.update_number(
            session,
            number,
            endpoint=want.endpoint,
            queue=want.queue,
            queue_seconds=want.queue_seconds,
            timezone=timezone,
        )
    elif want.endpoint is not None:
        service.update_number(
            session,
            number,
            endpoint=want.endpoint,
            queue_seconds=want.queue_seconds,
            timezone=timezone,
        )
    else:
        service.update_number(
            session,
            number,
            clear_endpoint=True,
            clear_queue=True,
            queue_seconds=want.queue_seconds,
            timezone=timezone,
        )
    if want.services is not None:
        set_services(session, found, want.services)


def set_services(session: Session, found: Number, services: Sequence[Service]) -> None:
    """Subscribe to exactly ``services`` (``store.service.set_services`` with the change)."""
    wanted = set(services)
    current = {s for s in Service if found.subscribes(s)}
    if wanted != current:
        service.set_services(
            session, found.number, enable=wanted - current, disable=current - wanted
        )
