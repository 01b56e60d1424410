"""MAIL-2: what the API says of a 送信テスト, of a mail address or a chat destination.

One place for both endpoints (``routes.mail``, ``routes.destinations``): the
outcome as one word (``web.deps.send_test_outcome``, the site's too) and the
bound of the answer quoted back.
"""

from __future__ import annotations

from web.deps import SendTestOutcome, send_test_outcome

# sent; refused (for good); deferred (the outbox would try again); unreachable (none answered).
Outcome = SendTestOutcome
outcome = send_test_outcome
# A server's or receiver's answer is cut to this many characters.
MAX_REPLY = 500
