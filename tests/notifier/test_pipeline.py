"""The recorded calls through parsing, tracking, rules, outbox and SMTP (MAIL-1 ... MAIL-10).

Each recorded stream of ../shared/ami-traces/ (as packaged in
chakushin/demo/traces/, with chakushin's outcome event: see
chakushin/demo/recordings.py) is parsed frame by frame and fed to the
notifier; the decision is stored, and the delivery worker hands the mails
to a real SMTP server on loopback. The AMI-over-TCP path is in
test_replay.py.
"""

from __future__ import annotations

import datetime as dt
import email.policy
from email.message import EmailMessage

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from chakushin.demo import recordings as traces
from notifier import ami
from notifier.engine import Notifier
from notifier.mail import Templates
from notifier.outbox import DeliveryWorker, SmtpSender, SmtpSettings
from store import db, service
from store.models import StoredCall, StoredDecision
from tests.builders import plain_text
from tests.notifier.smtp_server import SmtpServer
from tests.notifier.steps import EXPECTED

NUMBER = traces.SUBSCRIBER
BOSS, DESK = "boss@example.jp", "desk@example.jp"
FROM = "chakushin@example.jp"


@pytest.fixture
def subscriber(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, BOSS)
        service.add_address(s, NUMBER, DESK)
        service.add_address(s, NUMBER, "off@example.jp", send=False)
        service.start_mail(s, NUMBER)
    return sessions


def play(notifier: Notifier, name: str) -> None:
    finished = []
    for frame in ami.iter_frames(traces.chakushin_stream(name)):
        event = ami.parse_event(frame)
        if event is not None:
            finished += notifier.handle(event)
    assert len(finished) == 1, name
    notifier.decide(finished)


def decisions(sessions: sessionmaker[Session]) -> dict[str, tuple[bool, str]]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(StoredCall.linkedid, StoredDecision.mailed, StoredDecision.reason).join(
                StoredDecision
            )
        ).all()
    return {linkedid: (mailed, reason) for linkedid, mailed, reason in rows}


@pytest.mark.parametrize("unanswered_only", [False, True])
@pytest.mark.asyncio
async def test_MAIL_every_recorded_call_is_decided_and_mailed_as_the_rules_say(
    subscriber: sessionmaker[Session], smtp: SmtpServer, unanswered_only: bool
) -> None:
    with db.transaction(subscriber) as s:
        service.set_conditions(s, NUMBER, unanswered_only=unanswered_only)
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)
    for name in traces.SCENARIOS:
        play(notifier, name)
    decided = decisions(subscriber)
    expected_mailed = {n for n, want in EXPECTED.items() if want[unanswered_only]}
    assert len(decided) == len(traces.SCENARIOS)
    for name in traces.SCENARIOS:
        mailed, reason = decided[traces.linkedid_of(name)]
        assert mailed == (name in expected_mailed), (name, reason)

    worker = DeliveryWorker(subscriber, [SmtpSender(SmtpSettings("127.0.0.1", smtp.port))], FROM)
    while await worker.run_once():
        pass
    await worker.close()
    received = smtp.inbox.messages
    assert len(received) == 2 * len(expected_mailed)
    assert sorted({str(m["To"]) for m in received}) == [BOSS, DESK]  # send flag off: no mail
    assert set(smtp.inbox.message_ids().values()) == {1}
    by_call: dict[str, list[EmailMessage]] = {}
    for m in received:
        by_call.setdefault(str(m["X-Chakushin-Call"]), []).append(m)
    for name in expected_mailed:
        (first, second) = by_call[traces.linkedid_of(name)]
        assert {str(first["To"]), str(second["To"])} == {BOSS, DESK}
        body = plain_text(first)
        assert str(first["Subject"]).startswith("【着信お知らせメール】")
        start = (
            dt.datetime.fromtimestamp(traces.START, dt.UTC)
            .astimezone(dt.timezone(dt.timedelta(hours=9)))
            .strftime("%Y/%m/%d %H:%M:%S")
        )
        assert start in body and NUMBER in body
        if traces.SCENARIOS[name].presentation == "withheld":
            assert "非通知" in str(first["Subject"]) and "非通知" in body
            # A withheld number appears nowhere in the mail (MAIL-9).
            raw = first.as_bytes(policy=email.policy.SMTP)
            assert traces.CALLER.encode() not in raw
            assert traces.CALLER not in body and traces.CALLER not in str(first["Subject"])
        else:
            assert traces.CALLER in str(first["Subject"]) and traces.CALLER in body


def test_MAIL_10_a_replayed_call_is_not_decided_twice(subscriber: sessionmaker[Session]) -> None:
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)
    play(notifier, "no_answer_timeout")
    again = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)  # a restart
    play(again, "no_answer_timeout")
    with db.transaction(subscriber, read_only=True) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StoredDecision)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(StoredCall)) == 1


def test_MAIL_10_each_decision_is_stored_with_its_reason_and_rule(
    subscriber: sessionmaker[Session],
) -> None:
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)
    for name in ("nuisance_rejected", "anonymous_rejected", "forward_busy", "busy"):
        play(notifier, name)
    with db.transaction(subscriber, read_only=True) as s:
        rows = s.execute(
            sa.select(
                StoredCall.linkedid,
                StoredDecision.reason,
                StoredDecision.rule,
                StoredDecision.recipients,
            ).join(StoredDecision)
        ).all()
    got = {linkedid: (reason, rule, recipients) for linkedid, reason, rule, recipients in rows}
    assert got[traces.linkedid_of("nuisance_rejected")] == ("nuisance_list", "MAIL-7", [])
    assert got[traces.linkedid_of("anonymous_rejected")] == ("number_request", "MAIL-6", [])
    assert got[traces.linkedid_of("forward_busy")] == ("forward_failed", "MAIL-8", [])
    assert got[traces.linkedid_of("busy")] == ("notify", "MAIL-4", [BOSS, DESK])


def test_MAIL_1_stopped_service_and_unknown_numbers_are_decided_without_mail(
    subscriber: sessionmaker[Session],
) -> None:
    with db.transaction(subscriber) as s:
        service.stop_mail(s, NUMBER)
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)
    play(notifier, "busy")
    assert decisions(subscriber)[traces.linkedid_of("busy")] == (False, "service_stopped")
