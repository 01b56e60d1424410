"""CALL-2 (issue 16): a hidden entry's digits are no oracle, on both backends.

An entry the phone's 144-2 added for a caller who withheld the number is
``hidden``: refused like any other, never shown. Adding, removing or
counting a visible entry must behave the same whether or not a hidden
entry holds those digits, or a subscriber could guess a withheld caller's
number by trying numbers until one is "already listed".
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store import db, service, validation
from store.errors import AlreadyExists, LimitExceeded, NotFound, RuleViolation
from store.models import NuisanceEntry, Presentation, VoiceWarpMode
from tests.builders import unchanged_after

CONTRACT, EXTRA = "0312345678", "0312345679"
TZ = "Asia/Tokyo"
WITHHELD = "0311112222"  # the digits a withheld caller's network still sent
GUESS = "0311113333"
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def provisioned(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone=TZ)
        service.add_number(s, CONTRACT, EXTRA, timezone=TZ)
    return sessions


def listed(sessions: sessionmaker[Session], number: str = CONTRACT) -> list[dict[str, Any]]:
    with db.transaction(sessions, read_only=True) as s:
        return list(service.describe_number(service.get_number(s, number))["nuisance_list"])


def refused_callers(sessions: sessionmaker[Session]) -> frozenset[str]:
    """What the call routing refuses (CALL-2), as a call from nobody listed reads it."""
    with db.transaction(sessions) as s:
        settings = service.route_incoming_call(
            s, CONTRACT, caller_number="0355550000", presentation=Presentation.ALLOWED, now=NOW
        )
        assert settings is not None
        return settings.nuisance_numbers


def adding(caller: str) -> Callable[[Session], object]:
    return lambda s: service.add_nuisance(s, CONTRACT, caller)


def forwarding_to(destination: str) -> Callable[[Session], object]:
    return lambda s: service.set_voice_warp(
        s, CONTRACT, enabled=True, mode=VoiceWarpMode.UNCONDITIONAL, destination=destination
    )


def hidden_at_one(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        service.add_nuisance(s, CONTRACT, WITHHELD, hidden=True)


def test_issue16_CALL_2_a_typed_number_equal_to_a_hidden_entry_is_added_as_any_other(
    provisioned: sessionmaker[Session],
) -> None:
    hidden_at_one(provisioned)
    with db.transaction(provisioned) as s:  # a wrong guess and the right one: the same answer
        wrong = service.add_nuisance(s, CONTRACT, GUESS)
        right = service.add_nuisance(s, CONTRACT, "03-1111-2222")  # as typed
        assert (wrong.position, right.position) == (2, 3)
    assert listed(provisioned) == [
        {"position": 1, "caller_number": None, "hidden": True},
        {"position": 2, "caller_number": GUESS, "hidden": False},
        {"position": 3, "caller_number": WITHHELD, "hidden": False},
    ]
    # The visible one twice is refused, as any number listed twice.
    err = unchanged_after(
        provisioned, lambda s: service.add_nuisance(s, CONTRACT, WITHHELD), AlreadyExists
    )
    assert err.field == "caller_number"
    assert refused_callers(provisioned) == {WITHHELD, GUESS}


def test_issue16_CALL_2_removal_by_caller_number_never_reveals_or_removes_a_hidden_entry(
    provisioned: sessionmaker[Session],
) -> None:
    hidden_at_one(provisioned)
    # Only the hidden entry holds the digits: "not listed", as for a number nobody listed.
    by_digits = unchanged_after(
        provisioned,
        lambda s: service.remove_nuisance(s, CONTRACT, caller_number=WITHHELD),
        NotFound,
    )
    nobody = unchanged_after(
        provisioned, lambda s: service.remove_nuisance(s, CONTRACT, caller_number=GUESS), NotFound
    )
    assert by_digits.message.replace(WITHHELD, GUESS) == nobody.message
    assert by_digits.as_dict()["field"] == nobody.as_dict()["field"]
    # Both hold them: the visible one goes, the hidden one (listed first) stays and still refuses.
    with db.transaction(provisioned) as s:
        service.add_nuisance(s, CONTRACT, WITHHELD)
    with db.transaction(provisioned) as s:
        service.remove_nuisance(s, CONTRACT, caller_number="03-1111-2222")
    assert listed(provisioned) == [{"position": 1, "caller_number": None, "hidden": True}]
    assert refused_callers(provisioned) == {WITHHELD}


def test_issue16_CALL_2_the_thirty_limit_counts_a_hidden_and_a_visible_entry_of_one_caller(
    provisioned: sessionmaker[Session],
) -> None:
    hidden_at_one(provisioned)
    with db.transaction(provisioned) as s:
        for i in range(28):
            service.add_nuisance(s, CONTRACT, f"09011112{i:03d}")
    # 29 listed: full with one more; the same refusal for the hidden digits as for any number.
    for caller in (GUESS, WITHHELD):
        with db.transaction(provisioned) as s:
            service.add_nuisance(s, CONTRACT, caller)  # the 30th
        assert len(listed(provisioned)) == validation.MAX_NUISANCE
        other = WITHHELD if caller == GUESS else GUESS
        err = unchanged_after(provisioned, adding(other), LimitExceeded)
        assert "30" in err.message
        with db.transaction(provisioned) as s:
            service.remove_nuisance(s, CONTRACT, caller_number=caller)


def test_issue16_CALL_2_the_schema_holds_one_visible_and_one_hidden_entry_per_caller(
    provisioned: sessionmaker[Session],
) -> None:
    hidden_at_one(provisioned)
    with db.transaction(provisioned) as s:
        number_id = service.get_number(s, CONTRACT).id
        s.add(NuisanceEntry(number_id=number_id, position=2, caller_number=WITHHELD, hidden=False))
    for hidden, position in ((True, 3), (False, 4)):  # a third of either kind: the constraint
        with pytest.raises(IntegrityError), db.transaction(provisioned) as s:
            s.add(
                NuisanceEntry(
                    number_id=number_id, position=position, caller_number=WITHHELD, hidden=hidden
                )
            )
    assert len(listed(provisioned)) == 2


# --- the phone's 144-2 (store.service.routing.add_last_caller_to_nuisance) -------------------


def last_call(sessions: sessionmaker[Session], caller: str, presentation: Presentation) -> None:
    with db.transaction(sessions) as s:
        service.route_incoming_call(
            s, CONTRACT, caller_number=caller, presentation=presentation, now=NOW
        )


def press_144_2(sessions: sessionmaker[Session]) -> tuple[service.LastCallerResult, str | None]:
    with db.transaction(sessions) as s:
        return service.add_last_caller_to_nuisance(s, CONTRACT)


def test_issue16_CALL_2_144_2_for_a_withheld_caller_listed_visibly_says_what_it_says_for_any(
    provisioned: sessionmaker[Session],
) -> None:
    """A withheld call from a number the subscriber typed: the phone must not tell them so.

    Saying "already listed" would tell the subscriber who withheld the number
    (one of the numbers on the page). It is listed hidden, as a withheld
    caller not listed yet is: the same words, no digits, one more entry.
    """
    with db.transaction(provisioned) as s:
        service.add_nuisance(s, CONTRACT, WITHHELD)
    last_call(provisioned, WITHHELD, Presentation.WITHHELD)
    assert press_144_2(provisioned) == (service.LastCallerResult.ADDED_HIDDEN, None)
    assert listed(provisioned) == [
        {"position": 1, "caller_number": WITHHELD, "hidden": False},
        {"position": 2, "caller_number": None, "hidden": True},
    ]
    # The same withheld caller again: already listed hidden (the page shows that entry).
    assert press_144_2(provisioned) == (service.LastCallerResult.ALREADY_LISTED, None)
    assert len(listed(provisioned)) == 2
    # Removing the visible one on the site leaves the caller refused.
    with db.transaction(provisioned) as s:
        service.remove_nuisance(s, CONTRACT, caller_number=WITHHELD)
    assert refused_callers(provisioned) == {WITHHELD}


def test_issue16_CALL_2_144_2_for_a_presented_caller_held_only_by_a_hidden_entry_lists_it(
    provisioned: sessionmaker[Session],
) -> None:
    """The caller presented the number: listed and read back, as if no hidden entry were there."""
    hidden_at_one(provisioned)
    last_call(provisioned, WITHHELD, Presentation.ALLOWED)
    assert press_144_2(provisioned) == (service.LastCallerResult.ADDED, WITHHELD)
    assert listed(provisioned) == [
        {"position": 1, "caller_number": None, "hidden": True},
        {"position": 2, "caller_number": WITHHELD, "hidden": False},
    ]
    assert press_144_2(provisioned) == (service.LastCallerResult.ALREADY_LISTED, None)


# --- CALL-4: forwarding to the number itself, in its international form ---------------------


def test_issue16_CALL_4_forwarding_to_itself_in_international_form_is_refused(
    provisioned: sessionmaker[Session],
) -> None:
    for destination in (
        "01081312345678",  # 010 (the international prefix from Japan), 81, the number without 0
        "0081312345678",  # the 00 prefix form (caller IDs of some trunks, store.caller_number)
        "010810312345678",  # with the trunk 0 left in
    ):
        err = unchanged_after(provisioned, forwarding_to(destination), RuleViolation)
        assert (err.code, err.field) == ("forward_to_self", "destination"), destination
    # Another number of the same line, and another country's number, in that form: saved.
    for other in ("01081312345679", "010813123456790", "0101212555012"):
        with db.transaction(provisioned) as s:
            service.set_voice_warp(s, CONTRACT, destination=other)
        with db.transaction(provisioned, read_only=True) as s:
            shown = service.describe_number(service.get_number(s, CONTRACT))["voice_warp"]
        assert shown["destination"] == other
