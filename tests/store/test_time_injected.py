"""Time is injected (issue 12): no column a rule compares takes the wall clock.

The delivery worker, the site and the IVR compare stored times with the
clock they are given. A column filled from ``datetime.now()`` by default
would mix two clocks: a test on a fixed date (or a node whose clock is
injected) would see mails a year old, or not yet due. These tests hold the
models and the notifier's writer to that.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.models import (
    Base,
    CallOutcome,
    OutboxMail,
    Presentation,
    StoredCall,
    StoredDecision,
    UTCDateTime,
)

# Informational stamps that no rule reads: when a line, a number or a
# nuisance entry was provisioned. Everything else is stamped by its writer.
INFORMATIONAL = {("line", "created_at"), ("number", "created_at"), ("nuisance_entry", "added_at")}

# Far from today in both directions, so that a wall-clock default shows.
PAST = dt.datetime(2001, 2, 3, 4, 5, 6, tzinfo=dt.UTC)


def test_issue12_no_compared_datetime_column_has_a_wall_clock_default() -> None:
    defaulted = sorted(
        (table.name, column.name)
        for table in Base.metadata.sorted_tables
        for column in table.columns
        if isinstance(column.type, UTCDateTime)
        and (column.default is not None or column.server_default is not None)
        and (table.name, column.name) not in INFORMATIONAL
    )
    assert defaulted == []


@pytest.mark.parametrize("when", [PAST, PAST.replace(year=2099)])
def test_issue12_MAIL_10_record_call_decisions_stamps_with_the_given_clock(
    sessions: sessionmaker[Session], when: dt.datetime
) -> None:
    with db.transaction(sessions) as s:
        service.record_call_decision(
            s,
            now=when,
            linkedid="t.1",
            subscriber_number="0312345678",
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=when - dt.timedelta(seconds=30),
            ended_at=when - dt.timedelta(seconds=1),
            mailed=True,
            reason="notify",
            mails=[service.QueuedMail("a@example.jp", "s", "m", "<t.1@example.jp>")],
        )
    with db.transaction(sessions, read_only=True) as s:
        record = s.scalars(sa.select(StoredCall)).one()
        decision = s.scalars(sa.select(StoredDecision)).one()
        mail = s.scalars(sa.select(OutboxMail)).one()
        assert record.recorded_at == when
        assert decision.decided_at == when
        assert mail.created_at == when
        # Due as soon as it is queued, by the same clock.
        assert mail.next_attempt_at == when
