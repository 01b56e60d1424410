"""Issue 12, item 1: one call with a value that does not fit never blocks the others (MAIL-10).

On PostgreSQL a dialled number of 25 digits (the ``_0X.`` pattern lets it
through) or a caller ID of 33 characters used to fail the batch insert; the
batch went back in front and every later batch failed with it, forever.
Now every value from AMI is checked before it is stored, a failed batch is
retried call by call, and a call that cannot be stored as it came is
recorded as malformed, with its reason, exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from notifier import ami
from notifier.engine import UNSTORABLE, Notifier
from notifier.mail import Templates
from notifier.model import CallRecord
from store import db, service
from store.models import CallOutcome, OutboxMail, Presentation
from tests.notifier.steps import CALLER, NUMBER, finished_calls, stored
from tests.notifier.steps import subscriber as subscriber  # the fixture: one line, mail on

FROM = "chakushin@example.jp"


def mails(sessions: sessionmaker[Session]) -> int:
    with db.transaction(sessions, read_only=True) as s:
        return s.scalar(sa.select(sa.func.count()).select_from(OutboxMail)) or 0


POISON = {
    "ok.1": {},
    "long-number.2": {"Subscriber": "0" + "3" * 24},  # 25 digits
    "long-caller.3": {"Caller": "0" * 33},
    "control-caller.4": {"Caller": "03\r\n12345678"},
    "bad-status.5": {"DialStatus": "NOANSWER" * 5},
    "ok.6": {},
}


def test_item1_MAIL_10_values_that_do_not_fit_block_no_other_call(
    subscriber: sessionmaker[Session],
) -> None:
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)
    batch = finished_calls(notifier, POISON)
    assert len(batch) == len(POISON)
    notifier.decide(batch)  # one batch, as the decider writes them
    got = stored(subscriber)
    assert set(got) == set(POISON)
    assert got["ok.1"] == (NUMBER, CALLER, "allowed", True, "notify")
    assert got["ok.6"] == (NUMBER, CALLER, "allowed", True, "notify")
    # A dialled number that is no subscriber number: recorded as malformed, not mailed.
    number, _, _, mailed, reason = got["long-number.2"]
    assert (mailed, reason) == (False, ami.MALFORMED_SUBSCRIBER)
    assert len(number) <= 20
    # A caller ID that is no number: the call is real and decided; the number unusable.
    assert got["long-caller.3"] == (NUMBER, None, Presentation.UNAVAILABLE.value, True, "notify")
    assert got["control-caller.4"] == (NUMBER, None, "unavailable", True, "notify")
    assert got["bad-status.5"][3:] == (False, ami.MALFORMED_DIAL_STATUS)
    assert mails(subscriber) == 4
    # Decided exactly once: the same calls again change nothing.
    notifier.decide(batch)
    assert stored(subscriber) == got and mails(subscriber) == 4


def test_item1_MAIL_10_a_failed_batch_is_retried_call_by_call(
    subscriber: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A value the checks let through but the database refuses fails only its call."""
    real = service.record_call_decisions

    def refusing_poison(
        session: Session, decisions: Sequence[service.CallDecision], *, now: object
    ) -> set[str]:
        if any(d.linkedid == "poison.2" and not d.malformed for d in decisions):
            raise sa.exc.DataError("INSERT", {}, Exception("value too long for type"))
        return real(session, decisions, now=now)  # type: ignore[arg-type]

    monkeypatch.setattr(service, "record_call_decisions", refusing_poison)
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)
    notifier.decide(finished_calls(notifier, {"a.1": {}, "poison.2": {}, "b.3": {}}))
    got = stored(subscriber)
    assert got["a.1"][3:] == (True, "notify") and got["b.3"][3:] == (True, "notify")
    assert got["poison.2"] == (NUMBER, None, "unavailable", False, UNSTORABLE)
    assert mails(subscriber) == 2
    assert notifier.counts == {"notify": 2, UNSTORABLE: 1}


def test_item1_MAIL_10_a_database_that_is_down_keeps_the_batch(
    subscriber: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Down is not malformed: nothing is recorded as malformed, the batch is raised to wait."""

    def down(session: Session, decisions: object, *, now: object) -> set[str]:
        raise sa.exc.OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(service, "record_call_decisions", down)
    notifier = Notifier(subscriber, templates=Templates.load(), sender_address=FROM)
    with pytest.raises(sa.exc.OperationalError):
        notifier.decide(finished_calls(notifier, {"a.1": {}}))
    assert stored(subscriber) == {}


def test_item1_MAIL_10_the_longest_id_and_address_fit_the_outbox_key(
    sessions: sessionmaker[Session],
) -> None:
    """A 64-character Linkedid and a 254-character address made a 324-character
    outbox key, which PostgreSQL refused (the column holds 200)."""
    import datetime as dt

    from store import validation

    linkedid = "pbx-" + "9" * 60
    address = "a" * 63 + "@" + ".".join(["b" * 62, "c" * 62, "d" * 61]) + ".jp"
    assert len(linkedid) == 64 and len(address) == 254
    assert validation.mail_address(address) == address
    when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    for _ in range(2):  # the second time: decided before, nothing more queued
        with db.transaction(sessions) as s:
            service.record_call_decision(
                s,
                now=when,
                linkedid=linkedid,
                subscriber_number=NUMBER,
                caller_number=CALLER,
                presentation=Presentation.ALLOWED,
                outcome=CallOutcome.UNANSWERED,
                dial_status="NOANSWER",
                forward_dial_status="",
                started_at=when,
                ended_at=when,
                mailed=True,
                reason="notify",
                mails=[service.QueuedMail(address, "s", "m", "<x@example.jp>")],
            )
    assert mails(sessions) == 1


@pytest.mark.asyncio
async def test_issue12_MAIL_10_a_bug_deciding_one_call_ends_neither_the_notifier_nor_the_others(
    subscriber: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Not the database, a bug (here: the rules raise for one call): that call is left
    out with its error logged, the others are decided, and the decider goes on."""
    from chakushin import bootstrap
    from chakushin import config as config_mod
    from notifier import rules

    real = rules.decide

    def buggy(call: CallRecord, settings: object) -> object:
        if call.linkedid == "bug.2":
            raise RuntimeError("a bug in a rule")
        return real(call, settings)  # type: ignore[arg-type]

    monkeypatch.setattr(rules, "decide", buggy)
    svc = bootstrap.notifier_service(
        config_mod.load(env={"CHAKUSHIN_MAIL_FROM_ADDRESS": FROM}), subscriber, senders=[]
    )
    svc._finish(finished_calls(svc.notifier, {"a.1": {}, "bug.2": {}, "b.3": {}}))
    await svc._decide_pending()  # raised RuntimeError out of the TaskGroup before
    got = stored(subscriber)
    assert got["a.1"][3:] == (True, "notify") and got["b.3"][3:] == (True, "notify")
    assert got["bug.2"][3:] == (False, "decision_error")  # decided once, visibly
    assert svc.notifier.counts["decision_error"] == 1
    assert svc._finished == []  # not retried forever
