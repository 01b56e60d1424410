"""SITE-7 beyond one number: search (pure), bulk settings and call history on both backends."""

from __future__ import annotations

import dataclasses
import datetime as dt
import zoneinfo

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import bulk, db, service
from store.bulk import BulkChange, BulkRefused, HistoryRow
from store.errors import InvalidAddress, InvalidInput, NotFound
from store.models import CallOutcome, Presentation, Service, StoredCall
from tests.builders import snapshot
from web.texts import japanese

TZ = "Asia/Tokyo"
C = "0352000000"  # contract number of a line with 40 numbers
NUMBERS = [C] + [f"03520000{i:02d}" for i in range(1, 40)]
NO_MAIL = "0352009999"  # a number of the line without the mail service
ADDRESS = "bulk@example.jp"
T0 = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)


# --- search (pure) -------------------------------------------------------------------------

# Over 40 numbers, as a line that gets the search (SEARCH_THRESHOLD) has.
SEARCHABLE = (
    [f"03{i:08d}" for i in range(100, 130)]  # 0300000100 ... 0300000129
    + ["0363044747", "0664806430", "0664804747", "05012344747", "0312474747"]
    + [f"06{i:08d}" for i in range(10)]
    + ["0334560347", "0447030000"]
)


def test_SITE_7_search_threshold_is_33_numbers() -> None:
    assert bulk.SEARCH_THRESHOLD == 33
    assert not bulk.offers_search(32)
    assert bulk.offers_search(33)
    assert len(SEARCHABLE) > 40


def test_SITE_7_search_wildcard_at_the_end_is_a_prefix() -> None:
    found = bulk.search_numbers(SEARCHABLE, "03*")
    assert found == [n for n in SEARCHABLE if n.startswith("03")]
    assert "0447030000" not in found
    assert len(found) == 33


def test_SITE_7_search_wildcard_at_the_start_is_a_suffix() -> None:
    assert bulk.search_numbers(SEARCHABLE, "*4747") == [
        "0363044747",
        "0664804747",
        "05012344747",
        "0312474747",
    ]


def test_SITE_7_search_wildcard_in_the_middle_matches_the_whole_number() -> None:
    assert bulk.search_numbers(SEARCHABLE, "03*47") == ["0363044747", "0312474747", "0334560347"]
    assert bulk.search_numbers(SEARCHABLE, "06*48*30") == ["0664806430"]
    assert bulk.search_numbers(SEARCHABLE, "0*4*7*7") == [
        "0363044747",
        "0664804747",
        "05012344747",
        "0312474747",
    ]


def test_SITE_7_search_without_wildcard_matches_a_part_anywhere() -> None:
    # 「電話番号の一部(市外局番等)」: a part, not only the start.
    assert bulk.search_numbers(SEARCHABLE, "4747") == bulk.search_numbers(SEARCHABLE, "*4747*")
    assert bulk.search_numbers(SEARCHABLE, "4703") == ["0447030000"]
    assert bulk.search_numbers(SEARCHABLE, "0664806430") == ["0664806430"]
    assert bulk.search_numbers(SEARCHABLE, "99999") == []


def test_SITE_7_empty_search_keeps_every_number_in_order() -> None:
    assert bulk.search_numbers(SEARCHABLE, "") == SEARCHABLE
    assert bulk.search_numbers(SEARCHABLE, " ") == SEARCHABLE
    assert bulk.search_numbers(SEARCHABLE, "*") == SEARCHABLE
    assert bulk.search_numbers(SEARCHABLE, " 03* ") == bulk.search_numbers(SEARCHABLE, "03*")


@pytest.mark.parametrize(
    "pattern",
    ["03-1234", "03 1234", "abc", "０３", "03*４７", "03?", "03%", "03.*", "0" * 21, "*" * 21],
)
def test_SITE_7_search_pattern_other_than_digits_and_star_is_refused(pattern: str) -> None:
    with pytest.raises(InvalidInput) as err:
        bulk.search_numbers(SEARCHABLE, pattern)
    assert err.value.code == "search_pattern"
    assert err.value.field == "search"
    assert japanese(err.value) == "検索する電話番号は半角数字と「*」で入力してください。"


def test_SITE_7_twenty_characters_are_a_valid_pattern() -> None:
    assert bulk.search_numbers(SEARCHABLE, "0" * 20) == []


# --- bulk settings ---------------------------------------------------------------------------


@pytest.fixture
def forty_numbers(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """A line with 40 numbers with the mail service and one without."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        for number in NUMBERS[1:]:
            service.add_number(s, C, number, timezone=TZ)
        service.add_number(s, C, NO_MAIL, timezone=TZ, services=(Service.NUISANCE,))
    return sessions


def mail_of(sessions: sessionmaker[Session], number: str) -> dict[str, object]:
    with db.transaction(sessions, read_only=True) as s:
        mail = service.describe_number(service.get_number(s, number))["mail"]
        assert isinstance(mail, dict)
        return mail


def refused_unchanged(
    sessions: sessionmaker[Session], numbers: list[str], change: BulkChange
) -> BulkRefused:
    engine = sessions.kw["bind"]
    before = snapshot(engine)
    with pytest.raises(BulkRefused) as err, db.transaction(sessions) as s:
        bulk.apply_bulk(s, numbers, change)
    assert snapshot(engine) == before
    return err.value


def test_SITE_7_bulk_adds_an_address_and_starts_every_number(
    forty_numbers: sessionmaker[Session],
) -> None:
    with db.transaction(forty_numbers) as s:
        result = bulk.apply_bulk(
            s, NUMBERS, BulkChange(add_address=ADDRESS, add_address_send=False, mail_started=True)
        )
    assert result.numbers == tuple(NUMBERS)
    assert result.address_added == tuple(NUMBERS)
    assert result.address_already_set == ()
    for number in NUMBERS:
        mail = mail_of(forty_numbers, number)
        assert mail["started"] is True
        assert mail["addresses"] == [{"position": 1, "address": ADDRESS, "send": False}]

    with db.transaction(forty_numbers) as s:
        bulk.apply_bulk(s, NUMBERS[::2], BulkChange(mail_started=False))
    assert [mail_of(forty_numbers, n)["started"] for n in NUMBERS[:4]] == [False, True, False, True]


def test_SITE_7_bulk_sets_conditions_and_leaves_the_rest(
    forty_numbers: sessionmaker[Session],
) -> None:
    with db.transaction(forty_numbers) as s:
        for number in NUMBERS:  # MAIL-4 (a) needs a designated number (issue 14)
            service.add_designated(s, number, "0398765432")
        service.set_conditions(s, NUMBERS[1], unanswered_only=True)
        bulk.apply_bulk(s, NUMBERS, BulkChange(designated_only=True))
    assert mail_of(forty_numbers, NUMBERS[0])["designated_only"] is True
    assert mail_of(forty_numbers, NUMBERS[0])["unanswered_only"] is False
    assert mail_of(forty_numbers, NUMBERS[1])["unanswered_only"] is True  # None: left as it was
    with db.transaction(forty_numbers) as s:
        bulk.apply_bulk(s, NUMBERS, BulkChange(designated_only=False, unanswered_only=False))
    assert all(
        (mail_of(forty_numbers, n)["designated_only"], mail_of(forty_numbers, n)["unanswered_only"])
        == (False, False)
        for n in NUMBERS[:3]
    )


def test_SITE_7_bulk_address_already_set_keeps_one_entry(
    forty_numbers: sessionmaker[Session],
) -> None:
    with db.transaction(forty_numbers) as s:
        service.add_address(s, NUMBERS[3], ADDRESS.upper(), send=False)
    with db.transaction(forty_numbers) as s:
        result = bulk.apply_bulk(s, NUMBERS[:5], BulkChange(add_address=ADDRESS))
    assert result.address_already_set == (NUMBERS[3],)
    assert result.address_added == tuple(n for n in NUMBERS[:5] if n != NUMBERS[3])
    assert mail_of(forty_numbers, NUMBERS[3])["addresses"] == [
        {"position": 1, "address": ADDRESS.upper(), "send": True}
    ]


def test_SITE_7_bulk_selection_twice_counts_once(forty_numbers: sessionmaker[Session]) -> None:
    with db.transaction(forty_numbers) as s:
        result = bulk.apply_bulk(s, [C, C, NUMBERS[1]], BulkChange(add_address=ADDRESS))
    assert result.numbers == (C, NUMBERS[1])
    assert mail_of(forty_numbers, C)["addresses"] == [
        {"position": 1, "address": ADDRESS, "send": True}
    ]


def test_SITE_7_MAIL_2_one_full_number_refuses_the_whole_bulk(
    forty_numbers: sessionmaker[Session],
) -> None:
    full = NUMBERS[17]
    with db.transaction(forty_numbers) as s:
        for i in range(5):
            service.add_address(s, full, f"user{i}@example.jp")
    err = refused_unchanged(
        forty_numbers, NUMBERS, BulkChange(add_address=ADDRESS, mail_started=True)
    )
    assert err.numbers == (full,)
    assert err.code == "bulk_refused"
    assert err.failures[0].code == "limit_exceeded"
    assert err.failures[0].field is None  # store.service names no field for a full list
    assert full in japanese(err)
    assert japanese(err).startswith("次の電話番号は設定できないため")
    assert full in err.message  # the English line for operators names it too
    assert mail_of(forty_numbers, C) == {
        "started": False,
        "designated_only": False,
        "unanswered_only": False,
        "warnings": [],
        "addresses": [],
        "designated_numbers": [],
    }


def test_SITE_7_MAIL_1_every_number_without_address_is_listed(
    forty_numbers: sessionmaker[Session],
) -> None:
    with db.transaction(forty_numbers) as s:
        for number in NUMBERS[::2]:
            service.add_address(s, number, ADDRESS)
    err = refused_unchanged(
        forty_numbers, [*NUMBERS, NO_MAIL], BulkChange(mail_started=True, unanswered_only=True)
    )
    assert err.numbers == (*NUMBERS[1::2], NO_MAIL)
    codes = {f.number: f.code for f in err.failures}
    assert {codes[n] for n in NUMBERS[1::2]} == {"start_without_address"}
    assert codes[NO_MAIL] == "not_subscribed"
    assert all(f.message for f in err.failures)
    # The site's sentence lists them as the seeds list numbers, with 「、」.
    assert japanese(err) == (
        "次の電話番号は設定できないため、一括設定を行いませんでした"
        "(どの電話番号の設定も変更されていません): " + "、".join(err.numbers)
    )


def test_SITE_7_refused_bulk_writes_nothing_even_if_the_caller_commits(
    forty_numbers: sessionmaker[Session],
) -> None:
    engine = forty_numbers.kw["bind"]
    before = snapshot(engine)
    with db.transaction(forty_numbers) as s, pytest.raises(BulkRefused):
        bulk.apply_bulk(s, [*NUMBERS, NO_MAIL], BulkChange(add_address=ADDRESS))
        # The caller catches the refusal and commits its transaction.
    assert snapshot(engine) == before


def test_SITE_7_empty_selection_or_change_is_refused(forty_numbers: sessionmaker[Session]) -> None:
    with pytest.raises(InvalidInput) as err, db.transaction(forty_numbers) as s:
        bulk.apply_bulk(s, [], BulkChange(mail_started=True))
    assert (err.value.code, err.value.field) == ("bulk_no_numbers", "numbers")
    assert japanese(err.value) == "一括設定する電話番号を選択してください。"
    for empty in (BulkChange(), BulkChange(add_address=""), BulkChange(add_address_send=False)):
        with pytest.raises(InvalidInput) as err, db.transaction(forty_numbers) as s:
            bulk.apply_bulk(s, NUMBERS, empty)
        assert (err.value.code, err.value.field) == ("bulk_no_change", "change")
        assert japanese(err.value) == "一括設定する内容を選択してください。"


def test_SITE_7_MAIL_3_bad_address_is_refused_once_before_any_number(
    forty_numbers: sessionmaker[Session],
) -> None:
    engine = forty_numbers.kw["bind"]
    before = snapshot(engine)
    with pytest.raises(InvalidAddress) as err, db.transaction(forty_numbers) as s:
        bulk.apply_bulk(s, NUMBERS, BulkChange(add_address="a..b@example.jp"))
    assert (err.value.code, err.value.field) == ("address_double_dot", "add_address")
    assert snapshot(engine) == before


def test_SITE_7_unknown_number_is_listed(forty_numbers: sessionmaker[Session]) -> None:
    err = refused_unchanged(forty_numbers, [C, "0399999999"], BulkChange(unanswered_only=True))
    assert [(f.number, f.code) for f in err.failures] == [("0399999999", "not_found")]


# --- call history ----------------------------------------------------------------------------


@pytest.fixture
def small(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone=TZ)
        for number in NUMBERS[1:6]:
            service.add_number(s, C, number, timezone=TZ)
    return sessions


def record(
    sessions: sessionmaker[Session],
    linkedid: str,
    *,
    minutes: int,
    caller: str = "0311112222",
    presentation: Presentation = Presentation.ALLOWED,
    outcome: CallOutcome = CallOutcome.UNANSWERED,
    recipients: tuple[str, ...] = (),
    reason: str = "notify",
    rule: str = "MAIL-4",
    number: str = C,
) -> None:
    started = T0 + dt.timedelta(minutes=minutes)
    with db.transaction(sessions) as s:
        service.record_call_decision(
            s,
            now=started + dt.timedelta(seconds=31),
            linkedid=linkedid,
            subscriber_number=number,
            caller_number=caller,
            presentation=presentation,
            outcome=outcome,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=started,
            ended_at=started + dt.timedelta(seconds=30),
            mailed=bool(recipients),
            reason=reason,
            rule=rule,
            mails=[
                service.QueuedMail(
                    recipient=r, subject="s", message="m", message_id=f"<{linkedid}.{r}>"
                )
                for r in recipients
            ],
        )


def history(sessions: sessionmaker[Session], number: str = C, limit: int = 50) -> list[HistoryRow]:
    with db.transaction(sessions, read_only=True) as s:
        return list(bulk.call_history(s, number, limit))


def test_SITE_7_MAIL_10_history_newest_first_with_decisions(small: sessionmaker[Session]) -> None:
    record(small, "a", minutes=0, recipients=(ADDRESS, "two@example.jp"))
    record(small, "b", minutes=20, outcome=CallOutcome.ANSWERED, reason="answered", rule="MAIL-4")
    record(small, "c", minutes=10, outcome=CallOutcome.FORWARDED, recipients=(ADDRESS,))
    record(small, "other", minutes=30, number=NUMBERS[1])
    with db.transaction(small, read_only=True) as s:
        rows = bulk.call_history(s, C)
    assert [r.started_at for r in rows] == [T0 + dt.timedelta(minutes=m) for m in (20, 10, 0)]
    assert all(r.started_at.tzinfo == zoneinfo.ZoneInfo(TZ) for r in rows)
    assert rows[0].started_at.hour == 10  # 01:20 UTC is 10:20 in Tokyo
    assert [(r.outcome, r.outcome_label, r.mailed) for r in rows] == [
        (CallOutcome.ANSWERED, "応答", False),
        (CallOutcome.FORWARDED, "転送", True),
        (CallOutcome.UNANSWERED, "不在", True),
    ]
    assert rows[0].recipients == ()
    assert rows[2].recipients == (ADDRESS, "two@example.jp")
    assert (rows[0].reason, rows[0].rule) == ("answered", "MAIL-4")
    assert rows[2].caller == "0311112222"


def test_SITE_7_MAIL_9_history_never_shows_a_withheld_number(small: sessionmaker[Session]) -> None:
    record(small, "w", minutes=0, caller="0399998888", presentation=Presentation.WITHHELD)
    record(small, "p", minutes=1, caller="0399998887", presentation=Presentation.PAYPHONE)
    record(small, "u", minutes=2, caller="", presentation=Presentation.UNAVAILABLE)
    rows = history(small)
    assert [r.caller for r in rows] == ["表示圏外", "公衆電話", "非通知"]
    for row in rows:
        assert "0399998888" not in repr(row)
        assert "0399998887" not in repr(row)
        assert all("039999888" not in str(v) for v in dataclasses.astuple(row))


def test_SITE_7_history_limit_and_undecided_call(small: sessionmaker[Session]) -> None:
    for i in range(5):
        record(small, f"call{i}", minutes=i)
    with db.transaction(small) as s:
        found = service.get_number(s, C)
        s.add(
            StoredCall(
                linkedid="no-decision",
                subscriber_number=C,
                number_id=found.id,
                caller_number="0311112222",
                presentation=Presentation.ALLOWED,
                outcome=CallOutcome.EXPIRED,
                started_at=T0 + dt.timedelta(hours=1),
                ended_at=None,
                recorded_at=T0 + dt.timedelta(hours=1),
            )
        )
    with db.transaction(small, read_only=True) as s:
        rows = bulk.call_history(s, C, limit=3)
        assert len(rows) == 3
        assert (rows[0].reason, rows[0].mailed, rows[0].rule) == ("undecided", False, "")
        assert [r.started_at.minute for r in rows[1:]] == [4, 3]
        with pytest.raises(ValueError):
            bulk.call_history(s, C, limit=0)
        with pytest.raises(NotFound):
            bulk.call_history(s, "0399999999")


def test_SITE_7_history_of_a_number_provisioned_again_starts_empty(
    small: sessionmaker[Session],
) -> None:
    record(small, "before", minutes=0, number=NUMBERS[5])
    assert len(history(small, NUMBERS[5])) == 1
    with db.transaction(small) as s:
        service.remove_number(s, NUMBERS[5])
        service.add_number(s, C, NUMBERS[5], timezone=TZ)
    assert history(small, NUMBERS[5]) == []
