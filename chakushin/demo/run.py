"""``chakushin demo``: the whole product at work, without Asterisk.

In a throw-away directory: a SQLite database with a demo line of two
numbers, set up with the CLI's domain layer; the services of ``chakushin
serve`` in this process (FastAGI, notifier, metrics), mailing into a local
Maildir; a loopback AMI server standing in for Asterisk. Then one caller
sets a temporary password by phone (the AGI wire protocol, as Asterisk
speaks it) and thirteen calls recorded from a real Asterisk 22 — renumbered
to the demo's numbers and callers — reach the notifier. The terminal shows
each call's decision and the mails as subscribers would read them.
"""

from __future__ import annotations

import asyncio
import dataclasses
import email
import email.policy
import io
import mailbox
import re
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path
from typing import Any, TextIO

import click
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from agi.peer import AsteriskPeer
from agi.prompts import TEXTS, Prompt
from chakushin import bootstrap, logs
from chakushin.config import AgiConfig, AmiConfig, Config, LogConfig, MetricsConfig, ServeConfig
from chakushin.demo import recordings
from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer
from chakushin.serve import Node, Ready
from dialplan import variables
from store import db, service
from store.models import MailStatus, OutboxMail, StoredCall, StoredDecision, VoiceWarpMode

MAIN = "0312345678"  # contract number: every call mailed
BRANCH = "0312345679"  # additional number: unanswered calls only, Voice Warp on
ADDRESSES = {MAIN: ("taro@example.jp", "hanako@example.jp"), BRANCH: ("branch@example.jp",)}
NUISANCE_CALLER = "0120444444"
TEMP_PASSWORD = "24681357"

# (recording, called number, caller as presented; "" = withheld)
CALLS: tuple[tuple[str, str, str], ...] = (
    ("answered", MAIN, "0398765432"),
    ("no_answer_timeout", MAIN, "09012345678"),
    ("caller_hangs_up_ringing", MAIN, "0661234567"),
    ("busy", MAIN, "0398765432"),
    ("unreachable", MAIN, "0452223333"),
    ("anonymous_answered", MAIN, ""),
    ("anonymous_rejected", MAIN, ""),
    ("nuisance_rejected", MAIN, NUISANCE_CALLER),
    ("answered", BRANCH, "0398765432"),
    ("no_answer_timeout", BRANCH, "0311112222"),
    ("forwarded_answered", BRANCH, "09087654321"),
    ("forward_no_answer", BRANCH, "0398765432"),
    ("forward_busy", BRANCH, "0661234567"),
)


@dataclass(frozen=True)
class DecisionRow:
    number: str
    caller: str
    outcome: str
    mailed: bool
    reason: str
    rule: str
    recipients: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    directory: str
    temp_password_outcome: str
    ivr_prompts: tuple[str, ...]
    decisions: tuple[DecisionRow, ...]
    mails: tuple[dict[str, str], ...]
    metrics: dict[str, float]

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def demo_config(directory: Path, ami_port: int) -> Config:
    """Defaults, except: everything in ``directory``, ports picked free, the local AMI peer."""
    return Config(
        data_dir=str(directory),
        ami=AmiConfig(port=ami_port, username=USERNAME, secret=SECRET),
        agi=AgiConfig(port=0),
        metrics=MetricsConfig(port=0),
        serve=ServeConfig(site=False, node_name="demo", shutdown_timeout_seconds=10),
        log=LogConfig(level="info", format="json"),
    )


def provision(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, MAIN, endpoint="PJSIP/reception", timezone="Asia/Tokyo")
        service.add_number(s, MAIN, BRANCH, endpoint="PJSIP/branch", timezone="Asia/Tokyo")
        for number, addresses in ADDRESSES.items():
            for address in addresses:
                service.add_address(s, number, address)
            service.start_mail(s, number)
        service.set_conditions(s, BRANCH, unanswered_only=True)
        service.add_nuisance(s, MAIN, NUISANCE_CALLER)
        service.set_number_request(s, MAIN, enabled=True)
        service.set_voice_warp(
            s,
            BRANCH,
            enabled=True,
            destination="09011112222",
            mode=VoiceWarpMode.NO_ANSWER,
            ring_seconds=15,
        )


def _frames_at(scenario: str, index: int, number: str, caller: str, start: int) -> bytes:
    _, frames = recordings.renumbered(
        scenario, index, subscriber=number, caller=caller, start=start
    )
    return b"".join(frames)


async def run_demo(directory: Path, out: TextIO, *, show: bool = True) -> Summary:
    """Run the demo in ``directory``; write the story to ``out`` when ``show``."""

    def say(text: str = "") -> None:
        if show:
            click.echo(text, file=out)

    log_file = (directory / "chakushin.log").open("a", encoding="utf-8")
    engine = None
    try:
        async with AmiServer() as ami:
            config = demo_config(directory, ami.port)
            node = Node(config, bootstrap.make_engine(config))
            engine = node.engine
            logs.configure("info", "json", stream=log_file, on_problem=node.last_problem)
            sessions = await asyncio.to_thread(bootstrap.open_sessions, engine)
            await asyncio.to_thread(provision, sessions)
            say(f"demo line {MAIN} (every call mailed to {', '.join(ADDRESSES[MAIN])})")
            say(f"  and {BRANCH} (unanswered calls only, to {ADDRESSES[BRANCH][0]}; Voice Warp on)")

            stop = asyncio.Event()
            started: asyncio.Future[Ready] = asyncio.get_running_loop().create_future()
            services = asyncio.create_task(node.run(stop, started.set_result))
            try:
                ready = await asyncio.wait_for(asyncio.shield(started), 60)
                await ami.wait_until(lambda: ami.logins >= 1, within=30)
                say(
                    f"services up: FastAGI on port {ready.agi_port}, "
                    f"notifier logged in to AMI on port {ami.port}"
                )
                say("")
                peer = await _temp_password_call(ready, say)
                await _play_calls(ami, sessions, say, show=show, out=out)
                await _wait(lambda: _undelivered(sessions) == 0, "every mail delivered", 60)
                metrics = await asyncio.to_thread(_scrape, ready)
            finally:
                stop.set()
                await services
            rows = await asyncio.to_thread(_decisions, sessions)
            mails = _mails(config.maildir)
            _show_decisions(rows, say)
            _show_mails(mails, say)
            say("")
            say(
                f"metrics: {int(metrics.get('chakushin_calls_seen_total', 0))} calls seen, "
                f"{int(metrics.get('chakushin_mails_queued_total', 0))} mails queued, "
                f"{int(metrics.get('chakushin_mail_deliveries_total{result=sent}', 0))} sent"
            )
            return Summary(
                directory=str(directory),
                temp_password_outcome=peer.variables.get(variables.TP_OUTCOME, ""),
                ivr_prompts=tuple(peer.prompts),
                decisions=tuple(rows),
                mails=tuple(
                    {"to": str(m["To"]), "subject": str(m["Subject"]), "body": _body(m)}
                    for m in mails
                ),
                metrics=metrics,
            )
    finally:
        if engine is not None:
            engine.dispose()
        log_file.close()


async def _temp_password_call(ready: Ready, say: Callable[[str], None]) -> AsteriskPeer:
    assert ready.agi_port is not None
    say(f"1. {MAIN} calls the temporary-password line and sets one for {BRANCH}:")
    peer = AsteriskPeer(MAIN, ["2", BRANCH + "#", TEMP_PASSWORD, TEMP_PASSWORD])
    await asyncio.to_thread(peer.over_tcp, "127.0.0.1", ready.agi_port)
    keys = iter(["2", BRANCH + "#", TEMP_PASSWORD, TEMP_PASSWORD])
    digits = ""  # a number read back digit by digit is shown as one line
    for command in peer.commands:
        prompt = _prompt_of(command)
        if prompt is None:
            continue
        if prompt.value.startswith("digit-"):
            digits += prompt.value.removeprefix("digit-")
            continue
        if digits:
            say(f"   ♪ {digits} (read back digit by digit)")
            digits = ""
        say(f"   ♪ {TEXTS.get(prompt, prompt.value)}")
        if command.startswith("GET DATA"):
            say(f"     caller presses {next(keys, '')}")
    say(f"   → {peer.variables.get(variables.TP_OUTCOME, '?')}")
    say("")
    return peer


def _prompt_of(command: str) -> Prompt | None:
    words = command.split()
    if len(words) < 3 or words[0] not in ("STREAM", "GET"):
        return None
    name = Path(words[2].strip('"')).name
    try:
        return Prompt(name)
    except ValueError:
        return None


async def _play_calls(
    ami: AmiServer,
    sessions: sessionmaker[Session],
    say: Callable[[str], None],
    *,
    show: bool,
    out: TextIO,
) -> None:
    say(f"2. {len(CALLS)} recorded calls reach the notifier over AMI:")
    now = int(time.time())
    for index, (scenario, number, caller) in enumerate(CALLS):
        start = now - (len(CALLS) - index) * 97
        await ami.send(_frames_at(scenario, index, number, caller, start))
    with click.progressbar(
        length=len(CALLS), label="   deciding", file=out if show else io.StringIO()
    ) as bar:
        done = 0
        deadline = time.monotonic() + 60
        while done < len(CALLS):
            if time.monotonic() > deadline:
                raise TimeoutError("the notifier did not decide every demo call within 60 s")
            now_done = await asyncio.to_thread(_decided, sessions)
            bar.update(now_done - done)
            done = now_done
            if done < len(CALLS):
                await asyncio.sleep(0.1)


def _count(sessions: sessionmaker[Session], query: sa.Select[Any]) -> int:
    with db.transaction(sessions, read_only=True) as s:
        return int(s.scalar(query) or 0)


def _decided(sessions: sessionmaker[Session]) -> int:
    return _count(sessions, sa.select(sa.func.count()).select_from(StoredDecision))


def _undelivered(sessions: sessionmaker[Session]) -> int:
    return _count(
        sessions,
        sa.select(sa.func.count())
        .select_from(OutboxMail)
        .where(OutboxMail.status == MailStatus.PENDING),
    )


async def _wait(condition: Callable[[], bool], what: str, within: float) -> None:
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            raise TimeoutError(f"demo: no {what} within {within:.0f} s")
        await asyncio.sleep(0.1)


def _decisions(sessions: sessionmaker[Session]) -> list[DecisionRow]:
    with db.transaction(sessions, read_only=True) as s:
        rows = s.execute(
            sa.select(StoredCall, StoredDecision)
            .join(StoredDecision, StoredDecision.call_id == StoredCall.id)
            .order_by(StoredCall.started_at, StoredCall.id)
        ).all()
        return [
            DecisionRow(
                number=call.subscriber_number,
                caller=(call.caller_number or "") if call.presentation.value == "allowed" else "",
                outcome=call.outcome.value,
                mailed=decision.mailed,
                reason=decision.reason,
                rule=decision.rule,
                recipients=tuple(decision.recipients),
            )
            for call, decision in rows
        ]


def _show_decisions(rows: list[DecisionRow], say: Callable[[str], None]) -> None:
    say("")
    say("   called      caller        outcome             decision")
    for r in rows:
        decision = (
            f"mailed to {', '.join(r.recipients)}"
            if r.mailed
            else f"not mailed: {r.reason}" + (f" ({r.rule})" if r.rule else "")
        )
        say(f"   {r.number}  {r.caller or '(withheld)':<12}  {r.outcome:<18}  {decision}")


def _mails(maildir: str) -> list[EmailMessage]:
    box = mailbox.Maildir(maildir, create=False)
    messages = [
        email.message_from_bytes(box.get_bytes(key), policy=email.policy.default)
        for key in box.iterkeys()
    ]
    typed = [m for m in messages if isinstance(m, EmailMessage)]
    return sorted(typed, key=lambda m: (_call_time(m), str(m["To"])))


def _call_time(message: EmailMessage) -> str:
    """The call's start time as the body gives it (MAIL-9), to list mails in call order."""
    found = re.search(r"^着信日時：(.+)$", _body(message), re.MULTILINE)
    return found.group(1) if found else ""


def _body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    return str(part.get_content()) if part is not None else ""


def _show_mails(mails: list[EmailMessage], say: Callable[[str], None]) -> None:
    say("")
    say(f"3. {len(mails)} mails in the local mail sink (the first one in full):")
    for i, message in enumerate(mails):
        if i == 0:
            say(f"   To: {message['To']}")
            say(f"   Subject: {message['Subject']}")
            for line in _body(message).rstrip().splitlines():
                say(f"   | {line}")
            say("")
        else:
            say(f"   To: {message['To']:<20} {message['Subject']}")


def _scrape(ready: Ready) -> dict[str, float]:
    if ready.metrics_port is None:
        return {}
    url = f"http://127.0.0.1:{ready.metrics_port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
            values[sample.name + (f"{{{labels}}}" if labels else "")] = sample.value
    return values
