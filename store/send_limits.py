"""MAIL-2 送信テスト, bounded (issue 12 item 15).

A test mail goes out at once to an address that need not be saved yet, so
without a bound the button mails anyone, as often as it is pressed. Each
request is counted in ``send_test`` before the mail is sent (a mail server
that refuses still counts): at most ``per_session`` within ``window`` for
one login number (``login_key``: every session of that login shares it, so
logging in again does not start a new count; issue 12), and ``per_number``
for one number whoever asks. The
number's row is locked first, so parallel requests (several site
processes on PostgreSQL) are counted one after the other.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from store import service
from store.errors import DomainError
from store.models import Number, SendTest

log = structlog.get_logger("store")

# Every code raised here -> its English line for operators; the ``{param}`` names
# are those of the Japanese sentence the site shows (web.texts.SEND_TEST).
OPERATOR_TEXT: Mapping[str, str] = {
    "send_test_session_limit": (
        "send tests of this login number: at most {limit} in {minutes} minutes; try later"
    ),
    "send_test_number_limit": (
        "send tests of this number: at most {limit} in {minutes} minutes; try later"
    ),
}


def login_key(login_number: str) -> str:
    """The ``session_key`` of every session logged in with ``login_number`` (issue 12).

    Keyed on the login, not on the session token: a new session is one login away.
    """
    return "login:" + login_number


@dataclass(frozen=True)
class SendTestLimits:
    per_session: int
    per_number: int
    window: dt.timedelta


class SendTestLimited(DomainError):
    """Too many test mails in the window; nothing was recorded or sent.

    ``code``: ``send_test_session_limit`` (the login number's share) or
    ``send_test_number_limit`` (the number's); ``params``: ``limit`` and the
    window in whole ``minutes``.
    """

    code = "send_test_limit"

    def __init__(self, code: str, limit: int, window: dt.timedelta) -> None:
        params = {"minutes": max(1, int(window.total_seconds() // 60)), "limit": limit}
        super().__init__(
            OPERATOR_TEXT[code].format_map(params), code=code, field="test", params=params
        )


def reserve_send_test(
    session: Session,
    number: str,
    session_key: str,
    limits: SendTestLimits,
    *,
    now: dt.datetime,
) -> None:
    """Count one test mail for ``number`` asked by ``session_key`` at ``now``, or refuse.

    Raises ``SendTestLimited`` (nothing written) when the session or the
    number has had its share within the window; ``NotFound`` for an
    unknown number. Rows past the window are deleted.
    """
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    found = service.get_number(session, number)
    session.execute(select(Number.id).where(Number.id == found.id).with_for_update())
    since = now - limits.window
    session.execute(delete(SendTest).where(SendTest.sent_at <= since))
    by_session = session.scalar(
        select(func.count())
        .select_from(SendTest)
        .where(SendTest.session_key == session_key, SendTest.sent_at > since)
    )
    if (by_session or 0) >= limits.per_session:
        log.warning("send_test_limited", number=number, per="session")
        raise SendTestLimited("send_test_session_limit", limits.per_session, limits.window)
    by_number = session.scalar(
        select(func.count())
        .select_from(SendTest)
        .where(SendTest.number_id == found.id, SendTest.sent_at > since)
    )
    if (by_number or 0) >= limits.per_number:
        log.warning("send_test_limited", number=number, per="number")
        raise SendTestLimited("send_test_number_limit", limits.per_number, limits.window)
    session.add(SendTest(number_id=found.id, session_key=session_key, sent_at=now))
    session.flush()
