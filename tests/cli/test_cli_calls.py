"""Issue 16 (MAIL-2, MAIL-10): ``chakushin number show N --calls`` for the operator, on both
databases: each call's decision and reason, each address's delivery with the attempts and
the mail server's raw reply (which the site never shows)."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from sqlalchemy.orm import Session, sessionmaker

from chakushin.cli import cli
from notifier.outbox import RetryPolicy, SendResult, claim_due, record_results
from store import db, service
from store.models import CallOutcome, Presentation

CONTRACT = "0312345678"
GONE, OK, SLOW = "gone@example.jp", "ok@example.jp", "slow@example.jp"
T0 = dt.datetime(2026, 11, 22, 1, 0, tzinfo=dt.UTC)  # 10:00 in Tokyo
REFUSAL = "(550, '5.1.1 <gone@example.jp>: Recipient address rejected', 'gone@example.jp')"
LATER = "451 4.3.0 try again later"


@pytest.fixture
def stored(db_url: str, tmp_config: Path) -> Iterator[sessionmaker[Session]]:
    """CONTRACT (Asia/Tokyo) with three addresses; one call mailed to them at T0 and tried
    once (GONE refused for good, OK accepted, SLOW deferred); a later call not mailed."""
    engine = db.make_engine(db_url)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        for address in (GONE, OK, SLOW):
            service.add_address(s, CONTRACT, address)
        for linkedid, at, mailed, reason, rule, to in (
            ("c.1", T0, True, "notify", "", [GONE, OK, SLOW]),
            ("c.2", T0 + dt.timedelta(minutes=5), False, "answered", "MAIL-4", []),
        ):
            service.record_call_decision(
                s,
                now=at,
                linkedid=linkedid,
                subscriber_number=CONTRACT,
                caller_number="0398765432",
                presentation=Presentation.ALLOWED,
                outcome=CallOutcome.UNANSWERED if mailed else CallOutcome.ANSWERED,
                dial_status="",
                forward_dial_status="",
                started_at=at,
                ended_at=at,
                mailed=mailed,
                reason=reason,
                rule=rule,
                mails=[service.QueuedMail(r, "s", "b", f"<{linkedid}.{r}@x>") for r in to],
            )
    results = {
        GONE: SendResult(False, permanent=True, reply=REFUSAL),
        OK: SendResult(True, reply="250 OK"),
        SLOW: SendResult(False, reply=LATER),
    }
    at = T0 + dt.timedelta(seconds=3)
    policy = RetryPolicy()
    with db.transaction(sessions) as s:
        claimed = claim_due(s, at, 50, policy.lease)
        record_results(
            s, [(m, results[m.recipient]) for m in claimed], at, policy, random.Random(1)
        )
    yield sessions
    engine.dispose()


def run(db_url: str, *args: str) -> Result:
    result = CliRunner().invoke(cli, list(args), env={"CHAKUSHIN_DATABASE_URL": db_url})
    assert result.exit_code == 0, result.stderr
    return result


def test_issue16_MAIL_10_number_show_calls_lists_each_delivery_with_the_raw_reply(
    stored: sessionmaker[Session], db_url: str
) -> None:
    text = run(db_url, "number", "show", CONTRACT, "--calls").stdout
    assert text.startswith(f"{CONTRACT}  (contract number")  # the number as before, then calls
    assert "  recent calls (2, newest first, at most 20):" in text
    lines = text.splitlines()
    start = lines.index("  recent calls (2, newest first, at most 20):")
    newest, older = lines[start + 1], lines[start + 2]
    assert newest == (
        "    2026-11-22 10:05:00 +0900  from 0398765432  answered  not mailed (answered, MAIL-4)"
    )
    assert older == "    2026-11-22 10:00:00 +0900  from 0398765432  unanswered  mailed (notify)"
    assert lines[start + 3] == (
        f"      {GONE}  failed (address_refused) after 1 attempt: {REFUSAL}"
    )
    assert lines[start + 4] == f"      {OK}  sent 2026-11-22 10:00:03 +0900 after 1 attempt"
    assert lines[start + 5].startswith(
        f"      {SLOW}  retrying: 1 attempt, next 2026-11-22 10:00:0"
    )
    assert lines[start + 5].endswith(f"; last reply: {LATER}")
    assert "  recently failed addresses (1):" in lines
    assert f"    1. {GONE}  address_refused: {REFUSAL}" in lines
    # Without --calls, number show is what it was.
    plain = run(db_url, "number", "show", CONTRACT).stdout
    assert "recent calls" not in plain and plain.strip() == text.split("\n  recent calls")[0]


def test_issue16_MAIL_10_number_show_calls_as_json(
    stored: sessionmaker[Session], db_url: str
) -> None:
    data: dict[str, Any] = json.loads(
        run(db_url, "--json", "number", "show", CONTRACT, "--calls", "--limit", "1").stdout
    )
    assert data["number"] == CONTRACT and len(data["mail"]["addresses"]) == 3
    (only,) = data["calls"]  # --limit 1: the newest
    assert (only["reason"], only["rule"], only["mailed"], only["deliveries"]) == (
        "answered",
        "MAIL-4",
        False,
        [],
    )
    mailed = json.loads(run(db_url, "number", "show", CONTRACT, "--calls", "--json").stdout)
    by = {d["address"]: d for d in mailed["calls"][1]["deliveries"]}
    assert by[GONE] == {
        "address": GONE,
        "status": "failed",
        "attempts": 1,
        "queued_at": "2026-11-22T10:00:00+09:00",
        "sent_at": None,
        "next_attempt_at": None,
        "failure": "address_refused",
        "reply": REFUSAL,
    }
    assert (by[OK]["status"], by[OK]["sent_at"], by[OK]["reply"]) == (
        "sent",
        "2026-11-22T10:00:03+09:00",
        None,
    )
    assert (by[SLOW]["status"], by[SLOW]["attempts"], by[SLOW]["reply"]) == ("retrying", 1, LATER)
    assert by[SLOW]["next_attempt_at"] > "2026-11-22T10:00:03+09:00"
    assert mailed["recently_failed"] == [
        {
            "address": GONE,
            "position": 1,
            "failure": "address_refused",
            "reply": REFUSAL,
            "queued_at": "2026-11-22T10:00:00+09:00",
        }
    ]
    assert "calls" not in json.loads(run(db_url, "--json", "number", "show", CONTRACT).stdout)


def test_issue16_MAIL_10_number_show_calls_refuses_a_bad_limit(
    stored: sessionmaker[Session], db_url: str
) -> None:
    refused = CliRunner().invoke(
        cli,
        ["number", "show", CONTRACT, "--calls", "--limit", "0"],
        env={"CHAKUSHIN_DATABASE_URL": db_url},
    )
    assert refused.exit_code == 2 and "--limit" in refused.stderr


def test_issue16_MAIL_10_number_show_refuses_a_limit_without_calls(
    stored: sessionmaker[Session], db_url: str
) -> None:
    # --limit says how many calls --calls lists: alone it would be dropped without a word.
    for limit in ("5", "20"):  # 20 is the default, given on the command line all the same
        refused = CliRunner().invoke(
            cli,
            ["number", "show", CONTRACT, "--limit", limit],
            env={"CHAKUSHIN_DATABASE_URL": db_url},
        )
        assert refused.exit_code == 2, (limit, refused.stdout)
        assert "--limit" in refused.stderr and "--calls" in refused.stderr, refused.stderr
        assert refused.stdout == ""
    assert run(db_url, "number", "show", CONTRACT).stdout.startswith(CONTRACT)
    assert "at most 5" in run(db_url, "number", "show", CONTRACT, "--limit", "5", "--calls").stdout
