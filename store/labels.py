"""MAIL-9: how a call is put into words, for the mail and for the site's history alike.

The notifier's mail and the site's call history show the same caller and
the same result, so the words live once, here on the ground floor.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from store.models import CallOutcome, Presentation

# A presented caller ID is 1-32 digits, in the national form once read
# (store.caller_number turns "+81..." into "0..." in agi/ and notifier/).
# Anything else a trunk sends (a name, another country's "+1...", a stray
# control character) is treated as not presented, in the rules, the mail and
# the history, so they never disagree about a caller.
_CALLER_NUMBER = re.compile(r"[0-9]{1,32}")

# MAIL-9: what stands in for a number that was not presented.
PRESENTATION_LABELS: Mapping[Presentation, str] = {
    Presentation.WITHHELD: "非通知",
    Presentation.PAYPHONE: "公衆電話",
    Presentation.UNAVAILABLE: "表示圏外",
}
# A caller marked ALLOWED whose number is empty or not digits: the number is
# not available, which is what 表示圏外 tells the subscriber.
NO_NUMBER_LABEL = "表示圏外"

# MAIL-9: the call's result in words. Only the first four are ever mailed
# (notifier.rules); the others have words so that composing never fails.
OUTCOME_LABELS: Mapping[CallOutcome, str] = {
    CallOutcome.ANSWERED: "応答",
    CallOutcome.UNANSWERED: "不在",
    CallOutcome.BUSY: "話中",
    CallOutcome.FORWARDED: "転送",
    CallOutcome.FORWARD_FAILED: "転送失敗",
    CallOutcome.REJECTED_NUISANCE: "迷惑電話拒否",
    CallOutcome.REJECTED_ANONYMOUS: "非通知拒否",
    CallOutcome.EXPIRED: "不明",
}


def presented_number(presentation: Presentation, caller_number: str) -> str | None:
    """The caller's number if it was presented (CALL-3, MAIL-5, MAIL-9), else None.

    Only ``Presentation.ALLOWED`` counts: a withheld, payphone or unavailable
    caller has no number even if one were (wrongly) present in the record.
    """
    if presentation is not Presentation.ALLOWED:
        return None
    if not _CALLER_NUMBER.fullmatch(caller_number):
        return None
    return caller_number


def caller_label(presentation: Presentation, caller_number: str) -> str:
    """MAIL-9: the caller's number, or the word for why there is none."""
    number = presented_number(presentation, caller_number)
    if number is not None:
        return number
    return PRESENTATION_LABELS.get(presentation, NO_NUMBER_LABEL)


def outcome_label(outcome: CallOutcome) -> str:
    return OUTCOME_LABELS.get(outcome, outcome.value)


# Issue 17 (MAIL-9): who answered an office's call, 「応答：受付（PJSIP/201）」.
ANSWERED_BY_PREFIX = "応答："


def answered_by_label(interface: str, name: str = "") -> str:
    """The device or queue member that answered: 「受付（PJSIP/201）」, or the interface alone.

    ``name`` is the operator's name for the interface (DeviceLabel) or
    Asterisk's member name; ``""`` when there is no interface.
    """
    if not interface:
        return ""
    return f"{name}（{interface}）" if name else interface
