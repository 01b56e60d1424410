"""Issue 14 flow 4 (SITE-2): a temporary password logs in until a password is set from it.

The seeds' subscriber pays for the call that sets a temporary password. A
login with it that ends before the forced change (ログアウト on the change
page, a closed browser) must not spend it: it stays valid until a password
has been set from it, 24 hours have passed, or it was mistyped 3 times in a
row; a newer one set by phone replaces it. Both backends (``line``).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session, sessionmaker

from store import db, service, site_auth
from store.models import AuthUnit
from tests.builders import E1, C, hashed
from tests.store.site_auth_steps import (
    NEW,
    NOW,
    PW_C,
    TEMP,
    give_password,
    give_temp,
    refused,
    temp_of,
)

NEWER_TEMP = "13572468"


def test_issue14_SITE_2_a_temp_password_logs_in_again_until_a_password_is_set_from_it(
    line: sessionmaker[Session],
) -> None:
    give_temp(line, C, AuthUnit.LINE)
    first = site_auth.login(line, C, TEMP, now=NOW + dt.timedelta(minutes=5))
    # The subscriber pressed ログアウト on the change page and logs in again.
    again = site_auth.login(line, C, TEMP, now=NOW + dt.timedelta(minutes=9))
    for result in (first, again):
        assert result.via_temp_password and result.must_change_password
    with db.transaction(line) as s:
        site_auth.change_password(s, C, C, TEMP, NEW, NEW, now=NOW + dt.timedelta(minutes=10))
    assert temp_of(line, C) is None
    late = refused(line, C, TEMP, now=NOW + dt.timedelta(minutes=11))
    assert late.reason == "wrong_password" and late.generic
    assert (
        site_auth.login(line, C, NEW, now=NOW + dt.timedelta(minutes=12)).via_temp_password is False
    )


def test_issue14_SITE_2_a_temp_password_that_logged_in_still_ends_at_24_hours(
    line: sessionmaker[Session],
) -> None:
    give_temp(line, C, AuthUnit.LINE)
    assert site_auth.login(line, C, TEMP, now=NOW + dt.timedelta(hours=1)).via_temp_password
    assert site_auth.login(line, C, TEMP, now=NOW + dt.timedelta(hours=23)).via_temp_password
    assert refused(line, C, TEMP, now=NOW + dt.timedelta(hours=24)).reason == (
        "temp_password_expired"
    )


def test_issue14_SITE_2_three_wrong_entries_in_a_row_end_a_temp_password_that_logged_in(
    line: sessionmaker[Session],
) -> None:
    give_temp(line, C, AuthUnit.LINE)
    assert site_auth.login(line, C, TEMP, now=NOW).via_temp_password
    assert refused(line, C, "11112222").reason == "wrong_password"
    assert refused(line, C, "11112223").reason == "wrong_password"
    # A right entry between wrong ones starts the count again: 「連続して3回」.
    assert site_auth.login(line, C, TEMP, now=NOW).via_temp_password
    assert refused(line, C, "11112224").reason == "wrong_password"
    assert refused(line, C, "11112225").reason == "wrong_password"
    assert refused(line, C, "11112226").reason == "temp_password_invalidated"
    assert refused(line, C, TEMP).reason == "temp_password_invalidated"


def test_issue14_SITE_2_a_newer_temp_password_replaces_one_that_logged_in(
    line: sessionmaker[Session],
) -> None:
    give_temp(line, C, AuthUnit.LINE)
    assert site_auth.login(line, C, TEMP, now=NOW).via_temp_password
    with db.transaction(line) as s:
        service.set_temp_password(
            s,
            C,
            C,
            service.HashedTempPassword(hashed(NEWER_TEMP)),
            AuthUnit.LINE,
            now=NOW + dt.timedelta(minutes=1),
        )
    assert refused(line, C, TEMP, now=NOW + dt.timedelta(minutes=2)).reason == "wrong_password"
    newer = site_auth.login(line, C, NEWER_TEMP, now=NOW + dt.timedelta(minutes=3))
    assert newer.via_temp_password and newer.must_change_password


def test_issue14_SITE_2_a_password_that_still_works_leaves_the_temp_password_live(
    line: sessionmaker[Session],
) -> None:
    """Logging in with the old password beside a temporary one spends neither."""
    give_password(line, E1, PW_C)
    give_temp(line, E1, AuthUnit.NUMBER)
    assert site_auth.login(line, E1, TEMP, now=NOW).via_temp_password
    assert not site_auth.login(line, E1, PW_C, now=NOW).via_temp_password
    assert site_auth.login(line, E1, TEMP, now=NOW).via_temp_password
