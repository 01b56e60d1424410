"""Issue 18, call history over the API (MAIL-9, MAIL-10): ``GET /numbers/{n}/calls``.

The calls, decisions and mails are written as the notifier writes them
(``service.record_call_decisions`` queues the mails with the decision), the
attempts as the delivery worker writes them (``notifier.outbox.claim_due`` and
``record_results``, on the test's clock); the API reads them back per address,
as ``chakushin number show --calls --json`` does, a page at a time.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from notifier.outbox import RetryPolicy, SendResult, claim_due, record_results
from store import db, service
from store.models import CallOutcome, Presentation
from tests.api.conftest import Api

CONTRACT, OTHER = "0312345678", "0312345679"
GONE, OK, SLOW = "gone@example.jp", "ok@example.jp", "slow@example.jp"
REFUSAL = "(550, '5.1.1 <gone@example.jp>: Recipient address rejected', 'gone@example.jp')"
LATER = "451 4.3.0 try again later"
POLICY = RetryPolicy()


@pytest.fixture
def line(api: Api) -> Api:
    with db.transaction(api.sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_line(s, OTHER, timezone="Asia/Tokyo")
        for address in (GONE, OK, SLOW):
            service.add_address(s, CONTRACT, address)
        service.name_device(s, "PJSIP/201", "受付")
    return api


def calls(
    api: Api,
    linkedids: Sequence[str],
    *,
    to: Sequence[str] = (),
    number: str = CONTRACT,
    at: dt.datetime | None = None,
    answered_by: str = "",
) -> None:
    """Calls to ``number`` decided in one batch, as the notifier records them: mailed to
    ``to`` (unanswered) or not mailed (answered by ``answered_by``)."""
    when = at or api.clock()
    mailed = bool(to)
    decided = [
        service.CallDecision(
            linkedid=linkedid,
            subscriber_number=number,
            caller_number="0398765432" if i % 2 == 0 else "",
            presentation=Presentation.ALLOWED if i % 2 == 0 else Presentation.WITHHELD,
            outcome=CallOutcome.UNANSWERED if mailed else CallOutcome.ANSWERED,
            dial_status="NOANSWER" if mailed else "ANSWER",
            forward_dial_status="",
            started_at=when,
            ended_at=when + dt.timedelta(seconds=20),
            mailed=mailed,
            reason="notify" if mailed else "answered",
            rule="" if mailed else "MAIL-4",
            mails=[
                service.QueuedMail(r, "s", f"{linkedid}:{r}", f"<{linkedid}.{r}@x>") for r in to
            ],
            answered_by=answered_by,
            answered_name="agent one" if answered_by else "",
        )
        for i, linkedid in enumerate(linkedids)
    ]
    with db.transaction(api.sessions) as s:
        assert service.record_call_decisions(s, decided, now=when) == set(linkedids)


def deliver(api: Api, results: dict[str, SendResult]) -> None:
    """One round of the delivery worker now: the mails without a result stay claimed."""
    at = api.clock()
    with db.transaction(api.sessions) as s:
        claimed = claim_due(s, at, 50, POLICY.lease)
        done = [(m, results[m.recipient]) for m in claimed if m.recipient in results]
        record_results(s, done, at, POLICY, random.Random(1))


def get(api: Api, path: str, **params: Any) -> Any:
    r = api.read.get(f"/api/v1{path}", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_issue18_MAIL_10_each_call_with_its_decision_and_every_addresss_delivery(
    line: Api,
) -> None:
    t0 = line.clock()
    calls(line, ["c.1"], to=[GONE, OK, SLOW])
    line.clock.advance(3)
    deliver(
        line,
        {
            GONE: SendResult(False, permanent=True, reply=REFUSAL),
            OK: SendResult(True, reply="250 OK"),
            SLOW: SendResult(False, reply=LATER),
        },
    )
    line.clock.advance(minutes=5)
    calls(line, ["c.2"], answered_by="PJSIP/201")
    calls(line, ["o.1"], to=[OK], number=OTHER)  # another number's: not listed

    page = get(line, f"/numbers/{CONTRACT}/calls")
    assert page["next_cursor"] is None
    second, first = page["items"]
    assert isinstance(first["id"], int) and first["id"] != second["id"]
    assert {k: v for k, v in second.items() if k != "id"} == {
        "started_at": "2026-11-22T01:05:03Z",
        "ended_at": "2026-11-22T01:05:23Z",
        "caller": "0398765432",
        "caller_name": None,  # issue 19: no phonebook entry
        "outcome": "answered",
        "answered_by": "PJSIP/201",
        "answered_name": "受付",  # the operator's device name, as number show --calls
        "mailed": False,
        "reason": "answered",
        "rule": "MAIL-4",
        "deliveries": [],
        "chats": [],  # issue 19: no destination
    }
    assert first["started_at"] == t0.isoformat().replace("+00:00", "Z")
    assert (first["mailed"], first["reason"], first["rule"]) == (True, "notify", "")
    assert first["answered_by"] is None and first["answered_name"] is None
    by_address = {d["address"]: d for d in first["deliveries"]}
    assert list(by_address) == [GONE, OK, SLOW]  # in the order queued
    assert by_address[GONE] == {
        "address": GONE,
        "status": "failed",
        "attempts": 1,
        "queued_at": "2026-11-22T01:00:00Z",
        "sent_at": None,
        "next_attempt_at": None,
        "failure": "address_refused",
        "reply": REFUSAL,  # the operator's API: the raw reply, as number show --calls --json
    }
    assert by_address[OK]["status"] == "sent"
    assert by_address[OK]["sent_at"] == "2026-11-22T01:00:03Z"
    assert by_address[OK]["reply"] is None and by_address[OK]["failure"] is None
    slow = by_address[SLOW]
    assert (slow["status"], slow["attempts"], slow["reply"]) == ("retrying", 1, LATER)
    assert slow["next_attempt_at"] > "2026-11-22T01:00:03Z"


def test_issue18_MAIL_9_a_withheld_callers_number_is_shown_as_the_mail_shows_it(
    line: Api,
) -> None:
    calls(line, ["w.0", "w.1"])  # the second one withheld
    items = get(line, f"/numbers/{CONTRACT}/calls")["items"]
    assert sorted(i["caller"] for i in items) == sorted(["0398765432", "非通知"])


def test_issue18_MAIL_10_paging_walks_every_call_exactly_once_newest_first(line: Api) -> None:
    # 9 calls, three of them at the same moment (the id orders them).
    for i in range(6):
        calls(line, [f"p.{i}"], to=[OK])
        line.clock.advance(minutes=1)
    calls(line, ["p.6", "p.7", "p.8"], to=[OK])
    everything = get(line, f"/numbers/{CONTRACT}/calls")["items"]
    assert len(everything) == 9
    keys = [(c["started_at"], c["id"]) for c in everything]
    assert keys == sorted(keys, reverse=True)
    seen: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = get(line, f"/numbers/{CONTRACT}/calls", **params)
        pages += 1
        assert len(page["items"]) <= 2
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [c["id"] for c in everything]
    assert pages == 5  # 2+2+2+2+1: the last page says it is the last


def test_issue18_MAIL_10_a_page_reads_its_deliveries_in_one_query(line: Api) -> None:
    """Two calls or twelve: the same statements (not one per call or per address)."""

    @contextmanager
    def counted() -> Iterator[list[str]]:
        statements: list[str] = []

        def seen(*args: object) -> None:
            statements.append(str(args[2]))

        engine = line.sessions.kw["bind"]
        sa.event.listen(engine, "before_cursor_execute", seen)
        try:
            yield statements
        finally:
            sa.event.remove(engine, "before_cursor_execute", seen)

    calls(line, ["s.0", "s.1"], to=[GONE, OK], answered_by="")
    with counted() as few:
        assert len(get(line, f"/numbers/{CONTRACT}/calls")["items"]) == 2
    line.clock.advance(60)
    calls(line, [f"s.{i}" for i in range(2, 12)], to=[GONE, OK])
    with counted() as many:
        items = get(line, f"/numbers/{CONTRACT}/calls")["items"]
    assert len(items) == 12 and all(len(c["deliveries"]) == 2 for c in items)
    assert len(many) == len(few)
    assert sum("outbox_mail" in s for s in many) == 1


@pytest.mark.parametrize(
    ("path", "params", "status", "code"),
    [
        ("/numbers/0399999999/calls", {}, 404, "not_found"),
        (f"/numbers/{'1' * 33}/calls", {}, 422, "invalid_request"),
        ("/numbers/%00/calls", {}, 422, "invalid_request"),
        ("/numbers/123/calls", {}, 422, "number_format"),
        ("/numbers/0312345678%0A/calls", {}, 422, "invalid_request"),
        (f"/numbers/{CONTRACT}/calls", {"limit": 0}, 422, "invalid_request"),
        (f"/numbers/{CONTRACT}/calls", {"limit": 1001}, 422, "invalid_request"),
        (f"/numbers/{CONTRACT}/calls", {"limit": "ten"}, 422, "invalid_request"),
        (f"/numbers/{CONTRACT}/calls", {"cursor": "x" * 101}, 422, "invalid_request"),
        (f"/numbers/{CONTRACT}/calls", {"cursor": "1'; drop"}, 422, "invalid_request"),
        (f"/numbers/{CONTRACT}/calls", {"cursor": "12"}, 422, "invalid_input"),
        (f"/numbers/{CONTRACT}/calls", {"cursor": "9" * 40 + ".1"}, 422, "invalid_input"),
    ],
)
def test_issue18_MAIL_10_a_refused_history_request_is_a_problem(
    line: Api, path: str, params: dict[str, Any], status: int, code: str
) -> None:
    calls(line, ["r.1"], to=[OK])
    before = line.state()
    r = line.read.get(f"/api/v1{path}", params=params)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["code"] == code
    assert line.state() == before
    assert line.anon.get(f"/api/v1/numbers/{CONTRACT}/calls").status_code == 401


def test_issue18_MAIL_10_a_number_without_calls_has_an_empty_page(line: Api) -> None:
    assert get(line, f"/numbers/{OTHER}/calls") == {"items": [], "next_cursor": None}
