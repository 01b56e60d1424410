"""Issue 17 (CALL-1, CALL-5, MAIL-4, MAIL-9): office calls over a real AMI connection, end to end.

The office recordings (ring groups and queues of a real Asterisk 22, with
chakushin's outcome event put in: chakushin/demo/recordings.py) and two
streams synthesised from them (tests/notifier/traces/, how: each file's
header) reach the running notifier through the loopback AMI server, as
Asterisk would send them; mails arrive at an aiosmtpd server. Each case: one
decision per call whatever its legs, the right outcome, a mail or none as
the conditions say, and who answered in the body. Both databases.
"""

from __future__ import annotations

import email.policy
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
import pytest_asyncio
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from chakushin.demo import recordings as traces
from chakushin.demo.amiserver import encode_frame, event_frames
from notifier import ami
from store import db, service
from store.models import OutboxMail, StoredCall, StoredDecision
from tests.builders import plain_text, until
from tests.notifier.smtp_server import SmtpServer
from tests.notifier.steps import (
    EXPECTED,
    Running,
    call_frames,
    interleaved,
    running_notifier,
    synthesised_events,
)

NUMBER = traces.SUBSCRIBER
BOSS, DESK = "boss@example.jp", "desk@example.jp"
DEVICE, DEVICE_NAME = "Local/answer@phones", "受付"  # the ring group's third phone
MEMBER = "Local/answer@phones/n"  # the queue member that answers (AgentConnect)
# Synthesised streams (tests/notifier/traces/) and the Linkedid of their call.
ALL_BUSY, ALL_BUSY_ID = "ring_group_all_busy", "1796199862.0"
WARP, WARP_ID = "queue_timeout_forwarded", "1796199906.0"
SYNTHESISED = {ALL_BUSY: ALL_BUSY_ID, WARP: WARP_ID}
# name -> (outcome, mailed with no condition, mailed under 応答できなかった着信のみ)
EXPECTED_SYNTHESISED = {ALL_BUSY: ("busy", True, True), WARP: ("forwarded", True, True)}


@pytest.fixture
def office(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The recorded calls' number, two addresses, mail on; the third phone is named 受付."""
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, BOSS)
        service.add_address(s, NUMBER, DESK)
        service.start_mail(s, NUMBER)
        service.name_device(s, DEVICE, DEVICE_NAME)
    return sessions


@pytest_asyncio.fixture
async def running(
    office: sessionmaker[Session], smtp: SmtpServer, db_url: str
) -> AsyncIterator[Running]:
    async with running_notifier(office, smtp, db_url) as notifier:
        yield notifier


@dataclass(frozen=True)
class Stored:
    outcome: str
    answered_by: str | None
    answered_name: str | None
    mailed: bool
    reason: str
    decisions: int  # StoredDecision rows of the call's Linkedid


def stored(sessions: sessionmaker[Session]) -> dict[str, Stored]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(
                StoredCall.linkedid,
                StoredCall.outcome,
                StoredCall.answered_by,
                StoredCall.answered_name,
                StoredDecision.mailed,
                StoredDecision.reason,
            ).join(StoredDecision, StoredDecision.call_id == StoredCall.id)
        ).all()
        counts = s.execute(
            sa.select(StoredCall.linkedid, sa.func.count(StoredDecision.id))
            .join(StoredDecision, StoredDecision.call_id == StoredCall.id)
            .group_by(StoredCall.linkedid)
        ).all()
    per_call = {linkedid: n for linkedid, n in counts}
    return {r[0]: Stored(r[1].value, r[2], r[3], r[4], r[5], per_call[r[0]]) for r in rows}


def outbox_rows(sessions: sessionmaker[Session], linkedid: str) -> int:
    with db.transaction(sessions, read_only=True) as s:
        return int(
            s.scalar(
                sa.select(sa.func.count(OutboxMail.id))
                .join(StoredDecision, OutboxMail.decision_id == StoredDecision.id)
                .join(StoredCall, StoredDecision.call_id == StoredCall.id)
                .where(StoredCall.linkedid == linkedid)
            )
            or 0
        )


def mails_of(running: Running, linkedid: str) -> list[EmailMessage]:
    return [m for m in running.smtp.inbox.messages if str(m["X-Chakushin-Call"]) == linkedid]


def stream_of(name: str) -> tuple[str, list[bytes]]:
    """(Linkedid, event frames) of a recording with chakushin's event, or a synthesised stream."""
    if name in SYNTHESISED:
        return SYNTHESISED[name], synthesised_events(name)
    return traces.linkedid_of(name), event_frames(traces.chakushin_stream(name))


async def unanswered_only(running: Running, on: bool) -> None:
    with db.transaction(running.sessions) as s:
        service.set_conditions(s, NUMBER, unanswered_only=on)


async def play_case(
    running: Running, name: str, *, outcome: str, mailed: bool, result: str, line: str | None
) -> Stored:
    """Play one office call, then a call that is always mailed; check the case's decision and mail.

    The second call (the recorded busy call, renumbered) is decided after the
    first: once its mails are in, a mail the first call should not have had
    would be there too.
    """
    linkedid, frames = stream_of(name)
    after, after_frames = traces.renumbered("busy", 9)
    await running.send(frames)
    await running.send(after_frames)
    expected_mails = 2 * (1 + mailed)
    await running.mails(expected_mails)
    await until(lambda: {linkedid, after} <= set(stored(running.sessions)), "both decided")
    call = stored(running.sessions)[linkedid]
    assert call.decisions == 1
    assert (call.outcome, call.mailed) == (outcome, mailed), call
    mails = mails_of(running, linkedid)
    assert len(running.smtp.inbox.messages) == expected_mails
    if not mailed:
        assert call.reason == "answered"  # MAIL-4: a colleague took the call
        assert mails == [] and outbox_rows(running.sessions, linkedid) == 0
        return call
    assert sorted(str(m["To"]) for m in mails) == [BOSS, DESK]
    for mail in mails:
        body = plain_text(mail)
        assert f"着信結果：{result}\n" in body
        assert str(mail["Subject"]) == f"【着信お知らせメール】{traces.CALLER} からの着信"
        if line is None:
            assert "応答：" not in body
        else:
            assert f"着信結果：{result}\n{line}\n" in body
    return call


CONDITIONS = pytest.mark.parametrize("only_unanswered", [False, True], ids=["all", "unanswered"])


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_ring_group_answered_by_the_third_phone(
    running: Running, only_unanswered: bool
) -> None:
    """Three phones, one Dial: one never answers, one is busy, the third answers."""
    await unanswered_only(running, only_unanswered)
    call = await play_case(
        running,
        "ring_group_answered",
        outcome="answered",
        mailed=not only_unanswered,
        result="応答",
        line=f"応答：{DEVICE_NAME}（{DEVICE}）",
    )
    assert (call.answered_by, call.answered_name) == (DEVICE, None)


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_ring_group_nobody_answers(
    running: Running, only_unanswered: bool
) -> None:
    await unanswered_only(running, only_unanswered)
    call = await play_case(
        running, "ring_group_no_answer", outcome="unanswered", mailed=True, result="不在", line=None
    )
    assert (call.answered_by, call.answered_name) == (None, None)


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_queue_answered(running: Running, only_unanswered: bool) -> None:
    """The queue rings two members; the second answers: AMI's AgentConnect names it."""
    await unanswered_only(running, only_unanswered)
    call = await play_case(
        running,
        "queue_answered",
        outcome="answered",
        mailed=not only_unanswered,
        result="応答",
        line=f"応答：{MEMBER}",
    )
    assert (call.answered_by, call.answered_name) == (MEMBER, None)


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_caller_abandons_in_the_queue(
    running: Running, only_unanswered: bool
) -> None:
    await unanswered_only(running, only_unanswered)
    call = await play_case(
        running,
        "queue_caller_abandons",
        outcome="unanswered",
        mailed=True,
        result="不在",
        line=None,
    )
    assert call.answered_by is None


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_queue_timeout_then_voice_warp(
    running: Running, only_unanswered: bool
) -> None:
    """Queue()'s timeout runs out, Voice Warp forwards, the target answers: 転送, mailed."""
    await unanswered_only(running, only_unanswered)
    call = await play_case(
        running, WARP, outcome="forwarded", mailed=True, result="転送", line=None
    )
    assert call.answered_by is None  # the office did not answer


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_queue_timeout_without_voice_warp(
    running: Running, only_unanswered: bool
) -> None:
    await unanswered_only(running, only_unanswered)
    await play_case(
        running, "queue_timeout", outcome="unanswered", mailed=True, result="不在", line=None
    )


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_all_phones_busy(
    running: Running, only_unanswered: bool
) -> None:
    await unanswered_only(running, only_unanswered)
    call = await play_case(running, ALL_BUSY, outcome="busy", mailed=True, result="話中", line=None)
    assert call.answered_by is None


@CONDITIONS
@pytest.mark.asyncio
async def test_CALL_1_CALL_5_MAIL_4_office_calls_interleaved_with_the_other_recordings(
    running: Running, only_unanswered: bool
) -> None:
    """All sixteen recordings and the two synthesised streams, their frames mixed in one stream."""
    await unanswered_only(running, only_unanswered)
    calls: dict[str, tuple[str, list[bytes]]] = {}  # linkedid -> (name, frames)
    for index, name in enumerate(traces.SCENARIOS):
        linkedid, frames = traces.renumbered(name, index)
        calls[linkedid] = (name, frames)
    for name, linkedid in SYNTHESISED.items():
        calls[linkedid] = (name, synthesised_events(name))
    await running.send(interleaved([frames for _, frames in calls.values()]))

    def want(name: str) -> tuple[str, bool]:
        if name in EXPECTED_SYNTHESISED:
            outcome, plain, only = EXPECTED_SYNTHESISED[name]
            return outcome, (only if only_unanswered else plain)
        return traces.SCENARIOS[name].outcome, EXPECTED[name][only_unanswered]

    mailed = [linkedid for linkedid, (name, _) in calls.items() if want(name)[1]]
    await running.mails(2 * len(mailed))
    await until(lambda: len(stored(running.sessions)) == len(calls), f"{len(calls)} decisions")
    decided = stored(running.sessions)
    assert set(decided) == set(calls)
    for linkedid, (name, _) in calls.items():
        call = decided[linkedid]
        assert call.decisions == 1, name
        assert (call.outcome, call.mailed) == want(name), name
    by_name = {name: linkedid for linkedid, (name, _) in calls.items()}
    assert decided[by_name["ring_group_answered"]].answered_by == DEVICE
    assert decided[by_name["queue_answered"]].answered_by == MEMBER
    inbox = running.smtp.inbox.messages
    assert len(inbox) == 2 * len(mailed)
    assert set(running.smtp.inbox.message_ids().values()) == {1}
    for linkedid, (name, _) in calls.items():
        # Each mailed call once to each of its two addresses; the others not at all.
        expected = 2 if decided[linkedid].mailed else 0
        assert len(mails_of(running, linkedid)) == expected, name
    if not only_unanswered:
        for name, line in (
            ("ring_group_answered", f"応答：{DEVICE_NAME}（{DEVICE}）"),
            ("queue_answered", f"応答：{MEMBER}"),
        ):
            for mail in mails_of(running, by_name[name]):
                assert f"着信結果：応答\n{line}\n" in plain_text(mail)
    for linkedid, (name, _) in calls.items():
        if name not in ("ring_group_answered", "queue_answered"):
            assert all("応答：" not in plain_text(m) for m in mails_of(running, linkedid)), name


@pytest.mark.asyncio
async def test_CALL_5_MAIL_9_AgentConnect_lost_the_dialplans_answer_stands_without_a_member_line(
    running: Running,
) -> None:
    """The dialplan saw the queue call answered; AMI's AgentConnect never came (a reconnect)."""
    linkedid, frames = stream_of("queue_answered")
    without = [f for f in frames if not f.startswith(b"Event: AgentConnect\r\n")]
    assert len(without) == len(frames) - 1
    await running.send(without)
    await running.mails(2)
    await until(lambda: linkedid in stored(running.sessions), "decided")
    call = stored(running.sessions)[linkedid]
    assert (call.outcome, call.answered_by, call.mailed, call.decisions) == (
        "answered",
        None,
        True,
        1,
    )
    for mail in mails_of(running, linkedid):
        body = plain_text(mail)
        assert "着信結果：応答\n" in body and "応答：" not in body


@pytest.mark.asyncio
async def test_MAIL_10_hostile_office_frames_over_ami_never_stop_the_notifier(
    running: Running,
) -> None:
    """Garbled AgentConnect, AnsweredBy, QueueStatus: never a crash, never stored as they came."""
    queue = {"Queue": "office", "DialStatus": ""}
    hostile = [
        *call_frames("hostile.1", Outcome="answered", AnsweredBy="PJSIP/201,Route: x"),
        *call_frames("hostile.2", Outcome="unanswered", **queue, QueueStatus="TIME-OUT"),
    ]
    created, outcome, hung_up = call_frames("hostile.3", Outcome="unanswered", **queue)
    agent = {"Event": "AgentConnect", "Linkedid": "hostile.3", "Queue": "office"}
    members = [
        agent | {"Interface": "Local/x@phones/n;2 \x01", "MemberName": "受付"},
        agent | {"Interface": MEMBER, "MemberName": "受" * 200},
        agent | {"Interface": "PJSIP/999", "MemberName": "second"},  # not the first
    ]
    wire = [encode_frame(f) for f in [*hostile, created, *members, outcome, hung_up]]
    wire.append(b"Event: AgentConnect\r\nLinkedid: hostile.3\r\nInterface: \xff\xfe\r\n\r\n")
    await running.send(wire)
    await running.send(event_frames(traces.chakushin_stream("busy")))
    await running.mails(2 * 3)  # hostile.1, hostile.3 and the busy call; hostile.2 is malformed
    await until(lambda: len(stored(running.sessions)) == 4, "four decisions")
    decided = stored(running.sessions)
    assert (decided["hostile.1"].outcome, decided["hostile.1"].answered_by) == ("answered", None)
    assert (decided["hostile.2"].mailed, decided["hostile.2"].reason) == (
        False,
        ami.MALFORMED_DIAL_STATUS,
    )
    assert (
        decided["hostile.3"].outcome,
        decided["hostile.3"].answered_by,
        decided["hostile.3"].answered_name,
    ) == ("answered", MEMBER, None)
    assert running.service.ami_state.value == "logged_in"
    for mail in mails_of(running, "hostile.3"):
        raw = mail.as_bytes(policy=email.policy.SMTP)
        assert "受" * 41 not in plain_text(mail) and b"\x01" not in raw
        assert f"\n応答：{MEMBER}\n" in plain_text(mail)
