"""Issue 18, the support desk over the API (SITE-2, SITE-5): ``POST /numbers/{n}/temp-password``
and ``POST /numbers/{n}/otp-reset`` do what ``chakushin support`` does, on both databases.

What they did is read back from the store and by logging in the way the site
does (``store.site_auth.login``), on the API's clock.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from store import db, service, site_auth
from store.models import AuthUnit, SiteCredential, SiteSession, SiteToken, TempPassword
from tests.api.conftest import TEMP, Api
from tests.builders import OtpInUse, give_site_password
from web.sessions import SessionStore, Stage

CONTRACT, EXTRA = "0312345678", "0312345679"
PASSWORD = "hikari7Mail"
OTP = OtpInUse("me@example.jp", "abcDEF12", "pass1234word")


@pytest.fixture
def line(api: Api) -> Api:
    """CONTRACT with OTP in use (a code pending, a live site session), EXTRA with a session."""
    now = api.clock()
    with db.transaction(api.sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
        give_site_password(s, CONTRACT, now=now, password=PASSWORD, otp=OTP)
    with db.transaction(api.sessions) as s:
        site_auth.send_otp_code(s, CONTRACT, sender="chakushin@example.jp", now=now)
    store = SessionStore(api.sessions, clock=api.clock)
    store.create(CONTRACT, Stage.OTP, dt.timedelta(minutes=30))
    store.create(EXTRA, Stage.PASSWORD_CHANGE, dt.timedelta(minutes=30))
    return api


def sessions_of(sessions: sessionmaker[Session]) -> list[str]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.scalars(select(SiteSession).join(SiteSession.number)).all()
        return sorted(row.number.number for row in rows)


def rows(sessions: sessionmaker[Session], model: type[SiteToken] | type[TempPassword]) -> int:
    with db.transaction(sessions, read_only=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


# --- temp-password (SITE-2, IVR-7, IVR-9) -------------------------------------------------------


def test_issue18_SITE_2_temp_password_is_answered_once_stored_hashed_and_logs_in(
    line: Api,
) -> None:
    with capture_logs() as logs:
        r = line.write.post(f"/api/v1/numbers/{EXTRA}/temp-password", json={"unit": "number"})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    body = r.json()
    expires = line.clock() + dt.timedelta(hours=24)
    assert body == {
        "number": EXTRA,
        "temp_password": TEMP,
        "auth_unit": "number",
        "expires_at": expires.isoformat().replace("+00:00", "Z"),
    }
    # The log says one was issued (the CLI's event), never which.
    [event] = [e for e in logs if e["event"] == "support_temp_password_issued"]
    assert event["number"] == EXTRA and event["auth_unit"] == "number"
    assert event["log_level"] == "warning" and event["token"] == "provisioner"
    assert all(TEMP not in repr(e) for e in logs)
    with db.transaction(line.sessions, read_only=True) as s:
        temp = s.scalars(select(TempPassword)).one()
        assert temp.expires_at - temp.created_at == dt.timedelta(hours=24)
        assert TEMP not in temp.password_hash and temp.password_hash.startswith("$argon2")
        assert service.get_number(s, CONTRACT).line.auth_unit is AuthUnit.NUMBER
    # EXTRA's site session ended, CONTRACT's did not.
    assert sessions_of(line.sessions) == [CONTRACT]
    # It logs in once to force the change (SITE-2).
    done = site_auth.login(line.sessions, EXTRA, TEMP, now=line.clock())
    assert done.must_change_password and done.via_temp_password


def test_issue18_SITE_2_temp_password_without_a_unit_keeps_the_lines_and_replaces_the_old(
    line: Api,
) -> None:
    first = line.write.post(f"/api/v1/numbers/{CONTRACT}/temp-password")
    assert first.status_code == 200, first.text
    assert first.json()["auth_unit"] == "line"  # the line's unit (add_line: line)
    line.clock.advance(hours=1)
    again = line.write.post(f"/api/v1/numbers/{CONTRACT}/temp-password", json={})
    assert again.status_code == 200, again.text
    assert again.json()["expires_at"].startswith("2026-11-23T02:00:00")
    assert rows(line.sessions, TempPassword) == 1
    assert CONTRACT not in sessions_of(line.sessions)


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        (f"/numbers/{EXTRA}/temp-password", {"unit": "line"}, 422, "temp_password_target"),
        ("/numbers/0399999999/temp-password", {}, 404, "not_found"),
        (f"/numbers/{EXTRA}/temp-password", {"unit": "root"}, 422, "invalid_request"),
        (f"/numbers/{EXTRA}/temp-password", {"unit": "number\r\n"}, 422, "invalid_request"),
        (f"/numbers/{EXTRA}/temp-password", {"unit": ["number"]}, 422, "invalid_request"),
        (f"/numbers/{EXTRA}/temp-password", {"unit": "n" * 5000}, 422, "invalid_request"),
        (f"/numbers/{EXTRA}/temp-password", {"unit": "number", "to": "x"}, 422, "invalid_request"),
        (f"/numbers/{'1' * 33}/temp-password", {}, 422, "invalid_request"),
        ("/numbers/%00/temp-password", {}, 422, "invalid_request"),
        ("/numbers/03-1234-5678/temp-password", {}, 422, "invalid_request"),
        ("/numbers/%00/otp-reset", None, 422, "invalid_request"),
        ("/numbers/031234/otp-reset", None, 422, "number_format"),
        ("/numbers/1312345678/temp-password", {}, 422, "number_format"),
        ("/numbers/%EF%BC%90312345678/otp-reset", None, 422, "invalid_request"),
        ("/numbers/0399999999/otp-reset", None, 404, "not_found"),
    ],
)
def test_issue18_SITE_2_a_refused_support_request_is_a_problem_and_changes_nothing(
    line: Api, path: str, body: object, status: int, code: str
) -> None:
    """IVR-4: in the line unit only the contract number has a temporary password."""
    before = line.state()
    r = line.write.post(f"/api/v1{path}", json=body)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert line.state() == before


@pytest.mark.parametrize("action", ["temp-password", "otp-reset"])
def test_issue18_a_read_token_may_not_use_the_support_desk(line: Api, action: str) -> None:
    before = line.state()
    r = line.read.post(f"/api/v1/numbers/{CONTRACT}/{action}")
    assert r.status_code == 403 and r.json()["code"] == "forbidden"
    assert line.state() == before
    assert line.anon.post(f"/api/v1/numbers/{CONTRACT}/{action}").status_code == 401


# --- otp-reset (SITE-5) -------------------------------------------------------------------------


def test_issue18_SITE_5_otp_reset_clears_the_settings_and_ends_the_sessions(line: Api) -> None:
    assert rows(line.sessions, SiteToken) == 1
    with capture_logs() as logs:
        r = line.write.post(f"/api/v1/numbers/{CONTRACT}/otp-reset")
    assert r.status_code == 200, r.text
    assert r.json() == {
        "number": CONTRACT,
        "otp_was_enabled": True,
        "otp_enabled": False,
        "otp_address": None,
        "confirmation_id": None,
        "sessions_ended": True,
    }
    [event] = [e for e in logs if e["event"] == "support_otp_reset"]
    assert event["number"] == CONTRACT and event["was_enabled"] is True
    assert event["had_address"] is True and event["had_confirmation"] is True
    assert event["log_level"] == "warning"
    with db.transaction(line.sessions, read_only=True) as s:
        found = service.get_number(s, CONTRACT)
        cred = s.scalars(select(SiteCredential).where(SiteCredential.number_id == found.id)).one()
        assert not cred.otp_enabled and cred.otp_address is None
        assert cred.otp_confirmation_id is None and cred.otp_confirmation_password_hash is None
    assert sessions_of(line.sessions) == [EXTRA]
    assert rows(line.sessions, SiteToken) == 0  # the pending code is void too
    # The password alone logs in now, and the site asks the choice of seeds P.7 again.
    done = site_auth.login(line.sessions, CONTRACT, PASSWORD, now=line.clock())
    assert not done.otp_required and done.otp_choice_required
    # Again: nothing was on.
    again = line.write.post(f"/api/v1/numbers/{CONTRACT}/otp-reset")
    assert again.status_code == 200 and again.json()["otp_was_enabled"] is False
