"""MAIL-1 ... MAIL-8: does a finished call get a notification mail, and to whom?

Pure: a ``CallRecord`` and the ``MailSettings`` snapshot of the called number
in, a ``Decision`` out; no I/O, no clock. ``decide`` runs the checks of
``CHECKS`` in order and the first one that refuses the mail gives the reason;
a call that passes every check is mailed to the addresses whose send flag is
on. Every reason is a short snake_case word that the outbox records as is
(MAIL-10) and logs as ``mail_skipped reason=...``.
"""

from __future__ import annotations

from collections.abc import Callable

from notifier.model import CallRecord, Decision, MailSettings
from store import labels
from store.models import CallOutcome

NOTIFY = "notify"


def presented_number(call: CallRecord) -> str | None:
    """The caller's number if it was presented (CALL-3, MAIL-5, MAIL-9), else None."""
    return labels.presented_number(call.presentation, call.caller_number)


def designated_numbers(settings: MailSettings) -> frozenset[str]:
    """MAIL-5: the numbers whose "designated" flag is on; flag-off entries never match."""
    return frozenset(number for number, flag in settings.designated if flag)


def recipients(settings: MailSettings) -> tuple[str, ...]:
    """MAIL-2: addresses whose send flag is on, in their order, each once.

    "Once" ignores case, as the store does (``address_key``): the outbox keeps
    one mail per call and lower-cased recipient.
    """
    first_spelling: dict[str, str] = {}
    for address, send in settings.addresses:
        if send:
            first_spelling.setdefault(address.lower(), address)
    return tuple(first_spelling.values())


def _no_mail(reason: str, rule: str) -> Decision:
    return Decision(mailed=False, reason=reason, rule=rule)


def not_subscribed(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-1: a number without the mail service gets no mail."""
    if not settings.subscribed:
        return _no_mail("not_subscribed", "MAIL-1")
    return None


def service_stopped(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-1: the service is subscribed but stopped."""
    if not settings.started:
        return _no_mail("service_stopped", "MAIL-1")
    return None


def number_request(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-6: no mail for a call rejected by Number Request (CALL-3)."""
    if call.outcome is CallOutcome.REJECTED_ANONYMOUS:
        return _no_mail("number_request", "MAIL-6")
    return None


def nuisance_list(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-7: no mail for a call from a number on the nuisance list (CALL-2)."""
    if call.outcome is CallOutcome.REJECTED_NUISANCE:
        return _no_mail("nuisance_list", "MAIL-7")
    return None


def forward_failed(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-8: a Voice Warp call whose forward failed (target busy, unreachable...) gets no mail."""
    if call.outcome is CallOutcome.FORWARD_FAILED:
        return _no_mail("forward_failed", "MAIL-8")
    return None


def no_outcome(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-10: the dialplan never reported the call (CALL-5), so there is nothing to tell.

    An expired call may have been rejected (MAIL-6, MAIL-7) or failed to
    forward (MAIL-8); mailing it could break those rules, so it is recorded
    as decided without mail.
    """
    if call.outcome is CallOutcome.EXPIRED:
        return _no_mail("no_outcome", "MAIL-10")
    return None


def designated_only(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-4 (a) and MAIL-5: only calls from designated numbers are notified.

    A caller without a presented number is never notified under this
    condition, even if its number (wrongly present) would match (MAIL-5).
    """
    if not settings.designated_only:
        return None
    caller = presented_number(call)
    if caller is None:
        return _no_mail("designated_only_anonymous", "MAIL-5")
    if caller not in designated_numbers(settings):
        return _no_mail("not_designated", "MAIL-4")
    return None


def unanswered_only(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-4 (b): only calls that were not answered are notified.

    Unanswered, busy and forwarded calls count as not answered ("不在時の
    呼びきり、転送など"); a forwarded call counts whatever the forwarding
    condition and whether the target answered (MAIL-8).
    """
    if settings.unanswered_only and call.outcome is CallOutcome.ANSWERED:
        return _no_mail("answered", "MAIL-4")
    return None


def no_recipient(call: CallRecord, settings: MailSettings) -> Decision | None:
    """MAIL-2: no address has its send flag on."""
    if not recipients(settings):
        return _no_mail("no_recipient", "MAIL-2")
    return None


Check = Callable[[CallRecord, MailSettings], Decision | None]

CHECKS: tuple[Check, ...] = (
    not_subscribed,
    service_stopped,
    number_request,
    nuisance_list,
    forward_failed,
    no_outcome,
    designated_only,
    unanswered_only,
    no_recipient,
)


def decide(call: CallRecord, settings: MailSettings | None) -> Decision:
    """MAIL-1 ... MAIL-8: the decision for one call, with the reason and the rule.

    ``settings`` is None when the called number is unknown to the store: no
    mail (MAIL-1, nothing subscribed). A mailed call names MAIL-8 when it was
    forwarded and MAIL-4 otherwise (the conditions let it through).
    """
    if call.malformed:
        # The event could not be used as it came (issue 12): recorded, never mailed.
        return _no_mail(call.malformed, "MAIL-10")
    if settings is None:
        return _no_mail("unknown_number", "MAIL-1")
    for check in CHECKS:
        refused = check(call, settings)
        if refused is not None:
            return refused
    rule = "MAIL-8" if call.outcome is CallOutcome.FORWARDED else "MAIL-4"
    return Decision(mailed=True, reason=NOTIFY, rule=rule, recipients=recipients(settings))
