"""The notifier's own types: typed AMI events in, call records, settings and decisions.

``notifier.ami`` turns AMI frames into the events below (it is the only
module that knows AMI names); ``notifier.calls`` groups them by Linkedid
into ``CallRecord``s; ``notifier.rules`` decides with a ``MailSettings``
snapshot; ``notifier.mail`` composes; ``notifier.outbox`` delivers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from store.models import CallOutcome, ChatKind, Presentation

# --- events (from notifier.ami) ----------------------------------------------------


@dataclass(frozen=True)
class ChannelCreated:
    """A channel of a call appeared (AMI Newchannel).

    ``context`` and ``exten`` say where it entered the dialplan: a channel
    created in the subscribers' context is a call to subscriber ``exten``
    even if its outcome event is lost.
    """

    linkedid: str
    uniqueid: str
    context: str = ""
    exten: str = ""


@dataclass(frozen=True)
class ChannelHungUp:
    """A channel of a call is gone (AMI Hangup)."""

    linkedid: str
    uniqueid: str


@dataclass(frozen=True)
class OutcomeReported:
    """The dialplan's verdict on a call (UserEvent ChakushinCall, CALL-5).

    ``caller_number`` is empty unless the number was presented: a withheld
    number never reaches the notifier through this event.
    """

    linkedid: str
    subscriber_number: str
    caller_number: str
    presentation: Presentation
    started_at: dt.datetime
    outcome: CallOutcome
    dial_status: str
    forward_dial_status: str
    route: str
    # Why the event cannot be used as it came (e.g. a subscriber number of 25
    # digits), or "": the call is then recorded as malformed (MAIL-10).
    malformed: str = ""
    # Issue 17: the Asterisk queue the call waited in ("" when it rang devices),
    # Queue()'s QUEUESTATUS ("" when the caller left by an answer or hung up),
    # and the device or member interface that answered, as the dialplan saw
    # it ("" when none did, or when the value was not an interface).
    queue: str = ""
    queue_status: str = ""
    answered_by: str = ""


@dataclass(frozen=True)
class MemberAnswered:
    """Issue 17: a queue member answered the call (AMI AgentConnect).

    The dialplan cannot always tell an answered queue call from an abandoned
    one; Asterisk says it here. ``member_name`` is the member's name in
    queues.conf (may be Japanese), or "" when unusable.
    """

    linkedid: str
    interface: str
    member_name: str = ""


Event = ChannelCreated | ChannelHungUp | OutcomeReported | MemberAnswered


# --- a finished call (from notifier.calls) ---------------------------------------------


@dataclass(frozen=True)
class CallRecord:
    linkedid: str
    subscriber_number: str
    caller_number: str  # empty unless presented
    presentation: Presentation
    outcome: CallOutcome  # EXPIRED when no outcome event ever came
    started_at: dt.datetime
    ended_at: dt.datetime
    dial_status: str = ""
    forward_dial_status: str = ""
    route: str = ""
    malformed: str = ""  # see OutcomeReported.malformed
    # Issue 17 (MAIL-9): see OutcomeReported. ``answered_by`` is the interface
    # that answered (the dialplan's, else the queue member's from AgentConnect)
    # and ``answered_name`` Asterisk's member name when it is not the
    # interface itself; both "" unless the call ended answered.
    queue: str = ""
    queue_status: str = ""
    answered_by: str = ""
    answered_name: str = ""


# --- what the rules need of a subscriber number (from the store) -----------------------


@dataclass(frozen=True)
class ChatTarget:
    """Issue 19 (CHAT-1): one chat or webhook destination of a number, as the engine sees it.

    ``destination_id`` is the ``ChatDestination`` row's id (the outbox row
    points at it, and the dedup key is made of it); no URL or secret here:
    the delivery worker reads those from the row when it posts.
    """

    destination_id: int
    kind: ChatKind
    label: str
    send: bool


@dataclass(frozen=True)
class MailSettings:
    """MAIL-1 ... MAIL-5 settings of one subscriber number, as the rules see them."""

    number: str
    subscribed: bool
    started: bool
    designated_only: bool
    unanswered_only: bool
    addresses: tuple[tuple[str, bool], ...]  # (address, send flag), MAIL-2
    designated: tuple[tuple[str, bool], ...]  # (caller number, designated flag), MAIL-5
    timezone: str
    # Issue 19 (CHAT-1): the number's chat/webhook destinations, in position order.
    destinations: tuple[ChatTarget, ...] = ()


@dataclass(frozen=True)
class Decision:
    """MAIL-10: what was decided for one call, and why.

    ``rule`` names the SPEC rule that decided (e.g. "MAIL-7").
    """

    mailed: bool
    reason: str
    rule: str
    recipients: tuple[str, ...] = ()
