"""Issue 16, SITE-7 bulk settings of Number Request (CALL-3) and Voice Warp (CALL-4), both backends.

All or nothing, as the bulk of the mail settings: a number that cannot take
the change (not subscribed, Voice Warp on without a destination) refuses the
whole batch and is listed with its reason; nothing is changed anywhere.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import bulk, db, service
from store.bulk import BulkChange, BulkRefused
from store.models import Service
from tests.builders import snapshot

TZ = "Asia/Tokyo"
C = "0353000000"  # contract number
A, B = "0353000001", "0353000002"
NO_WARP = "0353000003"  # mail and Number Request, no Voice Warp
NO_REQUEST = "0353000004"  # mail and Voice Warp, no Number Request
BARE = "0353000005"  # mail only
DESTINATION = "09012345678"
ADDRESS = "bulk@example.jp"


@pytest.fixture
def line(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """C, A, B with every service and a forwarding destination; the others as named.

    Each number has a mail address (so that the mail service can start).
    """
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        for number in (A, B):
            service.add_number(s, C, number, timezone=TZ)
        service.add_number(
            s, C, NO_WARP, timezone=TZ, services=(Service.MAIL, Service.NUMBER_REQUEST)
        )
        service.add_number(
            s, C, NO_REQUEST, timezone=TZ, services=(Service.MAIL, Service.VOICE_WARP)
        )
        service.add_number(s, C, BARE, timezone=TZ, services=(Service.MAIL,))
        for number in (C, A, B, NO_WARP, NO_REQUEST, BARE):
            service.add_address(s, number, ADDRESS)
        for number in (C, A, B, NO_REQUEST):
            service.set_voice_warp(s, number, destination=DESTINATION)
    return sessions


def shown(sessions: sessionmaker[Session], number: str) -> dict[str, object]:
    """What ``chakushin number show --json`` shows of the number (describe_number)."""
    with db.transaction(sessions, read_only=True) as s:
        return service.describe_number(service.get_number(s, number))


def switched(sessions: sessionmaker[Session], number: str) -> tuple[object, object]:
    found = shown(sessions, number)
    request, warp = found["number_request"], found["voice_warp"]
    assert isinstance(request, dict) and isinstance(warp, dict)
    return request["enabled"], warp["enabled"]


def refused_unchanged(
    sessions: sessionmaker[Session], numbers: list[str], change: BulkChange
) -> BulkRefused:
    engine = sessions.kw["bind"]
    before = snapshot(engine)
    with pytest.raises(BulkRefused) as err, db.transaction(sessions) as s:
        bulk.apply_bulk(s, numbers, change)
    assert snapshot(engine) == before
    return err.value


def test_issue16_SITE_7_CALL_4_bulk_voice_warp_on_switches_every_selected_number(
    line: sessionmaker[Session],
) -> None:
    with db.transaction(line) as s:
        result = bulk.apply_bulk(s, [C, A, B], BulkChange(voice_warp=True))
    assert result.numbers == (C, A, B)
    for number in (C, A, B):
        assert shown(line, number)["voice_warp"] == {
            "enabled": True,
            "mode": "unconditional",  # the rest of the setting as it was
            "destination": DESTINATION,
            "ring_seconds": 20,
        }
    assert switched(line, NO_REQUEST) == (False, False)  # not selected: left as it was
    with db.transaction(line) as s:
        bulk.apply_bulk(s, [C, B], BulkChange(voice_warp=False))
    assert [switched(line, n)[1] for n in (C, A, B)] == [False, True, False]


def test_issue16_SITE_7_CALL_3_bulk_number_request_on_and_off(
    line: sessionmaker[Session],
) -> None:
    with db.transaction(line) as s:
        bulk.apply_bulk(s, [C, A, B, NO_WARP], BulkChange(number_request=True))
    assert [switched(line, n) for n in (C, A, B, NO_WARP)] == [(True, False)] * 4
    # The payphone / unavailable options are not the bulk's: left as they were.
    request = shown(line, A)["number_request"]
    assert request == {"enabled": True, "reject_payphone": False, "reject_unavailable": False}
    with db.transaction(line) as s:
        bulk.apply_bulk(s, [A, NO_WARP], BulkChange(number_request=False))
    assert [switched(line, n)[0] for n in (C, A, B, NO_WARP)] == [True, False, True, False]


def test_issue16_SITE_7_CALL_3_CALL_4_bulk_both_with_the_mail_settings(
    line: sessionmaker[Session],
) -> None:
    with db.transaction(line) as s:
        bulk.apply_bulk(
            s,
            [C, A, B],
            BulkChange(mail_started=True, number_request=True, voice_warp=True),
        )
    for number in (C, A, B):
        assert switched(line, number) == (True, True)
        mail = shown(line, number)["mail"]
        assert isinstance(mail, dict) and mail["started"] is True


def test_issue16_SITE_7_CALL_4_bulk_voice_warp_one_unsubscribed_of_three_changes_nothing(
    line: sessionmaker[Session],
) -> None:
    err = refused_unchanged(
        line, [A, NO_WARP, B], BulkChange(voice_warp=True, mail_started=True, number_request=True)
    )
    assert err.code == "bulk_refused"
    assert err.numbers == (NO_WARP,)
    [failure] = err.failures
    assert (failure.number, failure.code, failure.part) == (
        NO_WARP,
        "not_subscribed",
        Service.VOICE_WARP,
    )
    assert NO_WARP in err.message and "voice_warp" in failure.message
    assert [switched(line, n) for n in (A, B)] == [(False, False)] * 2


def test_issue16_SITE_7_CALL_4_bulk_voice_warp_on_without_a_destination_changes_nothing(
    line: sessionmaker[Session],
) -> None:
    with db.transaction(line) as s:
        service.add_number(s, C, "0353000006", timezone=TZ)  # every service, no destination
    err = refused_unchanged(line, [C, "0353000006", A], BulkChange(voice_warp=True))
    assert [(f.number, f.code, f.field, f.part) for f in err.failures] == [
        ("0353000006", "forward_without_destination", "destination", Service.VOICE_WARP)
    ]
    assert [switched(line, n)[1] for n in (C, A)] == [False, False]


def test_issue16_SITE_7_CALL_3_CALL_4_bulk_every_refusing_number_listed_with_each_reason(
    line: sessionmaker[Session],
) -> None:
    with db.transaction(line) as s:
        service.add_number(s, C, "0353000006", timezone=TZ)  # no destination
    err = refused_unchanged(
        line,
        [C, BARE, NO_WARP, "0353000006", NO_REQUEST, A],
        BulkChange(number_request=True, voice_warp=True),
    )
    # In the order given; a number refusing both services is listed once, with both reasons.
    assert err.numbers == (BARE, NO_WARP, "0353000006", NO_REQUEST)
    assert [(f.number, f.code, f.part) for f in err.failures] == [
        (BARE, "not_subscribed", Service.NUMBER_REQUEST),
        (BARE, "not_subscribed", Service.VOICE_WARP),
        (NO_WARP, "not_subscribed", Service.VOICE_WARP),
        ("0353000006", "forward_without_destination", Service.VOICE_WARP),
        (NO_REQUEST, "not_subscribed", Service.NUMBER_REQUEST),
    ]
    assert err.params["numbers"] == err.numbers


def test_issue16_SITE_7_CALL_3_CALL_4_bulk_switching_off_where_not_subscribed_is_refused(
    line: sessionmaker[Session],
) -> None:
    # As the CLI (``chakushin voice-warp N --off``, ``number-request N --off``): a
    # service the number does not subscribe to cannot be set, not even off.
    err = refused_unchanged(line, [A, BARE], BulkChange(voice_warp=False))
    assert [(f.number, f.code, f.part) for f in err.failures] == [
        (BARE, "not_subscribed", Service.VOICE_WARP)
    ]
    err = refused_unchanged(line, [NO_REQUEST, A], BulkChange(number_request=False))
    assert [(f.number, f.code, f.part) for f in err.failures] == [
        (NO_REQUEST, "not_subscribed", Service.NUMBER_REQUEST)
    ]


def test_issue16_SITE_7_CALL_4_bulk_refused_even_if_the_caller_commits(
    line: sessionmaker[Session],
) -> None:
    engine = line.kw["bind"]
    before = snapshot(engine)
    with db.transaction(line) as s, pytest.raises(BulkRefused):
        bulk.apply_bulk(s, [A, B, BARE], BulkChange(voice_warp=True, number_request=True))
    assert snapshot(engine) == before


def test_issue16_SITE_7_bulk_unknown_number_is_listed_once(line: sessionmaker[Session]) -> None:
    err = refused_unchanged(
        line,
        [A, "0399999999"],
        BulkChange(unanswered_only=True, number_request=True, voice_warp=True),
    )
    assert [(f.number, f.code, f.part) for f in err.failures] == [("0399999999", "not_found", None)]


def test_issue16_SITE_7_bulk_change_of_a_service_alone_is_a_change() -> None:
    assert not BulkChange(voice_warp=False).is_empty
    assert not BulkChange(number_request=False).is_empty
    assert BulkChange(voice_warp=None, number_request=None).is_empty
