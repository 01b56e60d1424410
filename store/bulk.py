"""What the notification settings pages need beyond one number at a time (SITE-7).

Seeds P.3 step 9: 「33電話番号以上をご利用の場合、電話番号検索が可能です。また、
電話番号の一部(市外局番等)での検索、および電話番号の一部をワイルドカード指定
「*(半角)」での検索が可能です。また、電話番号ごとの設定だけでなく、一括設定機能を
使用することができます。」 Hence ``search_numbers`` (pure), ``apply_bulk`` (MAIL-1,
MAIL-2, MAIL-4 on many numbers at once, all or nothing) and, for the number's
page, ``call_history`` (the MAIL-10 decisions of its last calls). Issue 16: the
bulk also switches Number Request (CALL-3) and Voice Warp (CALL-4) on or off.

The rules themselves stay in ``store.service``: ``apply_bulk`` calls its
functions number by number and only gathers their refusals (issue 18: with
their writes held for one flush, and part by part only to list refusals). Every error
carries a stable ``code`` and ``params`` for the site to translate
(``web.texts.BULK``) and an English ``message``; the per-number errors
inside ``BulkRefused`` are ``store.service``'s own.
"""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy import ARRAY, ColumnElement, String, and_, any_, bindparam, or_, select
from sqlalchemy.orm import Session

from store import labels, service, validation
from store.errors import AlreadyExists, DomainError, InvalidInput, filled
from store.models import (
    CallOutcome,
    NotificationSetting,
    Number,
    Service,
    StoredCall,
    StoredDecision,
)

log = structlog.get_logger("store")

# Seeds P.3: 「33電話番号以上をご利用の場合、電話番号検索が可能です」 and bulk settings.
SEARCH_THRESHOLD = 33
# A national number has at most 11 digits; room for wildcards, and a bound on the regex.
MAX_SEARCH_PATTERN = 20
WILDCARD = "*"
UNDECIDED = "undecided"

# Every code raised here -> its English line for operators; the ``{param}`` names
# are those of the Japanese sentence the site shows (web.texts.BULK).
OPERATOR_TEXT: Mapping[str, str] = {
    "search_pattern": (
        f"a number search is half-width digits and {WILDCARD}, "
        f"at most {MAX_SEARCH_PATTERN} characters"
    ),
    "bulk_no_numbers": "select the numbers to change",
    "bulk_no_change": "select what to change",
    "bulk_refused": "no number was changed: these numbers refused the change: {numbers}",
}

_SEARCH_CHARS = frozenset("0123456789" + WILDCARD)


# --- number search (SITE-7) ------------------------------------------------------------


def mail_started(session: Session, numbers: Sequence[str]) -> dict[str, bool]:
    """Issue 18: whether each of ``numbers`` has its mail service started (MAIL-1), by number.

    What the site's list of a login's numbers shows of each (up to the
    1,000 numbers of a line): one query of two columns, no settings loaded.
    Unknown numbers are left out.
    """
    wanted = sorted(set(numbers))
    among: ColumnElement[bool] = Number.number.in_(wanted)
    if session.get_bind().dialect.name == "postgresql":
        # One array parameter, not 1,000 (their binding was half the page's CPU).
        among = Number.number == any_(bindparam("numbers", wanted, type_=ARRAY(String)))
    rows = session.execute(
        select(Number.number, NotificationSetting.started)
        .outerjoin(NotificationSetting, NotificationSetting.number_id == Number.id)
        .where(among)
    )
    return {number: bool(started) for number, started in rows}


def offers_search(number_count: int) -> bool:
    """Seeds P.3: search and bulk settings are offered from 33 numbers on (「33…以上」)."""
    return number_count >= SEARCH_THRESHOLD


def search_numbers(numbers: Sequence[str], pattern: str) -> list[str]:
    """SITE-7: the numbers matching ``pattern``, in their given order.

    ``pattern`` is half-width digits and ``*`` (any run of digits, also
    none). Without ``*`` it is 「電話番号の一部(市外局番等)」: it matches
    anywhere in the number ("0312" finds 0312345678 and 0503120000), since
    the seeds speak of a part, not only of the start. With ``*`` it must
    match the whole number: ``03*`` starts with 03, ``*4747`` ends with
    4747, ``03*47`` both. Spaces around the pattern are ignored; an empty
    pattern (or ``*`` alone) matches every number. Anything else (hyphens,
    letters, full-width digits, more than 20 characters) raises
    ``InvalidInput`` (code ``search_pattern``, field ``search``).
    """
    wanted = pattern.strip()
    if len(wanted) > MAX_SEARCH_PATTERN or not set(wanted) <= _SEARCH_CHARS:
        raise InvalidInput(OPERATOR_TEXT["search_pattern"], code="search_pattern", field="search")
    if not wanted.strip(WILDCARD):
        return list(numbers)
    if WILDCARD not in wanted:
        return [n for n in numbers if wanted in n]
    regex = re.compile("[0-9]*".join(re.escape(part) for part in wanted.split(WILDCARD)))
    return [n for n in numbers if regex.fullmatch(n)]


# --- bulk settings (SITE-7: MAIL-1, MAIL-2, MAIL-4, CALL-3, CALL-4 on many numbers) ---------


@dataclass(frozen=True)
class BulkChange:
    """One change for every selected number; ``None`` leaves a setting as it is.

    ``add_address`` (with its send flag ``add_address_send``) is added as a
    destination address (MAIL-2); an empty string means none. A number that
    already has it keeps its one entry, with the send flag set as asked.
    ``number_request`` (CALL-3) and ``voice_warp`` (CALL-4) switch those
    services on or off, the rest of their settings (payphone / unavailable,
    destination, mode, ring time) as they are: Voice Warp on needs the
    number's destination to be set already.
    """

    mail_started: bool | None = None
    designated_only: bool | None = None
    unanswered_only: bool | None = None
    add_address: str | None = None
    add_address_send: bool = True
    number_request: bool | None = None
    voice_warp: bool | None = None

    @property
    def is_empty(self) -> bool:
        return not self.parts

    @property
    def parts(self) -> tuple[Service, ...]:
        """The services whose settings this change touches, in the order they are applied."""
        mail = bool(self.add_address) or any(
            v is not None for v in (self.mail_started, self.designated_only, self.unanswered_only)
        )
        return tuple(
            part
            for part, touched in (
                (Service.MAIL, mail),
                (Service.NUMBER_REQUEST, self.number_request is not None),
                (Service.VOICE_WARP, self.voice_warp is not None),
            )
            if touched
        )


@dataclass(frozen=True)
class BulkResult:
    """What ``apply_bulk`` did, numbers in the order given (duplicates once).

    ``address_added``: numbers that got ``add_address`` as a new entry;
    ``address_already_set``: numbers that had it already (send flag set).
    """

    numbers: tuple[str, ...]
    address_added: tuple[str, ...] = ()
    address_already_set: tuple[str, ...] = ()


@dataclass(frozen=True)
class BulkFailure:
    """Why one number refused the change: ``store.service``'s error, untouched.

    ``part``: the service whose part of the change it refused (``Service.MAIL``
    for MAIL-1 ... MAIL-4, ``NUMBER_REQUEST``, ``VOICE_WARP``), so that a
    ``not_subscribed`` can say which service; ``None`` for an unknown number.
    A number may refuse several parts: one failure for each.
    """

    number: str
    error: DomainError
    part: Service | None = None

    @property
    def code(self) -> str:
        return self.error.code

    @property
    def field(self) -> str | None:
        return self.error.field

    @property
    def message(self) -> str:
        return self.error.message


class BulkRefused(DomainError, ValueError):
    """SITE-7: at least one number refused the bulk change, so no number was changed.

    ``failures`` lists every refusing number (in the order given) with its
    error (each to be translated on its own), a number refusing several
    parts once for each. ``params["numbers"]`` names the numbers (each once)
    as the site's sentence lists them (joined by 「、」, as
    ``store.site_auth`` lists numbers); ``numbers`` has them as a tuple.
    """

    code = "bulk_refused"

    def __init__(self, failures: Sequence[BulkFailure]) -> None:
        self.failures = tuple(failures)
        numbers = tuple(dict.fromkeys(f.number for f in self.failures))
        super().__init__(
            filled(OPERATOR_TEXT["bulk_refused"], {"numbers": numbers}),
            code="bulk_refused",
            field="numbers",
            params={"numbers": numbers},
        )

    @property
    def numbers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(f.number for f in self.failures))


def apply_bulk(session: Session, numbers: Sequence[str], change: BulkChange) -> BulkResult:
    """SITE-7 一括設定: apply ``change`` to every number, all or nothing.

    Per number, in this order: add the address (so that "add an address and
    start" works in one go), set the conditions (MAIL-4), then start or stop
    (MAIL-1); then Number Request on/off (CALL-3), then Voice Warp on/off
    (CALL-4). Issue 18: all of it runs at once in one savepoint, written by
    one flush; if anything is refused, that is rolled back and each of these
    three parts of each number runs in its own SAVEPOINT so that every
    refusal is collected (the 6th address, a start without address, Voice
    Warp on without a destination, a number without the service, also to
    switch it off, as the CLI refuses…); if any number refused,
    ``BulkRefused`` lists them all and the whole change is rolled back to
    where it began, even if the caller went on to commit. An unknown number
    is listed once (``not_found``). The caller must pass only numbers its
    login manages (``site_auth.managed_numbers``).

    Raises ``InvalidInput`` for an empty selection (``bulk_no_numbers``) or
    an empty change (``bulk_no_change``), and the MAIL-3 ``InvalidAddress``
    (field ``add_address``) for a bad address, once, before any number.
    """
    todo = list(dict.fromkeys(numbers))
    if not todo:
        raise InvalidInput(
            OPERATOR_TEXT["bulk_no_numbers"], code="bulk_no_numbers", field="numbers"
        )
    if change.is_empty:
        raise InvalidInput(OPERATOR_TEXT["bulk_no_change"], code="bulk_no_change", field="change")
    if change.add_address:
        validation.mail_address(change.add_address, field="add_address")
    # Issue 18: the numbers locked and loaded in one round of queries, not one per part.
    with service.held_numbers(session, todo) as known, session.begin_nested():
        done = _apply_at_once(session, todo, known, change)
        if done is None:  # someone refused: again part by part, to find every refusal
            done = _apply_part_by_part(session, todo, known, change)
        added, already, failures = done
        if failures:
            log.info(
                "bulk_refused",
                numbers=len(todo),
                refused=len(failures),
                codes=sorted({f.code for f in failures}),
            )
            raise BulkRefused(failures)
    log.info(
        "bulk_applied",
        numbers=len(todo),
        mail_started=change.mail_started,
        designated_only=change.designated_only,
        unanswered_only=change.unanswered_only,
        number_request=change.number_request,
        voice_warp=change.voice_warp,
        address_added=len(added),
        address_already_set=len(already),
    )
    return BulkResult(
        numbers=tuple(todo), address_added=tuple(added), address_already_set=tuple(already)
    )


# What a run over the numbers did: numbers with the address added, those that had it, refusals.
_Done = tuple[list[str], list[str], list[BulkFailure]]


def _apply_at_once(
    session: Session, todo: Sequence[str], known: Mapping[str, Number], change: BulkChange
) -> _Done | None:
    """Issue 18: every part of every number in one savepoint, written by one flush.

    Part by part, each number's three parts took two savepoints and four
    flushes (6.5 statements a number, 2-3 s for 1,000). The bulk's settings
    functions only add an address entry and change flags of the held numbers
    (``service.held_numbers``), checking their rules against those same
    objects, so the writes can wait for one flush at the end. None when a
    number is unknown or any part is refused: this savepoint is rolled back
    and ``_apply_part_by_part`` finds every refusal, as it always did.
    """
    if any(number not in known for number in todo):
        return None
    added: list[str] = []
    already: list[str] = []
    try:
        with session.begin_nested(), service.one_flush(session):
            for number in todo:
                for part in change.parts:
                    if _apply_part(session, number, change, part):
                        added.append(number)
                    elif part is Service.MAIL and change.add_address:
                        already.append(number)
    except DomainError:
        return None
    return added, already, []


def _apply_part_by_part(
    session: Session, todo: Sequence[str], known: Mapping[str, Number], change: BulkChange
) -> _Done:
    """Each part of each number in its own savepoint, every refusal collected (issue 16)."""
    added: list[str] = []
    already: list[str] = []
    failures: list[BulkFailure] = []
    for number in todo:
        # An unknown number: its first part's NotFound says so, once.
        parts = change.parts if number in known else change.parts[:1]
        for part in parts:
            try:
                with session.begin_nested():
                    new_address = _apply_part(session, number, change, part)
            except DomainError as exc:
                failures.append(BulkFailure(number, exc, part if number in known else None))
                continue
            if new_address:
                added.append(number)
            elif part is Service.MAIL and change.add_address:
                already.append(number)
    return added, already, failures


def _apply_part(session: Session, number: str, change: BulkChange, part: Service) -> bool:
    """One part of one number's share; True if the address was added as a new entry."""
    if part is Service.NUMBER_REQUEST:
        service.set_number_request(session, number, enabled=change.number_request)
        return False
    if part is Service.VOICE_WARP:
        service.set_voice_warp(session, number, enabled=change.voice_warp)
        return False
    added = False
    if change.add_address:
        try:
            service.add_address(session, number, change.add_address, send=change.add_address_send)
            added = True
        except AlreadyExists:
            service.set_address_send(session, number, change.add_address, change.add_address_send)
    if change.designated_only is not None or change.unanswered_only is not None:
        service.set_conditions(
            session,
            number,
            designated_only=change.designated_only,
            unanswered_only=change.unanswered_only,
        )
    if change.mail_started is True:
        service.start_mail(session, number)
    elif change.mail_started is False:
        service.stop_mail(session, number)
    return added


# --- call history (MAIL-10 decisions, shown as MAIL-9 shows the caller) -------------------


@dataclass(frozen=True)
class HistoryRow:
    """One call to the number and its decision.

    ``started_at`` is in the number's time zone (as in the mail, MAIL-9).
    ``caller`` is the number only when it was presented, otherwise
    非通知 / 公衆電話 / 表示圏外 (``store.labels.caller_label``); the row holds
    no other trace of a withheld number. ``reason`` and ``rule`` are the
    decision's (``undecided`` and "" for a call without one). Issue 17
    (MAIL-9): ``answered_by`` is the interface that answered and
    ``answered_name`` Asterisk's member name, as stored ("" when none).
    """

    started_at: dt.datetime
    caller: str
    outcome: CallOutcome
    outcome_label: str
    mailed: bool
    reason: str
    rule: str
    recipients: tuple[str, ...]
    answered_by: str = ""
    answered_name: str = ""
    # Issue 18: when the call ended, in the number's time zone too (None: not recorded).
    ended_at: dt.datetime | None = None
    # Issue 19 (BOOK-2): the presented caller's name in the number's phonebook now
    # ("" when none, and always for a withheld, payphone or unavailable caller).
    caller_name: str = ""


# Issue 18: a call's place in the newest-first order, (started_at, the stored call's id):
# the API's keyset cursor. Calls after it are older, or as old with a smaller id.
CallKey = tuple[dt.datetime, int]


def call_history(session: Session, number: str, limit: int = 50) -> list[HistoryRow]:
    """The number's last ``limit`` calls, newest first.

    Only calls recorded while this number was provisioned: a number removed
    and provisioned again (a new subscriber) does not see the calls of the
    one before. Raises ``NotFound`` for an unknown number.
    """
    zone, rows = recent_calls(session, number, limit)
    names = caller_names_of(session, number, [call for call, _ in rows])
    return [
        history_row(call, decision, zone, caller_name=names.get(call.id, ""))
        for call, decision in rows
    ]


def caller_names_of(session: Session, number: str, calls: Sequence[StoredCall]) -> dict[int, str]:
    """Issue 19 (BOOK-2): the phonebook name of each call's caller, by the stored call's id.

    Only presented callers are looked up (``labels.presented_number``): a
    withheld, payphone or unavailable call never gets a name, whatever its
    record or the phonebook holds. One query (none when no caller was presented).
    """
    presented = {
        call.id: caller
        for call in calls
        if (caller := labels.presented_number(call.presentation, call.caller_number or ""))
    }
    if not presented:
        return {}
    names = service.caller_names(session, [(number, c) for c in presented.values()])
    return {
        call_id: names[(number, caller)]
        for call_id, caller in presented.items()
        if (number, caller) in names
    }


def recent_calls(
    session: Session, number: str, limit: int, *, before: CallKey | None = None
) -> tuple[zoneinfo.ZoneInfo, list[tuple[StoredCall, StoredDecision | None]]]:
    """The number's time zone and its last ``limit`` calls with their decisions, newest
    first (those of ``call_history``; ``store.delivery`` adds each address's mail);
    with ``before``, the ``limit`` calls that follow that one (issue 18: keyset pages)."""
    if limit < 1:
        raise ValueError(f"limit must be at least 1, not {limit}")
    found = service.get_number(session, number)
    after: list[ColumnElement[bool]] = []
    if before is not None:
        started_at, call_id = before
        after.append(
            or_(
                StoredCall.started_at < started_at,
                and_(StoredCall.started_at == started_at, StoredCall.id < call_id),
            )
        )
    rows = session.execute(
        select(StoredCall, StoredDecision)
        .outerjoin(StoredDecision, StoredDecision.call_id == StoredCall.id)
        .where(StoredCall.number_id == found.id, *after)
        .order_by(StoredCall.started_at.desc(), StoredCall.id.desc())
        .limit(limit)
    ).all()
    return zoneinfo.ZoneInfo(found.timezone), [(call, decision) for call, decision in rows]


def history_row(
    call: StoredCall,
    decision: StoredDecision | None,
    zone: zoneinfo.ZoneInfo,
    *,
    caller_name: str = "",
) -> HistoryRow:
    """A stored call and its decision as a history row (also ``store.delivery``'s);
    ``caller_name`` from ``caller_names_of``, kept only for a presented caller."""
    presented = labels.presented_number(call.presentation, call.caller_number or "")
    return HistoryRow(
        started_at=call.started_at.astimezone(zone),
        caller=labels.caller_label(call.presentation, call.caller_number or ""),
        outcome=call.outcome,
        outcome_label=labels.outcome_label(call.outcome),
        mailed=decision.mailed if decision is not None else False,
        reason=decision.reason if decision is not None else UNDECIDED,
        rule=decision.rule if decision is not None else "",
        recipients=tuple(decision.recipients) if decision is not None else (),
        answered_by=call.answered_by or "",
        answered_name=call.answered_name or "",
        ended_at=call.ended_at.astimezone(zone) if call.ended_at is not None else None,
        caller_name=caller_name if presented is not None else "",
    )
