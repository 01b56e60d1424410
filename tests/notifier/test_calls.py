"""Call tracking by Linkedid: any order, duplicates, lost events, bounded memory."""

from __future__ import annotations

import datetime as dt
import itertools

from dialplan import variables
from notifier.calls import CallTracker, _Call
from notifier.model import CallRecord, ChannelCreated, ChannelHungUp, Event, OutcomeReported
from store.models import CallOutcome, Presentation

T = dt.datetime(2026, 11, 22, 9, 0, tzinfo=dt.UTC)
SUB = variables.CONTEXT_SUBSCRIBERS


def outcome(linkedid: str = "L1", result: CallOutcome = CallOutcome.UNANSWERED) -> OutcomeReported:
    return OutcomeReported(
        linkedid,
        "0312345678",
        "0398765432",
        Presentation.ALLOWED,
        T,
        result,
        "NOANSWER",
        "",
        "decided",
    )


def call_events(linkedid: str = "L1") -> list[Event]:
    return [
        ChannelCreated(linkedid, f"{linkedid}.1", SUB, "0312345678"),
        ChannelCreated(linkedid, f"{linkedid}.2", "phones", "s"),
        ChannelHungUp(linkedid, f"{linkedid}.2"),
        outcome(linkedid),
        ChannelHungUp(linkedid, f"{linkedid}.1"),
    ]


def tracker() -> CallTracker:
    return CallTracker(grace=5.0, max_age=600.0, max_calls=100, wall_clock=lambda: T)


def test_CALL_5_a_call_finishes_once_in_any_event_order() -> None:
    for order in itertools.permutations(call_events()):
        t = tracker()
        finished = [r for i, e in enumerate(order) for r in t.feed(e, float(i))]
        finished += t.expire(100.0)
        assert len(finished) == 1, order
        record = finished[0]
        assert (record.linkedid, record.outcome, record.subscriber_number) == (
            "L1",
            CallOutcome.UNANSWERED,
            "0312345678",
        )
        assert len(t) == 0


def test_the_call_finishes_when_the_last_channel_hangs_up_after_the_outcome() -> None:
    t = tracker()
    events = call_events()
    assert [t.feed(e, 0.0) for e in events[:-1]] == [[], [], [], []]
    (record,) = t.feed(events[-1], 0.1)
    assert record.caller_number == "0398765432" and record.started_at == T


def test_duplicates_and_late_events_are_ignored() -> None:
    t = tracker()
    events = call_events()
    finished = [r for e in events + events for r in t.feed(e, 0.0)]
    assert len(finished) == 1
    assert t.feed(ChannelHungUp("L1", "L1.9"), 1.0) == [] and len(t) == 0


def test_outcome_with_a_lost_hangup_finishes_after_the_grace() -> None:
    t = tracker()
    t.feed(ChannelCreated("L1", "L1.1", SUB, "0312345678"), 0.0)
    t.feed(outcome(), 1.0)
    assert t.expire(5.9) == []
    (record,) = t.expire(6.0)
    assert record.outcome is CallOutcome.UNANSWERED


def test_MAIL_10_a_subscriber_call_without_outcome_is_recorded_as_expired() -> None:
    t = tracker()
    t.feed(ChannelCreated("L2", "L2.1", SUB, "0312345678"), 0.0)
    assert t.feed(ChannelHungUp("L2", "L2.1"), 1.0) == []
    assert t.expire(5.0) == []
    (record,) = t.expire(6.0)
    assert (record.outcome, record.subscriber_number, record.caller_number) == (
        CallOutcome.EXPIRED,
        "0312345678",
        "",
    )


def test_calls_elsewhere_on_the_pbx_are_forgotten() -> None:
    t = tracker()
    t.feed(ChannelCreated("L3", "L3.1", "from-internal", "200"), 0.0)
    t.feed(ChannelHungUp("L3", "L3.1"), 1.0)
    assert t.expire(10.0) == [] and len(t) == 0


def test_memory_is_bounded_by_age_and_by_count() -> None:
    t = tracker()
    t.feed(ChannelCreated("old", "old.1", SUB, "0312345678"), 0.0)  # never hangs up
    assert t.expire(599.0) == []
    (expired,) = t.expire(601.0)
    assert expired.outcome is CallOutcome.EXPIRED and len(t) == 0
    for i in range(150):
        t.feed(ChannelCreated(f"c{i}", f"c{i}.1", "from-internal", "200"), float(i))
    assert len(t) == 100


def test_events_without_linkedid_are_ignored() -> None:
    t = tracker()
    assert t.feed(ChannelCreated("", "x"), 0.0) == [] and len(t) == 0


class CountingTracker(CallTracker):
    """Counts how many tracked calls one ``expire`` looks at."""

    looked_at = 0

    def _finish_if_over(self, call: _Call, now: float) -> list[CallRecord]:
        self.looked_at += 1
        return super()._finish_if_over(call, now)


def test_item5_MAIL_10_expire_looks_only_at_calls_whose_deadline_has_come() -> None:
    """120,000 calls that never end used to be scanned every second (16 % of a core)."""
    t = CountingTracker(grace=5.0, max_age=600.0, max_calls=200_000, wall_clock=lambda: T)
    for i in range(10_000):  # ringing: a channel up, no outcome yet
        t.feed(ChannelCreated(f"R{i}", f"R{i}.1", SUB, "0312345678"), 0.0)
    for e in call_events("done"):
        t.feed(e, 1.0)
    t.feed(ChannelCreated("lost-hangup", "lh.1", SUB, "0312345678"), 2.0)
    t.feed(outcome("lost-hangup"), 2.0)  # its Hangup never comes
    t.looked_at = 0
    assert t.expire(3.0) == [] and t.looked_at == 0
    finished = t.expire(7.5)  # the grace of "lost-hangup" is over, nothing else is due
    assert [r.linkedid for r in finished] == ["lost-hangup"]
    assert t.looked_at <= 2
    # The ringing calls still end by age, as before: recorded as expired.
    aged = t.expire(601.0)
    assert len(aged) == 10_000 and {r.outcome for r in aged} == {CallOutcome.EXPIRED}
    assert len(t) == 0
