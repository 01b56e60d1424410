"""AMI frames to notifier events (notifier.ami), and the client over real TCP (notifier.amiclient).

The parse tests run on the recorded Asterisk 22 streams and on hand-made
frames. The client tests talk to ``AmiServer`` on loopback, one test per
fault found in panoramisk 1.4 (see notifier/amiclient.py), each waiting on
conditions with a bound, never sleeping a fixed time to synchronise.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import warnings
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import pytest
import pytest_asyncio
from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]

from chakushin.demo import recordings as traces
from chakushin.demo.amiserver import (
    AmiServer,
    Changes,
    encode_frame,
    event_frames,
    load_trace,
    split_frames,
    split_inside,
    trace_names,
)
from dialplan import variables
from notifier import ami
from notifier.amiclient import (
    AmiClient,
    AmiConnectionError,
    AmiProtocol,
    AmiState,
    AmiTimeoutError,
    UnsafeAmiValue,
    _Action,
)
from notifier.model import ChannelCreated, ChannelHungUp, Event, MemberAnswered, OutcomeReported
from store.models import CallOutcome, Presentation

TRACES = trace_names()
needs_traces = pytest.mark.skipif(not TRACES, reason=f"no recorded streams in {traces.TRACES}")
YAMADA = "山田太郎"


def outcome_fields(**changes: str) -> dict[str, str]:
    """UserEvent(ChakushinCall) as Asterisk sends it (README), with ``changes``."""
    fields = {
        "Event": "UserEvent",
        "Privilege": "user,all",
        "Channel": "PJSIP/trunk-00000024",
        "CallerIDNum": "0398765432",
        "AccountCode": "",
        "Uniqueid": "1795303015.36",
        "Linkedid": "1795303015.36",
        "UserEvent": "ChakushinCall",
        "Subscriber": "0312345678",
        "Caller": "0398765432",
        "Presentation": "allowed",
        "Start": "1795303015",
        "Outcome": "forwarded",
        "DialStatus": "NOANSWER",
        "ForwardDialStatus": "ANSWER",
        # Issue 15: read only to tell a failed forward (tests/notifier/test_forward_cause.py).
        "ForwardCause": "",
        "ForwardRingTime": "",
        "Route": "decided",
        # Issue 17: a ring, so no queue; who answered is only a line of the mail.
        "Queue": "",
        "QueueStatus": "",
        "AnsweredBy": "",
    }
    fields.update(changes)
    return fields


# --- iter_frames / parse_event on the recorded streams ------------------------------------


@needs_traces
@pytest.mark.parametrize("name", TRACES)
def test_every_frame_of_every_trace_parses(name: str) -> None:
    data = load_trace(name)
    frames = list(ami.iter_frames(data))
    assert len(frames) == len(split_frames(data))
    assert "Asterisk Call Manager/11.0.0" not in str(frames[0])
    for frame in frames:
        event = ami.read_event(frame)  # raises on a frame of ours it cannot read
        kind = frame.get("Event")
        if kind == "Newchannel":
            assert event == ChannelCreated(
                frame["Linkedid"], frame["Uniqueid"], frame["Context"], frame["Exten"]
            )
        elif kind == "Hangup":
            assert event == ChannelHungUp(frame["Linkedid"], frame["Uniqueid"])
        elif kind == "AgentConnect":  # issue 17: a queue member answered
            assert event == MemberAnswered(
                frame["Linkedid"], frame["Interface"], frame["MemberName"]
            )
        else:
            # Responses, the reference dialplan's UserEvent(TestCallOutcome),
            # and every other event are not the notifier's.
            assert event is None, frame


@needs_traces
def test_trace_frames_keep_empty_values_and_every_header() -> None:
    first_newchannel = next(
        f for f in ami.iter_frames(load_trace("answered")) if f.get("Event") == "Newchannel"
    )
    assert first_newchannel["AccountCode"] == ""
    assert first_newchannel["CallerIDNum"] == "<unknown>"
    assert first_newchannel["Channel"] == "Local/0312345678@from-pstn-00000002;1"
    assert first_newchannel["Linkedid"] == first_newchannel["Uniqueid"] == "1795302946.4"
    assert len(first_newchannel) == 16


@needs_traces
@pytest.mark.parametrize("name", sorted(traces.SCENARIOS))
def test_CALL5_outcome_event_of_each_recorded_call(name: str) -> None:
    events = [ami.read_event(f) for f in ami.iter_frames(traces.chakushin_stream(name))]
    [reported] = [e for e in events if isinstance(e, OutcomeReported)]
    scenario = traces.SCENARIOS[name]
    assert reported.linkedid == traces.linkedid_of(name)
    assert reported.subscriber_number == traces.SUBSCRIBER
    assert reported.outcome == CallOutcome(scenario.outcome)
    assert reported.presentation == Presentation(scenario.presentation)
    withheld = scenario.presentation != "allowed"
    assert reported.caller_number == ("" if withheld else traces.CALLER)
    assert reported.started_at == dt.datetime.fromtimestamp(traces.START, dt.UTC)
    assert (reported.dial_status, reported.forward_dial_status) == (
        scenario.dial_status,
        scenario.forward_dial_status,
    )
    created = {e.uniqueid for e in events if isinstance(e, ChannelCreated)}
    hung_up = {e.uniqueid for e in events if isinstance(e, ChannelHungUp)}
    assert created == hung_up and len(created) >= 2


# --- parse_event on hand-made frames -------------------------------------------------------


def test_CALL5_outcome_reported_with_every_field() -> None:
    assert ami.parse_event(outcome_fields()) == OutcomeReported(
        linkedid="1795303015.36",
        subscriber_number="0312345678",
        caller_number="0398765432",
        presentation=Presentation.ALLOWED,
        started_at=dt.datetime(2026, 11, 21, 23, 16, 55, tzinfo=dt.UTC),
        outcome=CallOutcome.FORWARDED,
        dial_status="NOANSWER",
        forward_dial_status="ANSWER",
        route="decided",
    )


def test_CALL5_reads_every_field_the_dialplan_sends() -> None:
    assert set(outcome_fields()) >= set(variables.EVENT_FIELDS)
    # Each body field reaches the event: change one, see it change.
    base = ami.parse_event(outcome_fields())
    for field, changed in {
        "Subscriber": "0312345679",
        "Caller": "0311112222",
        "Start": "1795303016",
        "Outcome": "busy",
        "DialStatus": "BUSY",
        "ForwardDialStatus": "",
        "Route": "agi_failed",
        "Presentation": "payphone",
        "Queue": "office",
        "QueueStatus": "TIMEOUT",
        "AnsweredBy": "PJSIP/201",
    }.items():
        assert ami.parse_event(outcome_fields(**{field: changed})) != base, field


def test_CALL5_empty_caller_is_an_empty_number() -> None:
    event = ami.parse_event(outcome_fields(Caller="", Presentation="unavailable"))
    assert isinstance(event, OutcomeReported)
    assert event.caller_number == ""
    assert event.presentation is Presentation.UNAVAILABLE


def test_CALL5_missing_optional_fields_are_empty() -> None:
    fields = outcome_fields()
    for name in ("Caller", "DialStatus", "ForwardDialStatus", "Route"):
        del fields[name]
    event = ami.parse_event(fields)
    assert isinstance(event, OutcomeReported)
    assert (event.caller_number, event.dial_status, event.forward_dial_status, event.route) == (
        "",
        "",
        "",
        "",
    )


@pytest.mark.parametrize("presentation", ["withheld", "payphone", "unavailable"])
def test_CALL5_a_number_that_was_not_presented_never_gets_through(presentation: str) -> None:
    # The dialplan leaves Caller empty then; should a number come anyway,
    # it is dropped here, before anything could show it.
    event = ami.parse_event(outcome_fields(Presentation=presentation, Caller="0398765432"))
    assert isinstance(event, OutcomeReported)
    assert event.caller_number == ""
    assert event.presentation == Presentation(presentation)


def test_start_is_aware_utc_and_may_carry_a_fraction() -> None:
    event = ami.parse_event(outcome_fields(Start=" 1795303015.5 "))
    assert isinstance(event, OutcomeReported)
    assert event.started_at.tzinfo is dt.UTC
    assert event.started_at.timestamp() == 1795303015.5


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"Linkedid": ""}, "Linkedid missing"),
        ({"Subscriber": "  "}, "Subscriber missing"),
        ({"Presentation": "hidden"}, "Presentation 'hidden' unknown"),
        ({"Presentation": ""}, "Presentation '' unknown"),
        ({"Outcome": "expired"}, "Outcome 'expired' unknown"),  # the notifier's, not the dialplan's
        ({"Outcome": "ANSWERED"}, "Outcome 'ANSWERED' unknown"),
        ({"Start": ""}, "not Unix seconds"),
        ({"Start": "soon"}, "not Unix seconds"),
        ({"Start": "-1"}, "not Unix seconds"),
        ({"Start": "1e9"}, "not Unix seconds"),
        ({"Start": "9" * 13}, "not Unix seconds"),
        ({"Start": "999999999999"}, "out of range"),
    ],
)
def test_garbled_outcome_event_is_dropped_with_a_reason(
    changes: dict[str, str], reason: str
) -> None:
    fields = outcome_fields(**changes)
    assert ami.parse_event(fields) is None
    with pytest.raises(ami.MalformedEvent, match=reason) as raised:
        ami.read_event(fields)
    assert isinstance(raised.value, ValueError)
    assert raised.value.event == variables.EVENT_CALL


@pytest.mark.parametrize(
    "fields",
    [
        {"Event": "Newchannel", "Uniqueid": "1.1"},
        {"Event": "Newchannel", "Linkedid": "1.1", "Uniqueid": ""},
        {"Event": "Hangup", "Linkedid": " ", "Uniqueid": "1.1"},
        {"Event": "Hangup", "Linkedid": ["1.1", "1.2"], "Uniqueid": "1.1"},
        {"Event": "UserEvent", "UserEvent": ["ChakushinCall", "Other"]},
    ],
)
def test_garbled_channel_events_are_dropped(fields: Mapping[str, Any]) -> None:
    assert ami.parse_event(fields) is None
    with pytest.raises(ami.MalformedEvent):
        ami.read_event(fields)


@pytest.mark.parametrize(
    "fields",
    [
        {},
        {"Response": "Success", "ActionID": "1", "Message": "Authentication accepted"},
        {"Event": "UserEvent", "UserEvent": "TestCallOutcome", "Linkedid": "1.1"},
        {"Event": "UserEvent", "UserEvent": "chakushincall-not", "Linkedid": "1.1"},
        {"Event": "Cdr", "Linkedid": "1.1", "Disposition": "ANSWERED"},
        {"Event": "newchannel", "Linkedid": "1.1", "Uniqueid": "1.1"},
        {"Event": ["Newchannel", "Hangup"], "Linkedid": "1.1", "Uniqueid": "1.1"},
    ],
)
def test_frames_that_are_not_ours_give_none(fields: Mapping[str, Any]) -> None:
    assert ami.read_event(fields) is None


def test_panoramisk_message_is_read_like_a_dict() -> None:
    from panoramisk.message import Message  # type: ignore[import-untyped]

    text = encode_frame(outcome_fields()).decode().strip()
    assert ami.parse_event(Message.from_line(text)) == ami.parse_event(outcome_fields())


def test_iter_frames_on_odd_streams() -> None:
    data = (
        b"Asterisk Call Manager/9.0.0\r\n"
        b"Event: Newchannel\r\nLinkedid: 1.1\r\nUniqueid: 1.2\r\nAccountCode: \r\nEmpty:\r\n\r\n"
        b"\r\n\r\n"  # blank frames
        b"no colon here\r\n: no name\r\n\r\n"
        b"Event: Hangup\nLinkedid: 1.1\nUniqueid: 1.2\n\n"  # bare LF
        b"Event: Newchannel\r\nCallerIDName: \xe5\xb1\xb1\xff\r\n\r\n"  # not UTF-8
        b"Event: Hangup\r\nLinkedid: 1.1"  # cut off
    )
    frames = list(ami.iter_frames(data))
    assert frames == [
        {
            "Event": "Newchannel",
            "Linkedid": "1.1",
            "Uniqueid": "1.2",
            "AccountCode": "",
            "Empty": "",
        },
        {"Event": "Hangup", "Linkedid": "1.1", "Uniqueid": "1.2"},
        {"Event": "Newchannel", "CallerIDName": "山\ufffd"},
        {"Event": "Hangup", "Linkedid": "1.1"},
    ]


def test_random_bytes_never_raise() -> None:
    rng = random.Random(20261122)
    for _ in range(200):
        data = rng.randbytes(rng.randrange(0, 600))
        for frame in ami.iter_frames(data + b"\r\nEvent: UserEvent\r\nUserEvent: ChakushinCall"):
            ami.parse_event(frame)


# --- the client over TCP ---------------------------------------------------------------------


class Recorder:
    """What the client handed out, with a way to wait for it."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.states: list[AmiState] = []
        self.frames: list[Mapping[str, Any]] = []
        self.changes = Changes()

    def on_event(self, event: Event) -> None:
        self.events.append(event)
        self.changes.notify()

    def on_state(self, state: AmiState) -> None:
        self.states.append(state)
        self.changes.notify()

    def on_frame(self, frame: Mapping[str, Any]) -> None:
        self.frames.append(dict(frame))
        self.changes.notify()

    def count(self, state: AmiState) -> int:
        return self.states.count(state)

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        await self.changes.wait_for(predicate, within)


@pytest_asyncio.fixture
async def server() -> AsyncIterator[AmiServer]:
    async with AmiServer() as running:
        yield running


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest_asyncio.fixture
async def make_client(
    server: AmiServer, recorder: Recorder
) -> AsyncIterator[Callable[..., AmiClient]]:
    """Clients of ``server`` reporting to ``recorder``; closed after the test."""
    made: list[AmiClient] = []

    def make(secret: str = server.secret, **options: Any) -> AmiClient:
        settings: dict[str, Any] = {
            "on_event": recorder.on_event,
            "on_state": recorder.on_state,
            "on_frame": recorder.on_frame,
            "ping_interval": 30.0,
            "action_timeout": 2.0,
            "connect_timeout": 2.0,
            "reconnect_min": 0.02,
            "reconnect_max": 0.05,
            "rng": random.Random(1),
        }
        settings.update(options)
        client = AmiClient(
            "127.0.0.1",
            server.port,
            server.username,
            secret,
            **settings,
        )
        made.append(client)
        return client

    yield make
    for client in made:
        await client.close()


async def logged_in(
    make_client: Callable[..., AmiClient], recorder: Recorder, **options: Any
) -> AmiClient:
    client = make_client(**options)
    await client.start()
    await recorder.wait_for(lambda: client.state is AmiState.LOGGED_IN)
    return client


def expected_events(frames: list[bytes]) -> list[Event]:
    parsed = (ami.parse_event(f) for f in ami.iter_frames(b"".join(frames)))
    return [e for e in parsed if e is not None]


@needs_traces
@pytest.mark.asyncio
async def test_logs_in_and_delivers_the_events_of_a_recorded_call(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    client = await logged_in(make_client, recorder)
    assert server.actions[0]["Action"] == "Login"
    assert server.actions[0]["Username"] == server.username
    assert recorder.states[:3] == [AmiState.CONNECTING, AmiState.CONNECTED, AmiState.LOGGED_IN]
    frames = event_frames(traces.chakushin_stream("anonymous_answered"))
    want = expected_events(frames)
    await server.send(b"".join(frames))
    await recorder.wait_for(lambda: len(recorder.events) == len(want))
    assert recorder.events == want
    assert sum(isinstance(e, OutcomeReported) for e in want) == 1
    response = await client.send_action({"Action": "Ping"})
    assert response["Ping"] == "Pong"


@pytest.mark.asyncio
async def test_fix_c_character_split_across_tcp_chunks_arrives_intact(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    await logged_in(make_client, recorder)
    frame = encode_frame(outcome_fields(CallerIDName=YAMADA))
    chunks = split_inside(frame, YAMADA.encode())
    assert len(chunks) == 12  # 11 cuts: inside each character and between them
    await server.send(chunks, pause=0.005)
    await recorder.wait_for(lambda: len(recorder.events) == 1)
    assert recorder.frames[-1]["CallerIDName"] == YAMADA
    assert recorder.events == [ami.parse_event(outcome_fields())]


class Dispatched:
    """Stands in for the Manager: keeps what the protocol dispatches."""

    def __init__(self) -> None:
        self.messages: list[Mapping[str, str]] = []

    def dispatch(self, message: Mapping[str, str]) -> None:
        self.messages.append(message)


@pytest.mark.asyncio
async def test_fix_c_incremental_decoding_at_protocol_level() -> None:
    """The fault itself, without sockets: panoramisk drops 山 when it is split; ours keeps it."""
    frame = encode_frame({"Event": "Newchannel", "CallerIDName": YAMADA})
    cut = frame.index(YAMADA.encode()) + 1  # inside 山
    names = {}
    for label, protocol_class in (("panoramisk", AMIProtocol), ("ours", AmiProtocol)):
        protocol = protocol_class()
        protocol.connection_made(asyncio.Transport())  # nothing is written here
        protocol.factory = Dispatched()
        protocol.encoding = "utf-8"
        for chunk in (b"Asterisk Call Manager/9.0.0\r\n", frame[:cut], frame[cut:]):
            protocol.data_received(chunk)
        [message] = protocol.factory.messages
        names[label] = message["CallerIDName"]
    assert names == {"panoramisk": "田太郎", "ours": YAMADA}


@pytest.mark.asyncio
async def test_fix_a_silent_server_triggers_a_reconnect_within_the_watchdog_time(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    ping_interval = ping_timeout = 0.2
    await logged_in(make_client, recorder, ping_interval=ping_interval, ping_timeout=ping_timeout)
    loop = asyncio.get_running_loop()
    server.go_silent()
    silent_since = loop.time()
    # A watchdog tick, an unanswered ping, the backoff delay, the new login.
    await server.wait_until(lambda: server.logins == 2, within=3.0)
    assert loop.time() - silent_since < ping_interval + ping_timeout + 0.05 + 0.5
    assert server.open_connections == 1  # the client dropped the silent one itself
    assert server.connections == 2
    assert recorder.count(AmiState.DISCONNECTED) == 1
    await recorder.wait_for(lambda: recorder.count(AmiState.LOGGED_IN) == 2)


@pytest.mark.asyncio
async def test_fix_a_action_without_an_answer_times_out(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    client = await logged_in(make_client, recorder)
    assert (await client.send_action({"Action": "Ping"}, response_timeout=0.5))["Ping"] == "Pong"
    server.go_silent()
    loop = asyncio.get_running_loop()
    asked_at = loop.time()
    async with asyncio.timeout(2.0):  # the test's own bound, should the action hang
        with pytest.raises(TimeoutError) as raised:
            await client.send_action({"Action": "Ping"}, response_timeout=0.2)
    assert isinstance(raised.value, AmiTimeoutError)
    assert 0.2 <= loop.time() - asked_at < 1.0
    # One late answer does not cost the connection; the watchdog decides that.
    assert client.state is AmiState.LOGGED_IN
    assert server.connections == 1


@pytest.mark.asyncio
async def test_fix_b_close_right_after_a_connection_loss_stops_reconnecting(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    delay = 0.1
    client = await logged_in(make_client, recorder, reconnect_min=delay, reconnect_max=delay)
    await server.drop()
    # The reconnect is now pending (the state says so before the client waits).
    await recorder.wait_for(lambda: AmiState.RECONNECTING in recorder.states)
    await client.close()
    assert client.state is AmiState.CLOSED
    # Were the reconnect still pending it would connect within `delay`; give
    # it ten times that to show up, and expect it not to.
    with pytest.raises(TimeoutError):
        await server.wait_until(lambda: server.connections > 1, within=10 * delay)
    assert server.connections == 1
    assert recorder.states[-1] is AmiState.CLOSED
    with pytest.raises(RuntimeError):
        await client.start()


@needs_traces
@pytest.mark.asyncio
async def test_reconnects_after_the_server_closes_mid_stream_and_comes_back(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    await logged_in(make_client, recorder)
    frames = event_frames(traces.chakushin_stream("forwarded_answered"))
    half = len(frames) // 2
    first, second = expected_events(frames[:half]), expected_events(frames[half:])
    await server.send(b"".join(frames[:half]))
    await recorder.wait_for(lambda: len(recorder.events) == len(first))
    await server.stop()
    # While the server is away, connecting fails and the client keeps trying.
    await recorder.wait_for(lambda: recorder.count(AmiState.RECONNECTING) >= 3)
    await server.start()
    await server.wait_until(lambda: server.logins == 2)
    await recorder.wait_for(lambda: recorder.count(AmiState.LOGGED_IN) == 2)
    await server.send(b"".join(frames[half:]))
    await recorder.wait_for(lambda: len(recorder.events) == len(first) + len(second))
    assert recorder.events == first + second
    assert any(isinstance(e, OutcomeReported) for e in second)


@pytest.mark.asyncio
async def test_random_bytes_and_malformed_frames_do_not_stop_the_client(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    client = await logged_in(make_client, recorder)
    garbage = [
        random.Random(5038).randbytes(4096) + b"\r\n\r\n",
        b"\xff\xfe\x00 no colon\r\n\r\n",
        b"Event: Newchannel\r\nUniqueid: 1.1\r\n\r\n",  # no Linkedid
        b"Event: Hangup\r\nEvent: Hangup\r\nLinkedid: 1.1\r\nUniqueid: 1.1\r\n\r\n",  # repeated
        encode_frame(outcome_fields(Start="soon")),
        encode_frame(outcome_fields(Outcome="won")),
        b"Response: Success\r\nActionID: nobody-asked\r\n\r\n",
        b"Response: Follows\r\n\r\n",
    ]
    await server.send(garbage)
    good = encode_frame({"Event": "Newchannel", "Linkedid": "9.1", "Uniqueid": "9.2"})
    await server.send(good)
    await recorder.wait_for(lambda: len(recorder.events) == 1)
    assert recorder.events == [ChannelCreated("9.1", "9.2")]
    assert server.connections == 1 and client.state is AmiState.LOGGED_IN


@pytest.mark.asyncio
async def test_a_frame_that_breaks_panoramisk_costs_only_itself() -> None:
    """Without sockets: a repeated Event header makes AMIProtocol raise out of
    data_received (asyncio then drops the connection); ours skips the frame."""
    bad = b"Event: Hangup\r\nEvent: Hangup\r\nLinkedid: 1.1\r\nUniqueid: 1.1\r\n\r\n"
    good = encode_frame({"Event": "Newchannel", "Linkedid": "1.1", "Uniqueid": "1.2"})
    for protocol_class in (AMIProtocol, AmiProtocol):
        protocol = protocol_class()
        protocol.connection_made(asyncio.Transport())
        protocol.factory = Dispatched()
        protocol.data_received(b"Asterisk Call Manager/9.0.0\r\n")
        if protocol_class is AMIProtocol:
            with pytest.raises(AttributeError):
                protocol.data_received(bad + good)
        else:
            protocol.data_received(bad + good)
            assert [m["Uniqueid"] for m in protocol.factory.messages] == ["1.2"]


@pytest.mark.asyncio
async def test_a_failing_event_handler_does_not_stop_the_client(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    def on_event(event: Event) -> None:
        recorder.on_event(event)
        if isinstance(event, ChannelCreated):
            raise RuntimeError("handler bug")

    await logged_in(make_client, recorder, on_event=on_event)
    frames = [
        encode_frame({"Event": "Newchannel", "Linkedid": "9.1", "Uniqueid": "9.1"}),
        encode_frame({"Event": "Hangup", "Linkedid": "9.1", "Uniqueid": "9.1"}),
    ]
    await server.send(b"".join(frames))
    await recorder.wait_for(lambda: len(recorder.events) == 2)
    assert recorder.events == [ChannelCreated("9.1", "9.1"), ChannelHungUp("9.1", "9.1")]
    assert server.connections == 1


@pytest.mark.asyncio
async def test_refused_login_is_retried_with_growing_delays(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    client = make_client(secret="wrong", reconnect_min=0.01, reconnect_max=0.08)
    await client.start()
    await recorder.wait_for(lambda: recorder.count(AmiState.LOGIN_FAILED) >= 4)
    assert server.logins == 0
    assert AmiState.LOGGED_IN not in recorder.states
    with pytest.raises(AmiConnectionError):
        await client.send_action({"Action": "Ping"})
    delays = [client._backoff(n) for n in range(8)]
    assert all(0.005 <= d <= 0.08 for d in delays)
    assert delays[0] < 0.011 and delays[-1] >= 0.04


@pytest.mark.asyncio
async def test_action_values_cannot_inject_headers(
    server: AmiServer, recorder: Recorder, make_client: Callable[..., AmiClient]
) -> None:
    client = await logged_in(make_client, recorder)
    with pytest.raises(UnsafeAmiValue):
        await client.send_action({"Action": "Ping\r\nAction: Originate"})
    assert [a["Action"] for a in server.actions] == ["Login"]


def test_fix_d_actions_need_a_running_loop() -> None:
    # panoramisk's Action() would bind to get_event_loop() here (deprecated).
    with pytest.raises(RuntimeError):
        _Action({"Action": "Ping"})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        # Making a client does no loop work; start() does, inside the loop.
        AmiClient("127.0.0.1", 5038, "u", "s", on_event=lambda event: None)


@pytest.mark.asyncio
async def test_fix_d_actions_are_bound_to_the_running_loop() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        action = _Action({"Action": "Ping"})
    assert action.future.get_loop() is asyncio.get_running_loop()
