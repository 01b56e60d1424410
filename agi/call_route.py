"""Calls to a subscriber number (CALL-1 ... CALL-4).

``decide`` is the pure rule: nuisance list, then Number Request, then
Voice Warp, then ring the number's phone. ``RouteCall`` is the AGI side:
it reads the caller from the AGI environment, asks the store, and sets the
channel variables (``dialplan.variables``) that the dialplan acts on.

The fail path: an unknown number or a store that cannot answer sets no
``CHAKUSHIN_ACTION``; the dialplan then rings the fallback endpoint, so a
database problem never drops a call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from agi.caller import Caller, caller_of
from agi.channel import CallerHangup, Channel, ChannelError
from agi.prompts import Prompt
from dialplan import variables as v
from store.models import Presentation, VoiceWarpMode
from store.service import RoutingSettings

REFUSAL_PROMPTS = {
    Presentation.WITHHELD: Prompt.CALL_REJECTED_WITHHELD,
    Presentation.PAYPHONE: Prompt.CALL_REJECTED_PAYPHONE,
    Presentation.UNAVAILABLE: Prompt.CALL_REJECTED_UNAVAILABLE,
}


@dataclass(frozen=True)
class Route:
    """What the dialplan does with the call."""

    action: str  # one of dialplan.variables.ACTIONS
    reason: str
    dial: str = ""
    ring_seconds: int = 0
    forward_dial: str = ""
    forward_on: str = v.FORWARD_NEVER
    refusal: Prompt | None = None


def dial_string(template: str, number: str) -> str:
    return template.replace("{number}", number)


def decide(
    settings: RoutingSettings,
    caller: Caller,
    *,
    fallback_endpoint: str,
    forward_dial: str,
    ring_seconds: int,
) -> Route:
    """CALL-1: nuisance list -> Number Request -> Voice Warp -> ring."""
    if caller.number and caller.number in settings.nuisance_numbers:
        return Route(
            v.ACTION_REJECT_NUISANCE, "nuisance_list", refusal=Prompt.CALL_REJECTED_NUISANCE
        )
    if settings.number_request and (
        caller.presentation is Presentation.WITHHELD
        or (caller.presentation is Presentation.PAYPHONE and settings.reject_payphone)
        or (caller.presentation is Presentation.UNAVAILABLE and settings.reject_unavailable)
    ):
        return Route(
            v.ACTION_REJECT_ANONYMOUS,
            f"number_request_{caller.presentation.value}",
            refusal=REFUSAL_PROMPTS[caller.presentation],
        )
    endpoint = settings.endpoint or dial_string(fallback_endpoint, settings.number)
    if settings.voice_warp is not None and settings.forward_to is not None:
        forward = dial_string(forward_dial, settings.forward_to)
        if settings.voice_warp is VoiceWarpMode.UNCONDITIONAL:
            return Route(v.ACTION_FORWARD, "voice_warp_unconditional", forward_dial=forward)
        if settings.voice_warp is VoiceWarpMode.NO_ANSWER:
            return Route(
                v.ACTION_RING,
                "voice_warp_no_answer",
                dial=endpoint,
                ring_seconds=settings.forward_ring_seconds,
                forward_dial=forward,
                forward_on=v.FORWARD_ON_NOANSWER,
            )
        return Route(
            v.ACTION_RING,
            "voice_warp_busy",
            dial=endpoint,
            ring_seconds=ring_seconds,
            forward_dial=forward,
            forward_on=v.FORWARD_ON_BUSY,
        )
    return Route(v.ACTION_RING, "ring", dial=endpoint, ring_seconds=ring_seconds)


class RoutingStore(Protocol):
    def route_incoming_call(self, number: str, caller: Caller) -> RoutingSettings | None: ...


class StoreUnavailable(RuntimeError):
    pass


@dataclass
class RouteCall:
    channel: Channel
    store: RoutingStore
    fallback_endpoint: str
    forward_dial: str
    ring_seconds: int
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def run(self) -> str:
        env = self.channel.env
        subscriber = env.get("agi_arg_1") or env.get("agi_extension", "")
        caller = caller_of(env)
        # MAIL-9: the withheld number is never logged; the presentation is.
        log = structlog.get_logger("agi.call_route").bind(
            call_id=env.get("agi_uniqueid", ""),
            number=subscriber,
            presentation=caller.presentation.value,
            caller=caller.logged,
        )
        try:
            self._set(v.PRESENTATION, caller.presentation.value)
            self._set(v.CALLER, caller.presented_number)
            try:
                settings = self.store.route_incoming_call(subscriber, caller)
            except StoreUnavailable as exc:
                log.error("call_route_fallback", reason="store_unavailable", error=str(exc))
                self._set(v.ROUTE, "store_unavailable")
                return "store_unavailable"
            if settings is None:
                log.warning("call_route_fallback", reason="unknown_number")
                self._set(v.ROUTE, "unknown_number")
                return "unknown_number"
            route = decide(
                settings,
                caller,
                fallback_endpoint=self.fallback_endpoint,
                forward_dial=self.forward_dial,
                ring_seconds=self.ring_seconds,
            )
            for name, value in (
                (v.DIAL, route.dial),
                (v.RING_SECONDS, str(route.ring_seconds) if route.ring_seconds else ""),
                (v.FORWARD_DIAL, route.forward_dial),
                (v.FORWARD_ON, route.forward_on),
                (v.REFUSAL, route.refusal.value if route.refusal else ""),
                (v.ROUTE, "decided"),
                (v.ACTION, route.action),  # last: the dialplan acts only on a full set
            ):
                self._set(name, value)
            log.info("call_routed", action=route.action, reason=route.reason)
            return route.action
        except CallerHangup:
            log.info("call_route_caller_hangup")
            return "caller_hangup"
        except ChannelError as exc:
            log.error("call_route_channel_error", error=str(exc))
            return "channel_error"

    def _set(self, name: str, value: str) -> None:
        self.channel.set_variable(name, value)
