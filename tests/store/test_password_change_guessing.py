"""Issue 12, SITE-10 with SITE-4/SITE-2: the current password on the change page is counted.

Both databases. The site calls ``attempt_password_change``: each wrong
current password counts against the login number as a wrong login does,
committed although the change is refused, and the argon2 work runs outside
the transaction (shown by structure: while a hash runs, another writer can
take the lock at once).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from store import db, passwords, service, site_auth
from store.errors import RuleViolation
from store.models import AuthUnit, SiteCredential
from store.site_auth import CurrentPasswordRefused
from tests.builders import E1, C, snapshot
from tests.store.site_auth_steps import (
    NEW,
    NOW,
    PW_C,
    PW_E1,
    TEMP,
    credential,
    give_password,
    give_temp,
    refused,
    set_unit,
    temp_of,
)

WRONG = "machigai8Pw"


def attempt(
    line: sessionmaker[Session], current: str, *, target: str = C, new: str = NEW
) -> site_auth.PasswordChanged:
    return site_auth.attempt_password_change(line, C, target, current, new, new, now=NOW)


def wrong_entry(line: sessionmaker[Session], *, target: str = C) -> CurrentPasswordRefused:
    with pytest.raises(CurrentPasswordRefused) as err:
        attempt(line, WRONG, target=target)
    return err.value


def cred_of(line: sessionmaker[Session], number: str) -> SiteCredential:
    found = credential(line, number)
    assert found is not None
    return found


def test_issue12_SITE_4_wrong_current_password_counts_and_the_right_one_works_before_the_cap(
    line: sessionmaker[Session],
) -> None:
    give_password(line, C, PW_C)
    stored = cred_of(line, C).password_hash
    for count in range(1, 10):
        err = wrong_entry(line)
        assert (err.code, err.field, err.counted) == (
            "current_password_wrong",
            "current_password",
            True,
        )
        cred = cred_of(line, C)
        assert cred.wrong_count == count and cred.invalidated_at is None
        assert cred.password_hash == stored  # nothing else stored
    assert attempt(line, PW_C).relogin_required
    assert cred_of(line, C).wrong_count == 0
    assert site_auth.login(line, C, NEW, now=NOW).number == C


def test_issue12_SITE_4_ten_wrong_current_passwords_invalidate_it(
    line: sessionmaker[Session],
) -> None:
    give_password(line, C, PW_C)
    for _ in range(9):
        wrong_entry(line)
    tenth = wrong_entry(line)
    assert (tenth.code, tenth.counted) == ("password_invalidated", True)
    cred = cred_of(line, C)
    assert cred.wrong_count == 10 and cred.invalidated_at is not None
    # Exactly as after 10 wrong logins: the right password no longer works anywhere.
    assert refused(line, C, PW_C).reason == "password_invalidated"
    with pytest.raises(CurrentPasswordRefused) as late:
        attempt(line, PW_C)
    assert not late.value.counted
    assert cred_of(line, C).password_hash != passwords.hash_password(NEW)


def test_issue12_SITE_2_wrong_temp_password_at_the_forced_change_counts(
    line: sessionmaker[Session],
) -> None:
    give_temp(line, C, AuthUnit.LINE)
    assert site_auth.login(line, C, TEMP, now=NOW).via_temp_password
    assert wrong_entry(line).code == "current_password_wrong"
    assert wrong_entry(line).code == "current_password_wrong"
    third = wrong_entry(line)
    assert (third.code, third.counted) == ("temp_password_invalidated", True)
    temp = temp_of(line, C)
    assert temp is not None and temp.wrong_count == 3
    with pytest.raises(CurrentPasswordRefused):
        attempt(line, TEMP)
    assert credential(line, C) is None  # no password was set


def test_issue12_SITE_4_errors_in_the_new_password_count_nothing(
    line: sessionmaker[Session],
) -> None:
    give_password(line, C, PW_C)
    before = snapshot(line.kw["bind"])
    for new, confirm, code in (
        ("short1", "short1", "password_length"),
        (NEW, NEW + "x", "confirm_mismatch"),
    ):
        with pytest.raises(RuleViolation) as err:
            site_auth.attempt_password_change(line, C, C, WRONG, new, confirm, now=NOW)
        assert err.value.code == code and not isinstance(err.value, CurrentPasswordRefused)
    assert snapshot(line.kw["bind"]) == before


def test_issue12_SITE_10_an_administrators_wrong_password_counts_against_the_administrator(
    line: sessionmaker[Session],
) -> None:
    set_unit(line, AuthUnit.ADMIN_USER)
    give_password(line, C, PW_C)
    give_password(line, E1, PW_E1)
    for count in (1, 2):
        assert wrong_entry(line, target=E1).code == "current_password_wrong"
        assert cred_of(line, C).wrong_count == count
    assert cred_of(line, E1).wrong_count == 0
    assert not attempt(line, PW_C, target=E1).relogin_required
    assert cred_of(line, C).wrong_count == 0  # the right one starts the count again
    assert site_auth.login(line, E1, NEW, now=NOW).number == E1


def _lock_probe(line: sessionmaker[Session], number: str) -> Callable[[], bool]:
    """Whether another writer would have to wait now: tried without waiting."""
    engine = line.kw["bind"]
    url = engine.url.render_as_string(hide_password=False)
    with db.transaction(line, read_only=True) as s:
        number_id = service.get_number(s, number).id

    def blocked() -> bool:
        probe = db.make_engine(url)
        sqlite = probe.dialect.name == "sqlite"
        if sqlite:

            @event.listens_for(probe, "connect")
            def _no_wait(dbapi_connection: Any, _record: Any) -> None:
                dbapi_connection.execute("PRAGMA busy_timeout=0")

        try:
            with probe.begin() as conn:  # SQLite: BEGIN IMMEDIATE, the writer lock
                for table in ("temp_password", "site_credential"):
                    lock = "" if sqlite else " FOR UPDATE NOWAIT"
                    conn.execute(
                        text(f"SELECT number_id FROM {table} WHERE number_id = :n{lock}"),
                        {"n": number_id},
                    )
        except OperationalError:
            return True
        finally:
            probe.dispose()
        return False

    return blocked


def test_issue12_SITE_4_argon2_runs_while_other_writers_go_on(
    line: sessionmaker[Session], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Each verify and hash of a change finds the lock free (SQLite's writer lock, PG's rows)."""
    give_temp(line, C, AuthUnit.LINE)
    give_password(line, C, PW_C)
    blocked = _lock_probe(line, C)
    seen: list[tuple[str, bool]] = []
    verify, hash_ = passwords.verify_password, passwords.hash_password

    def probing_verify(password_hash: str, password: str) -> bool:
        seen.append(("verify", blocked()))
        return verify(password_hash, password)

    def probing_hash(password: str) -> str:
        seen.append(("hash", blocked()))
        return hash_(password)

    monkeypatch.setattr(passwords, "verify_password", probing_verify)
    monkeypatch.setattr(passwords, "hash_password", probing_hash)
    wrong_entry(line)
    assert attempt(line, PW_C).relogin_required
    assert {kind for kind, _ in seen} == {"verify", "hash"}
    assert [kind for kind, was_blocked in seen if was_blocked] == []
    with db.transaction(line, read_only=True) as s:
        assert s.scalar(select(SiteCredential.wrong_count)) == 0
