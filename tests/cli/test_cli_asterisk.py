"""Issue 15 (CALL-3, CALL-4): ``chakushin asterisk check`` reads the trunk as Asterisk loaded it.

The command logs in over AMI with the ``[ami]`` settings and sends
``PJSIPShowEndpoint``; the peer is the loopback ``AmiServer`` of the
notifier's tests, answering with the frames below.

The PJSIPShowEndpoint answers are SYNTHESISED (no Asterisk runs here, and
the recorded streams in chakushin/demo/traces hold no PJSIPShowEndpoint):
the framing and the Response/ActionID/Message header order are those of the
real Asterisk 22 traces' action responses (answered.ami's Login response),
the event and field names those Asterisk documents for the action's events
(EndpointDetail, AorDetail, IdentifyDetail, EndpointDetailComplete on
docs.asterisk.org, AMI Events), booleans as Asterisk's sorcery prints them
("true"/"false").
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable, Mapping
from pathlib import Path

import pytest
import pytest_asyncio
from click.testing import CliRunner, Result

from chakushin.cli import cli
from chakushin.cli.asterisk import endpoint_problems, trunk_of
from chakushin.demo.amiserver import AmiServer, encode_frame
from tests.builders import free_port
from tests.dialplan.asterisk_config import parse_file

GOOD = {
    "ObjectType": "endpoint",
    "ObjectName": "pstn",
    "Context": "from-pstn",
    "Disallow": "all",
    "Allow": "(ulaw|alaw)",
    "DtmfMode": "rfc4733",
    "Transport": "transport-udp",
    "Aors": "pstn",
    "DirectMedia": "false",
    "TrustIdInbound": "true",
    "TrustIdOutbound": "false",
    "SendPai": "true",
    "SendRpid": "false",
    "Language": "ja",
    "DeviceState": "Not in use",
    "ActiveChannels": "",
}


def show_endpoint(
    endpoint: Mapping[str, str] | None = GOOD, *, identify: bool = True
) -> Callable[[Mapping[str, str]], bytes]:
    """The server's answer to PJSIPShowEndpoint for ``endpoint`` (None: not loaded)."""

    def answer(action: Mapping[str, str]) -> bytes:
        action_id = action.get("ActionID", "")
        name = action.get("Endpoint", "")
        if endpoint is None or endpoint["ObjectName"] != name:
            return encode_frame(
                {
                    "Response": "Error",
                    "ActionID": action_id,
                    "Message": f"Unable to retrieve endpoint {name}",
                }
            )
        frames = [
            {
                "Response": "Success",
                "ActionID": action_id,
                "EventList": "start",
                "Message": "Following are Events for each object associated with the Endpoint",
            },
            {"Event": "EndpointDetail", "ActionID": action_id, **endpoint},
            {
                "Event": "AorDetail",
                "ActionID": action_id,
                "ObjectType": "aor",
                "ObjectName": "pstn",
                "MaxContacts": "0",
                "Contacts": "pstn/sip:203.0.113.10:5060",
                "EndpointName": name,
            },
        ]
        if identify:
            frames.append(
                {
                    "Event": "IdentifyDetail",
                    "ActionID": action_id,
                    "ObjectType": "identify",
                    "ObjectName": "pstn",
                    "Endpoint": name,
                    "Match": "203.0.113.10/255.255.255.255",
                    "EndpointName": name,
                }
            )
        frames.append(
            {
                "Event": "EndpointDetailComplete",
                "ActionID": action_id,
                "EventList": "Complete",
                "ListItems": str(len(frames) - 1),
            }
        )
        return b"".join(encode_frame(f) for f in frames)

    return answer


@pytest_asyncio.fixture
async def ami() -> AsyncIterator[AmiServer]:
    async with AmiServer() as server:
        yield server


async def check(
    server: AmiServer | None,
    tmp_path: Path,
    *args: str,
    port: int | None = None,
    secret: str | None = None,
    forward_dial: str | None = None,
) -> Result:
    env = {
        "CHAKUSHIN_DATA_DIR": str(tmp_path),
        "CHAKUSHIN_AMI_HOST": "127.0.0.1",
        "CHAKUSHIN_AMI_PORT": str(port if server is None else server.port),
        "CHAKUSHIN_AMI_USERNAME": server.username if server else "chakushin",
        "CHAKUSHIN_AMI_SECRET": secret or (server.secret if server else "s3cret"),
    }
    if forward_dial is not None:
        env["CHAKUSHIN_CALL_FORWARD_DIAL"] = forward_dial
    runner = CliRunner()
    return await asyncio.to_thread(
        runner.invoke, cli, ["asterisk", "check", "--timeout", "3", *args], env=env
    )


@pytest.mark.asyncio
async def test_CALL_3_a_trunk_as_the_sample_sets_it_passes(ami: AmiServer, tmp_path: Path) -> None:
    ami.answers["pjsipshowendpoint"] = show_endpoint()
    result = await check(ami, tmp_path)
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "pstn: ok (trust_id_inbound yes, trust_id_outbound no, direct_media no, send_pai yes, "
        "language ja, aors pstn, identified by address)"
    ]
    [sent] = [a for a in ami.actions if a.get("Action") == "PJSIPShowEndpoint"]
    assert sent["Endpoint"] == "pstn"


@pytest.mark.asyncio
async def test_CALL_3_a_trunk_without_trust_id_inbound_is_reported_one_line_each(
    ami: AmiServer, tmp_path: Path
) -> None:
    bad = {
        **GOOD,
        "TrustIdInbound": "false",
        "TrustIdOutbound": "true",
        "DirectMedia": "true",
        "SendPai": "false",
        "Language": "en",
        "Aors": "",
    }
    ami.answers["pjsipshowendpoint"] = show_endpoint(bad, identify=False)
    result = await check(ami, tmp_path)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert [line.split(":", 2)[1].strip() for line in lines] == [
        "trust_id_inbound is not yes",
        "trust_id_outbound is yes",
        "direct_media is yes",
        "send_pai is not yes",
        "language is en, not ja",
        "no aor",
        "no identify",
    ]
    assert all(line.startswith("pstn: ") for line in lines)
    assert "Privacy: id" in lines[0] and "trust_id_inbound = yes" in lines[0]


@pytest.mark.asyncio
async def test_CALL_3_a_missing_endpoint_is_reported(ami: AmiServer, tmp_path: Path) -> None:
    ami.answers["pjsipshowendpoint"] = show_endpoint(None)
    result = await check(ami, tmp_path)
    assert result.exit_code == 1
    assert result.output.splitlines() == [
        "pstn: endpoint missing: Asterisk has no PJSIP endpoint pstn "
        "(Unable to retrieve endpoint pstn); call.forward_dial dials it"
    ]


@pytest.mark.asyncio
async def test_the_endpoint_name_is_an_option_and_json_says_the_same(
    ami: AmiServer, tmp_path: Path
) -> None:
    ami.answers["pjsipshowendpoint"] = show_endpoint(
        {**GOOD, "ObjectName": "carrier-a", "TrustIdInbound": "no"}
    )
    result = await check(ami, tmp_path, "--endpoint", "carrier-a", "--json")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert data["endpoint"] == "carrier-a"
    assert data["ok"] is False
    assert [p["code"] for p in data["problems"]] == ["trust_id_inbound"]
    assert data["settings"]["trust_id_inbound"] is False


@pytest.mark.asyncio
async def test_the_default_endpoint_is_the_trunk_call_forward_dial_dials(
    ami: AmiServer, tmp_path: Path
) -> None:
    ami.answers["pjsipshowendpoint"] = show_endpoint({**GOOD, "ObjectName": "ntt"})
    result = await check(ami, tmp_path, forward_dial="PJSIP/{number}@ntt")
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ntt: ok")
    [sent] = [a for a in ami.actions if a.get("Action") == "PJSIPShowEndpoint"]
    assert sent["Endpoint"] == "ntt"


@pytest.mark.parametrize(
    ("dial", "trunk"),
    [
        ("PJSIP/{number}@pstn", "pstn"),
        ("pjsip/{number}@carrier-a", "carrier-a"),
        ("PJSIP/{number}", None),
        ("SIP/{number}@pstn", None),
        ("PJSIP/{number}@bad name", None),
    ],
)
def test_trunk_of_a_forward_dial_string(dial: str, trunk: str | None) -> None:
    assert trunk_of(dial) == trunk


@pytest.mark.asyncio
async def test_an_ami_user_without_write_system_is_told_what_it_needs(
    ami: AmiServer, tmp_path: Path
) -> None:
    ami.answers["pjsipshowendpoint"] = lambda a: encode_frame(
        {"Response": "Error", "ActionID": a.get("ActionID", ""), "Message": "Permission denied"}
    )
    result = await check(ami, tmp_path)
    assert result.exit_code == 1
    assert "write = system" in result.output
    assert len(result.output.strip().splitlines()) == 1


@pytest.mark.asyncio
async def test_a_refused_login_and_no_asterisk_are_one_line_each(
    ami: AmiServer, tmp_path: Path
) -> None:
    result = await check(ami, tmp_path, secret="not-the-secret")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: AMI login refused for user chakushin at 127.0.0.1:{ami.port}; "
        "check [ami] username and secret"
    ]
    port = free_port()
    result = await check(None, tmp_path, port=port)
    assert result.exit_code == 1
    [line] = result.output.strip().splitlines()
    assert line.startswith(f"error: cannot reach AMI at 127.0.0.1:{port} (")
    assert line.endswith("); is Asterisk running with manager.conf enabled?")


@pytest.mark.asyncio
async def test_a_peer_that_never_answers_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        result = await check(None, tmp_path, "--timeout", "0.5", port=port)
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        f"error: no AMI answer at 127.0.0.1:{port} within 0.5 s; is Asterisk running "
        "with manager.conf enabled?"
    ]
    assert accepted  # it did connect: the silence, not a refusal, was the problem


@pytest.mark.parametrize("name", ["", "pstn\r\nAction: Originate", "a" * 81, "pstn;x"])
def test_an_endpoint_name_asterisk_could_not_have_is_refused(name: str, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli,
        ["asterisk", "check", "--endpoint", name],
        env={"CHAKUSHIN_DATA_DIR": str(tmp_path)},
    )
    assert result.exit_code == 2
    assert "endpoint" in result.output


@pytest.mark.parametrize(
    ("value", "trusted"),
    [
        ("true", True),
        ("yes", True),
        ("Yes", True),
        ("1", True),
        ("on", True),
        ("false", False),
        ("no", False),
        ("", False),
    ],
)
def test_asterisk_booleans_are_read_in_every_spelling(value: str, trusted: bool) -> None:
    frames = [
        {"Response": "Success", "EventList": "start"},
        {"Event": "EndpointDetail", **GOOD, "TrustIdInbound": value},
        {"Event": "IdentifyDetail", "Endpoint": "pstn"},
        {"Event": "EndpointDetailComplete", "EventList": "Complete"},
    ]
    codes = [p.code for p in endpoint_problems("pstn", frames).problems]
    assert ("trust_id_inbound" not in codes) is trusted


def test_the_shipped_manager_conf_offers_a_check_user_and_keeps_the_notifiers_user_bare() -> None:
    conf = Path(__file__).parents[2] / "asterisk-conf" / "manager_chakushin.conf"
    assert {s.name: s.get("write") for s in parse_file(conf)} == {"chakushin": ""}
    users = {s.name: s for s in parse_file(conf, live_comments=True)}
    check_user = users["chakushin-check"]
    assert (check_user.get("write"), check_user.get("read")) == ("system", "")
    assert check_user.get("permit") == "127.0.0.1/255.255.255.255"
    assert users["chakushin"].get("write") == ""
