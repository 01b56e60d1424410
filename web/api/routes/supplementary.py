"""API endpoints: the supplementary services of a number (issue 18, CALL-2 ... CALL-4).

- nuisance list (CALL-2, 迷惑電話おことわり, at most 30 entries):
  ``GET``, ``POST`` one caller, ``DELETE .../nuisance/{position}``, and ``PUT``
  of the visible callers. A hidden entry (a withheld caller the subscriber
  listed by 144 then 2) is shown by its position only, its digits never; a
  whole-list PUT sets the visible callers and keeps every hidden entry where
  it is, since no client could send back digits it was never shown;
- Number Request (CALL-3): ``GET/PUT .../number-request``, the whole setting;
- Voice Warp (CALL-4): ``GET/PUT .../voice-warp``, the whole setting.

Each write is one transaction through ``store.service`` with the domain's
checks and codes, as ``chakushin nuisance`` / ``number-request`` /
``voice-warp`` and the site.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from store import service, validation
from store.errors import AlreadyExists, DomainError, NotFound
from store.models import NuisanceEntry, Number, Service, VoiceWarpMode
from store.service.lines import subscribed
from web.api.deps import Reader, Writer

router = APIRouter(tags=["supplementary"])

NumberPath = Annotated[
    str, Path(max_length=32, pattern=r"^[0-9]+$", description="The subscriber number's digits.")
]
Flag = Annotated[bool, Field(strict=True)]
CallerNumber = Annotated[
    str,
    Field(
        max_length=validation.MAX_TYPED_NUMBER,
        description="Digits, or as people type it (03-1234-5678, full-width digits).",
    ),
]


# --- nuisance list (CALL-2) ---------------------------------------------------------------


class NuisanceIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caller_number: CallerNumber
    # A withheld caller's entry, never shown again (as ``nuisance add --hidden``).
    hidden: Flag = False


class NuisanceListIn(BaseModel):
    """The visible callers; hidden entries are kept as they are."""

    model_config = ConfigDict(extra="forbid")

    caller_numbers: list[CallerNumber] = Field(max_length=validation.MAX_NUISANCE)


class NuisanceEntryOut(BaseModel):
    position: int
    # None for a hidden entry: its digits are never shown (issue 16).
    caller_number: str | None
    hidden: bool

    @classmethod
    def of(cls, entry: NuisanceEntry) -> NuisanceEntryOut:
        return cls(
            position=entry.position,
            caller_number=None if entry.hidden else entry.caller_number,
            hidden=entry.hidden,
        )


class NuisanceListOut(BaseModel):
    number: str
    subscribed: bool
    entries: list[NuisanceEntryOut]

    @classmethod
    def of(cls, found: Number) -> NuisanceListOut:
        return cls(
            number=found.number,
            subscribed=found.subscribes(Service.NUISANCE),
            entries=[
                NuisanceEntryOut.of(e) for e in sorted(found.nuisance, key=lambda e: e.position)
            ],
        )


Position = Annotated[
    int, Path(ge=1, le=validation.MAX_NUISANCE, description="The entry's list position.")
]


@router.get("/numbers/{number}/nuisance", summary="The nuisance list (CALL-2)")
def get_nuisance(number: NumberPath, api: Reader) -> NuisanceListOut:
    with api.read() as session:
        return NuisanceListOut.of(service.get_number(session, number))


@router.post(
    "/numbers/{number}/nuisance",
    status_code=201,
    summary="Add a caller to the nuisance list (CALL-2)",
    description="A caller already listed is 409 ``already_exists``: a retry never doubles it.",
)
def add_nuisance(number: NumberPath, body: NuisanceIn, api: Writer) -> NuisanceEntryOut:
    with api.transaction() as session:
        entry = service.add_nuisance(session, number, body.caller_number, hidden=body.hidden)
        out = NuisanceEntryOut.of(entry)
    return out


@router.delete(
    "/numbers/{number}/nuisance/{position}",
    status_code=204,
    summary="Remove the entry at a list position (CALL-2; the one handle on hidden entries)",
)
def remove_nuisance(number: NumberPath, position: Position, api: Writer) -> Response:
    with api.transaction() as session:
        try:
            service.remove_nuisance(session, number, position=position)
        except NotFound as exc:
            if exc.field == "caller_number":  # the list has no such position
                exc.field = "position"
            raise
    return Response(status_code=204)


def _put_nuisance(session: Session, number: str, body: NuisanceListIn) -> None:
    """The visible entries become ``body``'s callers: the others go, new ones take free slots.

    A caller listed already stays in its slot, so the same body twice stores
    the same rows; hidden entries count towards the 30 and are never touched.
    """
    found = subscribed(session, number, Service.NUISANCE)
    wanted: list[str] = []
    for i, typed in enumerate(body.caller_numbers):
        field = f"caller_numbers.{i}"
        try:
            caller = validation.diallable_number(validation.typed_number(typed), field=field)
        except DomainError as exc:
            exc.field = field
            raise
        if caller in wanted:
            raise AlreadyExists(f"{number}: {caller} is given twice", field=field)
        wanted.append(caller)
    listed = {e.caller_number: e.position for e in found.nuisance if not e.hidden}
    for caller, position in listed.items():
        if caller not in wanted:
            service.remove_nuisance(session, number, position=position)
    for caller in wanted:
        if caller not in listed:
            service.add_nuisance(session, number, caller)


@router.put(
    "/numbers/{number}/nuisance",
    summary="Set the visible callers of the nuisance list (CALL-2); hidden entries are kept",
)
def put_nuisance(number: NumberPath, body: NuisanceListIn, api: Writer) -> NuisanceListOut:
    with api.transaction() as session:
        _put_nuisance(session, number, body)
        session.expire_all()
        out = NuisanceListOut.of(service.get_number(session, number))
    return out


# --- Number Request (CALL-3) --------------------------------------------------------------


class NumberRequestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    enabled: Flag
    # Also refuse payphone callers / callers whose number is unavailable.
    reject_payphone: Flag
    reject_unavailable: Flag


class NumberRequestOut(BaseModel):
    number: str
    subscribed: bool
    enabled: bool
    reject_payphone: bool
    reject_unavailable: bool

    @classmethod
    def of(cls, found: Number) -> NumberRequestOut:
        setting = found.number_request
        return cls(
            number=found.number,
            subscribed=found.subscribes(Service.NUMBER_REQUEST),
            enabled=setting.enabled,
            reject_payphone=setting.reject_payphone,
            reject_unavailable=setting.reject_unavailable,
        )


@router.get("/numbers/{number}/number-request", summary="Number Request (CALL-3)")
def get_number_request(number: NumberPath, api: Reader) -> NumberRequestOut:
    with api.read() as session:
        return NumberRequestOut.of(service.get_number(session, number))


@router.put("/numbers/{number}/number-request", summary="Set Number Request whole (CALL-3)")
def put_number_request(number: NumberPath, body: NumberRequestIn, api: Writer) -> NumberRequestOut:
    with api.transaction() as session:
        service.set_number_request(
            session,
            number,
            enabled=body.enabled,
            reject_payphone=body.reject_payphone,
            reject_unavailable=body.reject_unavailable,
        )
        out = NumberRequestOut.of(service.get_number(session, number))
    return out


# --- Voice Warp (CALL-4) ------------------------------------------------------------------


class VoiceWarpIn(BaseModel):
    """The whole setting; ``destination`` null removes the stored one (then ``enabled`` false)."""

    model_config = ConfigDict(extra="forbid")

    enabled: Flag
    mode: VoiceWarpMode
    destination: str | None = Field(
        max_length=32, description="Digits only: a national number, or 010 + international."
    )
    ring_seconds: Annotated[
        int, Field(strict=True, description="Ring time before no-answer forwarding (5-60).")
    ]


class VoiceWarpOut(BaseModel):
    number: str
    subscribed: bool
    enabled: bool
    mode: VoiceWarpMode
    destination: str | None
    ring_seconds: int

    @classmethod
    def of(cls, found: Number) -> VoiceWarpOut:
        setting = found.voice_warp
        return cls(
            number=found.number,
            subscribed=found.subscribes(Service.VOICE_WARP),
            enabled=setting.enabled,
            mode=setting.mode,
            destination=setting.destination,
            ring_seconds=setting.ring_seconds,
        )


@router.get("/numbers/{number}/voice-warp", summary="Voice Warp (CALL-4)")
def get_voice_warp(number: NumberPath, api: Reader) -> VoiceWarpOut:
    with api.read() as session:
        return VoiceWarpOut.of(service.get_number(session, number))


@router.put("/numbers/{number}/voice-warp", summary="Set Voice Warp whole (CALL-4)")
def put_voice_warp(number: NumberPath, body: VoiceWarpIn, api: Writer) -> VoiceWarpOut:
    with api.transaction() as session:
        service.set_voice_warp(
            session,
            number,
            enabled=body.enabled,
            mode=body.mode,
            destination=body.destination,
            ring_seconds=body.ring_seconds,
            clear_destination=body.destination is None,
        )
        out = VoiceWarpOut.of(service.get_number(session, number))
    return out
