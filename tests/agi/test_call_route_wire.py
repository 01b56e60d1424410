"""CALL-1 ... CALL-4 over the AGI wire: the FastAGI server decides, the peer sees the variables.

Each test places one call to a subscriber number through the real FastAGI
server (SQLite and PostgreSQL) and asserts the channel variables the
dialplan acts on, and what the database recorded.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from email.message import EmailMessage

import pytest
from sqlalchemy.orm import Session, sessionmaker
from structlog.testing import capture_logs

from agi import wiring
from agi.peer import AsteriskPeer
from agi.prompts import Prompt
from chakushin import bootstrap
from chakushin import config as config_mod
from dialplan import render
from dialplan import variables as v
from notifier import ami
from notifier.mail import Templates, compose
from notifier.model import CallRecord, MailSettings, OutcomeReported
from store import db, service
from store.models import Presentation, Service, VoiceWarpMode
from tests.builders import empty_tables, running_server
from tests.conftest import BACKENDS
from tests.dialplan import evaluate

NUMBER, OTHER, CALLER, NUISANCE = "0312345678", "0312345679", "0398765432", "0311110000"
FORWARD_TO = "09012345678"


@dataclass
class Switch:
    sessions: sessionmaker[Session]
    port: int

    def call(
        self, number: str = NUMBER, callerid: str = CALLER, pres: str = "0", ani2: str = "0"
    ) -> dict[str, str]:
        return self.place(number, callerid, pres, ani2).variables

    def place(
        self,
        number: str = NUMBER,
        callerid: str = CALLER,
        pres: str = "0",
        ani2: str = "0",
        database: dict[str, str] | None = None,
    ) -> AsteriskPeer:
        """One call; the peer's AstDB starts as ``database``."""
        peer = AsteriskPeer(
            callerid,
            script=v.SCRIPT_ROUTE_CALL,
            env_overrides={
                "agi_arg_1": number,
                "agi_extension": number,
                "agi_callingpres": pres,
                "agi_callingani2": ani2,
                "agi_context": v.CONTEXT_SUBSCRIBERS,
            },
            database=dict(database or {}),
        ).over_tcp("127.0.0.1", self.port)
        # Issue 15: and the number's endpoint to AstDB, for the fail path.
        # Issue 15: and, over PJSIP, reads the SIP identity headers (a payphone's cpc).
        assert all(
            c.startswith(("SET VARIABLE", "DATABASE ", "GET VARIABLE")) for c in peer.commands
        ), peer.commands
        return peer

    def change(self, action: Callable[[Session], object]) -> None:
        with db.transaction(self.sessions) as s:
            action(s)


@pytest.fixture(params=BACKENDS)
def switch(request: pytest.FixtureRequest) -> Iterator[Switch]:
    url: str = request.getfixturevalue(f"{request.param}_url")
    engine = db.make_engine(url)
    sessions = db.session_factory(engine)
    with db.transaction(sessions) as s:
        service.add_line(s, NUMBER, timezone="Asia/Tokyo", endpoint="PJSIP/alice")
        service.add_number(s, NUMBER, OTHER, timezone="Asia/Tokyo", services=[Service.MAIL])
        service.add_nuisance(s, NUMBER, NUISANCE)
    config = config_mod.load(env={"CHAKUSHIN_CALL_FORWARD_DIAL": "PJSIP/{number}@ntt"})
    try:
        with running_server(wiring.routes(sessions, ivr=config.ivr, call=config.call)) as server:
            yield Switch(sessions, server.port)
    finally:
        empty_tables(engine)
        engine.dispose()


def test_CALL_1_plain_ring(switch: Switch) -> None:
    got = switch.call()
    assert got == {
        v.PRESENTATION: "allowed",
        v.CALLER: CALLER,
        v.DIAL: "PJSIP/alice",
        v.RING_SECONDS: "30",
        v.FORWARD_DIAL: "",
        v.FORWARD_ON: "never",
        v.REFUSAL: "",
        v.QUEUE: "",
        v.QUEUE_SECONDS: "",
        v.ROUTE: "decided",
        v.ACTION: "ring",
    }


def test_CALL_2_nuisance_caller_is_refused(switch: Switch) -> None:
    got = switch.call(callerid=NUISANCE)
    assert got[v.ACTION] == v.ACTION_REJECT_NUISANCE
    assert got[v.REFUSAL] == Prompt.CALL_REJECTED_NUISANCE.value


def test_CALL_2_withheld_nuisance_caller_is_refused_and_not_revealed(switch: Switch) -> None:
    got = switch.call(callerid=NUISANCE, pres="32")
    assert got[v.ACTION] == v.ACTION_REJECT_NUISANCE
    assert got[v.CALLER] == "" and got[v.PRESENTATION] == "withheld"
    assert NUISANCE not in repr(got)


def test_CALL_3_withheld_caller_with_number_request_on_and_off(switch: Switch) -> None:
    assert switch.call(pres="32")[v.ACTION] == v.ACTION_RING
    switch.change(lambda s: service.set_number_request(s, NUMBER, enabled=True))
    got = switch.call(pres="32")
    assert got[v.ACTION] == v.ACTION_REJECT_ANONYMOUS
    assert got[v.REFUSAL] == Prompt.CALL_REJECTED_WITHHELD.value
    assert got[v.CALLER] == ""
    assert switch.call()[v.ACTION] == v.ACTION_RING  # presented numbers still ring


@pytest.mark.parametrize(
    ("kind", "env", "flag", "prompt"),
    [
        (
            "payphone",
            {"callerid": "", "ani2": "27"},
            "reject_payphone",
            Prompt.CALL_REJECTED_PAYPHONE,
        ),
        (
            "unavailable",
            {"callerid": "", "pres": "67"},
            "reject_unavailable",
            Prompt.CALL_REJECTED_UNAVAILABLE,
        ),
    ],
)
def test_CALL_3_payphone_and_unavailable_are_refused_only_when_configured(
    switch: Switch, kind: str, env: dict[str, str], flag: str, prompt: Prompt
) -> None:
    switch.change(lambda s: service.set_number_request(s, NUMBER, enabled=True))
    got = switch.call(**env)
    assert (got[v.PRESENTATION], got[v.ACTION]) == (kind, v.ACTION_RING)
    switch.change(lambda s: service.set_number_request(s, NUMBER, **{flag: True}))
    got = switch.call(**env)
    assert (got[v.ACTION], got[v.REFUSAL]) == (v.ACTION_REJECT_ANONYMOUS, prompt.value)


def test_CALL_4_voice_warp_unconditional(switch: Switch) -> None:
    switch.change(
        lambda s: service.set_voice_warp(
            s, NUMBER, enabled=True, mode=VoiceWarpMode.UNCONDITIONAL, destination=FORWARD_TO
        )
    )
    got = switch.call()
    assert (got[v.ACTION], got[v.FORWARD_DIAL], got[v.DIAL]) == (
        v.ACTION_FORWARD,
        f"PJSIP/{FORWARD_TO}@ntt",
        "",
    )


def test_CALL_4_voice_warp_no_answer_rings_first(switch: Switch) -> None:
    switch.change(
        lambda s: service.set_voice_warp(
            s,
            NUMBER,
            enabled=True,
            mode=VoiceWarpMode.NO_ANSWER,
            destination=FORWARD_TO,
            ring_seconds=12,
        )
    )
    got = switch.call()
    assert (got[v.ACTION], got[v.DIAL], got[v.RING_SECONDS], got[v.FORWARD_ON]) == (
        v.ACTION_RING,
        "PJSIP/alice",
        "12",
        v.FORWARD_ON_NOANSWER,
    )
    assert got[v.FORWARD_DIAL] == f"PJSIP/{FORWARD_TO}@ntt"


def test_CALL_4_voice_warp_busy(switch: Switch) -> None:
    switch.change(
        lambda s: service.set_voice_warp(
            s, NUMBER, enabled=True, mode=VoiceWarpMode.BUSY, destination=FORWARD_TO
        )
    )
    got = switch.call()
    assert (got[v.ACTION], got[v.RING_SECONDS], got[v.FORWARD_ON]) == (
        v.ACTION_RING,
        "30",
        v.FORWARD_ON_BUSY,
    )


def test_CALL_4_voice_warp_switched_off_rings(switch: Switch) -> None:
    switch.change(
        lambda s: service.set_voice_warp(
            s, NUMBER, enabled=True, mode=VoiceWarpMode.UNCONDITIONAL, destination=FORWARD_TO
        )
    )
    switch.change(lambda s: service.set_voice_warp(s, NUMBER, enabled=False))
    assert switch.call()[v.ACTION] == v.ACTION_RING


def test_number_without_endpoint_rings_the_fallback_endpoint(switch: Switch) -> None:
    got = switch.call(number=OTHER)
    assert (got[v.ACTION], got[v.DIAL]) == (v.ACTION_RING, f"PJSIP/{OTHER}")


def test_unknown_number_takes_the_fail_path(switch: Switch) -> None:
    got = switch.call(number="0399999999")
    assert v.ACTION not in got
    assert got[v.ROUTE] == "unknown_number"
    assert got[v.PRESENTATION] == "allowed" and got[v.CALLER] == CALLER


def test_CALL_2_every_call_records_the_last_caller(switch: Switch) -> None:
    switch.call(callerid="0355556666", pres="32")
    with db.transaction(switch.sessions) as s:
        number = service.get_number(s, NUMBER)
        assert number.last_caller_number == "0355556666"
        assert number.last_caller_presentation is Presentation.WITHHELD
        assert number.last_call_at is not None


def test_database_unavailable_takes_the_fail_path() -> None:
    engine = db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/x?connect_timeout=2")
    try:
        config = config_mod.load(env={})
        with running_server(
            wiring.routes(db.session_factory(engine), ivr=config.ivr, call=config.call)
        ) as server:
            got = Switch(db.session_factory(engine), server.port).call(pres="32")
    finally:
        engine.dispose()
    assert v.ACTION not in got
    assert got[v.ROUTE] == "store_unavailable"
    assert (got[v.PRESENTATION], got[v.CALLER]) == ("withheld", "")


# --- caller IDs as trunks send them (issue 14) -----------------------------------------


@pytest.mark.parametrize("presented", ["+81311110000", "0081311110000"])
def test_CALL_2_e164_caller_is_refused_when_its_national_number_is_listed(
    switch: Switch, presented: str
) -> None:
    got = switch.call(callerid=presented)
    assert (got[v.ACTION], got[v.REFUSAL]) == (
        v.ACTION_REJECT_NUISANCE,
        Prompt.CALL_REJECTED_NUISANCE.value,
    )
    # MAIL-9: the notifier is told the national number, as the rules compare it.
    assert (got[v.PRESENTATION], got[v.CALLER]) == ("allowed", NUISANCE)


def test_CALL_2_e164_caller_is_recorded_as_the_last_caller_in_national_form(
    switch: Switch,
) -> None:
    switch.call(callerid="+819012345678")
    with db.transaction(switch.sessions) as s:
        number = service.get_number(s, NUMBER)
        assert number.last_caller_number == "09012345678"
        assert number.last_caller_presentation is Presentation.ALLOWED


def test_CALL_2_another_countrys_e164_is_left_as_presented(switch: Switch) -> None:
    got = switch.call(callerid="+14155550100")
    assert (got[v.ACTION], got[v.PRESENTATION], got[v.CALLER]) == (
        v.ACTION_RING,
        "unavailable",
        "",
    )


def test_CALL_2_e164_without_plus_is_read_only_where_configured(switch: Switch) -> None:
    got = switch.call(callerid="81311110000")
    assert (got[v.ACTION], got[v.PRESENTATION]) == (v.ACTION_RING, "unavailable")
    config = config_mod.load(env={"CHAKUSHIN_CALL_E164_WITHOUT_PLUS": "true"})
    with running_server(wiring.routes(switch.sessions, ivr=config.ivr, call=config.call)) as other:
        got = Switch(switch.sessions, other.port).call(callerid="81311110000")
    assert (got[v.ACTION], got[v.CALLER]) == (v.ACTION_REJECT_NUISANCE, NUISANCE)


@pytest.mark.parametrize("presented", ["anonymous", "Anonymous", "anonymous@anonymous.invalid"])
def test_CALL_3_anonymous_caller_is_withheld_and_refused_by_number_request(
    switch: Switch, presented: str
) -> None:
    got = switch.call(callerid=presented, pres="0")
    assert (got[v.ACTION], got[v.PRESENTATION], got[v.CALLER]) == (
        v.ACTION_RING,
        "withheld",
        "",
    )
    # CALL-3: Number Request refuses a withheld caller by default (no flag needed).
    switch.change(lambda s: service.set_number_request(s, NUMBER, enabled=True))
    got = switch.call(callerid=presented, pres="0")
    assert (got[v.ACTION], got[v.REFUSAL], got[v.PRESENTATION]) == (
        v.ACTION_REJECT_ANONYMOUS,
        Prompt.CALL_REJECTED_WITHHELD.value,
        "withheld",
    )


# --- the fail path dials the number's own endpoint (issue 15) -----------------------------

ENDPOINT_KEY = f"{v.ASTDB_ENDPOINT}/{NUMBER}"


def test_issue15_CALL_1_every_routed_call_stores_the_numbers_endpoint_in_astdb(
    switch: Switch,
) -> None:
    peer = switch.place(database={ENDPOINT_KEY: "PJSIP/old"})
    assert peer.database == {ENDPOINT_KEY: "PJSIP/alice"}
    assert peer.commands[-1].startswith("DATABASE PUT")  # after the route: it cannot delay it
    # A refused call stores it too; a number without endpoint stores its fallback.
    assert switch.place(callerid=NUISANCE).database == {ENDPOINT_KEY: "PJSIP/alice"}
    assert switch.place(number=OTHER).database == {f"{v.ASTDB_ENDPOINT}/{OTHER}": f"PJSIP/{OTHER}"}


def test_issue15_CALL_1_an_unknown_number_forgets_its_stored_endpoint(switch: Switch) -> None:
    gone = f"{v.ASTDB_ENDPOINT}/0399999999"
    peer = switch.place(number="0399999999", database={gone: "PJSIP/old", ENDPOINT_KEY: "x"})
    assert peer.variables[v.ROUTE] == "unknown_number"
    assert peer.database == {ENDPOINT_KEY: "x"}
    # A called number that is no number is never used as a key.
    hostile = switch.place(number="0399 x/../y", database={ENDPOINT_KEY: "x"})
    assert hostile.database == {ENDPOINT_KEY: "x"}
    assert not any(c.startswith("DATABASE") for c in hostile.commands)


def test_issue15_CALL_1_a_store_that_cannot_answer_keeps_the_stored_endpoint() -> None:
    engine = db.make_engine("postgresql+psycopg://nobody@127.0.0.1:1/x?connect_timeout=2")
    try:
        config = config_mod.load(env={})
        with running_server(
            wiring.routes(db.session_factory(engine), ivr=config.ivr, call=config.call)
        ) as server:
            peer = Switch(db.session_factory(engine), server.port).place(
                database={ENDPOINT_KEY: "PJSIP/alice"}
            )
    finally:
        engine.dispose()
    assert peer.variables[v.ROUTE] == "store_unavailable"
    assert peer.database == {ENDPOINT_KEY: "PJSIP/alice"}
    assert not any(c.startswith("DATABASE") for c in peer.commands)


def test_issue15_CALL_1_the_fail_path_rings_the_endpoint_the_last_route_stored(
    switch: Switch,
) -> None:
    """The routing AGI's AstDB, then a call whose AGI fails: the rendered dialplan dials
    PJSIP/alice (guide section 5: a number on another phone's endpoint), not PJSIP/<number>."""
    astdb = switch.place().database
    plan = evaluate.parse_contexts(
        render.render(bootstrap.dialplan_settings(config_mod.load(env={})))
    )
    channel = evaluate.Channel(CALLER, astdb=astdb)
    evaluate.run(plan, v.CONTEXT_FROM_TRUNK, channel, exten="+81312345678")
    assert channel.dialled == ["PJSIP/alice"]
    assert channel.variables[v.ROUTE] == "agi_failed"


def test_issue15_CALL_1_a_failed_astdb_write_still_routes_the_call(switch: Switch) -> None:
    peer = AsteriskPeer(
        CALLER,
        script=v.SCRIPT_ROUTE_CALL,
        env_overrides={"agi_arg_1": NUMBER, "agi_context": v.CONTEXT_SUBSCRIBERS},
        database_fails=True,
    ).over_tcp("127.0.0.1", switch.port)
    assert peer.variables[v.ACTION] == v.ACTION_RING
    assert peer.database == {}


# --- Issue 15 (CALL-3, MAIL-9): a payphone over SIP ---------------------------------------

PAYPHONE = "0311112222"  # not NUISANCE: the fixture lists 0311110000
PAYPHONE_PAI = f"<sip:{PAYPHONE}@carrier.example;cpc=payphone>"
PAI, FROM = "PJSIP_HEADER(read,P-Asserted-Identity)", "PJSIP_HEADER(read,From)"


def sip_call(
    switch: Switch, headers: dict[str, str], *, callerid: str = PAYPHONE, channel: str = "PJSIP"
) -> AsteriskPeer:
    """A call from a PJSIP trunk with ``Privacy: id`` (trust_id_inbound: presentation
    prohibited, agi_callingpres 32) whose INVITE carried ``headers``."""
    return AsteriskPeer(
        callerid,
        script=v.SCRIPT_ROUTE_CALL,
        env_overrides={
            "agi_arg_1": NUMBER,
            "agi_callingpres": "32",
            "agi_context": v.CONTEXT_SUBSCRIBERS,
            "agi_type": channel,
        },
        variables=dict(headers),
    ).over_tcp("127.0.0.1", switch.port)


def mail_of(peer: AsteriskPeer) -> EmailMessage:
    """The notification mail of the call: the hangup handler's event (every field is the
    channel variable of dialplan.variables.EVENT_FIELDS) read by the notifier, composed."""
    values = peer.variables | {v.SUBSCRIBER: NUMBER, v.START: "1795303015", v.OUTCOME: "answered"}
    frame = {"Event": "UserEvent", "UserEvent": v.EVENT_CALL, "Linkedid": "1795303015.1"}
    event = ami.read_event(frame | {f: values.get(var, "") for f, var in v.EVENT_FIELDS.items()})
    assert isinstance(event, OutcomeReported)
    call = CallRecord(
        linkedid=event.linkedid,
        subscriber_number=event.subscriber_number,
        caller_number=event.caller_number,
        presentation=event.presentation,
        outcome=event.outcome,
        started_at=event.started_at,
        ended_at=event.started_at,
    )
    settings = MailSettings(
        NUMBER, True, True, False, False, (("boss@example.jp", True),), (), "Asia/Tokyo"
    )
    return compose(
        call, settings, "boss@example.jp", sender="chakushin@example.jp", templates=Templates.load()
    )


def test_issue15_CALL_3_MAIL_9_a_sip_payphone_rings_past_number_request_as_payphone(
    switch: Switch,
) -> None:
    switch.change(lambda s: service.set_number_request(s, NUMBER, enabled=True))
    peer = sip_call(switch, {PAI: PAYPHONE_PAI})
    got = peer.variables
    assert (got[v.PRESENTATION], got[v.CALLER], got[v.ACTION]) == ("payphone", "", "ring")
    assert f"GET VARIABLE {PAI}" in [c.replace('"', "") for c in peer.commands]
    mail = mail_of(peer)
    assert mail["Subject"] == "【着信お知らせメール】公衆電話 からの着信"
    assert "発信者番号：公衆電話" in mail.get_content()
    assert PAYPHONE not in mail.as_string()


def test_issue15_CALL_3_a_sip_payphone_is_refused_with_reject_payphone(switch: Switch) -> None:
    switch.change(
        lambda s: service.set_number_request(s, NUMBER, enabled=True, reject_payphone=True)
    )
    for headers in (
        {PAI: PAYPHONE_PAI},
        {FROM: "<sip:anonymous@anonymous.invalid;cpc=payphone>;tag=9"},
    ):
        got = sip_call(switch, headers, callerid="anonymous").variables
        assert (got[v.ACTION], got[v.REFUSAL]) == (
            v.ACTION_REJECT_ANONYMOUS,
            Prompt.CALL_REJECTED_PAYPHONE.value,
        ), headers
        assert got[v.PRESENTATION] == "payphone"


def test_issue15_CALL_3_a_withheld_sip_caller_without_cpc_is_still_withheld(
    switch: Switch,
) -> None:
    switch.change(
        lambda s: service.set_number_request(s, NUMBER, enabled=True, reject_payphone=True)
    )
    got = sip_call(switch, {PAI: f"<sip:{PAYPHONE}@carrier.example>"}).variables
    assert (got[v.PRESENTATION], got[v.REFUSAL]) == (
        "withheld",
        Prompt.CALL_REJECTED_WITHHELD.value,
    )


def test_issue15_CALL_3_only_a_pjsip_channel_is_asked_for_sip_headers(switch: Switch) -> None:
    peer = sip_call(switch, {PAI: PAYPHONE_PAI}, channel="Local")
    assert peer.variables[v.PRESENTATION] == "withheld"
    assert not any("PJSIP_HEADER" in c for c in peer.commands)


# --- Issue 17: office numbers (ring groups, queues) ----------------------------------------

RING_GROUP = "PJSIP/201&PJSIP/202&Local/desk@phones"
QUEUE_KEY = f"{v.ASTDB_QUEUE}/{NUMBER}"


def test_issue17_CALL_1_a_ring_group_number_dials_every_device(switch: Switch) -> None:
    switch.change(lambda s: service.update_number(s, NUMBER, endpoint=RING_GROUP))
    peer = switch.place(database={QUEUE_KEY: "office", ENDPOINT_KEY: "PJSIP/old"})
    assert peer.variables == {
        v.PRESENTATION: "allowed",
        v.CALLER: CALLER,
        v.DIAL: RING_GROUP,
        v.RING_SECONDS: "30",
        v.FORWARD_DIAL: "",
        v.FORWARD_ON: "never",
        v.REFUSAL: "",
        v.QUEUE: "",
        v.QUEUE_SECONDS: "",
        v.ROUTE: "decided",
        v.ACTION: "ring",
    }
    # The fail path rings the devices, not a queue the number was in before.
    assert peer.database == {ENDPOINT_KEY: RING_GROUP}
    assert peer.commands[-1].startswith("DATABASE PUT")


def test_issue17_CALL_1_a_queue_number_waits_in_its_queue(switch: Switch) -> None:
    switch.change(lambda s: service.update_number(s, NUMBER, queue="office", queue_seconds=45))
    peer = switch.place(database={ENDPOINT_KEY: "PJSIP/alice", "chakushin/other/1": "x"})
    got = peer.variables
    assert got == {
        v.PRESENTATION: "allowed",
        v.CALLER: CALLER,
        v.DIAL: "",
        v.RING_SECONDS: "",
        v.FORWARD_DIAL: "",
        v.FORWARD_ON: "never",
        v.REFUSAL: "",
        v.QUEUE: "office",
        v.QUEUE_SECONDS: "45",
        v.ROUTE: "decided",
        v.ACTION: "queue",
    }
    words = [shlex.split(c) for c in peer.commands]
    names = [w[2] for w in words if w[:2] == ["SET", "VARIABLE"]]
    assert names.index(v.QUEUE) < names.index(v.ACTION) and names[-1] == v.ACTION
    # The fail path waits in the queue too; the number's old endpoint is forgotten,
    # after the route (AstDB cannot delay it).
    assert peer.database == {QUEUE_KEY: "office", "chakushin/other/1": "x"}
    action_set = words.index(["SET", "VARIABLE", v.ACTION, "queue"])
    assert all(w[0] != "DATABASE" for w in words[:action_set])
    # Without a timeout of its own: call.ring_seconds.
    switch.change(lambda s: service.update_number(s, NUMBER, queue="office"))
    switch.change(lambda s: service.update_number(s, NUMBER, clear_queue=True))
    switch.change(lambda s: service.update_number(s, NUMBER, queue="sales"))
    peer = switch.place(database=peer.database)
    assert (peer.variables[v.QUEUE], peer.variables[v.QUEUE_SECONDS]) == ("sales", "30")
    assert peer.database == {QUEUE_KEY: "sales", "chakushin/other/1": "x"}


def test_issue17_CALL_1_a_refused_call_to_a_queue_number_stores_its_queue(switch: Switch) -> None:
    switch.change(lambda s: service.update_number(s, NUMBER, queue="office"))
    peer = switch.place(callerid=NUISANCE, database={ENDPOINT_KEY: "PJSIP/alice"})
    assert (peer.variables[v.ACTION], peer.variables[v.QUEUE]) == (v.ACTION_REJECT_NUISANCE, "")
    assert peer.database == {QUEUE_KEY: "office"}


@pytest.mark.parametrize(
    ("mode", "seconds", "forward_on"),
    [
        (VoiceWarpMode.NO_ANSWER, "12", v.FORWARD_ON_NOANSWER),  # Voice Warp's ring time
        (VoiceWarpMode.BUSY, "45", v.FORWARD_ON_BUSY),  # the queue's own timeout
    ],
)
def test_issue17_CALL_4_a_queue_number_with_voice_warp(
    switch: Switch, mode: VoiceWarpMode, seconds: str, forward_on: str
) -> None:
    switch.change(lambda s: service.update_number(s, NUMBER, queue="office", queue_seconds=45))
    switch.change(
        lambda s: service.set_voice_warp(
            s, NUMBER, enabled=True, mode=mode, destination=FORWARD_TO, ring_seconds=12
        )
    )
    got = switch.call()
    assert (got[v.ACTION], got[v.QUEUE], got[v.QUEUE_SECONDS], got[v.FORWARD_ON]) == (
        v.ACTION_QUEUE,
        "office",
        seconds,
        forward_on,
    )
    assert (got[v.FORWARD_DIAL], got[v.DIAL]) == (f"PJSIP/{FORWARD_TO}@ntt", "")


def test_issue17_CALL_4_a_queue_number_with_voice_warp_unconditional_forwards(
    switch: Switch,
) -> None:
    switch.change(lambda s: service.update_number(s, NUMBER, queue="office"))
    switch.change(
        lambda s: service.set_voice_warp(
            s, NUMBER, enabled=True, mode=VoiceWarpMode.UNCONDITIONAL, destination=FORWARD_TO
        )
    )
    peer = switch.place()
    assert (peer.variables[v.ACTION], peer.variables[v.QUEUE]) == (v.ACTION_FORWARD, "")
    assert peer.database == {QUEUE_KEY: "office"}  # the fail path still knows the queue


def test_issue17_CALL_1_an_unknown_number_forgets_its_queue_and_endpoint(switch: Switch) -> None:
    gone = "0399999999"
    peer = switch.place(
        number=gone,
        database={
            f"{v.ASTDB_QUEUE}/{gone}": "office",
            f"{v.ASTDB_ENDPOINT}/{gone}": "PJSIP/old",
            QUEUE_KEY: "kept",
        },
    )
    assert peer.variables[v.ROUTE] == "unknown_number"
    assert peer.database == {QUEUE_KEY: "kept"}


def test_issue17_CALL_1_a_failed_astdb_write_still_queues_the_call(switch: Switch) -> None:
    switch.change(lambda s: service.update_number(s, NUMBER, queue="office"))
    with capture_logs() as logs:
        peer = AsteriskPeer(
            CALLER,
            script=v.SCRIPT_ROUTE_CALL,
            env_overrides={"agi_arg_1": NUMBER, "agi_context": v.CONTEXT_SUBSCRIBERS},
            database={ENDPOINT_KEY: "PJSIP/alice"},
            database_fails=True,
        ).over_tcp("127.0.0.1", switch.port)
    assert (peer.variables[v.ACTION], peer.variables[v.QUEUE]) == (v.ACTION_QUEUE, "office")
    assert QUEUE_KEY not in peer.database
    refused = [e for e in logs if e["event"] == "call_route_endpoint_not_stored"]
    assert [e["family"] for e in refused] == [v.ASTDB_QUEUE]
    assert [e["action"] for e in logs if e["event"] == "call_routed"] == [v.ACTION_QUEUE]


def test_issue17_CALL_1_the_fail_path_waits_in_the_queue_the_last_route_stored(
    switch: Switch,
) -> None:
    """The routing AGI's AstDB, then a call whose AGI fails: the rendered dialplan waits
    in the number's queue; once the number rings devices again, it dials them."""
    plan = evaluate.parse_contexts(
        render.render(bootstrap.dialplan_settings(config_mod.load(env={})))
    )
    switch.change(lambda s: service.update_number(s, NUMBER, queue="office"))
    astdb = switch.place(database={ENDPOINT_KEY: "PJSIP/alice"}).database
    channel = evaluate.Channel(CALLER, astdb=astdb)
    evaluate.run(plan, v.CONTEXT_FROM_TRUNK, channel, exten="+81312345678")
    assert channel.queued == [f"office,{v.QUEUE_OPTIONS},,,{v.FALLBACK_QUEUE_SECONDS}"]
    assert (channel.dialled, channel.variables[v.ROUTE]) == ([], "agi_failed")

    switch.change(lambda s: service.update_number(s, NUMBER, endpoint=RING_GROUP))
    astdb = switch.place(database=astdb).database
    channel = evaluate.Channel(CALLER, astdb=astdb)
    evaluate.run(plan, v.CONTEXT_FROM_TRUNK, channel, exten="+81312345678")
    assert (channel.queued, channel.dialled) == ([], [RING_GROUP])
