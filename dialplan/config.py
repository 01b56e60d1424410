"""The call and IVR settings the dialplan and the voice flows share: ``[ivr]`` and ``[call]``.

Parsed and checked by ``chakushin.config``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IvrConfig:
    # IVR-1: the temporary-password access numbers (the carrier's two).
    access_numbers: tuple[str, ...] = ("0363044747", "0664806430")
    # IVR-8: seconds to wait for the caller's digits before it counts as an error.
    input_timeout_seconds: int = 10
    # Directory of the prompts under Asterisk's sounds directory.
    sounds_dir: str = "chakushin"


@dataclass(frozen=True)
class CallConfig:
    # Dial string for a subscriber number without an endpoint, and for every
    # call the routing AGI cannot decide (CALL-1 fail path); {number} is the
    # subscriber number.
    fallback_endpoint: str = "PJSIP/{number}"
    # Dial string of a Voice Warp destination (CALL-4); {number} is the destination.
    forward_dial: str = "PJSIP/{number}@pstn"
    # Seconds a subscriber's phone rings (Voice Warp no-answer has its own).
    ring_seconds: int = 30
    # CALL-2: dialled from a subscriber's phone, then 2: add the last caller
    # to the nuisance list (the carrier's code).
    nuisance_feature_code: str = "144"
    # CALL-2, CALL-3, MAIL-5, MAIL-9: a caller ID of 81 and a Japanese number
    # (E.164 without its +, as some trunks send it) is read as +81, i.e. in the
    # national form 0...; +81... and 0081... always are (store.caller_number).
    # Issue 15: so is a called number 81... in the trunk context (+81..., 0081...
    # always are).
    e164_without_plus: bool = False
