"""MAIL-2 送信テスト limits (issue 12 item 15), on both backends, with the clock passed in."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from store import db, send_limits
from store.errors import NotFound
from store.models import SendTest
from tests.builders import E1, C, snapshot
from web.texts import japanese

NUMBER, OTHER = C, E1  # the contract number and another number of the line fixture
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
LIMITS = send_limits.SendTestLimits(per_session=2, per_number=3, window=dt.timedelta(minutes=10))


def reserve(sessions: sessionmaker[Session], number: str, key: str, at: dt.datetime) -> None:
    with db.transaction(sessions) as s:
        send_limits.reserve_send_test(s, number, key, LIMITS, now=at)


def refused(sessions: sessionmaker[Session], number: str, key: str, at: dt.datetime) -> str:
    before = snapshot(sessions.kw["bind"])
    with pytest.raises(send_limits.SendTestLimited) as err:
        reserve(sessions, number, key, at)
    assert snapshot(sessions.kw["bind"]) == before
    return japanese(err.value)


def test_item15_MAIL_2_per_session_then_per_number_within_the_window(
    line: sessionmaker[Session],
) -> None:
    reserve(line, NUMBER, "a", NOW)
    reserve(line, NUMBER, "a", NOW + dt.timedelta(minutes=1))
    assert "ログインに使った電話番号では10分間に2回まで" in refused(line, NUMBER, "a", NOW)
    reserve(line, NUMBER, "b", NOW + dt.timedelta(minutes=2))
    assert "この電話番号では10分間に3回まで" in refused(line, NUMBER, "c", NOW)
    reserve(line, OTHER, "c", NOW + dt.timedelta(minutes=2))  # another number: its own count
    # Ten minutes after the first, it no longer counts (and is deleted).
    reserve(line, NUMBER, "a", NOW + dt.timedelta(minutes=10, seconds=1))
    with db.transaction(line, read_only=True) as s:
        assert s.scalar(select(func.count()).select_from(SendTest)) == 4
        assert s.scalar(select(func.min(SendTest.sent_at))) == NOW + dt.timedelta(minutes=1)


def test_item15_MAIL_2_unknown_number_and_naive_time_are_refused(
    line: sessionmaker[Session],
) -> None:
    with pytest.raises(NotFound):
        reserve(line, "0399999999", "a", NOW)
    with pytest.raises(ValueError):
        reserve(line, NUMBER, "a", NOW.replace(tzinfo=None))
