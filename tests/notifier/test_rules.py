"""MAIL-1, MAIL-2, MAIL-4 ... MAIL-8, MAIL-10: notifier.rules.decide.

The table test runs every combination of the two MAIL-4 conditions, every
CALL-5 outcome, every presentation and every kind of caller against an
oracle written from the SPEC's sentences, not from the implementation.
"""

from __future__ import annotations

import datetime as dt
import itertools
from dataclasses import replace
from typing import NamedTuple

import pytest

from notifier.model import CallRecord, Decision, MailSettings
from notifier.rules import decide
from store.models import CallOutcome, Presentation

SUBSCRIBER = "0312345678"
DESIGNATED = "0398765432"  # on the designated list, flag on
FLAG_OFF = "09011112222"  # on the designated list, flag off
STRANGER = "0455556666"  # not on the list
T0 = dt.datetime(2026, 11, 21, 9, 4, 5, tzinfo=dt.UTC)


def settings(**changes: object) -> MailSettings:
    base = MailSettings(
        number=SUBSCRIBER,
        subscribed=True,
        started=True,
        designated_only=False,
        unanswered_only=False,
        addresses=(("a@example.jp", True), ("b@example.jp", False), ("c@example.jp", True)),
        designated=((DESIGNATED, True), (FLAG_OFF, False)),
        timezone="Asia/Tokyo",
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def call(
    outcome: CallOutcome = CallOutcome.UNANSWERED,
    presentation: Presentation = Presentation.ALLOWED,
    caller_number: str | None = None,
) -> CallRecord:
    if caller_number is None:
        caller_number = DESIGNATED if presentation is Presentation.ALLOWED else ""
    return CallRecord(
        linkedid="1763715845.42",
        subscriber_number=SUBSCRIBER,
        caller_number=caller_number,
        presentation=presentation,
        outcome=outcome,
        started_at=T0,
        ended_at=T0 + dt.timedelta(seconds=30),
    )


RECIPIENTS = ("a@example.jp", "c@example.jp")


# --- the oracle ----------------------------------------------------------------------


class Expected(NamedTuple):
    mailed: bool
    reason: str
    rule: str


def oracle(
    *,
    designated_only: bool,
    unanswered_only: bool,
    outcome: CallOutcome,
    presentation: Presentation,
    caller_number: str,
) -> Expected:
    """SPEC.md MAIL-4..8 and MAIL-10 read sentence by sentence.

    Every sentence that forbids the mail adds its reason; the first one, in
    the SPEC's order (rejections, then the conditions), is the one reported.
    """
    forbidding: list[tuple[str, str]] = []
    # MAIL-6 No mail for a call rejected by Number Request.
    if outcome == "rejected_anonymous":
        forbidding.append(("number_request", "MAIL-6"))
    # MAIL-7 No mail for a call from a number on the nuisance list.
    if outcome == "rejected_nuisance":
        forbidding.append(("nuisance_list", "MAIL-7"))
    # MAIL-8 ... except a call whose forward failed.
    if outcome == "forward_failed":
        forbidding.append(("forward_failed", "MAIL-8"))
    # The dialplan never reported the call: nothing to notify.
    if outcome == "expired":
        forbidding.append(("no_outcome", "MAIL-10"))
    # MAIL-4 (a) / MAIL-5: only designated numbers (flag on); a caller
    # without a presented number never, even if it would match.
    if designated_only:
        if presentation != "allowed" or caller_number == "":
            forbidding.append(("designated_only_anonymous", "MAIL-5"))
        elif caller_number != DESIGNATED:
            forbidding.append(("not_designated", "MAIL-4"))
    # MAIL-4 (b): only calls that were not answered; unanswered, busy and
    # forwarded calls (MAIL-8: whatever the condition) are not answered.
    if unanswered_only and outcome not in ("unanswered", "busy", "forwarded"):
        forbidding.append(("answered", "MAIL-4"))
    if forbidding:
        reason, rule = forbidding[0]
        return Expected(False, reason, rule)
    return Expected(True, "notify", "MAIL-8" if outcome == "forwarded" else "MAIL-4")


CALLERS = {"designated": DESIGNATED, "listed_flag_off": FLAG_OFF, "not_listed": STRANGER}


def _cases() -> list[object]:
    cases: list[object] = []
    for d_only, u_only, outcome, presentation, caller_kind, number_arrives in itertools.product(
        (False, True),
        (False, True),
        list(CallOutcome),
        list(Presentation),
        list(CALLERS),
        (True, False),
    ):
        if presentation is Presentation.ALLOWED and not number_arrives:
            continue  # a presented number always arrives
        # For a caller without a presented number the record should carry
        # no number; "number_arrives" also tries the case where one leaked
        # in, which must change nothing (MAIL-5).
        number = CALLERS[caller_kind] if number_arrives else ""
        case_id = "-".join(
            (
                "designated_only" if d_only else "all_callers",
                "unanswered_only" if u_only else "all_results",
                outcome.value,
                presentation.value,
                caller_kind,
                "number" if number_arrives else "no_number",
            )
        )
        cases.append(pytest.param(d_only, u_only, outcome, presentation, number, id=case_id))
    return cases


@pytest.mark.parametrize(
    ("designated_only", "unanswered_only", "outcome", "presentation", "caller_number"), _cases()
)
def test_MAIL_4_to_8_every_combination_matches_the_spec(
    designated_only: bool,
    unanswered_only: bool,
    outcome: CallOutcome,
    presentation: Presentation,
    caller_number: str,
) -> None:
    expected = oracle(
        designated_only=designated_only,
        unanswered_only=unanswered_only,
        outcome=outcome,
        presentation=presentation,
        caller_number=caller_number,
    )
    decision = decide(
        call(outcome, presentation, caller_number),
        settings(designated_only=designated_only, unanswered_only=unanswered_only),
    )
    assert (decision.mailed, decision.reason, decision.rule) == expected
    assert decision.recipients == (RECIPIENTS if expected.mailed else ())


def test_the_table_covers_every_outcome_and_presentation() -> None:
    ids = {str(getattr(case, "id", "")) for case in _cases()}
    for outcome in CallOutcome:
        assert any(f"-{outcome.value}-" in case_id for case_id in ids)
    for presentation in Presentation:
        assert any(f"-{presentation.value}-" in case_id for case_id in ids)


# --- one test per rule ---------------------------------------------------------------


def test_unknown_number_no_mail() -> None:
    assert decide(call(), None) == Decision(False, "unknown_number", "MAIL-1")


def test_MAIL_1_not_subscribed_no_mail() -> None:
    assert decide(call(), settings(subscribed=False)) == Decision(False, "not_subscribed", "MAIL-1")


def test_MAIL_1_service_stopped_no_mail() -> None:
    assert decide(call(), settings(started=False)) == Decision(False, "service_stopped", "MAIL-1")


def test_MAIL_1_stopped_wins_over_every_other_reason() -> None:
    stopped = settings(started=False, designated_only=True, unanswered_only=True)
    for outcome in CallOutcome:
        assert decide(call(outcome), stopped).reason == "service_stopped"


def test_MAIL_4_both_conditions_off_every_reported_call_is_notified() -> None:
    for outcome in (
        CallOutcome.ANSWERED,
        CallOutcome.UNANSWERED,
        CallOutcome.BUSY,
        CallOutcome.FORWARDED,
    ):
        for presentation in Presentation:
            decision = decide(call(outcome, presentation), settings())
            assert decision.mailed, (outcome, presentation)
            assert decision.recipients == RECIPIENTS


def test_MAIL_4_unanswered_only_answered_call_no_mail() -> None:
    decision = decide(call(CallOutcome.ANSWERED), settings(unanswered_only=True))
    assert decision == Decision(False, "answered", "MAIL-4")


@pytest.mark.parametrize("outcome", [CallOutcome.UNANSWERED, CallOutcome.BUSY])
def test_MAIL_4_unanswered_only_unanswered_and_busy_are_notified(outcome: CallOutcome) -> None:
    decision = decide(call(outcome), settings(unanswered_only=True))
    assert decision == Decision(True, "notify", "MAIL-4", RECIPIENTS)


def test_MAIL_4_designated_only_stranger_no_mail() -> None:
    decision = decide(call(caller_number=STRANGER), settings(designated_only=True))
    assert decision == Decision(False, "not_designated", "MAIL-4")


def test_MAIL_4_designated_only_designated_caller_is_notified() -> None:
    decision = decide(call(caller_number=DESIGNATED), settings(designated_only=True))
    assert decision == Decision(True, "notify", "MAIL-4", RECIPIENTS)


def test_MAIL_5_designated_flag_off_entry_does_not_match() -> None:
    decision = decide(call(caller_number=FLAG_OFF), settings(designated_only=True))
    assert decision == Decision(False, "not_designated", "MAIL-4")


def test_MAIL_5_designated_list_is_ignored_when_condition_off() -> None:
    decision = decide(call(caller_number=STRANGER), settings(designated_only=False))
    assert decision.mailed


@pytest.mark.parametrize("presentation", [p for p in Presentation if p is not Presentation.ALLOWED])
def test_MAIL_5_anonymous_never_notified_under_designated_only(
    presentation: Presentation,
) -> None:
    # Even with the designated number wrongly present in the record.
    for number in ("", DESIGNATED):
        decision = decide(
            call(presentation=presentation, caller_number=number), settings(designated_only=True)
        )
        assert decision == Decision(False, "designated_only_anonymous", "MAIL-5")


def test_MAIL_5_presented_but_empty_or_not_digits_counts_as_anonymous() -> None:
    for number in ("", "anonymous", "+81398765432", "0398765432\r\n"):
        decision = decide(call(caller_number=number), settings(designated_only=True))
        assert decision == Decision(False, "designated_only_anonymous", "MAIL-5"), number


@pytest.mark.parametrize("presentation", list(Presentation))
def test_MAIL_6_number_request_rejection_no_mail(presentation: Presentation) -> None:
    decision = decide(call(CallOutcome.REJECTED_ANONYMOUS, presentation), settings())
    assert decision == Decision(False, "number_request", "MAIL-6")


@pytest.mark.parametrize("designated_only", [False, True])
def test_MAIL_7_nuisance_no_mail(designated_only: bool) -> None:
    # Even when the nuisance caller is also designated.
    decision = decide(
        call(CallOutcome.REJECTED_NUISANCE, caller_number=DESIGNATED),
        settings(designated_only=designated_only),
    )
    assert decision == Decision(False, "nuisance_list", "MAIL-7")


@pytest.mark.parametrize("unanswered_only", [False, True])
def test_MAIL_8_forwarded_counts_as_unanswered(unanswered_only: bool) -> None:
    decision = decide(call(CallOutcome.FORWARDED), settings(unanswered_only=unanswered_only))
    assert decision == Decision(True, "notify", "MAIL-8", RECIPIENTS)


@pytest.mark.parametrize("unanswered_only", [False, True])
def test_MAIL_8_forward_failed_no_mail(unanswered_only: bool) -> None:
    decision = decide(call(CallOutcome.FORWARD_FAILED), settings(unanswered_only=unanswered_only))
    assert decision == Decision(False, "forward_failed", "MAIL-8")


def test_MAIL_10_expired_call_no_mail() -> None:
    decision = decide(call(CallOutcome.EXPIRED), settings())
    assert decision == Decision(False, "no_outcome", "MAIL-10")


def test_MAIL_2_only_addresses_with_send_flag() -> None:
    decision = decide(
        call(),
        settings(
            addresses=(
                ("off1@example.jp", False),
                ("on2@example.jp", True),
                ("off3@example.jp", False),
                ("on4@example.jp", True),
                ("on5@example.jp", True),
            )
        ),
    )
    assert decision.recipients == ("on2@example.jp", "on4@example.jp", "on5@example.jp")


def test_MAIL_2_every_send_flag_off_no_mail() -> None:
    decision = decide(call(), settings(addresses=(("a@example.jp", False),)))
    assert decision == Decision(False, "no_recipient", "MAIL-2")


def test_MAIL_2_no_address_at_all_no_mail() -> None:
    assert decide(call(), settings(addresses=())).reason == "no_recipient"


def test_MAIL_2_same_address_twice_is_mailed_once() -> None:
    # Case-insensitive, like the store's address key and the outbox dedup key.
    decision = decide(
        call(),
        settings(
            addresses=(
                ("Taro@Example.jp", True),
                ("b@example.jp", True),
                ("taro@example.jp", True),
            )
        ),
    )
    assert decision.recipients == ("Taro@Example.jp", "b@example.jp")


def test_a_refusal_carries_no_recipients() -> None:
    decision = decide(call(CallOutcome.REJECTED_NUISANCE), settings())
    assert decision.recipients == ()
