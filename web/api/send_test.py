"""MAIL-2: what the API says of a 送信テスト, of a mail address or a chat destination.

One place for both endpoints (``routes.mail``, ``routes.destinations``): the
outcome in words from the sender's ``SendTestResult`` and the bound of the
answer quoted back.
"""

from __future__ import annotations

from typing import Literal

from web.deps import SendTestResult

# sent; refused (for good); deferred (the outbox would try again); unreachable (none answered).
Outcome = Literal["sent", "refused", "deferred", "unreachable"]
# A server's or receiver's answer is cut to this many characters.
MAX_REPLY = 500


def outcome(result: SendTestResult) -> Outcome:
    if result.ok:
        return "sent"
    if not result.answered:
        return "unreachable"
    return "refused" if result.permanent else "deferred"
