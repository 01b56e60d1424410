"""SITE-6 (issue 12): a session ended by a credential change never comes back one stage further."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from store import db
from store.models import SiteSession
from tests.web.conftest import CONTRACT
from web.sessions import SessionStore, Stage

NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def test_issue12_SITE_6_advancing_an_ended_session_makes_none(
    site_line: sessionmaker[Session],
) -> None:
    """A password change elsewhere ends the OTP-stage session between its code check
    and its move to READY: the move must not open a READY session."""
    store = SessionStore(site_line, clock=lambda: NOW)
    otp_stage = store.create(CONTRACT, Stage.OTP, dt.timedelta(minutes=30))
    with db.transaction(site_line) as s:  # what site_auth.end_sessions does at the change
        s.execute(delete(SiteSession))
    assert store.advance(otp_stage, Stage.READY) is None
    with db.transaction(site_line, read_only=True) as s:
        assert s.scalars(select(SiteSession)).all() == []


def test_issue12_SITE_6_advancing_a_live_session_rotates_it(
    site_line: sessionmaker[Session],
) -> None:
    store = SessionStore(site_line, clock=lambda: NOW)
    otp_stage = store.create(CONTRACT, Stage.OTP, dt.timedelta(minutes=30))
    ready = store.advance(otp_stage, Stage.READY)
    assert ready is not None and ready.stage is Stage.READY and ready.token != otp_stage.token
    assert store.load(otp_stage.token) is None
    assert store.load(ready.token) is not None
