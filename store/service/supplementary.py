"""The supplementary services of a number (CALL-2 ... CALL-4).

Which services a number subscribes to, the nuisance list (CALL-2, 迷惑電話
おことわり), Number Request (CALL-3, ナンバー・リクエスト) and Voice Warp
(CALL-4, ボイスワープ).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import structlog
from sqlalchemy.orm import Session

from store import validation
from store.errors import AlreadyExists, NotFound, RuleViolation
from store.models import (
    NuisanceEntry,
    Number,
    NumberRequestSetting,
    Service,
    VoiceWarpMode,
    VoiceWarpSetting,
)
from store.service.lines import free_slot, get_number, subscribed

log = structlog.get_logger("store")

# CALL-4: a Japanese number dialled in international form, 010 (the prefix from
# Japan) or 00 then 81, the national number without its trunk 0 (or with it).
_JAPAN_INTERNATIONAL = re.compile(r"(?:010|00)810?([1-9][0-9]{8,9})")


def set_services(
    session: Session,
    number: str,
    *,
    enable: Iterable[Service] = (),
    disable: Iterable[Service] = (),
) -> Number:
    """Subscribe or unsubscribe services; an unsubscribed service is also switched off."""
    enable, disable = set(enable), set(disable)
    both = enable & disable
    if both:
        raise RuleViolation(
            f"service(s) {', '.join(sorted(both))} both enabled and disabled", field="services"
        )
    found = get_number(session, number, lock=True)
    for service in enable:
        setattr(found, f"{service.value}_subscribed", True)
    for service in disable:
        setattr(found, f"{service.value}_subscribed", False)
    if Service.MAIL in disable:
        found.notification.started = False
    if Service.NUMBER_REQUEST in disable:
        found.number_request.enabled = False
    if Service.VOICE_WARP in disable:
        found.voice_warp.enabled = False
    session.flush()
    log.info(
        "services_set",
        number=number,
        enabled=sorted(s.value for s in enable),
        disabled=sorted(s.value for s in disable),
    )
    return found


# --- supplementary services (CALL-2 ... CALL-4) ------------------------------


def add_nuisance(
    session: Session, number: str, caller_number: str, *, hidden: bool = False
) -> NuisanceEntry:
    """CALL-2: a rejected caller (as typed, issue 14) in the first free of 30 slots.

    A caller is listed at most once visibly and once hidden: only entries of
    the same kind make it "already listed". Issue 16: a visible number that a
    hidden entry holds too is added like any other, never refused; the
    refusal would tell the subscriber a withheld caller's digits.
    """
    caller_number = validation.diallable_number(validation.typed_number(caller_number))
    found = subscribed(session, number, Service.NUISANCE)
    if any(n.caller_number == caller_number and n.hidden == hidden for n in found.nuisance):
        raise AlreadyExists(
            f"{number}: this caller is already on the nuisance list", field="caller_number"
        )
    position = free_slot(
        [n.position for n in found.nuisance],
        validation.MAX_NUISANCE,
        f"{number}: the nuisance list already has {validation.MAX_NUISANCE} entries "
        f"(CALL-2 allows at most {validation.MAX_NUISANCE}); remove one first",
    )
    entry = NuisanceEntry(position=position, caller_number=caller_number, hidden=hidden)
    found.nuisance.append(entry)
    session.flush()
    log.info("nuisance_added", number=number, position=position, hidden=hidden)
    return entry


def remove_nuisance(
    session: Session, number: str, *, caller_number: str | None = None, position: int | None = None
) -> None:
    """Remove by caller number, or by list position (the only handle on hidden entries).

    A caller number names the visible entry only: a hidden entry's digits
    neither remove it nor say it is there (issue 16), as if it were not listed.
    """
    found = subscribed(session, number, Service.NUISANCE)
    if (caller_number is None) == (position is None):
        raise RuleViolation("give either a caller number or a list position", field="caller_number")
    if caller_number is not None:
        caller_number = validation.typed_number(caller_number)
    for entry in found.nuisance:
        if entry.position == position or (
            caller_number is not None and not entry.hidden and entry.caller_number == caller_number
        ):
            found.nuisance.remove(entry)
            session.flush()
            log.info("nuisance_removed", number=number, position=entry.position)
            return
    what = f"position {position}" if position is not None else "this caller"
    raise NotFound(f"{number}: {what} is not on the nuisance list", field="caller_number")


def national_destination(destination: str) -> str:
    """CALL-4: a forwarding destination as the number it reaches in national form.

    ``01081312345678`` and ``0081312345678`` reach ``0312345678``: a number
    forwarded to itself so would ring itself again (issue 16).
    """
    found = _JAPAN_INTERNATIONAL.fullmatch(destination)
    return "0" + found.group(1) if found else destination


def set_number_request(
    session: Session,
    number: str,
    *,
    enabled: bool | None = None,
    reject_payphone: bool | None = None,
    reject_unavailable: bool | None = None,
) -> NumberRequestSetting:
    """CALL-3: Number Request on/off and whether payphone/unavailable are refused too."""
    found = subscribed(session, number, Service.NUMBER_REQUEST)
    setting = found.number_request
    if enabled is not None:
        setting.enabled = enabled
    if reject_payphone is not None:
        setting.reject_payphone = reject_payphone
    if reject_unavailable is not None:
        setting.reject_unavailable = reject_unavailable
    session.flush()
    log.info(
        "number_request_set",
        number=number,
        enabled=setting.enabled,
        reject_payphone=setting.reject_payphone,
        reject_unavailable=setting.reject_unavailable,
    )
    return setting


def set_voice_warp(
    session: Session,
    number: str,
    *,
    enabled: bool | None = None,
    mode: VoiceWarpMode | None = None,
    destination: str | None = None,
    ring_seconds: int | None = None,
    clear_destination: bool = False,
) -> VoiceWarpSetting:
    """CALL-4: forwarding mode, destination, ring time, on/off (on needs a destination).

    ``None`` keeps a value as stored; ``clear_destination`` removes the stored
    destination (the site's form saved off with the field emptied, issue 16).
    """
    if clear_destination and destination is not None:
        raise ValueError("give a destination or clear it, not both")
    if destination is not None:
        validation.diallable_number(destination, field="destination")
    if ring_seconds is not None:
        validation.ring_seconds(ring_seconds)
    found = subscribed(session, number, Service.VOICE_WARP)
    if destination is not None and national_destination(destination) == number:
        raise RuleViolation(
            f"{number}: cannot forward a number to itself",
            code="forward_to_self",
            field="destination",
        )
    setting = found.voice_warp
    new_destination = destination if destination is not None else setting.destination
    if clear_destination:
        new_destination = None
    new_enabled = enabled if enabled is not None else setting.enabled
    if new_enabled and new_destination is None:
        raise RuleViolation(
            f"{number}: set a forwarding destination before switching Voice Warp on",
            code="forward_without_destination",
            field="destination",
        )
    if mode is not None:
        setting.mode = VoiceWarpMode(mode)
    if ring_seconds is not None:
        setting.ring_seconds = ring_seconds
    setting.destination = new_destination
    setting.enabled = new_enabled
    session.flush()
    log.info(
        "voice_warp_set",
        number=number,
        enabled=setting.enabled,
        mode=setting.mode.value,
        ring_seconds=setting.ring_seconds,
    )
    return setting
