"""API endpoints: the notification mail of a number (issue 18, MAIL-1 ... MAIL-5).

``GET/PUT /numbers/{number}/mail`` is the whole setting as one resource:
started (MAIL-1), the addresses with their send flags (MAIL-2/3), the two
conditions (MAIL-4) and the designated numbers (MAIL-5). A PUT writes all of
it in one transaction through ``store.service``, the lists as the site's form
does (entry ``i`` is slot ``i + 1``), so the same body twice stores the same
rows. ``POST /numbers/{number}/mail/test`` is the 送信テスト (MAIL-2).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Annotated

import anyio.from_thread
from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session

from store import delivery, service, validation
from store.errors import DomainError
from store.models import Number, Service
from store.service.lines import subscribed
from store.service.mail import mail_warnings
from web.api.deps import Reader, Writer
from web.api.problems import ApiProblem
from web.api.send_test import MAX_REPLY, Outcome, outcome
from web.deps import SendTestResult

router = APIRouter(tags=["mail"])

NumberPath = Annotated[
    str, Path(max_length=32, pattern=r"^[0-9]+$", description="The subscriber number's digits.")
]
Flag = Annotated[bool, Field(strict=True)]


class AddressIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(max_length=validation.MAX_ADDRESS_LENGTH, description="MAIL-3.")
    send: Flag = True


class DesignatedIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    caller_number: str = Field(
        max_length=validation.MAX_TYPED_NUMBER,
        description="Digits, or as people type it (03-1234-5678, full-width digits).",
    )
    designated: Flag = True


class MailSettingIn(BaseModel):
    """The whole mail setting; every field is required (nothing is left as it was)."""

    model_config = ConfigDict(extra="forbid")

    started: Flag
    unanswered_only: Flag
    designated_only: Flag
    addresses: list[AddressIn] = Field(max_length=validation.MAX_ADDRESSES)
    designated_numbers: list[DesignatedIn] = Field(max_length=validation.MAX_DESIGNATED)


class AddressOut(BaseModel):
    position: int
    address: str
    send: bool


class DesignatedOut(BaseModel):
    position: int
    caller_number: str
    designated: bool


class MailSettingOut(BaseModel):
    number: str
    subscribed: bool
    started: bool
    unanswered_only: bool
    designated_only: bool
    # Codes of a stored setting under which no call is mailed (``mail_warnings``).
    warnings: list[str]
    addresses: list[AddressOut]
    designated_numbers: list[DesignatedOut]

    @classmethod
    def of(cls, found: Number) -> MailSettingOut:
        n = found.notification
        return cls(
            number=found.number,
            subscribed=found.subscribes(Service.MAIL),
            started=n.started,
            unanswered_only=n.unanswered_only,
            designated_only=n.designated_only,
            warnings=mail_warnings(found),
            addresses=[
                AddressOut(position=a.position, address=a.address, send=a.send)
                for a in sorted(found.addresses, key=lambda a: a.position)
            ],
            designated_numbers=[
                DesignatedOut(
                    position=d.position, caller_number=d.caller_number, designated=d.designated
                )
                for d in sorted(found.designated, key=lambda d: d.position)
            ],
        )


class SendTestIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    address: str = Field(max_length=validation.MAX_ADDRESS_LENGTH, description="MAIL-3.")


class SendTestOut(BaseModel):
    address: str
    # sent; refused (for good: 5xx); deferred (try later: 4xx); unreachable (no server answered).
    outcome: Outcome
    accepted: bool
    permanent: bool
    # The mail server's reply (or our side's error when none answered), for the operator.
    reply: str


class SendTestUnavailable(ApiProblem):
    """404, not 503: the operation is not offered by this node, and waiting will not change it."""

    status, code, title = 404, "send_test_unavailable", "this node has no mailer for test mails"


# The domain names a form's rows (``address_3``); the API names the body's entries.
_ROW_FIELDS = {
    "address": ("addresses", "address"),
    "caller_number": ("designated_numbers", "caller_number"),
}
_ROW = re.compile(r"(address|caller_number)_([0-9]+)")


@contextlib.contextmanager
def _body_fields() -> Iterator[None]:
    """A refusal of slot N names the body's entry N - 1 (``addresses.2.address``)."""
    try:
        yield
    except DomainError as exc:
        row = _ROW.fullmatch(exc.field or "")
        if row is not None:
            items, name = _ROW_FIELDS[row.group(1)]
            exc.field = f"{items}.{int(row.group(2)) - 1}.{name}"
        raise


def _put_mail(session: Session, number: str, body: MailSettingIn) -> None:
    """The whole setting, in an order each step of which MAIL-1 and MAIL-4 allow.

    Whatever is stored now, the same body gets the same answer: a started
    service is stopped first when the body stops it or has no address (then
    ``start_mail`` refuses: ``start_without_address``), and condition (a) is
    switched off first when the body has it off or flags no number (then
    ``set_conditions`` refuses: ``designated_only_without_numbers``). All in
    one transaction: a refusal at any step rolls every step back.
    """
    found = subscribed(session, number, Service.MAIL)
    flagged = any(d.designated for d in body.designated_numbers)
    if found.notification.started and not (body.started and body.addresses):
        service.stop_mail(session, number)
    if found.notification.designated_only and not (body.designated_only and flagged):
        service.set_conditions(session, number, designated_only=False)
    with _body_fields():
        service.set_designated_numbers(
            session, number, [(d.caller_number, d.designated) for d in body.designated_numbers]
        )
        service.set_addresses(session, number, [(a.address, a.send) for a in body.addresses])
    service.set_conditions(
        session,
        number,
        designated_only=body.designated_only,
        unanswered_only=body.unanswered_only,
    )
    if body.started and not found.notification.started:
        service.start_mail(session, number)


@router.get("/numbers/{number}/mail", summary="The number's notification mail setting")
def get_mail(number: NumberPath, api: Reader) -> MailSettingOut:
    with api.read() as session:
        return MailSettingOut.of(service.get_number(session, number))


@router.put(
    "/numbers/{number}/mail",
    summary="Set the whole notification mail setting (MAIL-1 ... MAIL-5)",
)
def put_mail(number: NumberPath, body: MailSettingIn, api: Writer) -> MailSettingOut:
    with api.transaction() as session:
        _put_mail(session, number, body)
        session.expire_all()  # the lists as stored, by position
        out = MailSettingOut.of(service.get_number(session, number))
    return out


@router.post(
    "/numbers/{number}/mail/test",
    summary="Send test: mail a test message to one address now (MAIL-2)",
    description=(
        "The address need not be saved. 200 whatever the mail server answered (``outcome``); "
        "404 ``send_test_unavailable`` when this node has no mailer for test mails."
    ),
)
def send_test_mail(number: NumberPath, body: SendTestIn, api: Writer) -> SendTestOut:
    send_test = api.deps.send_test
    if send_test is None:
        raise SendTestUnavailable()
    with api.read() as session:
        service.get_number(session, number)
    validation.mail_address(body.address)

    async def send() -> SendTestResult:
        return await send_test(number, body.address)

    # The mailer runs on the server's event loop; this endpoint runs in a worker thread.
    result = anyio.from_thread.run(send)
    if result.ok:  # a saved address's failure flag goes, as the site's test (issue 16)
        with api.transaction() as session:
            delivery.note_test_sent(session, number, body.address, now=api.now())
    return SendTestOut(
        address=body.address,
        outcome=outcome(result),
        accepted=result.ok,
        permanent=result.permanent,
        reply=result.reply[:MAX_REPLY],
    )
