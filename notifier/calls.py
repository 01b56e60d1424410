"""Call tracking: AMI events grouped by Linkedid into finished calls (CALL-5, MAIL-10).

Events of many calls arrive interleaved, out of causal order, sometimes
twice. A call is over when its outcome event has come and every channel
seen has hung up, or ``grace`` seconds after the outcome event even if a
Hangup is missing. A call from the subscribers' context that never reports
an outcome (the event was lost, e.g. during an AMI reconnect) is recorded
as EXPIRED once its channels are gone and ``grace`` has passed; calls
elsewhere on the PBX (no outcome, other contexts) are forgotten. Nothing is
kept longer than ``max_age`` seconds, and at most ``max_calls`` calls are
tracked at once, so memory stays bounded whatever the stream does.

Issue 17: a call is one decision whatever its legs (a ring group's phones,
a queue's members). The first queue member seen answering (AgentConnect) is
kept with the call: it says who answered when the dialplan could not, and
turns a queue call the dialplan reported unanswered into an answered one.
"""

from __future__ import annotations

import datetime as dt
import heapq
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from dialplan import variables
from notifier.model import (
    CallRecord,
    ChannelCreated,
    ChannelHungUp,
    Event,
    MemberAnswered,
    OutcomeReported,
)
from store import validation
from store.models import CallOutcome, Presentation

log = structlog.get_logger("notifier.calls")


@dataclass
class _Call:
    linkedid: str
    first_seen: float
    live: set[str] = field(default_factory=set)
    gone: set[str] = field(default_factory=set)
    subscriber: str = ""  # from a channel in the subscribers' context
    outcome: OutcomeReported | None = None
    outcome_at: float | None = None
    quiet_since: float | None = None  # when the last live channel hung up
    member: MemberAnswered | None = None  # the first queue member that answered


class CallTracker:
    def __init__(
        self,
        *,
        grace: float = 5.0,
        max_age: float = 4 * 3600.0,
        max_calls: int = 100_000,
        wall_clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.grace = grace
        self.max_age = max_age
        self.max_calls = max_calls
        self.wall_clock = wall_clock
        # In the order first seen, which is the order of their max_age deadlines.
        self._calls: OrderedDict[str, _Call] = OrderedDict()
        # (when, linkedid): a call whose grace may be over then. Pushed when an
        # outcome comes or the last channel hangs up; an entry whose call has
        # moved on since is dropped when due. So ``expire`` looks only at the
        # calls whose time has come, not at every call tracked.
        self._deadlines: list[tuple[float, str]] = []
        # Linkedids already finished: late or duplicate events are ignored.
        self._done: OrderedDict[str, None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._calls)

    def feed(self, event: Event, now: float) -> list[CallRecord]:
        """Take one event; return the calls it finished (usually none or one)."""
        if event.linkedid in self._done or not event.linkedid:
            return []
        call = self._calls.get(event.linkedid)
        if call is None:
            call = self._calls[event.linkedid] = _Call(event.linkedid, now)
        if isinstance(event, ChannelCreated):
            if event.uniqueid not in call.gone:
                call.live.add(event.uniqueid)
                call.quiet_since = None
            if event.context == variables.CONTEXT_SUBSCRIBERS and validation.is_subscriber_number(
                event.exten
            ):
                call.subscriber = call.subscriber or event.exten
        elif isinstance(event, ChannelHungUp):
            call.live.discard(event.uniqueid)
            call.gone.add(event.uniqueid)
            if not call.live:
                call.quiet_since = now
                heapq.heappush(self._deadlines, (now + self.grace, call.linkedid))
        elif isinstance(event, MemberAnswered):
            call.member = call.member or event
        elif isinstance(event, OutcomeReported) and call.outcome is None:
            call.outcome = event
            call.outcome_at = now
            heapq.heappush(self._deadlines, (now + self.grace, call.linkedid))
        finished = self._finish_if_over(call, now)
        finished += self._evict_over_capacity(now)
        return finished

    def expire(self, now: float) -> list[CallRecord]:
        """Finish or forget the calls whose time is up; call it every second or so."""
        finished: list[CallRecord] = []
        while self._deadlines and self._deadlines[0][0] <= now:
            _, linkedid = heapq.heappop(self._deadlines)
            call = self._calls.get(linkedid)
            if call is not None:
                finished += self._finish_if_over(call, now)
        while self._calls:
            oldest = next(iter(self._calls.values()))
            if now - oldest.first_seen <= self.max_age:
                break
            finished += self._close(oldest, now, reason="max_age")
        return finished

    def flush_reported(self, now: float) -> list[CallRecord]:
        """At shutdown: finish every call whose outcome has come, without the grace wait.

        Calls without an outcome yet are kept out of the store: if the
        notifier is back in time, it sees their end and decides them then.
        """
        finished: list[CallRecord] = []
        for call in list(self._calls.values()):
            if call.outcome is not None:
                finished += self._close(call, now, reason="shutdown")
        return finished

    def _finish_if_over(self, call: _Call, now: float) -> list[CallRecord]:
        if call.outcome is not None and call.outcome_at is not None:
            if not call.live or now - call.outcome_at >= self.grace:
                return self._close(call, now, reason="complete")
            return []
        if call.quiet_since is not None and now - call.quiet_since >= self.grace:
            return self._close(call, now, reason="no_outcome")
        return []

    def _evict_over_capacity(self, now: float) -> list[CallRecord]:
        finished: list[CallRecord] = []
        while len(self._calls) > self.max_calls:
            oldest = next(iter(self._calls.values()))
            finished += self._close(oldest, now, reason="capacity")
        return finished

    def _close(self, call: _Call, now: float, *, reason: str) -> list[CallRecord]:
        del self._calls[call.linkedid]
        self._done[call.linkedid] = None
        while len(self._done) > self.max_calls:
            self._done.popitem(last=False)
        ended = self.wall_clock()
        if call.outcome is not None:
            o = call.outcome
            outcome, answered_by, answered_name = _who_answered(o, call.member)
            return [
                CallRecord(
                    linkedid=call.linkedid,
                    subscriber_number=o.subscriber_number,
                    caller_number=o.caller_number,
                    presentation=o.presentation,
                    outcome=outcome,
                    started_at=o.started_at,
                    ended_at=ended,
                    dial_status=o.dial_status,
                    forward_dial_status=o.forward_dial_status,
                    route=o.route,
                    malformed=o.malformed,
                    queue=o.queue,
                    queue_status=o.queue_status,
                    answered_by=answered_by,
                    answered_name=answered_name,
                )
            ]
        if call.subscriber:
            log.warning(
                "call_expired", call_id=call.linkedid, number=call.subscriber, reason=reason
            )
            age = dt.timedelta(seconds=max(0.0, now - call.first_seen))
            return [
                CallRecord(
                    linkedid=call.linkedid,
                    subscriber_number=call.subscriber,
                    caller_number="",
                    presentation=Presentation.UNAVAILABLE,
                    outcome=CallOutcome.EXPIRED,
                    started_at=ended - age,
                    ended_at=ended,
                )
            ]
        log.debug("call_forgotten", call_id=call.linkedid, reason=reason)
        return []


def _who_answered(
    reported: OutcomeReported, member: MemberAnswered | None
) -> tuple[CallOutcome, str, str]:
    """Issue 17 (CALL-5, MAIL-9): the call's outcome, who answered and their member name.

    The dialplan's outcome, except for a queue call it reported unanswered
    while Asterisk saw a member answer (AgentConnect): that call was answered.
    Who answered is the dialplan's AnsweredBy, else the member's interface;
    the member's name only when it is not that interface itself. Both are
    "" unless the call ended answered.
    """
    outcome = reported.outcome
    if (
        member is not None
        and reported.queue
        and outcome is CallOutcome.UNANSWERED
        and not reported.malformed
    ):
        log.info(
            "queue_answer_from_ami",
            call_id=reported.linkedid,
            number=reported.subscriber_number,
            interface=member.interface,
        )
        outcome = CallOutcome.ANSWERED
    if outcome is not CallOutcome.ANSWERED or reported.malformed:
        return outcome, "", ""
    answered_by = reported.answered_by or (member.interface if member is not None else "")
    name = ""
    if member is not None and member.interface == answered_by and member.member_name != answered_by:
        name = member.member_name
    return outcome, answered_by, name
