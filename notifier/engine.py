"""Finished calls -> one decision each -> composed mails in the outbox (MAIL-10).

``Notifier`` is plain synchronous code so that tests drive it directly:
``handle`` feeds the tracker, ``decide`` takes a batch of finished calls and
writes, in one transaction, each call's record, its decision with reason
and rule, and one outbox row per recipient. A call already decided (a
replay after a restart) is skipped: decisions happen exactly once.

Issue 17 (MAIL-9): the names operators gave the devices and queue members
that answered the batch's calls are read in one query per batch; if they
cannot be read, the mails say the interface alone and the decisions stand.

Issue 19 (BOOK-2, CHAT-1): the phonebook names of the batch's presented
callers are read the same way (a failure: the mails name no caller). A call
that is mailed gets one chat/webhook notice per destination whose send flag
is on, built from the same name, device name and time as its mail (they
agree), queued beside the mails; a call that gets no mail gets none.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from notifier import ami, chat, mail, rules
from notifier.calls import CallTracker
from notifier.model import (
    CallRecord,
    ChatTarget,
    Decision,
    Event,
    MailSettings,
    OutcomeReported,
)
from store import caller_number, db, labels, service
from store.destinations import KIND_NAMES
from store.models import CallOutcome, ChatKind, Number, Presentation

log = structlog.get_logger("notifier")


def mail_settings(number: Number) -> MailSettings:
    n = number.notification
    return MailSettings(
        number=number.number,
        subscribed=number.mail_subscribed,
        started=n.started,
        designated_only=n.designated_only,
        unanswered_only=n.unanswered_only,
        addresses=tuple((a.address, a.send) for a in number.addresses),
        designated=tuple((d.caller_number, d.designated) for d in number.designated),
        timezone=number.timezone,
        destinations=tuple(
            ChatTarget(d.id, ChatKind(d.kind), d.label, d.send)
            for d in sorted(number.destinations, key=lambda d: d.position)
        ),
    )


@dataclass(frozen=True)
class Decided:
    call: CallRecord
    decision: Decision
    queued: int  # mails queued (recipients whose mail could be composed)
    new: bool  # False: the call had been decided before
    chats: int = 0  # chat/webhook notices queued (issue 19)


class Notifier:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        templates: mail.Templates,
        sender_address: str,
        tracker: CallTracker | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
        e164_without_plus: bool = False,
    ) -> None:
        self.sessions = sessions
        # call.e164_without_plus: a presented 81... is read as +81... (the forms
        # that need no setting, +81 and 0081, notifier.ami reads already).
        self.e164_without_plus = e164_without_plus
        self.templates = templates
        self.sender_address = sender_address
        # The wall clock that stamps calls, decisions and mails: the delivery
        # worker compares those stamps with its own clock, so both are one.
        self.clock = clock
        self.tracker = tracker or CallTracker(wall_clock=clock)
        self.monotonic = monotonic
        self.counts: dict[str, int] = {}  # decisions by reason
        self.mails_queued = 0
        self.chats_queued = 0

    def handle(self, event: Event) -> list[CallRecord]:
        if (
            self.e164_without_plus
            and isinstance(event, OutcomeReported)
            and event.presentation is Presentation.ALLOWED
        ):
            national = caller_number.national_form(event.caller_number, e164_without_plus=True)
            event = dataclasses.replace(event, caller_number=national)
        return self.tracker.feed(event, self.monotonic())

    def expire(self) -> list[CallRecord]:
        return self.tracker.expire(self.monotonic())

    def flush(self) -> list[CallRecord]:
        return self.tracker.flush_reported(self.monotonic())

    def decide(self, calls: Sequence[CallRecord]) -> list[Decided]:
        """Decide a batch of finished calls and queue their mails.

        Three steps keep SQLite's write lock short: read every number's
        settings at once; apply the rules and compose the mails outside any
        transaction; write all records, decisions and outbox rows in one.
        """
        if not calls:
            return []
        with db.transaction(self.sessions, read_only=True) as session:
            numbers = service.load_numbers(session, {c.subscriber_number for c in calls})
            settings = {n: mail_settings(number) for n, number in numbers.items()}
            already = service.decided_linkedids(session, (c.linkedid for c in calls))
            todo = [call for call in calls if call.linkedid not in already]
            names = self._device_labels(session, todo)
            callers = self._caller_names(session, todo)
        decided_at = self.clock()
        prepared = [
            self._prepare_safely(
                call,
                settings.get(call.subscriber_number),
                names.get(call.answered_by, ""),
                callers.get((call.subscriber_number, call.caller_number), ""),
                decided_at=decided_at,
            )
            for call in todo
        ]
        try:
            with db.transaction(self.sessions) as session:
                written = service.record_call_decisions(
                    session, [row for _, row in prepared], now=self.clock()
                )
        except SQLAlchemyError as exc:
            if db.unavailable(exc):
                raise  # the database is down or locked: the whole batch waits
            # One call the checks let through still does not fit: find it,
            # write the others (issue 12: one bad call never blocks the rest).
            log.warning("decision_batch_failed", calls=len(prepared), error=db.first_line(exc))
            written = set()
            for index, (_, row) in enumerate(prepared):
                stored = self._record_alone(row)
                if stored is None:
                    continue
                written.add(row.linkedid)
                if stored is not row:
                    prepared[index] = (Decision(False, stored.reason, stored.rule), stored)
        results = [
            Decided(call, decision, len(row.mails), call.linkedid in written, _queued_chats(row))
            for call, (decision, row) in zip(todo, prepared, strict=True)
        ]
        for result in results:
            if result.new:
                self._log(result)
        return results

    def _device_labels(self, session: Session, calls: Sequence[CallRecord]) -> dict[str, str]:
        """Issue 17 (MAIL-9): interface -> the operator's name, for the answered calls of a batch.

        One query, in the batch's read of the settings, and none when nobody
        answered. A database that is down raises (the batch waits, as for the
        settings); any other failure is logged and the mails name the
        interface alone: the decisions stand. The savepoint rolls such a
        failure back alone, so that on PostgreSQL the read it is part of stays
        usable for whatever follows it.
        """
        interfaces = {
            c.answered_by for c in calls if c.answered_by and c.outcome is CallOutcome.ANSWERED
        }
        if not interfaces:
            return {}
        try:
            with session.begin_nested():
                return service.device_labels(session, interfaces)
        except SQLAlchemyError as exc:
            if db.unavailable(exc):
                raise
            log.error("device_labels_not_read", calls=len(calls), error=db.first_line(exc))
        except Exception:  # a bug: the mails go without names rather than not at all
            log.exception("device_labels_not_read", calls=len(calls))
        return {}

    def _caller_names(
        self, session: Session, calls: Sequence[CallRecord]
    ) -> dict[tuple[str, str], str]:
        """Issue 19 (BOOK-2): (number, caller) -> phonebook name, for the batch's presented callers.

        Only presented callers are asked for (a withheld, payphone or
        unavailable caller is never named, MAIL-9); one query, in the batch's
        read, none when no caller was presented. Failures as for the device
        names: a database that is down raises, anything else is logged and
        the mails name no caller, the decisions stand.
        """
        pairs = {
            (c.subscriber_number, number)
            for c in calls
            if (number := labels.presented_number(c.presentation, c.caller_number)) is not None
        }
        if not pairs:
            return {}
        try:
            with session.begin_nested():
                return service.caller_names(session, pairs)
        except SQLAlchemyError as exc:
            if db.unavailable(exc):
                raise
            log.error("caller_names_not_read", calls=len(calls), error=db.first_line(exc))
        except Exception:  # a bug: the mails go without names rather than not at all
            log.exception("caller_names_not_read", calls=len(calls))
        return {}

    def _record_alone(self, row: service.CallDecision) -> service.CallDecision | None:
        """Write one call's decision; if it cannot be stored as it is, as malformed.

        Returns the row written (``row`` or its malformed stand-in), or None.
        A database that is down raises (the caller keeps the batch); a call
        that cannot be stored even as malformed is logged and left out. None
        also when another notifier decided the call meanwhile (issue 18: two
        boxes' nodes, a Linkedid seen by both): it counts there, not here.
        """
        for attempt in (row, _unstorable(row)):
            try:
                with db.transaction(self.sessions) as session:
                    written = service.record_call_decisions(session, [attempt], now=self.clock())
                return attempt if written else None
            except SQLAlchemyError as exc:
                if db.unavailable(exc):
                    raise
                log.error(
                    "call_not_storable",
                    call_id=ami.printable(row.linkedid, 64),
                    as_malformed=attempt is not row,
                    error=db.first_line(exc),
                )
        return None

    def _prepare_safely(
        self,
        call: CallRecord,
        settings: MailSettings | None,
        device_label: str = "",
        caller_name: str = "",
        *,
        decided_at: dt.datetime | None = None,
    ) -> tuple[Decision, service.CallDecision]:
        """``_prepare``, but a bug in the rules or the mail for one call stops no other.

        Such a call is still decided once (MAIL-10), without mail, as
        ``decision_error``, and the error is logged with its traceback.
        """
        try:
            return self._prepare(
                call,
                settings,
                device_label,
                caller_name,
                decided_at=decided_at or self.clock(),
            )
        except Exception:  # a bug: logged with its traceback, and recorded
            log.exception("call_not_decided", call_id=call.linkedid)
            decision = Decision(False, DECISION_ERROR, "MAIL-10")
            return decision, _row(call, decision, [])

    def _prepare(
        self,
        call: CallRecord,
        settings: MailSettings | None,
        device_label: str = "",
        caller_name: str = "",
        *,
        decided_at: dt.datetime,
    ) -> tuple[Decision, service.CallDecision]:
        decision = rules.decide(call, settings)
        queued: list[service.QueuedMail] = []
        chats: list[service.QueuedChat] = []
        if decision.mailed and settings is not None:
            queued = self._compose(call, settings, decision.recipients, device_label, caller_name)
            if queued:
                chats = self._compose_chats(
                    call, settings, decision, device_label, caller_name, decided_at
                )
        return decision, _row(call, decision, queued, chats)

    def _compose_chats(
        self,
        call: CallRecord,
        settings: MailSettings,
        decision: Decision,
        device_label: str,
        caller_name: str,
        decided_at: dt.datetime,
    ) -> list[service.QueuedChat]:
        """CHAT-1: one notice per destination whose send flag is on; none if it cannot be made.

        Made from the same name, device name and time as the call's mail. A
        notice that cannot be composed (a bug, an operator's template) is
        logged: the mails stand.
        """
        targets = [t for t in settings.destinations if t.send]
        if not targets:
            return []
        try:
            content = chat.compose_chat(
                call,
                settings,
                templates=self.templates,
                caller_name=caller_name,
                device_label=device_label,
                decision=decision,
                decided_at=decided_at,
            )
            made = []
            for target in targets:
                body = chat.payload(target.kind, content)
                made.append(
                    service.QueuedChat(
                        destination_id=target.destination_id,
                        kind=target.kind,
                        recipient=target.label or KIND_NAMES[target.kind],
                        subject=content.title,
                        body=body.body,
                        content_type=body.content_type,
                    )
                )
            return made
        except Exception:  # the mails go; the chats of this call are logged as lost
            log.exception("chat_not_composed", call_id=call.linkedid, destinations=len(targets))
            return []

    def _compose(
        self,
        call: CallRecord,
        settings: MailSettings,
        recipients: Sequence[str],
        device_label: str = "",
        caller_name: str = "",
    ) -> list[service.QueuedMail]:
        try:
            made = mail.compose_all(
                call,
                settings,
                recipients,
                sender=self.sender_address,
                templates=self.templates,
                device_label=device_label,
                caller_name=caller_name,
            )
        except ValueError:
            # One recipient (or the zone) cannot be used: find out which, mail the others.
            made = []
            for recipient in recipients:
                try:
                    made += mail.compose_all(
                        call,
                        settings,
                        [recipient],
                        sender=self.sender_address,
                        templates=self.templates,
                        device_label=device_label,
                        caller_name=caller_name,
                    )
                except ValueError as exc:  # UnsafeHeader, or a time zone zoneinfo lacks
                    log.error("mail_not_composed", call_id=call.linkedid, error=str(exc))
        return [service.QueuedMail(r, subject, text, mid) for r, subject, text, mid in made]

    def _log(self, result: Decided) -> None:
        d = result.decision
        self.counts[d.reason] = self.counts.get(d.reason, 0) + 1
        self.mails_queued += result.queued
        self.chats_queued += result.chats
        # Bound to the call; the caller's number only when it was presented.
        log.info(
            "call_decided",
            call_id=result.call.linkedid,
            number=result.call.subscriber_number,
            caller=result.call.caller_number,
            outcome=result.call.outcome.value,
            mailed=d.mailed,
            reason=d.reason,
            rule=d.rule,
            mails_queued=result.queued,
            chats_queued=result.chats,
        )
        if result.call.queue_status in QUEUE_MISCONFIGURED:
            # Issue 17: app_queue knows no such queue; every call to the number
            # ends unanswered until queues.conf defines it (or the number's
            # queue is changed).
            log.warning(
                "queue_not_defined",
                call_id=result.call.linkedid,
                number=result.call.subscriber_number,
                queue=result.call.queue,
            )


UNSTORABLE = "malformed_unstorable"
# Issue 17: the QUEUESTATUS with which app_queue refuses a queue it does not know.
QUEUE_MISCONFIGURED = frozenset({"UNKNOWN"})


def _unstorable(row: service.CallDecision) -> service.CallDecision:
    """What is kept of a call that could not be stored as it came: that it happened."""
    return dataclasses.replace(
        row,
        linkedid=ami.printable(row.linkedid, 64),
        subscriber_number=ami.printable(row.subscriber_number, 20),
        caller_number="",
        presentation=Presentation.UNAVAILABLE,
        dial_status="",
        forward_dial_status="",
        answered_by="",
        answered_name="",
        mailed=False,
        reason=UNSTORABLE,
        rule="MAIL-10",
        mails=[],
        chats=[],
        malformed=True,
    )


DECISION_ERROR = "decision_error"


def _queued_chats(row: service.CallDecision) -> int:
    """The notices ``record_call_decisions`` queues for ``row`` (only with mails, CHAT-1)."""
    return len({c.destination_id for c in row.chats}) if row.mailed and row.mails else 0


def _row(
    call: CallRecord,
    decision: Decision,
    queued: list[service.QueuedMail],
    chats: Sequence[service.QueuedChat] = (),
) -> service.CallDecision:
    """What is stored of a call and its decision (MAIL-10)."""
    return service.CallDecision(
        linkedid=call.linkedid,
        subscriber_number=call.subscriber_number,
        caller_number=call.caller_number,
        presentation=call.presentation,
        outcome=call.outcome,
        dial_status=call.dial_status,
        forward_dial_status=call.forward_dial_status,
        started_at=call.started_at,
        ended_at=call.ended_at,
        mailed=decision.mailed and bool(queued),
        reason=decision.reason if queued or not decision.mailed else "mail_not_composed",
        rule=decision.rule,
        mails=queued,
        chats=list(chats) if queued else [],
        malformed=bool(call.malformed),
        answered_by=call.answered_by,
        answered_name=call.answered_name,
    )
