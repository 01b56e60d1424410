"""Steps of the store's SITE-1…10 tests that more than one module takes (site_auth, guessing)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from store import db, service, site_auth
from store.models import AuthUnit, SiteCredential, TempPassword
from store.site_auth import LoginRefused
from tests.builders import C, give_site_password, hashed

NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)
PW_C = "hikari7Mail"
PW_E1 = "tsuika5Mail"
NEW = "atarashi9Pw"
TEMP = "48261937"


def set_unit(sessions: sessionmaker[Session], unit: AuthUnit) -> None:
    with db.transaction(sessions) as s:
        service.set_auth_unit(s, C, unit)


def give_password(
    sessions: sessionmaker[Session], number: str, password: str, *, changed_at: dt.datetime = NOW
) -> None:
    with db.transaction(sessions) as s:
        give_site_password(s, number, now=changed_at, password=password)


def give_temp(
    sessions: sessionmaker[Session],
    number: str,
    unit: AuthUnit,
    *,
    at: dt.datetime = NOW,
) -> None:
    """IVR-9, called from the contract number (which may set any number's)."""
    with db.transaction(sessions) as s:
        service.set_temp_password(
            s, C, number, service.HashedTempPassword(hashed(TEMP)), unit, now=at
        )


def credential(sessions: sessionmaker[Session], number: str) -> SiteCredential | None:
    with db.transaction(sessions, read_only=True) as s:
        found = service.get_number(s, number)
        return s.scalars(
            select(SiteCredential).where(SiteCredential.number_id == found.id)
        ).one_or_none()


def temp_of(sessions: sessionmaker[Session], number: str) -> TempPassword | None:
    with db.transaction(sessions, read_only=True) as s:
        found = service.get_number(s, number)
        return s.scalars(
            select(TempPassword).where(TempPassword.number_id == found.id)
        ).one_or_none()


def refused(
    sessions: sessionmaker[Session], number: str, password: str, *, now: dt.datetime = NOW
) -> LoginRefused:
    with pytest.raises(LoginRefused) as err:
        site_auth.login(sessions, number, password, now=now)
    return err.value
