"""AMI frames -> notifier events: the only module that knows AMI names.

Two pure functions over what Asterisk sends:

- ``iter_frames`` splits a raw AMI byte stream (a recorded ``.ami`` file:
  banner line, then ``\\r\\n``-separated header lines, each frame ending in
  a blank line) into header dicts. The live connection (``notifier.amiclient``)
  frames with panoramisk instead; both hand ``parse_event`` a mapping of
  header -> value.
- ``parse_event`` turns one frame into a ``notifier.model`` event:
  ``Newchannel`` -> ``ChannelCreated``, ``Hangup`` -> ``ChannelHungUp``,
  ``UserEvent`` ``ChakushinCall`` (CALL-5) -> ``OutcomeReported``,
  ``AgentConnect`` (issue 17: a queue member answered) -> ``MemberAnswered``;
  any other frame -> ``None``.

Bad input never raises out of ``parse_event``: a frame of ours that is
garbled (no Linkedid, an unknown outcome, a Start that is no Unix time...)
gives ``None`` like a frame that is not ours. ``read_event`` is the same
parse but raises ``MalformedEvent`` (a ``ValueError``) with the reason, for a
caller that logs why a frame was dropped (``notifier.amiclient`` does).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator, Mapping

from dialplan import variables
from notifier.model import (
    ChannelCreated,
    ChannelHungUp,
    Event,
    MemberAnswered,
    OutcomeReported,
)
from store import caller_number, validation
from store.errors import InvalidInput
from store.models import CallOutcome, Presentation

# Names in AMI frames that the notifier reads.
EVENT = "Event"
USER_EVENT = "UserEvent"
NEWCHANNEL = "Newchannel"
HANGUP = "Hangup"
# Issue 17: app_queue's event when a member answers a caller (class agent), on
# the caller's channel: the member's Interface and queues.conf MemberName.
AGENT_CONNECT = "AgentConnect"
INTERFACE = "Interface"
MEMBER_NAME = "MemberName"
LINKEDID = "Linkedid"
UNIQUEID = "Uniqueid"
CONTEXT = "Context"
EXTEN = "Exten"
# The channel's own caller ID, a header Asterisk adds to every channel event
# (the UserEvent too): read only to tell SIP's anonymous caller (CALL-3).
CALLER_ID_NUM = "CallerIDNum"

# The body fields of UserEvent(ChakushinCall), looked up by the channel
# variable each carries: the names are typed once, in dialplan.variables.
_FIELD = {variable: field for field, variable in variables.EVENT_FIELDS.items()}
_F_SUBSCRIBER = _FIELD[variables.SUBSCRIBER]
_F_CALLER = _FIELD[variables.CALLER]
_F_PRESENTATION = _FIELD[variables.PRESENTATION]
_F_START = _FIELD[variables.START]
_F_OUTCOME = _FIELD[variables.OUTCOME]
_F_DIAL = _FIELD[variables.DIALSTATUS]
_F_FORWARD_DIAL = _FIELD[variables.FORWARD_DIALSTATUS]
_F_FORWARD_CAUSE = _FIELD[variables.FORWARD_CAUSE]
_F_FORWARD_RINGTIME = _FIELD[variables.FORWARD_RINGTIME]
_F_ROUTE = _FIELD[variables.ROUTE]
_F_QUEUE = _FIELD[variables.QUEUE]
_F_QUEUE_STATUS = _FIELD[variables.QUEUESTATUS]
_F_ANSWERED_BY = _FIELD[variables.ANSWERED_BY]

BANNER_PREFIX = "Asterisk Call Manager/"

# Every value read from a frame is checked for length and characters here,
# before anything stores or uses it: AMI carries whatever a trunk or a
# misconfigured dialplan put in a channel (issue 12). The lengths are those
# of the columns the values end in (store.models.StoredCall), so a value that
# passes here always fits, on PostgreSQL too.
# Asterisk's ids are "<epoch>.<seq>", optionally prefixed by the system name.
MAX_ID = 64
_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# A caller number as the rules use it (notifier.rules.presented_number), once
# read in the national form (store.caller_number: +81311110000 is 0311110000).
_CALLER = re.compile(r"[0-9]{1,32}")
# Dial statuses are upper-case words (ANSWER, NOANSWER, CHANUNAVAIL ...).
_DIAL_STATUS = re.compile(r"[A-Z_]{0,32}")
_ROUTE = re.compile(r"[a-z_]{0,32}")
# Issue 17: ${QUEUESTATUS} is an upper-case word (TIMEOUT, FULL, JOINEMPTY ...).
_QUEUE_STATUS = re.compile(r"[A-Z]{0,16}")
# A queues.conf member name is only shown in a mail (Japanese allowed), never
# stored longer than StoredCall.answered_name.
MAX_MEMBER_NAME = 40
# ${HANGUPCAUSE} is a Q.850 cause (0 to 127); ${RINGTIME} whole seconds, or empty.
_CAUSE = re.compile(r"[0-9]{0,3}")
_RING_TIME = re.compile(r"[0-9]{0,12}")
# Context and extension of a Newchannel: only compared, never stored; a
# longer or stranger value is not one of ours.
MAX_DIALPLAN_NAME = 80
# Reasons a ChakushinCall event cannot be used as it is (OutcomeReported.malformed).
MALFORMED_SUBSCRIBER = "malformed_subscriber_number"
MALFORMED_DIAL_STATUS = "malformed_dial_status"
MALFORMED_ROUTE = "malformed_route"
# ${EPOCH} is whole seconds; a fraction is accepted so that a dialplan using
# ${EPOCH}.${...} or a hand-written event is not dropped for it.
_UNIX_SECONDS = re.compile(r"\d{1,12}(?:\.\d{1,9})?")


class MalformedEvent(ValueError):
    """A frame that names one of our events but cannot be read as one."""

    def __init__(self, event: str, reason: str) -> None:
        super().__init__(f"{event}: {reason}")
        self.event = event
        self.reason = reason


def iter_frames(data: bytes) -> Iterator[dict[str, str]]:
    """The frames of a raw AMI stream, as header -> value dicts, in order.

    The banner line is skipped; so are blank frames and lines without a
    colon. Values keep everything after ``": "`` (``"AccountCode: "`` gives
    ``""``). A header repeated in one frame keeps its last value. Bytes that
    are not UTF-8 become U+FFFD rather than stopping the stream.
    """
    text = data.decode("utf-8", errors="replace")
    if text.startswith(BANNER_PREFIX):
        text = text.partition("\n")[2]
    # Asterisk ends lines with CRLF; a lone LF is taken as a line end too.
    for block in text.replace("\r\n", "\n").split("\n\n"):
        frame: dict[str, str] = {}
        for line in block.split("\n"):
            name, colon, value = line.partition(":")
            if not colon or not name:
                continue
            frame[name.strip()] = value[1:] if value.startswith(" ") else value
        if frame:
            yield frame


def parse_event(fields: Mapping[str, str]) -> Event | None:
    """The notifier event for one AMI frame, or ``None`` (not ours, or garbled).

    Never raises on bad input; see ``read_event`` for the reason of a drop.
    """
    try:
        return read_event(fields)
    except MalformedEvent:
        return None


def read_event(fields: Mapping[str, str]) -> Event | None:
    """Like ``parse_event``, but a garbled frame of ours raises ``MalformedEvent``.

    ``fields`` may be a plain dict (``iter_frames``) or a panoramisk
    ``Message`` (case-insensitive; a repeated header is a list there).
    """
    name = fields.get(EVENT)
    if name == NEWCHANNEL:
        return ChannelCreated(
            linkedid=_id(fields, NEWCHANNEL, LINKEDID),
            uniqueid=_id(fields, NEWCHANNEL, UNIQUEID),
            context=_dialplan_name(fields, NEWCHANNEL, CONTEXT),
            exten=_dialplan_name(fields, NEWCHANNEL, EXTEN),
        )
    if name == HANGUP:
        return ChannelHungUp(
            linkedid=_id(fields, HANGUP, LINKEDID),
            uniqueid=_id(fields, HANGUP, UNIQUEID),
        )
    if name == USER_EVENT and _text(fields, USER_EVENT, USER_EVENT) == variables.EVENT_CALL:
        return _outcome(fields)
    if name == AGENT_CONNECT:
        return _member_answered(fields)
    return None


def _member_answered(fields: Mapping[str, str]) -> MemberAnswered:
    """Issue 17 (CALL-5): a queue member answered; who, as Asterisk names it.

    An Interface that is not one (store.validation.interface) makes the frame
    unusable: it is dropped, the call decided on the dialplan's word alone.
    A MemberName that is too long or not printable is left out ("").
    """
    linkedid = _id(fields, AGENT_CONNECT, LINKEDID)
    interface = _interface(_text(fields, AGENT_CONNECT, INTERFACE))
    if not interface:
        raise MalformedEvent(AGENT_CONNECT, f"{INTERFACE} is not a device or member interface")
    name = _text(fields, AGENT_CONNECT, MEMBER_NAME)
    if len(name) > MAX_MEMBER_NAME or not name.isprintable():
        name = ""
    return MemberAnswered(linkedid=linkedid, interface=interface, member_name=name)


def _interface(value: str) -> str:
    """``value`` if it is a device or queue member interface (PJSIP/201), else ``""``."""
    try:
        return validation.interface(value)
    except InvalidInput:
        return ""


def _queue(value: str) -> bool:
    """Issue 17: "" (no queue) or a queues.conf queue name."""
    if not value:
        return True
    try:
        validation.queue_name(value)
    except InvalidInput:
        return False
    return True


def _outcome(fields: Mapping[str, str]) -> OutcomeReported:
    """CALL-5: the dialplan's verdict, from UserEvent(ChakushinCall)."""
    event = variables.EVENT_CALL
    presentation = _presentation(fields, event)
    caller = caller_number.national_form(_text(fields, event, _F_CALLER))
    if presentation in (Presentation.ALLOWED, Presentation.UNAVAILABLE) and (
        caller_number.is_anonymous(caller)
        or (not caller and caller_number.is_anonymous(_channel_caller_id(fields)))
    ):
        # RFC 3323: SIP's anonymous caller withheld the number (非通知), whether
        # the event says so or the dialplan's fail path sent "unavailable" for it.
        presentation = Presentation.WITHHELD
    if presentation is not Presentation.ALLOWED:
        # The dialplan sends no number unless it was presented; should one
        # come anyway, it must not travel further (a withheld number is
        # never revealed, in a mail or anywhere else).
        caller = ""
    elif not _CALLER.fullmatch(caller):
        # A presented caller ID that is no number (a trunk's 33 characters,
        # a name, control characters): the call is real, its number unusable.
        caller, presentation = "", Presentation.UNAVAILABLE
    subscriber = _required(fields, event, _F_SUBSCRIBER)
    dial_status = _text(fields, event, _F_DIAL)
    forward_dial_status = _text(fields, event, _F_FORWARD_DIAL)
    forward_cause = _text(fields, event, _F_FORWARD_CAUSE)
    forward_ring_time = _text(fields, event, _F_FORWARD_RINGTIME)
    route = _text(fields, event, _F_ROUTE)
    queue = _text(fields, event, _F_QUEUE)
    queue_status = _text(fields, event, _F_QUEUE_STATUS)
    # Only a line of the mail: a garbled one is left out, the call decided as usual.
    answered_by = _interface(_text(fields, event, _F_ANSWERED_BY))
    # A call reported with values that cannot be ours is still decided once
    # (MAIL-10), as malformed, with the reason: never stored as it came.
    malformed = ""
    if not validation.is_subscriber_number(subscriber):
        malformed, subscriber = MALFORMED_SUBSCRIBER, printable(subscriber, 20)
    elif not (
        _DIAL_STATUS.fullmatch(dial_status)
        and _DIAL_STATUS.fullmatch(forward_dial_status)
        and _CAUSE.fullmatch(forward_cause)
        and _RING_TIME.fullmatch(forward_ring_time)
        and _queue(queue)
        and _QUEUE_STATUS.fullmatch(queue_status)
    ):
        malformed = MALFORMED_DIAL_STATUS
    elif not _ROUTE.fullmatch(route):
        malformed = MALFORMED_ROUTE
    if malformed:
        caller, presentation = "", Presentation.UNAVAILABLE
        dial_status = printable(dial_status, 32)
        forward_dial_status = printable(forward_dial_status, 32)
        route = printable(route, 32)
        queue = printable(queue, validation.MAX_QUEUE)
        queue_status = printable(queue_status, 16)
        answered_by = ""
    return OutcomeReported(
        linkedid=_id(fields, event, LINKEDID),
        subscriber_number=subscriber,
        caller_number=caller,
        presentation=presentation,
        started_at=_unix_time(fields, event, _F_START),
        outcome=forward_outcome(
            _outcome_value(fields, event),
            forward_dial_status,
            forward_cause if not malformed else "",
            forward_ring_time,
        ),
        dial_status=dial_status,
        forward_dial_status=forward_dial_status,
        route=route,
        malformed=malformed,
        queue=queue,
        queue_status=queue_status,
        answered_by=answered_by,
    )


def forward_outcome(
    outcome: CallOutcome, forward_dial_status: str, cause: str, ring_time: str
) -> CallOutcome:
    """Issue 15 (CALL-5, MAIL-8): a forward the dialplan saw unanswered may have failed.

    Dial() says NOANSWER both for a target that rang out and for one the
    carrier refused at once with 480 (a switched-off mobile): the forward
    leg's Q.850 ``cause`` and ``ring_time`` (empty: no 180 Ringing came)
    tell them apart (``variables.FORWARD_FAILED_CAUSES`` always,
    ``FORWARD_FAILED_UNRUNG_CAUSES`` before any ringing); the README lists them.
    """
    if outcome is not CallOutcome.FORWARDED or forward_dial_status != "NOANSWER" or not cause:
        return outcome
    code = int(cause)
    if code in variables.FORWARD_FAILED_CAUSES or (
        code in variables.FORWARD_FAILED_UNRUNG_CAUSES and not ring_time
    ):
        return CallOutcome.FORWARD_FAILED
    return outcome


def printable(value: str, length: int) -> str:
    """``value`` made safe to keep for the operator: printable ASCII, at most ``length``."""
    return "".join(c if c.isascii() and c.isprintable() else "?" for c in value)[:length]


def _channel_caller_id(fields: Mapping[str, str]) -> str:
    """The channel's CallerIDNum, or ``""``: compared with anonymous, never kept."""
    value: object = fields.get(CALLER_ID_NUM, "")
    return value.strip() if isinstance(value, str) else ""


def _id(fields: Mapping[str, str], event: str, name: str) -> str:
    """A Linkedid or Uniqueid: the key a call is tracked and decided by."""
    value = _required(fields, event, name)
    if not _ID.fullmatch(value):
        raise MalformedEvent(event, f"{name} is not an Asterisk id ({MAX_ID} of A-Za-z0-9._-)")
    return value


def _dialplan_name(fields: Mapping[str, str], event: str, name: str) -> str:
    """A context or extension: compared with ours only; anything else is ``""``."""
    value = _text(fields, event, name)
    if len(value) > MAX_DIALPLAN_NAME or not value.isascii() or not value.isprintable():
        return ""
    return value


def _text(fields: Mapping[str, str], event: str, name: str) -> str:
    """The stripped value of a header; ``""`` when absent."""
    value: object = fields.get(name, "")
    if not isinstance(value, str):
        # panoramisk turns a repeated header into a list: which one is meant?
        raise MalformedEvent(event, f"{name} is not a single value")
    return value.strip()


def _required(fields: Mapping[str, str], event: str, name: str) -> str:
    value = _text(fields, event, name)
    if not value:
        raise MalformedEvent(event, f"{name} missing")
    return value


def _presentation(fields: Mapping[str, str], event: str) -> Presentation:
    value = _text(fields, event, _F_PRESENTATION)
    try:
        return Presentation(value)
    except ValueError:
        raise MalformedEvent(event, f"{_F_PRESENTATION} {value!r} unknown") from None


def _outcome_value(fields: Mapping[str, str], event: str) -> CallOutcome:
    # CallOutcome also holds "expired", which the notifier assigns to calls
    # whose event never came; the dialplan can only send dialplan outcomes.
    value = _text(fields, event, _F_OUTCOME)
    if value not in variables.OUTCOMES:
        raise MalformedEvent(event, f"{_F_OUTCOME} {value!r} unknown")
    return CallOutcome(value)


def _unix_time(fields: Mapping[str, str], event: str, name: str) -> dt.datetime:
    value = _text(fields, event, name)
    if not _UNIX_SECONDS.fullmatch(value):
        raise MalformedEvent(event, f"{name} {value!r} is not Unix seconds")
    try:
        return dt.datetime.fromtimestamp(float(value), tz=dt.UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedEvent(event, f"{name} {value!r} out of range") from None


# --- the actions the client sends, and what their responses say -------------------


def login_action(username: str, secret: str) -> dict[str, str]:
    """Action Login, with events on (the manager.conf user filters them)."""
    return {"Action": "Login", "Username": username, "Secret": secret, "Events": "on"}


def ping_action() -> dict[str, str]:
    return {"Action": "Ping"}


def response_succeeded(fields: Mapping[str, str]) -> bool:
    return fields.get("Response") == "Success"


def response_message(fields: Mapping[str, str]) -> str:
    value: object = fields.get("Message", "")
    return value if isinstance(value, str) else ""
