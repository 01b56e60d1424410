"""Hostile AMI events (issue 12): every field of every event we read, random and boundary values.

A frame either becomes an event whose every value is checked (fits its
column, printable, the ids of Asterisk's shape) or is refused with
``MalformedEvent``; nothing else is raised. Finished calls made of such
events are decided exactly once on both databases, whatever they carry,
and the next valid call is still mailed.
"""

from __future__ import annotations

import contextlib
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from dialplan import variables
from notifier import ami
from notifier.engine import Notifier
from notifier.mail import Templates
from notifier.model import ChannelCreated, ChannelHungUp, OutcomeReported
from tests.hostile.conftest import hostile_text
from tests.notifier.steps import finished_calls, stored
from tests.notifier.steps import subscriber as subscriber  # the fixture: one line, mail on

BODY_FIELDS = list(variables.EVENT_FIELDS)  # Subscriber, Caller, Presentation, ...
ID_FIELDS = ["Linkedid", "Uniqueid", "Context", "Exten"]
field_values = st.fixed_dictionaries(
    {}, optional={name: hostile_text for name in [*BODY_FIELDS, *ID_FIELDS]}
)


def _check_event(event: object) -> None:
    if isinstance(event, (ChannelCreated, ChannelHungUp)):
        assert ami._ID.fullmatch(event.linkedid) and ami._ID.fullmatch(event.uniqueid)
    if isinstance(event, ChannelCreated):
        assert len(event.exten) <= ami.MAX_DIALPLAN_NAME and event.exten.isprintable()
    if isinstance(event, OutcomeReported):
        assert ami._ID.fullmatch(event.linkedid)
        assert len(event.subscriber_number) <= 20
        assert event.caller_number == "" or ami._CALLER.fullmatch(event.caller_number)
        for text in (event.dial_status, event.forward_dial_status, event.route):
            assert len(text) <= 32 and text.isascii() and text.isprintable()
        assert event.malformed or len(event.subscriber_number) in (10, 11)


@given(kind=st.sampled_from(["Newchannel", "Hangup", "UserEvent"]), fields=field_values)
def test_hostile_ami_frame_is_an_event_that_fits_or_malformed(
    kind: str, fields: dict[str, str]
) -> None:
    frame = {"Event": kind, "UserEvent": variables.EVENT_CALL} | fields
    try:
        event = ami.read_event(frame)
    except ami.MalformedEvent as exc:
        assert exc.event and exc.reason
        return
    _check_event(event)


@given(data=st.binary(max_size=2000))
def test_hostile_ami_bytes_split_into_frames_without_raising(data: bytes) -> None:
    for frame in ami.iter_frames(data):
        with contextlib.suppress(ami.MalformedEvent):
            _check_event(ami.read_event(frame))


_ids = itertools.count()


@settings(max_examples=25)
@given(
    bodies=st.lists(
        st.fixed_dictionaries({}, optional={n: hostile_text for n in BODY_FIELDS}),
        min_size=1,
        max_size=3,
    )
)
def test_hostile_ami_calls_are_decided_once_and_the_next_valid_call_is_mailed(
    subscriber: sessionmaker[Session], bodies: list[dict[str, str]]
) -> None:
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address="c@example.jp")
    n = next(_ids)
    calls = {f"h{n}.{i}": body for i, body in enumerate(bodies)} | {f"ok{n}.1": {}}
    batch = finished_calls(notifier, calls)
    notifier.decide(batch)
    notifier.decide(batch)  # exactly once
    got = stored(subscriber)
    assert got[f"ok{n}.1"][3:] == (True, "notify")
    decided = {r.linkedid for r in batch}
    assert decided <= set(got)
