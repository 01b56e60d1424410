"""MAIL-9: the notification mail, and the MAIL-2 test mail, as ``EmailMessage``s.

Japanese, UTF-8 plain text, from ``string.Template`` files: the package's
defaults in ``notifier/templates/`` and, file by file, the operator's
replacements from an override directory. Composition is pure (the clock is
an argument), and a call's mail is the same bytes every time it is composed
for the same recipient, so a retry after an outage or restart (MAIL-10)
sends the same Message-ID.

Every header value passes a guard before it is set: addresses through the
MAIL-3 rules, everything else through a control-character check, because a
CR or LF in a header value would let it add headers or recipients.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import hashlib
import importlib.resources
import re
import string
import zoneinfo
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from notifier.model import CallRecord, MailSettings
from store import labels, validation
from store.errors import InvalidInput
from store.labels import OUTCOME_LABELS
from store.mail_message import (
    UnsafeHeader,
    build_message,
    has_control,
    header_address,
    header_sender,
    header_text,
    header_token,
)
from store.models import CallOutcome

SERVICE_NAME = "着信お知らせメール"
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"
DEFAULT_TIMEZONE = "Asia/Tokyo"

_NUMBER = re.compile(r"[0-9]{1,32}")


class TemplateError(ValueError):
    """An operator's template file that cannot be used (unknown placeholder, missing file...).

    ``problems`` is one line per template that cannot be used: ``Templates.load``
    checks all four before it refuses, so the operator fixes them in one go.
    """

    def __init__(self, message: str, problems: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems) or (message,)


# --- header guards (store.mail_message has the rest) ---------------------------------


def _number(value: str, *, field: str) -> str:
    if not _NUMBER.fullmatch(value):
        raise UnsafeHeader(f"{field}: not a number of digits: {value!r}", field=field)
    return value


def call_number(value: str) -> str:
    """A subscriber number as a notice shows it: digits only, else ``UnsafeHeader``."""
    return _number(value, field="called_number")


def make_message_id(linkedid: str, recipient: str, domain: str) -> str:
    """MAIL-10: the same Message-ID for a call's mail to one recipient, every time.

    A retried delivery carries the same id, so a receiving system that
    deduplicates by Message-ID shows the mail once; another recipient of the
    same call gets another id. The recipient is compared without case, like
    the store's address key and the outbox's dedup key.
    """
    header_token(linkedid, field="linkedid")
    header_token(domain, field="domain")
    header_text(recipient, field="recipient")
    digest = hashlib.sha256(f"{linkedid}\0{recipient.lower()}".encode()).hexdigest()[:32]
    return f"<chakushin.{digest}@{domain}>"


# --- templates -----------------------------------------------------------------------

# Placeholders each template may use; an unknown one is a typo that would
# otherwise reach the subscriber as "$calller".
# Issue 17: ${answered_by} is who answered (受付（PJSIP/201）, PJSIP/201 or
# ""); ${answered} the body's line for it with its leading line break, so only
# the body takes it.
# Issue 19 (BOOK-2): ${caller} stays the number or the word for its absence
# (operators' old templates keep working); ${caller_name} is the phonebook
# name or ""; ${caller_display} 「山田商事（0398765432）」 or ${caller};
# ${caller_heading} the same for the subject, with today's space before からの
# when there is no name; ${caller_line} the body's line, 「発信者：山田商事
# （0398765432）」 or 「発信者番号：0398765432」.
_CALL_FIELDS = frozenset(
    {
        "service",
        "caller",
        "caller_name",
        "caller_display",
        "caller_heading",
        "caller_line",
        "called_number",
        "started_at",
        "result",
        "timezone",
        "answered_by",
    }
)
_BODY_FIELDS = _CALL_FIELDS | {"answered"}
_TEST_FIELDS = frozenset({"service", "called_number", "sent_at", "timezone", "recipient"})
# Issue 19 (CHAT-1): the chat message (notifier.chat) has the body's fields;
# its test message the test mail's but the recipient (a chat has no address).
_TEST_CHAT_FIELDS = _TEST_FIELDS - {"recipient"}
TEMPLATE_FIELDS: Mapping[str, frozenset[str]] = {
    "subject.txt": _CALL_FIELDS,
    "body.txt": _BODY_FIELDS,
    "test_subject.txt": _TEST_FIELDS,
    "test_body.txt": _TEST_FIELDS,
    "chat.txt": _BODY_FIELDS,
    "test_chat.txt": _TEST_CHAT_FIELDS,
}
_SUBJECTS = frozenset({"subject.txt", "test_subject.txt"})


def _check_template(name: str, text: str, origin: str) -> string.Template:
    if name in _SUBJECTS:
        text = text.strip()
        if has_control(text) or not text:
            raise TemplateError(f"{origin}: a subject template is one non-empty line")
    template = string.Template(text)
    if not template.is_valid():
        raise TemplateError(f"{origin}: a '$' that starts no placeholder (write '$$' for '$')")
    # In the order they appear (get_identifiers gives each once, in that order).
    unknown = [i for i in template.get_identifiers() if i not in TEMPLATE_FIELDS[name]]
    if unknown:
        allowed = ", ".join(f"${field}" for field in sorted(TEMPLATE_FIELDS[name]))
        raise TemplateError(
            f"{origin}: unknown placeholder(s) {', '.join('$' + u for u in unknown)}; "
            f"allowed: {allowed}"
        )
    return template


@dataclass(frozen=True)
class Templates:
    """MAIL-9: the four mail templates and the two chat ones, checked once when loaded.

    ``origins`` says where each came from (package default or the operator's
    file), for the start-up log. ``chat`` and ``test_chat`` (issue 19) are
    the chat message of a call and of 送信テスト (notifier.chat).
    """

    subject: string.Template
    body: string.Template
    test_subject: string.Template
    test_body: string.Template
    origins: Mapping[str, str]
    chat: string.Template
    test_chat: string.Template

    @classmethod
    def load(cls, override_dir: Path | str | None = None) -> Templates:
        """The package defaults, each replaced by the same-named file in ``override_dir``."""
        override = Path(override_dir) if override_dir is not None else None
        if override is not None and not override.is_dir():
            raise TemplateError(f"{override}: template override directory does not exist")
        defaults = importlib.resources.files("notifier").joinpath("templates")
        loaded: dict[str, string.Template] = {}
        origins: dict[str, str] = {}
        problems: list[str] = []
        for name in TEMPLATE_FIELDS:
            candidate = override / name if override is not None else None
            try:
                if candidate is not None and candidate.is_file():
                    origin = str(candidate)
                    text = candidate.read_text(encoding="utf-8")
                else:
                    origin = f"notifier/templates/{name}"
                    text = defaults.joinpath(name).read_text(encoding="utf-8")
                loaded[name] = _check_template(name, text, origin)
            except UnicodeDecodeError as exc:
                problems.append(f"{origin}: not UTF-8 text ({exc.reason})")
            except TemplateError as exc:
                problems.append(str(exc))
            origins[name] = origin
        if problems:
            raise TemplateError("; ".join(problems), problems)
        return cls(
            subject=loaded["subject.txt"],
            body=loaded["body.txt"],
            test_subject=loaded["test_subject.txt"],
            test_body=loaded["test_body.txt"],
            origins=origins,
            chat=loaded["chat.txt"],
            test_chat=loaded["test_chat.txt"],
        )


# --- the mails -----------------------------------------------------------------------


def _aware(moment: dt.datetime) -> dt.datetime:
    # Call times are UTC throughout the store; a naive one can only be UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"time zone {name!r}: not an IANA time zone name") from exc


def caller_label(call: CallRecord) -> str:
    """MAIL-9: the caller's number, or the word for why there is none.

    The number appears only when it was presented (``Presentation.ALLOWED``
    and digits), whatever else the record holds.
    """
    return labels.caller_label(call.presentation, call.caller_number)


# Asterisk's member name (notifier.ami) may be longer than an operator's name.
_MAX_ANSWERED_NAME = 40


def _shown_name(name: str, limit: int) -> bool:
    return 0 < len(name) <= limit and name.isprintable() and not has_control(name)


def answered_by(call: CallRecord, device_label: str = "") -> str:
    """Issue 17 (MAIL-9): who answered, 「受付（PJSIP/201）」 or 「PJSIP/201」; "" if nobody did.

    The name is ``device_label`` (the operator's, store.service.device_labels),
    else Asterisk's member name; a value that is not what the store and
    notifier.ami let through (a row written around them) is left out, so no
    control character reaches the body.
    """
    parts = answered_parts(call, device_label)
    return labels.answered_by_label(*parts) if parts is not None else ""


def answered_parts(call: CallRecord, device_label: str = "") -> tuple[str, str] | None:
    """(interface, name or "") of who answered, as ``answered_by`` shows them; None if nobody."""
    if call.outcome is not CallOutcome.ANSWERED or not call.answered_by:
        return None
    try:
        interface = validation.interface(call.answered_by)
    except InvalidInput:
        return None
    if _shown_name(device_label, validation.MAX_DEVICE_LABEL):
        name = device_label
    elif _shown_name(call.answered_name, _MAX_ANSWERED_NAME):
        name = call.answered_name
    else:
        name = ""
    return interface, name


def usable_caller_name(name: str) -> bool:
    """Issue 19 (BOOK-2): ``name`` is what the phonebook lets through, as it is.

    ``store.validation.caller_name`` must accept it unchanged (stripped,
    NFC, 1 to ``MAX_CALLER_NAME`` characters, no control, format or invisible
    character): a row written around the store (by hand, by an old version)
    that is not is left out, so nothing in it reaches a header or a chat
    message.
    """
    if not name:
        return False
    try:
        return validation.caller_name(name) == name and not has_control(name)
    except InvalidInput:
        return False


def caller_name_of(call: CallRecord, name: str) -> str:
    """Issue 19 (MAIL-9, BOOK-2): the name a notification gives the caller, or "".

    Only a presented caller (``Presentation.ALLOWED`` and digits) is named,
    whatever name the caller passed: a withheld, payphone or unavailable one
    never is, even if the phonebook held its (wrongly present) digits.
    """
    if labels.presented_number(call.presentation, call.caller_number) is None:
        return ""
    return name if usable_caller_name(name) else ""


def call_fields(
    call: CallRecord,
    settings: MailSettings,
    *,
    caller_name: str = "",
    device_label: str = "",
) -> dict[str, str]:
    """MAIL-9: the values of a call's placeholders, for its mail and its chat message alike.

    One function for both, so that the mail and the chat message of a call
    say the same name, number, time and result (issue 19). Raises
    ``UnsafeHeader`` for a subscriber number that is not digits and
    ``ValueError`` for a time zone zoneinfo lacks.
    """
    called_number = _number(settings.number, field="called_number")
    zone = _zone(settings.timezone)
    caller = caller_label(call)
    name = caller_name_of(call, caller_name)
    display = f"{name}（{caller}）" if name else caller
    fields = {
        "service": SERVICE_NAME,
        "caller": caller,
        "caller_name": name,
        "caller_display": display,
        "caller_heading": display if name else f"{caller} ",
        "caller_line": f"{CALLER_NAME_PREFIX}{display}" if name else f"{CALLER_PREFIX}{caller}",
        "called_number": called_number,
        "started_at": _aware(call.started_at).astimezone(zone).strftime(TIME_FORMAT),
        "result": OUTCOME_LABELS[call.outcome],
        "timezone": settings.timezone,
        "answered_by": answered_by(call, device_label),
    }
    fields["answered"] = (
        f"\n{labels.ANSWERED_BY_PREFIX}{fields['answered_by']}" if fields["answered_by"] else ""
    )
    return fields


# Issue 19: the body's caller line with a name, and (as before) without.
CALLER_NAME_PREFIX = "発信者："
CALLER_PREFIX = "発信者番号："


def compose(
    call: CallRecord,
    settings: MailSettings,
    recipient: str,
    *,
    sender: str,
    templates: Templates,
    device_label: str = "",
    caller_name: str = "",
) -> EmailMessage:
    """MAIL-9: the notification mail of ``call`` for one recipient.

    ``device_label`` is the operator's name for the interface that answered
    (issue 17), if it has one; ``caller_name`` the caller's name in the
    number's phonebook (issue 19, BOOK-2), used only for a presented caller
    and only if it is a valid name (``usable_caller_name``).

    Raises ``UnsafeHeader`` when the sender, the recipient, the Linkedid or
    the subscriber number could not be put in a header safely.
    """
    domain = header_sender(sender).domain
    recipient = header_address(recipient, field="recipient")
    linkedid = header_token(call.linkedid, field="linkedid")
    fields = call_fields(call, settings, caller_name=caller_name, device_label=device_label)
    zone = _zone(settings.timezone)
    msg = build_message(
        sender=sender,
        recipient=recipient,
        subject=templates.subject.substitute(fields),
        body=templates.body.substitute(fields),
        date=_aware(call.ended_at).astimezone(zone),
        message_id=make_message_id(linkedid, recipient, domain),
    )
    msg["X-Chakushin-Call"] = linkedid
    return msg


_PLACEHOLDER_RECIPIENT = "chakushin-recipient@placeholder.invalid"


def compose_all(
    call: CallRecord,
    settings: MailSettings,
    recipients: Sequence[str],
    *,
    sender: str,
    templates: Templates,
    device_label: str = "",
    caller_name: str = "",
) -> list[tuple[str, str, str, str]]:
    """The mail of ``call`` for each recipient as (recipient, subject, text, Message-ID).

    Building an ``EmailMessage`` costs most of a decision's time, and the
    mails of one call differ only in To and Message-ID: the message is built
    once for a placeholder recipient, and each recipient's text substitutes
    its own validated address and Message-ID (a test checks the result is
    byte for byte what ``compose`` gives). A recipient that cannot be put in
    a header is left out, with the reason logged by the caller.
    """
    template = compose(
        call,
        settings,
        _PLACEHOLDER_RECIPIENT,
        sender=sender,
        templates=templates,
        device_label=device_label,
        caller_name=caller_name,
    )
    text = template.as_string()
    placeholder_id = str(template["Message-ID"])
    subject = str(template["Subject"])
    domain = header_sender(sender).domain
    linkedid = header_token(call.linkedid, field="linkedid")
    out = []
    for recipient in recipients:
        address = header_address(recipient, field="recipient")
        message_id = make_message_id(linkedid, address, domain)
        own = text.replace(f"To: {_PLACEHOLDER_RECIPIENT}\n", f"To: {address}\n", 1)
        own = own.replace(f"Message-ID: {placeholder_id}\n", f"Message-ID: {message_id}\n", 1)
        out.append((address, subject, own, message_id))
    return out


def compose_test(
    recipient: str,
    settings_number: str,
    *,
    sender: str,
    templates: Templates,
    now: dt.datetime,
    timezone: str = DEFAULT_TIMEZONE,
) -> EmailMessage:
    """MAIL-2 "send test": a short test mail to one address, with a fresh Message-ID."""
    domain = header_sender(sender).domain
    recipient = header_address(recipient, field="recipient")
    called_number = _number(settings_number, field="called_number")
    zone = _zone(timezone)
    local_now = _aware(now).astimezone(zone)
    fields = {
        "service": SERVICE_NAME,
        "called_number": called_number,
        "sent_at": local_now.strftime(TIME_FORMAT),
        "timezone": timezone,
        "recipient": recipient,
    }
    return build_message(
        sender=sender,
        recipient=recipient,
        subject=templates.test_subject.substitute(fields),
        body=templates.test_body.substitute(fields),
        date=local_now,
        message_id=email.utils.make_msgid(idstring="chakushin-test", domain=domain),
    )
