"""What the routing of an incoming call needs of the store (CALL-1 ... CALL-4).

``route_incoming_call`` reads a number's routing settings and records the
call as its last one; ``add_last_caller_to_nuisance`` is the nuisance
feature code (CALL-2) that lists that last caller.
"""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, joinedload, selectinload

from store import validation
from store.errors import InvalidInput, LimitExceeded
from store.models import Number, Presentation, Service, VoiceWarpMode
from store.service.lines import subscribed
from store.service.supplementary import add_nuisance


@dataclass(frozen=True)
class RoutingSettings:
    """What the routing decision needs of a subscriber number (only services it has)."""

    number: str
    endpoint: str | None
    # Issue 17: the queue the number's calls wait in instead (None: its devices),
    # and Queue()'s timeout (None: call.ring_seconds).
    queue: str | None
    queue_seconds: int | None
    nuisance_numbers: frozenset[str]
    number_request: bool
    reject_payphone: bool
    reject_unavailable: bool
    voice_warp: VoiceWarpMode | None  # None: off or not subscribed
    forward_to: str | None
    forward_ring_seconds: int


def route_incoming_call(
    session: Session,
    number: str,
    *,
    caller_number: str,
    presentation: Presentation,
    now: dt.datetime,
) -> RoutingSettings | None:
    """The number's routing settings; records the call as its last one (CALL-2).

    ``None`` for a number that is not provisioned.
    """
    # Issue 18: the number and every setting the decision reads in two queries (it was
    # one per setting); only the number's row is locked, as before.
    found = session.scalars(
        select(Number)
        .where(Number.number == number)
        .options(
            joinedload(Number.number_request),
            joinedload(Number.voice_warp),
            selectinload(Number.nuisance),
        )
        .with_for_update(of=Number)
    ).one_or_none()
    if found is None:
        return None
    found.last_caller_number = caller_number or None
    found.last_caller_presentation = presentation
    found.last_call_at = now
    session.flush()
    nr, vw = found.number_request, found.voice_warp
    nr_on = found.number_request_subscribed and nr.enabled
    vw_on = found.voice_warp_subscribed and vw.enabled and vw.destination is not None
    return RoutingSettings(
        number=found.number,
        endpoint=found.endpoint,
        queue=found.queue,
        queue_seconds=found.queue_seconds,
        nuisance_numbers=frozenset(e.caller_number for e in found.nuisance)
        if found.nuisance_subscribed
        else frozenset(),
        number_request=nr_on,
        reject_payphone=nr_on and nr.reject_payphone,
        reject_unavailable=nr_on and nr.reject_unavailable,
        voice_warp=vw.mode if vw_on else None,
        forward_to=vw.destination if vw_on else None,
        forward_ring_seconds=vw.ring_seconds,
    )


class LastCallerResult(enum.StrEnum):
    ADDED = "added"
    ADDED_HIDDEN = "added_hidden"
    ALREADY_LISTED = "already_listed"
    LIST_FULL = "list_full"
    NO_LAST_CALL = "no_last_call"
    NO_NUMBER = "no_number"


def add_last_caller_to_nuisance(
    session: Session, number: str
) -> tuple[LastCallerResult, str | None]:
    """CALL-2 feature code: put the number's last caller on its nuisance list.

    A caller who withheld the number is listed hidden: refused like any
    other, never shown. Returns the result and the number to read back
    (only when it was presented).
    """
    found = subscribed(session, number, Service.NUISANCE)
    if found.last_call_at is None:
        return LastCallerResult.NO_LAST_CALL, None
    caller = found.last_caller_number
    if caller is None:
        return LastCallerResult.NO_NUMBER, None
    try:
        validation.diallable_number(caller)
    except InvalidInput:
        return LastCallerResult.NO_NUMBER, None
    hidden = found.last_caller_presentation is not Presentation.ALLOWED
    # Only an entry of the same kind is "already listed" (issue 16): a withheld
    # caller whose digits the subscriber typed is listed hidden too, in the same
    # words as any withheld caller; saying "already listed" would name them.
    if any(e.caller_number == caller and e.hidden == hidden for e in found.nuisance):
        return LastCallerResult.ALREADY_LISTED, None
    try:
        add_nuisance(session, number, caller, hidden=hidden)
    except LimitExceeded:
        return LastCallerResult.LIST_FULL, None
    if hidden:
        return LastCallerResult.ADDED_HIDDEN, None
    return LastCallerResult.ADDED, caller
