"""Steps of the notifier's tests that more than one module takes: one call's AMI frames,
the finished calls of a batch, the stored decisions, and what each recorded scenario mails.
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from dialplan import variables
from notifier import ami
from notifier.engine import Notifier
from notifier.model import CallRecord
from store import db, service
from store.models import StoredCall, StoredDecision

NUMBER = "0312345678"
CALLER = "0398765432"
START = "1763800000"

# scenario -> (mailed with no conditions, mailed with unanswered-only)
EXPECTED = {
    "answered": (True, False),
    "no_answer_timeout": (True, True),
    "caller_hangs_up_ringing": (True, True),
    "busy": (True, True),
    "unreachable": (True, True),
    "anonymous_answered": (True, False),
    "anonymous_rejected": (False, False),  # MAIL-6
    "nuisance_rejected": (False, False),  # MAIL-7
    "forwarded_answered": (True, True),  # MAIL-8: forwarded counts as unanswered
    "forward_busy": (False, False),  # MAIL-8: forward failed
    "forward_no_answer": (True, True),
}


def call_frames(linkedid: str, **body: str) -> list[dict[str, str]]:
    """Newchannel, the ChakushinCall event and Hangup of one call, as AMI sends them."""
    event = {
        "Subscriber": NUMBER,
        "Caller": CALLER,
        "Presentation": "allowed",
        "Start": START,
        "Outcome": "unanswered",
        "DialStatus": "NOANSWER",
        "ForwardDialStatus": "",
        "Route": "decided",
    } | body
    return [
        {
            "Event": "Newchannel",
            "Linkedid": linkedid,
            "Uniqueid": linkedid,
            "Context": variables.CONTEXT_SUBSCRIBERS,
            "Exten": event["Subscriber"],
        },
        {"Event": "UserEvent", "UserEvent": variables.EVENT_CALL, "Linkedid": linkedid} | event,
        {"Event": "Hangup", "Linkedid": linkedid, "Uniqueid": linkedid},
    ]


def finished_calls(notifier: Notifier, calls: dict[str, dict[str, str]]) -> list[CallRecord]:
    finished: list[CallRecord] = []
    for linkedid, body in calls.items():
        for frame in call_frames(linkedid, **body):
            event = ami.parse_event(frame)
            if event is not None:
                finished += notifier.handle(event)
    return finished


def stored(sessions: sessionmaker[Session]) -> dict[str, tuple[str, str | None, str, bool, str]]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(
                StoredCall.linkedid,
                StoredCall.subscriber_number,
                StoredCall.caller_number,
                StoredCall.presentation,
                StoredDecision.mailed,
                StoredDecision.reason,
            ).join(StoredDecision)
        ).all()
    return {r[0]: (r[1], r[2], r[3].value, r[4], r[5]) for r in rows}


def one_subscriber(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """NUMBER, one address, the service started."""
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, "boss@example.jp")
        service.start_mail(s, NUMBER)
    return sessions


@pytest.fixture
def subscriber(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    return one_subscriber(sessions)
