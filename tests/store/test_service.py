"""The domain layer on both backends: limits, rules, and nothing half-written."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.errors import (
    AlreadyExists,
    InvalidAddress,
    InvalidInput,
    InvalidNumber,
    LimitExceeded,
    NotFound,
    NotSubscribed,
    RuleViolation,
)
from store.models import (
    AuthUnit,
    DesignatedNumber,
    DestinationAddress,
    Line,
    NuisanceEntry,
    Number,
    Service,
    VoiceWarpMode,
)
from tests.builders import snapshot, unchanged_after

CONTRACT = "0312345678"
EXTRA = "0312345679"
TZ = "Asia/Tokyo"


@pytest.fixture
def provisioned(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone=TZ, endpoint="PJSIP/0312345678")
        service.add_number(s, CONTRACT, EXTRA, timezone=TZ)
    return sessions


def _number(sessions: sessionmaker[Session], number: str = CONTRACT) -> dict[str, Any]:
    """The number as the CLI shows it (``describe_number``: a JSON-shaped dict)."""
    with db.transaction(sessions) as s:
        return service.describe_number(service.get_number(s, number))


# --- lines and numbers ---------------------------------------------------------------


def test_line_owns_contract_and_additional_numbers(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        line = service.get_line(s, CONTRACT)
        assert line.auth_unit is AuthUnit.LINE
        assert [(n.number, n.is_contract) for n in line.numbers] == [
            (CONTRACT, True),
            (EXTRA, False),
        ]


def test_a_number_belongs_to_one_line_only(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_line(s, "0611112222", timezone=TZ)
    err = unchanged_after(
        provisioned,
        lambda s: service.add_number(s, "0611112222", EXTRA, timezone=TZ),
        AlreadyExists,
    )
    assert "0312345678" in err.message
    unchanged_after(provisioned, lambda s: service.add_line(s, EXTRA, timezone=TZ), AlreadyExists)


def test_bad_number_format_writes_nothing(provisioned: sessionmaker[Session]) -> None:
    err = unchanged_after(
        provisioned,
        lambda s: service.add_number(s, CONTRACT, "03-1111-2222", timezone=TZ),
        InvalidNumber,
    )
    assert "hyphens" in err.message
    unchanged_after(provisioned, lambda s: service.add_line(s, "12345", timezone=TZ), InvalidNumber)


def test_unknown_number_is_not_found(provisioned: sessionmaker[Session]) -> None:
    err = unchanged_after(
        provisioned, lambda s: service.add_address(s, "0399999999", "a@example.jp"), NotFound
    )
    assert "0399999999" in err.message
    unchanged_after(
        provisioned,
        lambda s: service.add_number(s, "0399999999", "0399999998", timezone=TZ),
        NotFound,
    )


def test_contract_number_cannot_be_removed_alone(provisioned: sessionmaker[Session]) -> None:
    err = unchanged_after(provisioned, lambda s: service.remove_number(s, CONTRACT), RuleViolation)
    assert "remove the line" in err.message


def test_removing_a_line_removes_every_setting(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_address(s, EXTRA, "a@example.jp")
        service.add_designated(s, EXTRA, "0398765432")
        service.add_nuisance(s, CONTRACT, "0398765432")
    with db.transaction(provisioned) as s:
        service.remove_line(s, CONTRACT)
    rows = snapshot(provisioned.kw["bind"])
    assert {name: r for name, r in rows.items() if r} == {}


def test_auth_unit_change(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.set_auth_unit(s, CONTRACT, AuthUnit.ADMIN_USER)
    assert _number(provisioned, EXTRA)["auth_unit"] == "admin_user"


def test_endpoint_and_time_zone_are_validated(provisioned: sessionmaker[Session]) -> None:
    unchanged_after(
        provisioned, lambda s: service.update_number(s, EXTRA, endpoint="PJSIP/a,60"), InvalidInput
    )
    unchanged_after(
        provisioned, lambda s: service.update_number(s, EXTRA, timezone="Tokyo"), InvalidInput
    )
    with db.transaction(provisioned) as s:
        service.update_number(s, EXTRA, endpoint="PJSIP/bob", timezone="America/New_York")
    shown = _number(provisioned, EXTRA)
    assert (shown["endpoint"], shown["timezone"]) == ("PJSIP/bob", "America/New_York")


# --- MAIL-1 ... MAIL-5 ---------------------------------------------------------------------


def test_MAIL_4_conditions_off_and_service_stopped_by_default(
    provisioned: sessionmaker[Session],
) -> None:
    mail = _number(provisioned)["mail"]
    assert mail == {
        "started": False,
        "designated_only": False,
        "unanswered_only": False,
        "warnings": [],
        "addresses": [],
        "designated_numbers": [],
    }


def test_MAIL_1_start_requires_a_destination_address(provisioned: sessionmaker[Session]) -> None:
    err = unchanged_after(provisioned, lambda s: service.start_mail(s, CONTRACT), RuleViolation)
    assert err.code == "start_without_address"
    with db.transaction(provisioned) as s:
        service.add_address(s, CONTRACT, "a@example.jp")
        service.start_mail(s, CONTRACT)
    assert _number(provisioned)["mail"]["started"] is True


def test_MAIL_1_last_address_of_a_started_service_stays(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_address(s, CONTRACT, "a@example.jp")
        service.start_mail(s, CONTRACT)
    err = unchanged_after(
        provisioned, lambda s: service.remove_address(s, CONTRACT, "a@example.jp"), RuleViolation
    )
    assert "stop the service first" in err.message
    with db.transaction(provisioned) as s:
        service.stop_mail(s, CONTRACT)
        service.remove_address(s, CONTRACT, "a@example.jp")
    assert _number(provisioned)["mail"]["addresses"] == []


def test_MAIL_2_at_most_five_addresses(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        for i in range(5):
            service.add_address(s, CONTRACT, f"user{i}@example.jp", send=i % 2 == 0)
    err = unchanged_after(
        provisioned, lambda s: service.add_address(s, CONTRACT, "sixth@example.jp"), LimitExceeded
    )
    assert "5" in err.message
    addresses = _number(provisioned)["mail"]["addresses"]
    assert [(a["position"], a["send"]) for a in addresses] == [
        (1, True),
        (2, False),
        (3, True),
        (4, False),
        (5, True),
    ]


def test_MAIL_2_freed_slot_is_reused(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        for i in range(5):
            service.add_address(s, CONTRACT, f"user{i}@example.jp")
        service.remove_address(s, CONTRACT, "user1@example.jp")
        service.add_address(s, CONTRACT, "new@example.jp")
    addresses = _number(provisioned)["mail"]["addresses"]
    assert [a["address"] for a in addresses][1] == "new@example.jp"


def test_MAIL_2_send_flag_and_duplicates(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_address(s, CONTRACT, "Taro@Example.jp")
        service.set_address_send(s, CONTRACT, "taro@example.jp", False)
    assert _number(provisioned)["mail"]["addresses"][0]["send"] is False
    unchanged_after(
        provisioned, lambda s: service.add_address(s, CONTRACT, "TARO@example.JP"), AlreadyExists
    )
    unchanged_after(
        provisioned,
        lambda s: service.set_address_send(s, CONTRACT, "x@example.jp", True),
        NotFound,
    )


def test_MAIL_3_invalid_address_writes_nothing(provisioned: sessionmaker[Session]) -> None:
    for bad in (
        "abc..def@ntt-east.jp",
        "abcdef.@ntt-east.jp",
        ".abcdef@ntt-east.jp",
        "a" * 64 + "@ntt-east.jp",
        "ta ro@example.jp",
    ):

        def add_bad(s: Session, address: str = bad) -> None:
            service.add_address(s, CONTRACT, address)

        unchanged_after(provisioned, add_bad, InvalidAddress)


def test_MAIL_4_conditions_set_independently(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_designated(s, CONTRACT, "0398765432")  # MAIL-4 (a) needs one (issue 14)
        service.set_conditions(s, CONTRACT, designated_only=True)
        service.set_conditions(s, CONTRACT, unanswered_only=True)
        service.set_conditions(s, CONTRACT, designated_only=False)
    mail = _number(provisioned)["mail"]
    assert (mail["designated_only"], mail["unanswered_only"]) == (False, True)


def test_MAIL_5_at_most_thirty_designated_numbers(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        for i in range(30):
            service.add_designated(s, CONTRACT, f"03987654{i:02d}", designated=i != 7)
    err = unchanged_after(
        provisioned, lambda s: service.add_designated(s, CONTRACT, "0398765499"), LimitExceeded
    )
    assert "30" in err.message
    designated = _number(provisioned)["mail"]["designated_numbers"]
    assert len(designated) == 30
    assert [d["designated"] for d in designated].count(False) == 1


def test_MAIL_5_designated_flag_duplicates_and_format(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_designated(s, CONTRACT, "0398765432")
        service.set_designated_flag(s, CONTRACT, "0398765432", False)
    assert _number(provisioned)["mail"]["designated_numbers"][0]["designated"] is False
    unchanged_after(
        provisioned, lambda s: service.add_designated(s, CONTRACT, "0398765432"), AlreadyExists
    )
    # Issue 14 flow 8: taken as typed, 03-9876-5432 is the number already there.
    unchanged_after(
        provisioned, lambda s: service.add_designated(s, CONTRACT, "03-9876-5432"), AlreadyExists
    )
    unchanged_after(
        provisioned, lambda s: service.add_designated(s, CONTRACT, "03-9876-543x"), InvalidNumber
    )
    unchanged_after(
        provisioned, lambda s: service.remove_designated(s, CONTRACT, "0311111111"), NotFound
    )


def test_mail_settings_need_the_mail_service(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_address(s, EXTRA, "a@example.jp")
        service.start_mail(s, EXTRA)
        service.set_services(s, EXTRA, disable=[Service.MAIL])
    assert _number(provisioned, EXTRA)["mail"]["started"] is False
    err = unchanged_after(
        provisioned, lambda s: service.add_address(s, EXTRA, "b@example.jp"), NotSubscribed
    )
    assert "mail" in err.message
    unchanged_after(provisioned, lambda s: service.start_mail(s, EXTRA), NotSubscribed)


# --- CALL-2 ... CALL-4 ------------------------------------------------------------------------


def test_CALL_2_at_most_thirty_nuisance_entries(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        for i in range(30):
            service.add_nuisance(s, CONTRACT, f"09011112{i:03d}", hidden=i == 0)
    err = unchanged_after(
        provisioned, lambda s: service.add_nuisance(s, CONTRACT, "09099999999"), LimitExceeded
    )
    assert "30" in err.message
    unchanged_after(
        provisioned, lambda s: service.add_nuisance(s, CONTRACT, "09011112005"), AlreadyExists
    )


def test_CALL_2_hidden_entries_are_never_shown(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_nuisance(s, CONTRACT, "0398765432", hidden=True)
        service.add_nuisance(s, CONTRACT, "0311112222")
    listed = _number(provisioned)["nuisance_list"]
    assert listed == [
        {"position": 1, "caller_number": None, "hidden": True},
        {"position": 2, "caller_number": "0311112222", "hidden": False},
    ]
    assert "0398765432" not in repr(_number(provisioned))
    with db.transaction(provisioned) as s:
        service.remove_nuisance(s, CONTRACT, position=1)
    assert [e["position"] for e in _number(provisioned)["nuisance_list"]] == [2]
    unchanged_after(
        provisioned, lambda s: service.remove_nuisance(s, CONTRACT, position=9), NotFound
    )


def test_CALL_3_number_request_switches(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.set_number_request(s, CONTRACT, enabled=True, reject_payphone=True)
    assert _number(provisioned)["number_request"] == {
        "enabled": True,
        "reject_payphone": True,
        "reject_unavailable": False,
    }
    with db.transaction(provisioned) as s:
        service.set_services(s, CONTRACT, disable=[Service.NUMBER_REQUEST])
    assert _number(provisioned)["number_request"]["enabled"] is False
    unchanged_after(
        provisioned,
        lambda s: service.set_number_request(s, CONTRACT, enabled=True),
        NotSubscribed,
    )


def test_CALL_4_voice_warp_needs_a_destination(provisioned: sessionmaker[Session]) -> None:
    err = unchanged_after(
        provisioned, lambda s: service.set_voice_warp(s, CONTRACT, enabled=True), RuleViolation
    )
    assert err.code == "forward_without_destination"
    with db.transaction(provisioned) as s:
        service.set_voice_warp(
            s,
            CONTRACT,
            enabled=True,
            mode=VoiceWarpMode.NO_ANSWER,
            destination="09012345678",
            ring_seconds=15,
        )
    assert _number(provisioned)["voice_warp"] == {
        "enabled": True,
        "mode": "no_answer",
        "destination": "09012345678",
        "ring_seconds": 15,
    }


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"ring_seconds": 61}, InvalidInput),
        ({"ring_seconds": 4}, InvalidInput),
        ({"destination": "090-1234-5678"}, InvalidNumber),
        ({"destination": CONTRACT}, RuleViolation),
    ],
)
def test_CALL_4_voice_warp_bad_settings_write_nothing(
    provisioned: sessionmaker[Session], kwargs: dict[str, object], error: type[Exception]
) -> None:
    unchanged_after(
        provisioned,
        lambda s: service.set_voice_warp(s, CONTRACT, **kwargs),  # type: ignore[arg-type]
        error,
    )


def test_a_failure_late_in_a_transaction_undoes_earlier_steps(
    provisioned: sessionmaker[Session],
) -> None:
    """OPS-2: a multi-step request that fails part-way leaves nothing behind."""

    def steps(s: Session) -> None:
        service.add_address(s, CONTRACT, "ok@example.jp")
        service.set_conditions(s, CONTRACT, unanswered_only=True)
        service.add_designated(s, CONTRACT, "0398765432")
        service.add_address(s, CONTRACT, "bad..address@example.jp")

    unchanged_after(provisioned, steps, InvalidAddress)


# --- the schema holds the limits even past the domain layer ------------------------------


@pytest.mark.parametrize(
    ("model", "slot", "extra"),
    [
        (DestinationAddress, 6, {"address": "x@example.jp", "address_key": "x@example.jp"}),
        (DesignatedNumber, 31, {"caller_number": "0398765432"}),
        (NuisanceEntry, 31, {"caller_number": "0398765432"}),
    ],
)
def test_schema_rejects_a_slot_past_the_limit(
    provisioned: sessionmaker[Session], model: type, slot: int, extra: dict[str, object]
) -> None:
    with db.transaction(provisioned) as s:
        number_id = service.get_number(s, CONTRACT).id
    with pytest.raises(IntegrityError), db.transaction(provisioned) as s:
        s.add(model(number_id=number_id, position=slot, **extra))


def test_schema_rejects_two_entries_in_one_slot(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        service.add_address(s, CONTRACT, "a@example.jp")
        number_id = service.get_number(s, CONTRACT).id
    with pytest.raises(IntegrityError), db.transaction(provisioned) as s:
        s.add(
            DestinationAddress(
                number_id=number_id, position=1, address="b@example.jp", address_key="b@example.jp"
            )
        )


def test_timestamps_come_back_as_aware_utc(provisioned: sessionmaker[Session]) -> None:
    with db.transaction(provisioned) as s:
        created = s.scalars(sa.select(Line.created_at)).one()
        number = s.scalars(sa.select(Number).where(Number.number == EXTRA)).one()
    offset = created.utcoffset()
    assert offset is not None and offset.total_seconds() == 0
    assert number.created_at.tzinfo is not None


def test_MAIL_2_set_addresses_checks_the_final_list_before_writing_and_keeps_slots(
    sessions: sessionmaker[Session],
) -> None:
    from store.errors import AlreadyExists, LimitExceeded

    with db.transaction(sessions) as s:
        service.add_line(s, "0312345678", timezone="Asia/Tokyo")
        service.add_address(s, "0312345678", "keep@example.jp", send=False)
        service.add_address(s, "0312345678", "drop@example.jp")
    engine = sessions.kw["bind"]
    before = snapshot(engine)
    for rows, error in [
        ([(f"a{i}@example.jp", True) for i in range(6)], LimitExceeded),
        ([("x@example.jp", True), ("X@example.jp", True)], AlreadyExists),
        ([("ok@example.jp", True), ("bad@@example.jp", True)], InvalidAddress),
    ]:
        with pytest.raises(error), db.transaction(sessions) as s:
            service.set_addresses(s, "0312345678", rows)
        assert snapshot(engine) == before
    with db.transaction(sessions) as s:
        service.set_addresses(
            s, "0312345678", [("KEEP@example.jp", True), None, ("new@example.jp", True)]
        )
    with db.transaction(sessions, read_only=True) as s:
        found = service.get_number(s, "0312345678")
        assert sorted((a.position, a.address, a.send) for a in found.addresses) == [
            (1, "KEEP@example.jp", True),  # kept its slot, spelling and flag as given
            (3, "new@example.jp", True),  # issue 14: the slot it was typed in, not a free one
        ]


def test_item18_MAIL_9_setting_the_callers_own_temp_password_logs_no_digits(
    sessions: sessionmaker[Session],
) -> None:
    """IVR-6 from an additional number sets the caller's own password: the voice
    flow knows whether that number was presented, the store does not, so the
    store does not log it."""
    import datetime as dt

    from structlog.testing import capture_logs

    from store.models import AuthUnit

    with db.transaction(sessions) as s:
        service.add_line(s, "0312345678", timezone="Asia/Tokyo")
        service.add_number(s, "0312345678", "0312345679", timezone="Asia/Tokyo")
    with capture_logs() as logs, db.transaction(sessions) as s:
        service.set_temp_password(
            s,
            "0312345679",
            "0312345679",
            service.HashedTempPassword("x"),
            AuthUnit.ADMIN_USER,
            now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        )
    (event,) = [e for e in logs if e["event"] == "temp_password_set"]
    assert "0312345679" not in repr(event)
