"""Issue 17 (CALL-1, CALL-5, MAIL-4, MAIL-9, MAIL-10): office calls in the notifier.

Ring groups and queues: the three new fields of chakushin's event (Queue,
QueueStatus, AnsweredBy), Asterisk's AgentConnect for a queue member's answer,
one decision per call, and the mail's 「応答：…」 line. The recordings'
replay over a real AMI connection is in test_office_replay.py.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from email import message_from_string, policy
from email.message import EmailMessage
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from chakushin.demo import recordings as traces
from notifier import ami, mail
from notifier.calls import CallTracker
from notifier.engine import Notifier
from notifier.model import (
    CallRecord,
    ChannelCreated,
    ChannelHungUp,
    MailSettings,
    MemberAnswered,
    OutcomeReported,
)
from store import db, service
from store.models import CallOutcome, OutboxMail, Presentation, StoredCall, StoredDecision
from tests.notifier.steps import NUMBER, call_frames
from tests.notifier.steps import subscriber as subscriber  # the fixture: one line, mail on

OFFICE = [
    "ring_group_answered",
    "ring_group_no_answer",
    "queue_answered",
    "queue_caller_abandons",
    "queue_timeout",
]
DEVICE = "Local/answer@phones"  # the ring group's third phone
MEMBER = "Local/answer@phones/n"  # the queue member that answers
FROM = "chakushin@example.jp"


def events_of(stream: bytes) -> list[object]:
    return [ami.parse_event(frame) for frame in ami.iter_frames(stream)]


def agent_connect(linkedid: str = "1796116877.0", **fields: str) -> dict[str, str]:
    """AgentConnect as app_queue sends it (the recorded frame's fields that matter)."""
    return {
        "Event": "AgentConnect",
        "Privilege": "agent,all",
        "Channel": "Local/0312345678@from-pstn-00000000;2",
        "Uniqueid": "1796116877.1",
        "Linkedid": linkedid,
        "Queue": "office",
        "Interface": MEMBER,
        "MemberName": MEMBER,
        "HoldTime": "1",
        "RingTime": "1",
    } | fields


# --- notifier.ami: the event's new fields and AgentConnect --------------------------------


@pytest.mark.parametrize("name", OFFICE)
def test_CALL_5_each_office_recording_reports_its_queue_and_who_answered(name: str) -> None:
    events = events_of(traces.chakushin_stream(name))
    [reported] = [e for e in events if isinstance(e, OutcomeReported)]
    scenario = traces.SCENARIOS[name]
    assert reported.malformed == ""
    assert reported.outcome is CallOutcome(scenario.outcome)
    assert (reported.queue, reported.queue_status, reported.answered_by) == (
        scenario.queue,
        scenario.queue_status,
        scenario.answered_by,
    )
    created = {e.uniqueid for e in events if isinstance(e, ChannelCreated)}
    hung_up = {e.uniqueid for e in events if isinstance(e, ChannelHungUp)}
    assert created == hung_up


def test_CALL_5_the_recorded_AgentConnect_is_the_member_that_answered() -> None:
    events = events_of(traces.chakushin_stream("queue_answered"))
    # AgentCalled (twice), AgentComplete, QueueCaller* are not the notifier's.
    assert [e for e in events if isinstance(e, MemberAnswered)] == [
        MemberAnswered(traces.linkedid_of("queue_answered"), MEMBER, MEMBER)
    ]


def test_CALL_5_no_AgentConnect_where_nobody_in_a_queue_answered() -> None:
    for name in ("queue_caller_abandons", "queue_timeout", "ring_group_answered"):
        assert not [
            e for e in events_of(traces.chakushin_stream(name)) if isinstance(e, MemberAnswered)
        ]


def test_MAIL_9_a_member_name_of_queues_conf_is_kept_japanese_too() -> None:
    assert ami.parse_event(agent_connect(MemberName=" 受付 ")) == MemberAnswered(
        "1796116877.0", MEMBER, "受付"
    )
    forty = "受" * 40
    assert ami.parse_event(agent_connect(MemberName=forty)) == MemberAnswered(
        "1796116877.0", MEMBER, forty
    )


@pytest.mark.parametrize(
    "name",
    [
        "受" * 41,
        "x" * 200,
        "受付\x07",
        "受付\r\nBcc: x@example.jp",
        "受\u202e付",  # a bidi override: not printable
        "\x00",
    ],
)
def test_issue17_a_member_name_too_long_or_with_controls_is_dropped(name: str) -> None:
    assert ami.parse_event(agent_connect(MemberName=name)) == MemberAnswered(
        "1796116877.0", MEMBER, ""
    )


@pytest.mark.parametrize(
    "interface",
    [
        "",
        "answer@phones",
        "Local/answer@phones/n,Queue: x",
        "PJSIP/2 01",
        "PJSIP/201\x00",
        "PJSIP/" + "2" * 100,
        "漢字/201",
        "/201",
        "PJSIP/",
    ],
)
def test_issue17_an_AgentConnect_with_a_garbled_interface_is_ignored(interface: str) -> None:
    frame = agent_connect(Interface=interface)
    assert ami.parse_event(frame) is None
    with pytest.raises(ami.MalformedEvent):
        ami.read_event(frame)


def test_issue17_an_AgentConnect_without_a_usable_linkedid_is_ignored() -> None:
    assert ami.parse_event(agent_connect(linkedid="")) is None
    assert ami.parse_event(agent_connect(linkedid="a" * 65)) is None


def _reported(**body: str) -> OutcomeReported:
    [event] = [
        e
        for e in (ami.parse_event(f) for f in call_frames("office.1", **body))
        if isinstance(e, OutcomeReported)
    ]
    return event


@pytest.mark.parametrize(
    "answered_by",
    [
        "PJSIP/201,Outcome: unanswered",
        "PJSIP/201\r\nOutcome: unanswered",
        "PJSIP/201\x07",
        "PJSIP/" + "2" * 100,
        "受付",
        "PJSIP/201 PJSIP/202",
    ],
)
def test_issue17_a_garbled_AnsweredBy_is_dropped_and_the_call_decided_as_usual(
    answered_by: str,
) -> None:
    event = _reported(Outcome="answered", DialStatus="ANSWER", AnsweredBy=answered_by)
    assert (event.malformed, event.outcome, event.answered_by) == ("", CallOutcome.ANSWERED, "")


def test_issue17_AnsweredBy_of_a_device_and_of_a_queue_member() -> None:
    assert _reported(Outcome="answered", AnsweredBy="PJSIP/201").answered_by == "PJSIP/201"
    assert _reported(Outcome="answered", AnsweredBy=MEMBER).answered_by == MEMBER


@pytest.mark.parametrize(
    "field",
    [
        {"QueueStatus": "timeout"},
        {"QueueStatus": "TIME OUT"},
        {"QueueStatus": "TIMEOUT\x00"},
        {"QueueStatus": "A" * 17},
        {"QueueStatus": "満杯"},
        {"Queue": "general"},
        {"Queue": "office,Outcome: answered"},
        {"Queue": "q" * 81},
        {"Queue": "off\x00ice"},
        {"Queue": "受付"},
    ],
)
def test_issue17_a_garbled_Queue_or_QueueStatus_makes_the_call_malformed(
    field: dict[str, str],
) -> None:
    event = _reported(Outcome="unanswered", **({"Queue": "office"} | field))
    assert event.malformed == ami.MALFORMED_DIAL_STATUS
    # Never kept as it came: printable ASCII at most, within the column-free lengths.
    for value in (event.queue, event.queue_status):
        assert value.isascii() and value.isprintable() and len(value) <= 80


# --- notifier.calls: one decision per call, the member's answer ---------------------------


def _track(*events: object, tracker: CallTracker | None = None) -> list[CallRecord]:
    tracker = CallTracker() if tracker is None else tracker
    done: list[CallRecord] = []
    for event in events:
        assert event is not None
        done += tracker.feed(event, 0.0)  # type: ignore[arg-type]
    return done


def _queue_call(
    linkedid: str, *, member: MemberAnswered | None = None, **body: str
) -> list[object]:
    frames = call_frames(linkedid, **({"Queue": "office", "DialStatus": ""} | body))
    created, outcome, hung_up = (ami.parse_event(f) for f in frames)
    return [created, *([member] if member else []), outcome, hung_up]


def test_CALL_5_a_queue_call_reported_unanswered_is_answered_when_a_member_answered() -> None:
    member = MemberAnswered("q.1", MEMBER, "受付")
    with capture_logs() as logs:
        [call] = _track(*_queue_call("q.1", member=member, Outcome="unanswered"))
    assert call.outcome is CallOutcome.ANSWERED
    assert (call.answered_by, call.answered_name, call.queue) == (MEMBER, "受付", "office")
    assert [e for e in logs if e["event"] == "queue_answer_from_ami"]


def test_CALL_5_the_first_member_that_answered_is_kept() -> None:
    first, second = MemberAnswered("q.2", MEMBER, ""), MemberAnswered("q.2", "PJSIP/202", "")
    created, outcome, hung_up = _queue_call("q.2", Outcome="answered")
    [call] = _track(created, first, second, outcome, hung_up)
    assert (call.outcome, call.answered_by, call.answered_name) == (
        CallOutcome.ANSWERED,
        MEMBER,
        "",
    )


def test_CALL_5_the_dialplans_AnsweredBy_first_and_a_member_name_equal_to_it_is_no_name() -> None:
    member = MemberAnswered("q.3", MEMBER, MEMBER)
    [call] = _track(*_queue_call("q.3", member=member, Outcome="answered", AnsweredBy=MEMBER))
    assert (call.answered_by, call.answered_name) == (MEMBER, "")


@pytest.mark.parametrize(
    ("body", "outcome"),
    [
        ({"Outcome": "unanswered", "Queue": ""}, CallOutcome.UNANSWERED),  # not a queue call
        ({"Outcome": "busy", "QueueStatus": "FULL"}, CallOutcome.BUSY),
        ({"Outcome": "forwarded", "QueueStatus": "TIMEOUT"}, CallOutcome.FORWARDED),
        ({"Outcome": "forward_failed", "QueueStatus": "TIMEOUT"}, CallOutcome.FORWARD_FAILED),
    ],
)
def test_CALL_5_only_an_unanswered_queue_call_is_upgraded_and_only_answered_calls_say_who(
    body: dict[str, str], outcome: CallOutcome
) -> None:
    member = MemberAnswered("q.4", MEMBER, "受付")
    [call] = _track(*_queue_call("q.4", member=member, **body))
    assert (call.outcome, call.answered_by, call.answered_name) == (outcome, "", "")


def test_CALL_5_an_unanswered_call_never_says_who_answered_even_if_the_event_does() -> None:
    [call] = _track(*_queue_call("q.5", Outcome="unanswered", Queue="", AnsweredBy="PJSIP/201"))
    assert (call.outcome, call.answered_by) == (CallOutcome.UNANSWERED, "")


def test_CALL_5_an_AgentConnect_after_the_call_was_decided_is_ignored() -> None:
    tracker = CallTracker()
    [call] = _track(*_queue_call("q.6", Outcome="unanswered"), tracker=tracker)
    assert call.outcome is CallOutcome.UNANSWERED
    assert tracker.feed(MemberAnswered("q.6", MEMBER, ""), 1.0) == []
    assert len(tracker) == 0


def test_CALL_5_the_recorded_queue_call_reported_unanswered_is_answered_by_AgentConnect() -> None:
    """A dialplan that could not tell (no ABANDONED check): Asterisk's AgentConnect decides."""
    stream = traces.chakushin_stream("queue_answered").replace(
        b"Outcome: answered\r\n", b"Outcome: unanswered\r\n"
    )
    [call] = _track(*(e for e in events_of(stream) if e is not None))
    assert (call.outcome, call.answered_by, call.answered_name) == (
        CallOutcome.ANSWERED,
        MEMBER,
        "",
    )


# --- notifier.mail: 応答：受付（PJSIP/201） -------------------------------------------------


def _answered(answered_by: str = DEVICE, answered_name: str = "", **kw: object) -> CallRecord:
    started = dt.datetime(2026, 11, 21, 9, 4, 5, tzinfo=dt.UTC)
    fields: dict[str, object] = {
        "linkedid": "1796116847.0",
        "subscriber_number": NUMBER,
        "caller_number": "0398765432",
        "presentation": Presentation.ALLOWED,
        "outcome": CallOutcome.ANSWERED,
        "started_at": started,
        "ended_at": started + dt.timedelta(seconds=30),
        "answered_by": answered_by,
        "answered_name": answered_name,
    } | kw
    return CallRecord(**fields)  # type: ignore[arg-type]


SETTINGS = MailSettings(
    number=NUMBER,
    subscribed=True,
    started=True,
    designated_only=False,
    unanswered_only=False,
    addresses=(("boss@example.jp", True),),
    designated=(),
    timezone="Asia/Tokyo",
)


def _body(call: CallRecord, *, label: str = "", templates: mail.Templates | None = None) -> str:
    message = mail.compose(
        call,
        SETTINGS,
        "boss@example.jp",
        sender=FROM,
        templates=templates or mail.Templates.load(),
        device_label=label,
    )
    return _text(message)


def _text(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert isinstance(part, EmailMessage)
    content = part.get_content()
    assert isinstance(content, str)
    return content


@pytest.mark.parametrize(
    ("call", "label", "line"),
    [
        (_answered(DEVICE), "受付", "応答：受付（Local/answer@phones）"),  # the operator's name
        (
            _answered(MEMBER, "営業 花子"),
            "",
            "応答：営業 花子（Local/answer@phones/n）",
        ),  # queues.conf
        (
            _answered(MEMBER, "営業 花子"),
            "受付",
            "応答：受付（Local/answer@phones/n）",
        ),  # the operator's first
        (_answered(MEMBER), "", "応答：Local/answer@phones/n"),
        (_answered("PJSIP/201"), "", "応答：PJSIP/201"),
    ],
)
def test_MAIL_9_the_body_says_who_answered(call: CallRecord, label: str, line: str) -> None:
    body = _body(call, label=label)
    assert f"着信結果：応答\n{line}\n" in body
    assert body.count("応答：") == 1


@pytest.mark.parametrize(
    "call",
    [
        _answered("", ""),
        _answered(DEVICE, "受付", outcome=CallOutcome.UNANSWERED),
        _answered(DEVICE, "受付", outcome=CallOutcome.FORWARDED),
    ],
)
def test_MAIL_9_no_answer_line_unless_someone_answered(call: CallRecord) -> None:
    body = _body(call, label="受付")
    assert "応答：" not in body
    assert "着信結果：" in body


@pytest.mark.parametrize(
    ("label", "name", "line"),
    [
        ("受付\n", "", "応答：Local/answer@phones"),  # a row that bypassed the store's check
        ("受付\u2028", "受付\x1b[31m", "応答：Local/answer@phones"),
        ("", "受付\r\nBcc: x@example.jp", "応答：Local/answer@phones"),
        ("受" * 21, "", "応答：Local/answer@phones"),
    ],
)
def test_MAIL_9_a_name_with_control_characters_never_reaches_the_body(
    label: str, name: str, line: str
) -> None:
    body = _body(_answered(DEVICE, name), label=label)
    assert f"\n{line}\n" in body
    assert not any(c in body for c in "\r\x1b\u2028") and "Bcc" not in body


def test_MAIL_9_an_interface_with_control_characters_gives_no_line() -> None:
    body = _body(_answered("PJSIP/201\n着信結果：不在"), label="受付")
    assert "応答：" not in body and body.count("着信結果：") == 1


def test_MAIL_9_the_subject_is_unchanged_for_an_answered_call() -> None:
    templates = mail.Templates.load()
    message = mail.compose(
        _answered(DEVICE), SETTINGS, "boss@example.jp", sender=FROM, templates=templates
    )
    plain = mail.compose(
        _answered(""), SETTINGS, "boss@example.jp", sender=FROM, templates=templates
    )
    assert (
        str(message["Subject"])
        == str(plain["Subject"])
        == "【着信お知らせメール】0398765432 からの着信"
    )


def test_MAIL_9_an_operator_template_may_place_answered_by_itself(tmp_path: Path) -> None:
    folder = tmp_path
    (folder / "body.txt").write_text("結果 ${result} / 出た人 [${answered_by}]\n", encoding="utf-8")
    templates = mail.Templates.load(folder)
    assert "出た人 [受付（Local/answer@phones）]" in _body(
        _answered(DEVICE), label="受付", templates=templates
    )
    assert "出た人 []" in _body(
        _answered(DEVICE, outcome=CallOutcome.UNANSWERED), templates=templates
    )


def test_MAIL_9_compose_all_gives_the_answer_line_as_compose_does() -> None:
    templates = mail.Templates.load()
    call = _answered(DEVICE)
    [(_, _, text, _)] = mail.compose_all(
        call, SETTINGS, ["boss@example.jp"], sender=FROM, templates=templates, device_label="受付"
    )
    one = mail.compose(
        call, SETTINGS, "boss@example.jp", sender=FROM, templates=templates, device_label="受付"
    )
    assert text == one.as_string()


# --- notifier.engine: who answered is stored; names are read once per batch ---------------


def _answered_calls(notifier: Notifier, count: int) -> list[CallRecord]:
    finished: list[CallRecord] = []
    for i in range(count):
        frames = call_frames(
            f"office.{i}", Outcome="answered", DialStatus="ANSWER", AnsweredBy=f"PJSIP/20{i}"
        )
        for frame in frames:
            event = ami.parse_event(frame)
            assert event is not None
            finished += notifier.handle(event)
    return finished


@pytest.fixture
def label_queries(engine: Engine) -> Iterator[list[str]]:
    seen: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if "device_label" in statement.lower():
            seen.append(statement)

    sa.event.listen(engine, "before_cursor_execute", note)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", note)


def _stored(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str | None, str | None, bool]]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(
                StoredCall.linkedid,
                StoredCall.outcome,
                StoredCall.answered_by,
                StoredCall.answered_name,
                StoredDecision.mailed,
            ).join(StoredDecision)
        ).all()
    return {r[0]: (r[1].value, r[2], r[3], r[4]) for r in rows}


def _bodies(sessions: sessionmaker[Session]) -> dict[str, str]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(StoredCall.linkedid, OutboxMail.body)
            .join(StoredDecision, StoredDecision.call_id == StoredCall.id)
            .join(OutboxMail, OutboxMail.decision_id == StoredDecision.id)
        ).all()
    out = {}
    for linkedid, text in rows:
        message = message_from_string(text, policy=policy.default)
        assert isinstance(message, EmailMessage)
        out[linkedid] = _text(message)
    return out


def test_MAIL_9_names_are_read_once_per_batch_and_who_answered_is_stored(
    subscriber: sessionmaker[Session], label_queries: list[str]
) -> None:
    with db.transaction(subscriber) as s:
        service.name_device(s, "PJSIP/201", "受付")
        service.name_device(s, "PJSIP/202", "経理")
    label_queries.clear()
    notifier = Notifier(subscriber, templates=mail.Templates.load(), sender_address=FROM)
    finished = _answered_calls(notifier, 4)
    assert len(finished) == 4
    notifier.decide(finished)
    assert len(label_queries) == 1
    stored = _stored(subscriber)
    assert stored["office.1"] == ("answered", "PJSIP/201", None, True)
    assert stored["office.3"] == ("answered", "PJSIP/203", None, True)
    bodies = _bodies(subscriber)
    assert "\n応答：受付（PJSIP/201）\n" in bodies["office.1"]
    assert "\n応答：経理（PJSIP/202）\n" in bodies["office.2"]
    assert "\n応答：PJSIP/200\n" in bodies["office.0"]


def test_MAIL_9_no_name_is_read_for_a_batch_nobody_answered(
    subscriber: sessionmaker[Session], label_queries: list[str]
) -> None:
    notifier = Notifier(subscriber, templates=mail.Templates.load(), sender_address=FROM)
    finished: list[CallRecord] = []
    for frame in call_frames("office.9", Outcome="unanswered", AnsweredBy="PJSIP/201"):
        event = ami.parse_event(frame)
        assert event is not None
        finished += notifier.handle(event)
    notifier.decide(finished)
    assert label_queries == []
    assert _stored(subscriber)["office.9"] == ("unanswered", None, None, True)


def test_MAIL_10_names_that_cannot_be_read_do_not_lose_the_decision(
    subscriber: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(session: Session, interfaces: object = None) -> dict[str, str]:
        raise sa.exc.ProgrammingError("SELECT device_label", {}, Exception("no such column"))

    with db.transaction(subscriber) as s:
        service.name_device(s, "PJSIP/201", "受付")
    monkeypatch.setattr(service, "device_labels", broken)
    notifier = Notifier(subscriber, templates=mail.Templates.load(), sender_address=FROM)
    with capture_logs() as logs:
        notifier.decide(_answered_calls(notifier, 2))
    assert _stored(subscriber)["office.1"] == ("answered", "PJSIP/201", None, True)
    assert "\n応答：PJSIP/201\n" in _bodies(subscriber)["office.1"]
    assert [e for e in logs if e["event"] == "device_labels_not_read"]


def test_MAIL_10_hostile_office_values_are_decided_once_and_never_stored_as_they_came(
    subscriber: sessionmaker[Session],
) -> None:
    notifier = Notifier(subscriber, templates=mail.Templates.load(), sender_address=FROM)
    calls = {
        "h.1": {"Outcome": "answered", "AnsweredBy": "PJSIP/201,Outcome: unanswered"},
        "h.2": {"Outcome": "answered", "AnsweredBy": "PJSIP/201\x07"},
        "h.3": {"Outcome": "unanswered", "Queue": "office", "QueueStatus": "TIME\x00OUT"},
        "h.4": {"Outcome": "unanswered", "Queue": "office"},
    }
    hostile_members = {
        "h.4": [
            agent_connect("h.4", Interface="Local/x@phones/n\r\nEvent: Hangup"),
            agent_connect("h.4", MemberName="受付\x1b" + "x" * 200),
        ]
    }
    finished: list[CallRecord] = []
    for linkedid, body in calls.items():
        created, outcome, hung_up = call_frames(linkedid, **body)
        for frame in [created, *hostile_members.get(linkedid, []), outcome, hung_up]:
            event = ami.parse_event(frame)
            if event is not None:
                finished += notifier.handle(event)
    notifier.decide(finished)
    stored = _stored(subscriber)
    assert stored["h.1"] == ("answered", None, None, True)
    assert stored["h.2"] == ("answered", None, None, True)
    assert stored["h.3"][3] is False  # malformed_dial_status: recorded, never mailed
    # The garbled Interface was ignored; the second AgentConnect's name was dropped.
    assert stored["h.4"] == ("answered", MEMBER, None, True)
    with db.transaction(subscriber, read_only=True) as s:
        rows = s.execute(
            sa.select(StoredCall.linkedid, StoredDecision.reason).join(StoredDecision)
        ).all()
    reasons = {linkedid: reason for linkedid, reason in rows}
    assert reasons["h.3"] == ami.MALFORMED_DIAL_STATUS


def test_issue17_CALL_5_a_queue_queues_conf_does_not_define_is_a_warning_for_the_operator(
    subscriber: sessionmaker[Session],
) -> None:
    """QUEUESTATUS=UNKNOWN: app_queue has no such queue, so every call to the number ends
    unanswered; the decision stands (mailed as unanswered) and the log says why."""
    notifier = Notifier(subscriber, templates=mail.Templates.load(), sender_address=FROM)
    finished: list[CallRecord] = []
    frames = call_frames("office.u", Outcome="unanswered", Queue="salse", QueueStatus="UNKNOWN")
    for frame in frames:
        event = ami.parse_event(frame)
        assert event is not None
        finished += notifier.handle(event)
    with capture_logs() as logs:
        notifier.decide(finished)
    assert _stored(subscriber)["office.u"][0] == "unanswered"
    warned = [e for e in logs if e["event"] == "queue_not_defined"]
    assert [(e["call_id"], e["queue"]) for e in warned] == [("office.u", "salse")]
    with capture_logs() as logs:
        notifier.decide(_answered_calls(notifier, 1))
    assert not [e for e in logs if e["event"] == "queue_not_defined"]


def test_MAIL_10_a_name_query_the_database_refuses_leaves_the_batch_whole(
    subscriber: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The names are read in the batch's own read of the settings: a query the database
    itself refuses (not only a Python error, as above) leaves that read usable, and the
    batch is decided and mailed with the interfaces alone.
    Refused: a column that is not there (PostgreSQL's ProgrammingError; SQLite calls it
    an OperationalError, which reads as a database down: the batch would wait), or on
    SQLite two statements at once (its ProgrammingError)."""

    def refused(session: Session, interfaces: object = None) -> dict[str, str]:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("SELECT no_such_column FROM device_label"))
        else:
            session.execute(sa.text("SELECT 1; SELECT 2"))
        return {}

    with db.transaction(subscriber) as s:
        service.name_device(s, "PJSIP/201", "受付")
    monkeypatch.setattr(service, "device_labels", refused)
    notifier = Notifier(subscriber, templates=mail.Templates.load(), sender_address=FROM)
    with capture_logs() as logs:
        notifier.decide(_answered_calls(notifier, 2))
    assert _stored(subscriber)["office.1"] == ("answered", "PJSIP/201", None, True)
    assert "\n応答：PJSIP/201\n" in _bodies(subscriber)["office.1"]
    assert [e for e in logs if e["event"] == "device_labels_not_read"]
