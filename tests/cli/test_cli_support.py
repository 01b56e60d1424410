"""Issue 14, the support desk's commands (SITE-2, SITE-5): ``chakushin support``.

Run through the CLI's entry point (``chakushin.cli.cli``) on both backends;
what they did is read back from the store and by logging in the way the
site does (``store.site_auth.login``).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from chakushin.cli import cli
from store import db, service, site_auth
from store.models import AuthUnit, SiteCredential, SiteSession, SiteToken, TempPassword
from tests.builders import OtpInUse, give_site_password, snapshot
from web.sessions import SessionStore, Stage

CONTRACT, EXTRA = "0312345678", "0312345679"
PASSWORD = "hikari7Mail"
OTP = OtpInUse("me@example.jp", "abcDEF12", "pass1234word")


def run(db_url: str, workdir: Path, *args: str) -> Result:
    return CliRunner().invoke(
        cli,
        ["support", *args],
        env={"CHAKUSHIN_DATABASE_URL": db_url, "CHAKUSHIN_DATA_DIR": str(workdir)},
        catch_exceptions=False,
    )


@pytest.fixture
def line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """CONTRACT with OTP in use (a code pending, a live site session), EXTRA without."""
    now = dt.datetime.now(dt.UTC)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
        give_site_password(s, CONTRACT, now=now, password=PASSWORD, otp=OTP)
    with db.transaction(sessions) as s:
        site_auth.send_otp_code(s, CONTRACT, sender="chakushin@example.jp", now=now)
    SessionStore(sessions).create(CONTRACT, Stage.OTP, dt.timedelta(minutes=30))
    return sessions


def credential(sessions: sessionmaker[Session], number: str) -> SiteCredential:
    with db.transaction(sessions, read_only=True) as s:
        found = service.get_number(s, number)
        cred = s.scalars(select(SiteCredential).where(SiteCredential.number_id == found.id)).one()
        s.expunge(cred)
        return cred


def count(sessions: sessionmaker[Session], model: type[SiteSession] | type[SiteToken]) -> int:
    with db.transaction(sessions, read_only=True) as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def test_issue14_SITE_5_otp_reset_clears_the_settings_and_ends_the_sessions(
    line: sessionmaker[Session], db_url: str, tmp_config: Path
) -> None:
    assert count(line, SiteSession) == 1 and count(line, SiteToken) == 1
    result = run(db_url, tmp_config, "otp-reset", CONTRACT)
    assert result.exit_code == 0, result.stderr
    assert f"{CONTRACT}: one-time password reset (it was on)" in result.stdout
    cred = credential(line, CONTRACT)
    assert not cred.otp_enabled and cred.otp_address is None
    assert cred.otp_address_verified_at is None and cred.otp_chosen_at is None
    assert cred.otp_confirmation_id is None and cred.otp_confirmation_password_hash is None
    assert count(line, SiteSession) == 0 and count(line, SiteToken) == 0  # code void too
    [event] = [json.loads(e) for e in result.stderr.splitlines() if "support_otp_reset" in e]
    assert event["number"] == CONTRACT and event["was_enabled"] is True
    # The password alone logs in now, and the site asks the choice of seeds P.7 again.
    done = site_auth.login(line, CONTRACT, PASSWORD, now=dt.datetime.now(dt.UTC))
    assert not done.otp_required and done.otp_choice_required


def test_issue14_SITE_5_otp_reset_of_an_unknown_number_writes_nothing(
    line: sessionmaker[Session], db_url: str, tmp_config: Path
) -> None:
    before = snapshot(line.kw["bind"])
    result = run(db_url, tmp_config, "otp-reset", "0399999999")
    assert result.exit_code == 1 and "no subscriber number '0399999999'" in result.stderr
    assert snapshot(line.kw["bind"]) == before


def test_issue14_SITE_2_temp_password_is_printed_once_and_logged_without_it(
    line: sessionmaker[Session], db_url: str, tmp_config: Path
) -> None:
    first = run(db_url, tmp_config, "temp-password", EXTRA, "--unit", "number")
    assert first.exit_code == 0, first.stderr
    [password] = re.findall(r"temporary password (\d{8}) \(auth unit number\)", first.stdout)
    assert "valid until" in first.stdout
    # The log event says one was issued, for which number; never the password.
    assert password not in first.stderr
    [event] = [
        json.loads(e) for e in first.stderr.splitlines() if "support_temp_password_issued" in e
    ]
    assert event["number"] == EXTRA and event["auth_unit"] == "number"
    with db.transaction(line, read_only=True) as s:
        temp = s.scalars(select(TempPassword)).one()
        assert temp.expires_at - temp.created_at == dt.timedelta(hours=24)  # SITE-2
        assert password not in temp.password_hash
        assert service.get_number(s, CONTRACT).line.auth_unit is AuthUnit.NUMBER
    # It logs in once to force the change (SITE-2).
    done = site_auth.login(line, EXTRA, password, now=dt.datetime.now(dt.UTC))
    assert done.must_change_password and done.via_temp_password
    # A newer one replaces it; its sessions end as for one set by phone.
    SessionStore(line).create(EXTRA, Stage.PASSWORD_CHANGE, dt.timedelta(minutes=30))
    second = json.loads(run(db_url, tmp_config, "temp-password", EXTRA, "--json").stdout)
    assert second["number"] == EXTRA and re.fullmatch(r"\d{8}", second["temp_password"])
    assert second["auth_unit"] == "number"  # the line's unit, as the first one set it
    with db.transaction(line, read_only=True) as s:
        assert s.scalar(select(func.count()).select_from(TempPassword)) == 1
        ended = s.scalars(select(SiteSession).join(SiteSession.number)).all()
        assert [row.number.number for row in ended] == [CONTRACT]
    if second["temp_password"] != password:
        with pytest.raises(site_auth.LoginRefused):
            site_auth.login(line, EXTRA, password, now=dt.datetime.now(dt.UTC))


def test_issue14_SITE_2_temp_password_refused_for_a_number_the_unit_does_not_allow(
    line: sessionmaker[Session], db_url: str, tmp_config: Path
) -> None:
    """IVR-4: in the line unit only the contract number has a temporary password."""
    before = snapshot(line.kw["bind"])
    result = run(db_url, tmp_config, "temp-password", EXTRA, "--unit", "line")
    assert result.exit_code == 1 and result.stdout == ""
    assert "may not set the temporary password" in result.stderr
    assert snapshot(line.kw["bind"]) == before
