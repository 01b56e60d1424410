"""Calls to a subscriber number (CALL-1 ... CALL-4).

``decide`` is the pure rule: nuisance list, then Number Request, then
Voice Warp, then ring the number's phone. ``RouteCall`` is the AGI side:
it reads the caller from the AGI environment, asks the store, and sets the
channel variables (``dialplan.variables``) that the dialplan acts on.

The fail path: an unknown number, one the domain layer refuses, or a
store that cannot answer sets no ``CHAKUSHIN_ACTION``; the dialplan then
rings the fallback endpoint, so a database problem never drops a call.
``CHAKUSHIN_ROUTE`` says which (``unknown_number``, ``store_unavailable``).
Both leave through the flow's one exit (``agi.flow.FlowBreak``), where a
decided route leaves too: ``run()`` sets the variables in one place.

Issue 15: so that the fail path rings the number's own phone (an endpoint
such as ``PJSIP/reception``) when this AGI cannot be reached, every call to
a number the store knows stores the number's dial string in AstDB
(``dialplan.variables.ASTDB_ENDPOINT``), after the route's variables; a
number the store does not know has its key removed. A store that cannot
answer leaves the key as the last route stored it.

Issue 17: a number with a queue stores its queue (``ASTDB_QUEUE``, which
the fail path reads first) and removes its endpoint key; a number of
devices stores its endpoint and removes its queue key; an unknown number
has both removed. A failed write is logged, never the call's.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from agi.caller import SIP_IDENTITY_HEADERS, Caller, caller_of
from agi.channel import CallerHangup, Channel, ChannelError
from agi.flow import Ending, FlowBreak
from agi.prompts import Prompt
from dialplan import variables as v
from store.errors import DomainError, StoreUnavailable
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
    # Issue 17 (ACTION queue): the Asterisk queue and Queue()'s timeout.
    queue: str = ""
    queue_seconds: int = 0

    def assignments(self) -> tuple[tuple[str, str], ...]:
        """The channel variables of a decided route, ``CHAKUSHIN_ACTION`` last:
        the dialplan acts only on a full set."""
        return (
            (v.DIAL, self.dial),
            (v.RING_SECONDS, str(self.ring_seconds) if self.ring_seconds else ""),
            (v.FORWARD_DIAL, self.forward_dial),
            (v.FORWARD_ON, self.forward_on),
            (v.REFUSAL, self.refusal.value if self.refusal else ""),
            (v.QUEUE, self.queue),
            (v.QUEUE_SECONDS, str(self.queue_seconds) if self.queue_seconds else ""),
            (v.ROUTE, "decided"),
            (v.ACTION, self.action),
        )


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
    """CALL-1: nuisance list -> Number Request -> Voice Warp -> ring (or queue).

    Issue 17: a number with a queue waits in it instead of ringing its
    devices; Voice Warp unconditional still forwards, on no answer the
    queue waits Voice Warp's ring time, on busy a full queue forwards. A
    number's devices (one, or several joined by "&") are dialled as stored.
    """
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
    queue = settings.queue
    # Issue 17: how long the number's devices ring, or its callers wait in the queue.
    own_seconds = (settings.queue_seconds or ring_seconds) if queue else ring_seconds

    def wait(
        reason: str, seconds: int, forward: str = "", forward_on: str = v.FORWARD_NEVER
    ) -> Route:
        """Ring the devices or wait in the queue, then forward per ``forward_on``."""
        if queue:
            return Route(
                v.ACTION_QUEUE,
                reason,
                queue=queue,
                queue_seconds=seconds,
                forward_dial=forward,
                forward_on=forward_on,
            )
        return Route(
            v.ACTION_RING,
            reason,
            dial=endpoint,
            ring_seconds=seconds,
            forward_dial=forward,
            forward_on=forward_on,
        )

    if settings.voice_warp is not None and settings.forward_to is not None:
        forward = dial_string(forward_dial, settings.forward_to)
        if settings.voice_warp is VoiceWarpMode.UNCONDITIONAL:
            return Route(v.ACTION_FORWARD, "voice_warp_unconditional", forward_dial=forward)
        if settings.voice_warp is VoiceWarpMode.NO_ANSWER:
            # The subscriber's ring time replaces the devices' or the queue's own.
            return wait(
                "voice_warp_no_answer",
                settings.forward_ring_seconds,
                forward,
                v.FORWARD_ON_NOANSWER,
            )
        return wait("voice_warp_busy", own_seconds, forward, v.FORWARD_ON_BUSY)
    return wait("queue" if queue else "ring", own_seconds)


class RoutingStore(Protocol):
    """``agi.wiring.SqlRoutingStore``: ``None`` for a number that is not provisioned;
    raises ``StoreUnavailable`` when the database cannot answer and a
    ``DomainError`` when the domain layer refuses the number."""

    def route_incoming_call(self, number: str, caller: Caller) -> RoutingSettings | None: ...


@dataclass(frozen=True)
class FailPath:
    """Issue 15, 17: what the fail path finds in AstDB for ``number``: its queue
    or its dial string (at most one; neither for a number the store does not know)."""

    number: str
    endpoint: str = ""
    queue: str = ""

    def writes(self) -> tuple[tuple[str, str], ...]:
        """(family, value) in order; value "" removes the key."""
        if self.queue:
            return ((v.ASTDB_ENDPOINT, ""), (v.ASTDB_QUEUE, self.queue))
        return ((v.ASTDB_QUEUE, ""), (v.ASTDB_ENDPOINT, self.endpoint))


# An AstDB key is only ever a number (a called number that is not one is never a key).
_NUMBER_KEY = re.compile(r"[0-9]{1,32}")

# The fail paths (no CHAKUSHIN_ACTION): their outcome is CHAKUSHIN_ROUTE's value.
UNKNOWN_NUMBER = Ending("unknown_number")
STORE_UNAVAILABLE = Ending("store_unavailable")


@dataclass
class RouteCall:
    channel: Channel
    store: RoutingStore
    fallback_endpoint: str
    forward_dial: str
    ring_seconds: int
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)
    # call.e164_without_plus: a caller ID 81... is read as +81... (store.caller_number).
    e164_without_plus: bool = False

    def __post_init__(self) -> None:
        env = self.channel.env
        self.subscriber = env.get("agi_arg_1") or env.get("agi_extension", "")
        # CALL-2, CALL-3, MAIL-5, MAIL-9: in the national form, before any rule.
        self.caller = caller_of(env, e164_without_plus=self.e164_without_plus)
        # Issue 15, 17: what to store in AstDB for the fail path (None: leave it alone).
        self.astdb: FailPath | None = None
        # MAIL-9: the withheld number is never logged; the presentation is.
        self.log = structlog.get_logger("agi.call_route").bind(
            call_id=env.get("agi_uniqueid", ""),
            number=self.subscriber,
            presentation=self.caller.presentation.value,
            caller=self.caller.logged,
        )

    def run(self) -> str:
        """Route the call; the one exit sets the variables of the route or of its fail path."""
        try:
            self._read_sip_identity()
            self._set(v.PRESENTATION, self.caller.presentation.value)
            self._set(v.CALLER, self.caller.presented_number)
            route: Route | None = None
            try:
                route = self._decide()
                outcome, assignments = route.action, route.assignments()
            except FlowBreak as stop:
                outcome, assignments = stop.ending.outcome, ((v.ROUTE, stop.ending.outcome),)
            for name, value in assignments:
                self._set(name, value)
            self._store_fail_path()
        except CallerHangup:
            self.log.info("call_route_caller_hangup")
            return "caller_hangup"
        except ChannelError as exc:
            self.log.error("call_route_channel_error", error=str(exc))
            return "channel_error"
        if route is not None:
            self.log.info("call_routed", action=route.action, reason=route.reason)
        return outcome

    def _read_sip_identity(self) -> None:
        """Issue 15 (CALL-3, MAIL-9): over PJSIP, a payphone's cpc in its SIP headers.

        chan_pjsip sets no ANI II, so the headers are read (GET VARIABLE of
        PJSIP_HEADER(read,...), which Asterisk answers only on a PJSIP channel);
        a header Asterisk will not give is read as absent.
        """
        if self.caller.presentation is Presentation.PAYPHONE:
            return
        if self.channel.env.get("agi_type") != "PJSIP":
            return
        headers: list[str] = []
        for name in SIP_IDENTITY_HEADERS:
            try:
                headers.append(self.channel.get_variable(f"PJSIP_HEADER(read,{name})"))
            except ChannelError as exc:
                self.log.warning("call_route_sip_header_unread", header=name, error=str(exc))
                headers.append("")
        caller = caller_of(
            self.channel.env, e164_without_plus=self.e164_without_plus, sip_identity=headers
        )
        if caller != self.caller:
            self.caller = caller
            self.log = self.log.bind(presentation=caller.presentation.value, caller=caller.logged)

    def _decide(self) -> Route:
        """CALL-1 on the number's settings; an unknown number, a refusal or a store
        that cannot answer breaks to the fail path."""
        try:
            settings = self.store.route_incoming_call(self.subscriber, self.caller)
        except StoreUnavailable as exc:
            self.log.error("call_route_fallback", reason="store_unavailable", error=str(exc))
            raise FlowBreak(STORE_UNAVAILABLE) from exc
        except DomainError as exc:
            # A refusal is an answer: this number is not one the store routes.
            # Its code only: the domain layer's message names numbers (MAIL-9).
            self.log.warning("call_route_fallback", reason="refused", code=exc.code)
            self.astdb = FailPath(self.subscriber)
            raise FlowBreak(UNKNOWN_NUMBER) from exc
        if settings is None:
            self.log.warning("call_route_fallback", reason="unknown_number")
            self.astdb = FailPath(self.subscriber)
            raise FlowBreak(UNKNOWN_NUMBER)
        if settings.queue:
            self.astdb = FailPath(settings.number, queue=settings.queue)
        else:
            dial = settings.endpoint or dial_string(self.fallback_endpoint, settings.number)
            self.astdb = FailPath(settings.number, endpoint=dial)
        return decide(
            settings,
            self.caller,
            fallback_endpoint=self.fallback_endpoint,
            forward_dial=self.forward_dial,
            ring_seconds=self.ring_seconds,
        )

    def _store_fail_path(self) -> None:
        """Issue 15, 17: the number's queue or dial string for the fail path, the
        other key removed first; a failure is logged, never the call's: its route
        is set already."""
        if self.astdb is None or not _NUMBER_KEY.fullmatch(self.astdb.number):
            return
        number = self.astdb.number
        for family, value in self.astdb.writes():
            try:
                if value:
                    stored = self.channel.database_put(family, number, value)
                else:
                    self.channel.database_del(family, number)
                    stored = True  # no key to remove is as good
            except ChannelError as exc:
                self.log.warning("call_route_endpoint_not_stored", family=family, error=str(exc))
                continue
            if not stored:
                self.log.warning(
                    "call_route_endpoint_not_stored", family=family, error="astdb refused the write"
                )

    def _set(self, name: str, value: str) -> None:
        self.channel.set_variable(name, value)
