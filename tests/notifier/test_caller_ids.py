"""Caller IDs as trunks send them, through the notifier to a real SMTP server (issue 14).

A call placed through the real FastAGI server (its ``CHAKUSHIN_CALLER`` and
``CHAKUSHIN_PRESENTATION`` go into the hangup handler's ChakushinCall
event, as the dialplan sends them), or an event as the dialplan's fail path
sends it, is parsed, decided and mailed: ``+81311110000`` is the designated
``0311110000`` (MAIL-5, MAIL-9) and SIP's ``anonymous`` is 非通知 (CALL-3, MAIL-9).
"""

from __future__ import annotations

from email.message import EmailMessage

import pytest
from sqlalchemy.orm import Session, sessionmaker

from agi.peer import AsteriskPeer
from chakushin import bootstrap
from chakushin import config as config_mod
from dialplan import variables as v
from notifier import ami
from notifier.engine import Notifier
from notifier.mail import Templates
from notifier.outbox import DeliveryWorker, SmtpSender, SmtpSettings
from store import db, service
from tests.builders import default_routes, plain_text, running_server
from tests.notifier.smtp_server import SmtpServer
from tests.notifier.steps import NUMBER, call_frames, stored

DESIGNATED = "0311110000"
BOSS, FROM = "boss@example.jp", "chakushin@example.jp"


@pytest.fixture
def designated_only(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """NUMBER mails only calls from the designated 0311110000 (MAIL-4 (a), MAIL-5)."""
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, BOSS)
        service.start_mail(s, NUMBER)
        service.add_designated(s, NUMBER, DESIGNATED)
        service.set_conditions(s, NUMBER, designated_only=True)
    return sessions


def routed(sessions: sessionmaker[Session], callerid: str) -> dict[str, str]:
    """The ChakushinCall fields the dialplan sends for a call the routing AGI decided."""
    with running_server(default_routes(sessions)) as server:
        peer = AsteriskPeer(
            callerid,
            script=v.SCRIPT_ROUTE_CALL,
            env_overrides={"agi_arg_1": NUMBER, "agi_extension": NUMBER, "agi_callingpres": "0"},
        ).over_tcp("127.0.0.1", server.port)
    return {"Caller": peer.variables[v.CALLER], "Presentation": peer.variables[v.PRESENTATION]}


async def mailed(
    notifier: Notifier, smtp: SmtpServer, **calls: dict[str, str]
) -> list[EmailMessage]:
    """Feed each call's frames (linkedid -> event body), decide, deliver; the mails received."""
    finished = []
    for linkedid, body in calls.items():
        for frame in call_frames(linkedid, **body):
            event = ami.parse_event(frame)
            if event is not None:
                finished += notifier.handle(event)
    notifier.decide(finished)
    worker = DeliveryWorker(
        notifier.sessions, [SmtpSender(SmtpSettings("127.0.0.1", smtp.port))], FROM
    )
    while await worker.run_once():
        pass
    await worker.close()
    return list(smtp.inbox.messages)


def label_of(mail: EmailMessage) -> str:
    """The caller as the mail's subject names it (【service】caller からの着信)."""
    return str(mail["Subject"]).partition("】")[2].split()[0]


@pytest.mark.asyncio
async def test_MAIL_5_an_e164_caller_routed_by_the_agi_is_the_designated_number(
    designated_only: sessionmaker[Session], smtp: SmtpServer
) -> None:
    event = routed(designated_only, "+81311110000")
    notifier = Notifier(designated_only, templates=Templates.load(), sender_address=FROM)
    (mail,) = await mailed(notifier, smtp, e164=event)
    assert DESIGNATED in str(mail["Subject"]) and DESIGNATED in plain_text(mail)
    assert "+81" not in plain_text(mail) and "表示圏外" not in plain_text(mail)
    assert stored(designated_only)["e164"][1:] == (DESIGNATED, "allowed", True, "notify")


@pytest.mark.asyncio
async def test_MAIL_5_e164_in_the_event_itself_is_read_in_national_form(
    designated_only: sessionmaker[Session], smtp: SmtpServer
) -> None:
    """The event as an older AGI, a hand-written dialplan or the fail path may send it."""
    notifier = Notifier(designated_only, templates=Templates.load(), sender_address=FROM)
    mails = await mailed(
        notifier,
        smtp,
        plus={"Caller": "+81311110000"},
        prefix={"Caller": "0081311110000"},
        bare={"Caller": "81311110000"},  # not configured: not the designated number
        abroad={"Caller": "+14155550100"},
    )
    assert sorted(str(m["X-Chakushin-Call"]) for m in mails) == ["plus", "prefix"]
    assert {label_of(m) for m in mails} == {DESIGNATED}
    rows = stored(designated_only)
    assert rows["bare"][4] == "not_designated"  # presented as it came: not a match
    assert rows["abroad"][4] == "designated_only_anonymous"  # not a number the rules know


@pytest.mark.asyncio
async def test_MAIL_5_e164_without_plus_is_read_where_configured(
    designated_only: sessionmaker[Session], smtp: SmtpServer
) -> None:
    notifier = Notifier(
        designated_only, templates=Templates.load(), sender_address=FROM, e164_without_plus=True
    )
    (mail,) = await mailed(notifier, smtp, bare={"Caller": "81311110000"})
    assert label_of(mail) == DESIGNATED


@pytest.mark.asyncio
async def test_MAIL_5_the_configured_notifier_reads_e164_without_plus(
    designated_only: sessionmaker[Session], smtp: SmtpServer
) -> None:
    """call.e164_without_plus reaches the notifier that ``chakushin serve`` builds."""
    config = config_mod.load(
        env={"CHAKUSHIN_CALL_E164_WITHOUT_PLUS": "true", "CHAKUSHIN_MAIL_FROM_ADDRESS": FROM}
    )
    svc = bootstrap.notifier_service(
        config, designated_only, senders=[SmtpSender(SmtpSettings("127.0.0.1", smtp.port))]
    )
    (mail,) = await mailed(svc.notifier, smtp, bare={"Caller": "81311110000"})
    assert label_of(mail) == DESIGNATED


@pytest.fixture
def everything(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """NUMBER mails every call, Number Request on."""
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo")
        service.add_address(s, NUMBER, BOSS)
        service.start_mail(s, NUMBER)
        service.set_number_request(s, NUMBER, enabled=True)
    return sessions


@pytest.mark.asyncio
async def test_MAIL_9_anonymous_is_mailed_as_withheld(
    everything: sessionmaker[Session], smtp: SmtpServer
) -> None:
    notifier = Notifier(everything, templates=Templates.load(), sender_address=FROM)
    mails = await mailed(
        notifier,
        smtp,
        # As the dialplan sends it when the AGI decided (it is withheld there too).
        agi=routed(everything, "anonymous") | {"Outcome": "answered", "DialStatus": "ANSWER"},
        # The caller ID itself in the event, presentation "allowed".
        event={"Caller": "Anonymous", "Outcome": "answered", "DialStatus": "ANSWER"},
        # The dialplan's fail path (no AGI): Caller empty, presentation unavailable,
        # the channel's own CallerIDNum header says anonymous.
        fail_path={
            "Caller": "",
            "Presentation": "unavailable",
            "CallerIDNum": "anonymous",
            "Route": "agi_failed",
        },
    )
    assert sorted(str(m["X-Chakushin-Call"]) for m in mails) == ["agi", "event", "fail_path"]
    for mail in mails:
        assert label_of(mail) == "非通知" and "非通知" in plain_text(mail)
        assert "表示圏外" not in plain_text(mail) and "nonymous" not in plain_text(mail)
    assert {row[2] for row in stored(everything).values()} == {"withheld"}


@pytest.mark.asyncio
async def test_CALL_3_anonymous_refused_by_number_request_is_not_mailed(
    everything: sessionmaker[Session], smtp: SmtpServer
) -> None:
    event = routed(everything, "anonymous")
    assert event == {"Caller": "", "Presentation": "withheld"}
    notifier = Notifier(everything, templates=Templates.load(), sender_address=FROM)
    refused = event | {"Outcome": "rejected_anonymous", "DialStatus": ""}
    assert await mailed(notifier, smtp, refused=refused) == []
    assert stored(everything)["refused"][2:] == ("withheld", False, "number_request")


@pytest.mark.asyncio
async def test_MAIL_7_an_e164_caller_on_the_nuisance_list_is_refused_and_not_mailed(
    everything: sessionmaker[Session], smtp: SmtpServer
) -> None:
    with db.transaction(everything) as s:
        service.add_nuisance(s, NUMBER, DESIGNATED)
    with running_server(default_routes(everything)) as server:
        peer = AsteriskPeer(
            "+81311110000",
            script=v.SCRIPT_ROUTE_CALL,
            env_overrides={"agi_arg_1": NUMBER, "agi_extension": NUMBER, "agi_callingpres": "0"},
        ).over_tcp("127.0.0.1", server.port)
    assert peer.variables[v.ACTION] == v.ACTION_REJECT_NUISANCE
    notifier = Notifier(everything, templates=Templates.load(), sender_address=FROM)
    refused = {
        "Caller": peer.variables[v.CALLER],
        "Presentation": peer.variables[v.PRESENTATION],
        "Outcome": "rejected_nuisance",
        "DialStatus": "",
    }
    assert await mailed(notifier, smtp, refused=refused) == []
    assert stored(everything)["refused"][1:] == (DESIGNATED, "allowed", False, "nuisance_list")
