"""``chakushin asterisk check`` (issue 15, CALL-3, CALL-4): the carrier trunk as Asterisk loaded it.

A withheld caller stays withheld only if Asterisk believes the carrier's
``Privacy: id`` and P-Asserted-Identity (``trust_id_inbound = yes`` on the
trunk endpoint); without it the number in From reaches the mails and the
logs. pjsip.conf is the operator's, so chakushin cannot see it; what it can
see is what Asterisk loaded: the command logs in over AMI with the ``[ami]``
settings, sends ``PJSIPShowEndpoint`` for the trunk (``--endpoint``; by
default the endpoint ``call.forward_dial`` dials through, ``pstn`` for the
default ``PJSIP/{number}@pstn``) and reports
each problem in one line, exit status 1 when there is any:

- the endpoint is not loaded;
- ``trust_id_inbound`` is not yes, ``trust_id_outbound`` is yes (a withheld
  caller's number sent on to the carrier), ``send_pai`` is not yes (Voice
  Warp carries no caller), ``direct_media`` is yes, ``language`` is not ja;
- the endpoint has no aor (nothing to dial) or no ``identify`` (calls from
  the carrier are not recognised by address).

The action needs ``write = system`` for the AMI user (Asterisk registers
PJSIPShowEndpoint in that class); the notifier's own user needs none, so the
command says so when Asterisk answers "Permission denied".
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import click

from chakushin.cli.app import App, Group, fail, pass_app
from chakushin.cli.output import emit
from notifier import ami
from notifier.config import AmiConfig

# An endpoint name as pjsip.conf section names go, without what could break
# an AMI header or a config line (CR, LF, ";", "[", "]", spaces).
_ENDPOINT = re.compile(r"[A-Za-z0-9._@+-]{1,80}")
# ast_true(): what Asterisk reads as yes (sorcery prints its booleans as true/false).
_TRUE = frozenset({"yes", "true", "y", "t", "1", "on"})
DEFAULT_TIMEOUT = 5.0
# A PJSIPShowEndpoint answer is a few frames (endpoint, aors, auths,
# transport, identifies, contacts); these bounds only stop a peer that is
# not Asterisk from holding the command.
MAX_FRAMES = 1000
MAX_FRAME_BYTES = 1 << 20
_UNSAFE = re.compile(r"[\r\n\x00]")


@dataclass(frozen=True)
class Problem:
    code: str
    message: str


@dataclass(frozen=True)
class Report:
    endpoint: str
    problems: list[Problem]
    settings: dict[str, Any]


def _true(value: object) -> bool:
    return str(value or "").strip().lower() in _TRUE


def _field(frame: Mapping[str, Any], name: str) -> str:
    value = frame.get(name, "")
    return value.strip() if isinstance(value, str) else ""


def endpoint_problems(name: str, frames: Sequence[Mapping[str, Any]]) -> Report:
    """What is wrong with endpoint ``name``, from the frames PJSIPShowEndpoint returned."""
    response, events = (frames[0], frames[1:]) if frames else ({}, [])
    details = [
        e
        for e in events
        if _field(e, "Event") == "EndpointDetail" and _field(e, "ObjectName") in ("", name)
    ]
    if _field(response, "Response") != "Success" or not details:
        why = _field(response, "Message") or "no EndpointDetail"
        return Report(
            name,
            [
                Problem(
                    "endpoint_missing",
                    f"endpoint missing: Asterisk has no PJSIP endpoint {name} ({why}); "
                    "call.forward_dial dials it",
                )
            ],
            {},
        )
    detail = details[0]
    identified = any(
        _field(e, "Event") == "IdentifyDetail" and _field(e, "Endpoint") in ("", name)
        for e in events
    )
    settings: dict[str, Any] = {
        "trust_id_inbound": _true(detail.get("TrustIdInbound")),
        "trust_id_outbound": _true(detail.get("TrustIdOutbound")),
        "direct_media": _true(detail.get("DirectMedia")),
        "send_pai": _true(detail.get("SendPai")),
        "language": _field(detail, "Language"),
        "aors": _field(detail, "Aors"),
        "identified_by_address": identified,
    }
    problems: list[Problem] = []
    if not settings["trust_id_inbound"]:
        problems.append(
            Problem(
                "trust_id_inbound",
                "trust_id_inbound is not yes: Asterisk ignores the carrier's Privacy: id and "
                "P-Asserted-Identity, so a withheld caller's number in From reaches the mails "
                "and the logs (set trust_id_inbound = yes on the endpoint)",
            )
        )
    if settings["trust_id_outbound"]:
        problems.append(
            Problem(
                "trust_id_outbound",
                "trust_id_outbound is yes: a withheld caller's number is sent on to the carrier "
                "when a call is forwarded (set trust_id_outbound = no)",
            )
        )
    if settings["direct_media"]:
        problems.append(
            Problem(
                "direct_media",
                "direct_media is yes: Asterisk re-INVITEs the carrier to send audio elsewhere, "
                "which breaks the audio of answered and forwarded calls (set direct_media = no)",
            )
        )
    if not settings["send_pai"]:
        problems.append(
            Problem(
                "send_pai",
                "send_pai is not yes: forwarded calls (Voice Warp) do not carry the caller in a "
                "P-Asserted-Identity (set send_pai = yes)",
            )
        )
    if settings["language"] != "ja":
        problems.append(
            Problem(
                "language",
                f"language is {settings['language'] or '(none)'}, not ja: callers refused by "
                "Number Request or the nuisance list hear no Japanese guidance (set language = ja)",
            )
        )
    if not settings["aors"]:
        problems.append(
            Problem(
                "aors",
                f"no aor: forwarded calls (PJSIP/{{number}}@{name}) have no contact to dial "
                "(set aors = and an aor with the carrier's contact)",
            )
        )
    if not identified:
        problems.append(
            Problem(
                "identify",
                "no identify: calls from the carrier are not recognised by their address "
                "(add a type = identify section with endpoint = and match =)",
            )
        )
    return Report(name, problems, settings)


class CheckFailed(Exception):
    """AMI could not be asked: one line for the operator."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


async def show_endpoint(config: AmiConfig, name: str, within: float) -> list[Mapping[str, Any]]:
    """The frames of ``PJSIPShowEndpoint`` for ``name``: the response, then its events.

    One short AMI session of its own (login with events off, the action,
    logoff), not the notifier's long-lived client: a list action's events
    are read up to its ``EndpointDetailComplete``, at most ``MAX_FRAMES``
    frames of at most ``MAX_FRAME_BYTES`` each, all within ``within`` seconds.
    """
    where = f"{config.host}:{config.port}"
    try:
        async with asyncio.timeout(within):
            return await _session(config, name, where)
    except TimeoutError:
        raise CheckFailed(
            "ami_unreachable",
            f"no AMI answer at {where} within {within:g} s; is Asterisk running with "
            "manager.conf enabled?",
        ) from None
    except OSError as exc:
        raise CheckFailed(
            "ami_unreachable",
            f"cannot reach AMI at {where} ({exc.strerror or type(exc).__name__}); "
            "is Asterisk running with manager.conf enabled?",
        ) from None
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as exc:
        raise CheckFailed(
            "ami_closed", f"AMI at {where} closed the connection or sent no AMI ({exc})"
        ) from None


async def _session(config: AmiConfig, name: str, where: str) -> list[Mapping[str, Any]]:
    reader, writer = await asyncio.open_connection(config.host, config.port, limit=MAX_FRAME_BYTES)
    try:
        banner = await reader.readline()
        if not banner.decode("utf-8", "replace").startswith(ami.BANNER_PREFIX):
            raise CheckFailed("ami_banner", f"{where} is not Asterisk's AMI (no banner)")
        login = {
            "Action": "Login",
            "Username": config.username,
            "Secret": config.secret,
            "Events": "off",
        }
        [response] = await _exchange(reader, writer, login, "chakushin-check-login")
        if not ami.response_succeeded(response):
            raise CheckFailed(
                "ami_login",
                f"AMI login refused for user {config.username} at {where}; "
                "check [ami] username and secret",
            )
        action = {"Action": "PJSIPShowEndpoint", "Endpoint": name}
        frames: list[Mapping[str, Any]] = [
            *await _exchange(reader, writer, action, "chakushin-check-endpoint")
        ]
        writer.write(_encode({"Action": "Logoff"}))
        await writer.drain()
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
    if ami.response_message(frames[0]).lower() == "permission denied":
        raise CheckFailed(
            "ami_permission",
            f"the AMI user {config.username} may not send PJSIPShowEndpoint (Permission denied): "
            "it needs write = system in manager.conf (see asterisk-conf/manager_chakushin.conf)",
        )
    return frames


def _encode(action: Mapping[str, str]) -> bytes:
    for key, value in action.items():
        if _UNSAFE.search(key) or _UNSAFE.search(value):
            raise CheckFailed("ami_value", f"CR, LF or NUL in AMI header {key!r}")
    return "".join(f"{k}: {v}\r\n" for k, v in action.items()).encode() + b"\r\n"


async def _exchange(
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    action: Mapping[str, str],
    action_id: str,
) -> list[dict[str, str]]:
    """Send ``action``; its response, and for a list (EventList: start) its events."""
    writer.write(_encode({**action, "ActionID": action_id}))
    await writer.drain()
    frames: list[dict[str, str]] = []
    for _ in range(MAX_FRAMES):
        raw = await reader.readuntil(b"\r\n\r\n")
        frame = next(ami.iter_frames(raw), None)
        if frame is None or frame.get("ActionID") != action_id:
            continue  # an event of no concern (FullyBooted), or another answer
        frames.append(frame)
        first = frames[0]
        if first.get("EventList", "").lower() != "start":
            return frames  # a single response (an error, or a login)
        if len(frames) > 1 and frame.get("EventList", "").lower() == "complete":
            return frames
    raise CheckFailed("ami_frames", f"more than {MAX_FRAMES} AMI frames for {action['Action']}")


def trunk_of(forward_dial: str) -> str | None:
    """The endpoint a ``PJSIP/{number}@trunk`` dial string dials through (None: none such)."""
    tech, _, rest = forward_dial.partition("/")
    trunk = rest.rpartition("@")[2] if "@" in rest else ""
    if tech.upper() != "PJSIP" or not _ENDPOINT.fullmatch(trunk):
        return None
    return trunk


def _endpoint_name(_ctx: click.Context, _param: click.Parameter, value: str | None) -> str | None:
    if value is not None and not _ENDPOINT.fullmatch(value):
        raise click.BadParameter(
            "an endpoint name is 1-80 letters, digits or . _ @ + - (as in pjsip.conf)"
        )
    return value


def _timeout(_ctx: click.Context, _param: click.Parameter, value: float) -> float:
    if not 0 < value <= 60:
        raise click.BadParameter("between 0 and 60 seconds")
    return value


@click.group(cls=Group)
def asterisk() -> None:
    """What chakushin can check of Asterisk's own configuration."""


@asterisk.command("check")
@click.option(
    "--endpoint",
    default=None,
    callback=_endpoint_name,
    help="The carrier trunk's PJSIP endpoint [default: the one call.forward_dial dials, "
    "PJSIP/{number}@pstn: pstn].",
)
@click.option(
    "--timeout",
    type=float,
    default=DEFAULT_TIMEOUT,
    show_default=True,
    callback=_timeout,
    help="Seconds to wait for AMI (connect, login, answer).",
)
@pass_app
@click.pass_context
def check(ctx: click.Context, app: App, endpoint: str | None, timeout: float) -> None:
    """Ask Asterisk over AMI how the trunk ENDPOINT is loaded and report each problem
    in one line (exit status 1): endpoint missing, trust_id_inbound not yes (a withheld
    caller's number would leak), trust_id_outbound yes, direct_media yes, send_pai not
    yes, language not ja, no aor, no identify.
    """
    if endpoint is None:
        endpoint = trunk_of(app.config.call.forward_dial) or "pstn"
    try:
        frames = asyncio.run(show_endpoint(app.config.ami, endpoint, timeout))
    except CheckFailed as exc:
        fail(ctx, exc.code, exc.message)
    report = endpoint_problems(endpoint, frames)
    data = {
        "endpoint": endpoint,
        "ok": not report.problems,
        "problems": [{"code": p.code, "message": p.message} for p in report.problems],
        "settings": report.settings,
    }

    def text() -> str:
        if report.problems:
            return "\n".join(f"{endpoint}: {p.message}" for p in report.problems)
        s = report.settings
        return (
            f"{endpoint}: ok (trust_id_inbound yes, trust_id_outbound no, direct_media no, "
            f"send_pai yes, language {s['language']}, aors {s['aors']}, identified by address)"
        )

    emit(app, data, text)
    if report.problems:
        ctx.exit(1)
