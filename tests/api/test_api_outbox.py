"""Issue 18, the outbox's state over the API (MAIL-10, OPS-4): ``GET /outbox``.

The mails are queued as the notifier queues them (with the call's decision,
``service.record_call_decisions``) and tried as the delivery worker tries
them (``notifier.outbox.claim_due`` / ``record_results``, on the test's
clock); the counts then move as ``chakushin status`` would report them, on
both databases, and the answer holds no mail, address or reply.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from chakushin import node
from notifier.outbox import RetryPolicy, SendResult, claim_due, record_results
from store import db, service
from store.models import CallOutcome, Presentation
from tests.api.conftest import Api

CONTRACT = "0312345678"
GONE, OK, SLOW = "gone@example.jp", "ok@example.jp", "slow@example.jp"
REFUSAL = "550 5.1.1 <gone@example.jp>: Recipient address rejected"
LATER = "451 4.3.0 try again later"
POLICY = RetryPolicy()


@pytest.fixture
def line(api: Api) -> Api:
    with db.transaction(api.sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
    return api


def a_call(api: Api, linkedid: str, to: list[str]) -> None:
    """A call mailed to ``to``, its mails queued now, as the notifier records it."""
    now = api.clock()
    with db.transaction(api.sessions) as s:
        assert service.record_call_decision(
            s,
            now=now,
            linkedid=linkedid,
            subscriber_number=CONTRACT,
            caller_number="0398765432",
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=now,
            ended_at=now,
            mailed=True,
            reason="notify",
            mails=[
                service.QueuedMail(r, "secret subject", f"body for {r}", f"<{linkedid}.{r}@x>")
                for r in to
            ],
        )


def deliver(api: Api, results: dict[str, SendResult]) -> None:
    """One round of the delivery worker now; the mails without a result stay claimed."""
    at = api.clock()
    with db.transaction(api.sessions) as s:
        claimed = claim_due(s, at, 50, POLICY.lease)
        done = [(m, results[m.recipient]) for m in claimed if m.recipient in results]
        record_results(s, done, at, POLICY, random.Random(1))


def outbox(api: Api) -> dict[str, Any]:
    r = api.read.get("/api/v1/outbox")
    assert r.status_code == 200, r.text
    for hidden in (GONE, OK, SLOW, "secret subject", "body for", "Recipient address rejected"):
        assert hidden not in r.text, hidden
    found: dict[str, Any] = r.json()
    return found


COUNTS = ("pending", "retrying", "due", "scheduled", "sent", "failed")


def counts(found: dict[str, Any]) -> tuple[int, ...]:
    return tuple(found[k] for k in COUNTS)


def test_issue18_MAIL_10_an_empty_outbox(line: Api) -> None:
    found = outbox(line)
    assert counts(found) == (0, 0, 0, 0, 0, 0)
    assert found["oldest_pending_at"] is None and found["oldest_pending_age_seconds"] is None
    assert found["failed_last_hour"] == found["failed_last_day"] == 0
    assert found["last_failure_at"] is None and found["last_failure_kind"] is None
    assert found["checked_at"] == "2026-11-22T01:00:00Z"


def test_issue18_MAIL_10_OPS_4_the_counts_move_as_mails_are_queued_claimed_sent_and_failed(
    line: Api,
) -> None:
    t0 = line.clock()
    a_call(line, "o.1", [GONE, OK, SLOW])
    line.clock.advance(30)
    found = outbox(line)
    #                     pending retrying due scheduled sent failed
    assert counts(found) == (3, 0, 3, 0, 0, 0)
    assert found["oldest_pending_at"] == t0.isoformat().replace("+00:00", "Z")
    assert found["oldest_pending_age_seconds"] == 30.0

    # Claimed, in flight: not due while the lease runs (status counts a mail tried at
    # least once as retrying).
    deliver(line, {})
    assert counts(outbox(line)) == (3, 3, 0, 3, 0, 0)

    line.clock.advance(minutes=10)  # the lease ran out (a worker died): due again
    deliver(
        line,
        {
            GONE: SendResult(False, permanent=True, reply=REFUSAL),
            OK: SendResult(True, reply="250 OK"),
            SLOW: SendResult(False, reply=LATER),
        },
    )
    found = outbox(line)
    assert counts(found) == (1, 1, 0, 1, 1, 1)
    assert found["failed_last_hour"] == found["failed_last_day"] == 1
    assert found["last_failure_kind"] in ("address_refused", "deferred")

    a_call(line, "o.2", [OK])
    assert counts(outbox(line)) == (2, 1, 1, 1, 1, 1)

    # The same view as chakushin status (the one store function under both).
    with db.transaction(line.sessions, read_only=True) as s:
        status = node.read_outbox(s, line.clock())
    found = outbox(line)
    assert (status.pending, status.retrying, status.failed_last_day) == (2, 1, 1)
    assert found["pending"] == status.pending and found["retrying"] == status.retrying

    line.clock.advance(hours=2)
    found = outbox(line)
    assert found["failed_last_hour"] == 0 and found["failed_last_day"] == 1
    assert found["due"] == 2  # the new mail, and the deferred one's next try


def test_issue18_OPS_4_the_outbox_is_read_only_and_needs_a_token(line: Api) -> None:
    a_call(line, "o.3", [OK])
    before = line.state()
    assert line.write.get("/api/v1/outbox").json()["pending"] == 1
    assert line.read.get("/api/v1/outbox").json()["pending"] == 1
    assert line.state() == before
    r = line.anon.get("/api/v1/outbox")
    assert r.status_code == 401 and r.headers["content-type"].startswith("application/problem")
    assert line.write.post("/api/v1/outbox").status_code == 405
    assert line.read.get("/api/v1/outbox", params={"x": "1" * 10}).status_code == 200
