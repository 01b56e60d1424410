"""OPS-1, OPS-4: ``chakushin serve`` as a real process, driven over its real ports.

One IVR call reaches the FastAGI port (AsteriskPeer speaks the wire
protocol), recorded AMI calls reach the notifier from a loopback AMI
server, mail arrives at aiosmtpd, the metrics endpoint counts it all, and
SIGTERM ends the process cleanly with nothing lost: a call in progress
finishes, mails not yet sent stay in the outbox and go out at the next
start, exactly once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import socket
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.orm import Session, sessionmaker

from agi.peer import AsteriskPeer
from chakushin.demo import recordings as traces
from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer
from dialplan import variables
from store import db, service
from store.models import (
    CallOutcome,
    MailStatus,
    OutboxMail,
    Presentation,
    StoredDecision,
    TempPassword,
)
from tests.builders import count, until
from tests.notifier.smtp_server import SmtpServer
from tests.ops.serve_process import ChakushinProcess, clean_env

CONTRACT = traces.SUBSCRIBER  # the recorded calls ring this number
EXTRA = "0312345679"
ADDRESSES = ("boss@example.jp", "desk@example.jp")
PW = "24681357"


def provision(sessions: sessionmaker[Session]) -> None:
    with db.transaction(sessions) as s:
        service.add_line(s, CONTRACT, timezone="Asia/Tokyo")
        service.add_number(s, CONTRACT, EXTRA, timezone="Asia/Tokyo")
        for address in ADDRESSES:
            service.add_address(s, CONTRACT, address)
        service.start_mail(s, CONTRACT)


def serve_env(
    db_url: str, tmp_path: Path, ami: AmiServer, smtp: SmtpServer, **extra: str
) -> dict[str, str]:
    return clean_env(
        CHAKUSHIN_DATABASE_URL=db_url,
        CHAKUSHIN_DATA_DIR=str(tmp_path),
        CHAKUSHIN_AGI_PORT="0",
        CHAKUSHIN_METRICS_PORT="0",
        CHAKUSHIN_SITE_PORT="0",
        CHAKUSHIN_AMI_PORT=str(ami.port),
        CHAKUSHIN_AMI_USERNAME=USERNAME,
        CHAKUSHIN_AMI_SECRET=SECRET,
        CHAKUSHIN_MAIL_SMTP_HOST="127.0.0.1",
        CHAKUSHIN_MAIL_SMTP_PORT=str(smtp.port),
        CHAKUSHIN_MAIL_FROM_ADDRESS="chakushin@example.jp",
        CHAKUSHIN_SERVE_HEARTBEAT_SECONDS="1",
        CHAKUSHIN_LOG_FORMAT="json",
        CHAKUSHIN_LOG_LEVEL="info",
        **extra,
    )


def metrics(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def send_calls(ami: AmiServer, scenario: str, first: int, n: int) -> list[str]:
    linkedids = []
    for index in range(first, first + n):
        linkedid, frames = traces.renumbered(scenario, index)
        linkedids.append(linkedid)
        await ami.send(b"".join(frames))
    return linkedids


@pytest.mark.asyncio
async def test_OPS_1_serve_runs_ivr_notifier_and_metrics_then_stops_clean(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, smtp: SmtpServer
) -> None:
    provision(sessions)
    async with AmiServer() as ami:
        serve = ChakushinProcess(["serve"], serve_env(db_url, tmp_path, ami, smtp), tmp_path)
        try:
            ready = serve.wait_event("serve_ready")
            assert ready["roles"] == ["agi", "notifier", "site"]
            await ami.wait_until(lambda: ami.logins == 1, within=30)

            # The settings site answers in the same process.
            login_page = await asyncio.to_thread(
                urllib.request.urlopen, f"http://127.0.0.1:{ready['site_port']}/login", None, 10
            )
            assert login_page.status == 200 and "ログイン" in login_page.read().decode()

            # IVR-1..7: one temporary-password call through the FastAGI port.
            peer = AsteriskPeer(CONTRACT, ["2", EXTRA + "#", PW, PW])
            await asyncio.to_thread(peer.over_tcp, "127.0.0.1", ready["agi_port"])
            assert peer.variables[variables.TP_OUTCOME] == "completed"

            # MAIL-2: one recorded unanswered call, mailed to both addresses.
            await send_calls(ami, "no_answer_timeout", 1, 1)
            assert await asyncio.to_thread(smtp.inbox.wait_for, 2, 30)
            recipients = sorted(str(m["To"]) for m in smtp.inbox.messages)
            assert recipients == sorted(ADDRESSES)
            await until(
                lambda: count(sessions, OutboxMail, OutboxMail.status == MailStatus.SENT) == 2,
                "both mails marked sent",
            )

            # OPS-4: the counters say what happened.
            m = await asyncio.to_thread(metrics, ready["metrics_port"])
            assert m[("chakushin_calls_seen_total", ())] == 1
            assert m[("chakushin_decisions_total", (("reason", "notify"),))] == 1
            assert m[("chakushin_mails_queued_total", ())] == 2
            assert m[("chakushin_mail_deliveries_total", (("result", "sent"),))] == 2
            assert m[("chakushin_mail_deliveries_total", (("result", "failed"),))] == 0
            assert m[("chakushin_agi_sessions_total", (("outcome", "completed"),))] == 1
            assert m[("chakushin_agi_sessions_active", ())] == 0
            assert m[("chakushin_ami_connected", ())] == 1
            assert m[("chakushin_ami_state", (("state", "logged_in"),))] == 1
            assert m[("chakushin_outbox_pending", ())] == 0
            assert m[("chakushin_outbox_oldest_pending_age_seconds", ())] == 0
            assert m[("chakushin_database_up", ())] == 1

            # OPS-4: chakushin status agrees, exit status 0.
            # The node reports its login within a second or so, not a heartbeat
            # later: status is polled with a bound and its last output shown.
            deadline = asyncio.get_running_loop().time() + 30
            while True:
                code, text = await asyncio.to_thread(
                    run_status, serve_env(db_url, tmp_path, ami, smtp), tmp_path
                )
                if code == 0 or asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(0.2)
            assert code == 0, text
            assert text.startswith("chakushin: healthy"), text
            assert "AMI: logged_in" in text, text

            assert serve.terminate() == 0
        finally:
            serve.kill()
    assert serve.wait_event("serve_stopped")
    with db.transaction(sessions, read_only=True) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(StoredDecision)) == 1
        assert s.scalar(sa.select(sa.func.count()).select_from(TempPassword)) == 1
        pending = s.scalar(
            sa.select(sa.func.count())
            .select_from(OutboxMail)
            .where(OutboxMail.status != MailStatus.SENT)
        )
        assert pending == 0
    assert len(smtp.inbox.messages) == 2


@pytest.mark.asyncio
async def test_OPS_1_sigterm_finishes_the_call_in_progress_and_keeps_unsent_mail(
    db_url: str, sessions: sessionmaker[Session], tmp_path: Path, smtp: SmtpServer
) -> None:
    """SIGTERM mid-call and mid-delivery: the call completes, no new call is taken,
    each SMTP connection finishes its mail, the rest stay in the outbox due now,
    and the next start delivers them: every mail exactly once."""
    provision(sessions)
    calls = 10
    smtp.inbox.delay = 1.0  # each mail takes a second: most are still queued at SIGTERM
    # The calls' decisions and mails are in the outbox before the node starts, so
    # that its first delivery round claims all of them: calls decided over AMI
    # come in batches, and a stop between two rounds has nothing in hand to
    # release (the test was flaky so). The AMI path has its own tests.
    queue_decided_calls(sessions, calls)
    async with AmiServer() as ami:
        env = serve_env(
            db_url,
            tmp_path,
            ami,
            smtp,
            CHAKUSHIN_MAIL_CONCURRENCY="2",
            CHAKUSHIN_SERVE_SHUTDOWN_TIMEOUT_SECONDS="20",
        )
        serve = ChakushinProcess(["serve"], env, tmp_path)
        try:
            ready = serve.wait_event("serve_ready")
            await ami.wait_until(lambda: ami.logins == 1, within=30)
            await until(
                lambda: count(sessions, StoredDecision) == calls,
                "every call decided",
            )
            assert await asyncio.to_thread(smtp.inbox.wait_for, 1, 30)
            # Every mail claimed by the worker (the decisions may come in more than one
            # batch, and so more than one round): at SIGTERM the unsent ones are in hand.
            await until(
                lambda: (
                    count(
                        sessions,
                        OutboxMail,
                        OutboxMail.status == MailStatus.PENDING,
                        OutboxMail.attempts == 0,
                    )
                    == 0
                ),
                "every mail claimed",
            )

            # A caller in the middle of the temporary-password flow.
            holding, release = threading.Event(), threading.Event()

            def hold_at_third_command(index: int) -> None:
                if index == 3:
                    holding.set()
                    release.wait(30)

            peer = AsteriskPeer(
                CONTRACT, ["2", EXTRA + "#", PW, PW], before_answer=hold_at_third_command
            )
            call = asyncio.ensure_future(
                asyncio.to_thread(peer.over_tcp, "127.0.0.1", ready["agi_port"])
            )
            assert await asyncio.to_thread(holding.wait, 30)

            serve.process.send_signal(__import__("signal").SIGTERM)
            serve.wait_event("agi_stopping", active_sessions=1)
            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", ready["agi_port"]), timeout=5).close()
            release.set()
            await call
            assert peer.variables[variables.TP_OUTCOME] == "completed"
            assert await asyncio.to_thread(serve.process.wait, 60) == 0
        finally:
            serve.kill()
        stopped = serve.wait_event("notifier_stopped")
        assert serve.wait_event("agi_stopped")["cut"] == 0
        delivered_before = len(smtp.inbox.messages)
        assert stopped["released"] >= 1
        assert stopped["released"] + delivered_before <= 2 * calls

        now = dt.datetime.now(dt.UTC)
        with db.transaction(sessions, read_only=True) as s:
            rows = s.scalars(sa.select(OutboxMail)).all()
            assert len(rows) == 2 * calls  # nothing lost, nothing doubled
            waiting = [r for r in rows if r.status is MailStatus.PENDING]
            assert len(waiting) == 2 * calls - delivered_before
            # Handed back, not left claimed for a lease: due at the next start.
            assert all(r.next_attempt_at <= now and r.attempts == 0 for r in waiting), [
                (now, r.next_attempt_at, r.attempts) for r in waiting
            ]
            assert s.scalar(sa.select(sa.func.count()).select_from(TempPassword)) == 1

        # The next start sends what was left: every mail exactly once.
        smtp.inbox.delay = 0.0
        again = ChakushinProcess(["serve"], env, tmp_path)
        try:
            assert await asyncio.to_thread(smtp.inbox.wait_for, 2 * calls, 30)
            await until(
                lambda: (
                    count(sessions, OutboxMail, OutboxMail.status == MailStatus.SENT) == 2 * calls
                ),
                "every mail marked sent",
            )
            assert again.terminate() == 0
        finally:
            again.kill()
    ids = smtp.inbox.message_ids()
    assert len(ids) == 2 * calls and set(ids.values()) == {1}


def test_OPS_1_parts_switch_off_for_nodes_that_share_a_database(tmp_path: Path) -> None:
    env = clean_env(  # its own database: the node's report must not leak into other tests
        CHAKUSHIN_DATA_DIR=str(tmp_path),
        CHAKUSHIN_AGI_PORT="0",
        CHAKUSHIN_METRICS_PORT="0",
        CHAKUSHIN_SERVE_NOTIFIER="off",
        CHAKUSHIN_SERVE_SITE="off",
        CHAKUSHIN_SERVE_NODE_NAME="agi-only",
        CHAKUSHIN_LOG_FORMAT="json",
    )
    serve = ChakushinProcess(["serve"], env, tmp_path)
    try:
        ready = serve.wait_event("serve_ready")
        assert ready["roles"] == ["agi"] and ready["node_name"] == "agi-only"
        m = metrics(ready["metrics_port"])
        assert ("chakushin_agi_sessions_active", ()) in m
        assert not any(name.startswith("chakushin_ami_") for name, _ in m)
        assert serve.terminate() == 0
    finally:
        serve.kill()
    assert not any(e["event"] == "notifier_started" for e in serve.events)

    nothing = ChakushinProcess(["serve"], {**env, "CHAKUSHIN_SERVE_AGI": "off"}, tmp_path)
    assert nothing.process.wait(timeout=60) == 1
    nothing.kill()
    assert nothing.lines[-1] == (
        "error: serve: nothing to run: serve.agi, serve.notifier, serve.site and serve.api "
        "are all off"
    )


def test_OPS_1_a_port_in_use_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        env = clean_env(
            CHAKUSHIN_DATA_DIR=str(tmp_path),
            CHAKUSHIN_AGI_PORT=str(taken.getsockname()[1]),
            CHAKUSHIN_SERVE_NOTIFIER="off",
            CHAKUSHIN_SERVE_SITE="off",
            CHAKUSHIN_METRICS_ENABLED="off",
        )
        serve = ChakushinProcess(["serve"], env, tmp_path)
        assert serve.process.wait(timeout=60) == 1
        serve.kill()
    assert serve.lines[-1] == "error: agi.port: cannot listen: Address already in use"


def test_OPS_1_site_command_runs_the_site_alone(tmp_path: Path) -> None:
    env = clean_env(
        CHAKUSHIN_DATABASE_URL=f"sqlite:///{tmp_path / 'site.db'}",
        CHAKUSHIN_DATA_DIR=str(tmp_path),
        CHAKUSHIN_SITE_PORT="0",
        CHAKUSHIN_METRICS_ENABLED="off",
        CHAKUSHIN_LOG_FORMAT="json",
    )
    site = ChakushinProcess(["site"], env, tmp_path)
    try:
        ready = site.wait_event("serve_ready")
        assert ready["roles"] == ["site"] and ready["agi_port"] is None
        with urllib.request.urlopen(
            f"http://127.0.0.1:{ready['site_port']}/login", timeout=10
        ) as page:
            assert page.status == 200
            assert "<h1>ログイン</h1>" in page.read().decode()
        assert site.terminate() == 0
    finally:
        site.kill()


def run_status(env: dict[str, str], cwd: Path) -> tuple[int, str]:
    """``chakushin status`` once: its exit status and output."""
    status = ChakushinProcess(["status"], env, cwd)
    code = status.process.wait(timeout=60)
    assert status.process.stdout is not None
    return code, status.process.stdout.read()


def _bad_template_dir(tmp_path: Path) -> Path:
    bad = tmp_path / "templates"
    bad.mkdir()
    (bad / "body.txt").write_text("着信 $number から $nosuch\n", encoding="utf-8")
    return bad


def _serve_fails(tmp_path: Path, **env: str) -> list[str]:
    """Run serve with AGI, notifier and site on; it must exit 1 within the bound."""
    serve = ChakushinProcess(
        ["serve"],
        clean_env(
            CHAKUSHIN_DATA_DIR=str(tmp_path),
            CHAKUSHIN_AGI_PORT="0",
            CHAKUSHIN_SITE_PORT="0",
            CHAKUSHIN_METRICS_PORT="0",
            CHAKUSHIN_AMI_PORT="1",
            **env,
        ),
        tmp_path,
    )
    try:
        code = serve.process.wait(timeout=60)
    finally:
        serve.kill()
    problems = [line for line in serve.lines if "Traceback" in line]
    assert code == 1 and not problems, serve.lines
    return serve.lines


@pytest.mark.parametrize("which", ["unknown_placeholder", "missing_dir"])
def test_item3_OPS_1_a_bad_template_stops_every_part_with_one_line(
    tmp_path: Path, which: str
) -> None:
    templates = _bad_template_dir(tmp_path) if which == "unknown_placeholder" else tmp_path / "no"
    lines = _serve_fails(tmp_path, CHAKUSHIN_MAIL_TEMPLATES_DIR=str(templates))
    assert lines[-1].startswith("error: mail.templates_dir: "), lines
    assert ("$nosuch" if which == "unknown_placeholder" else "does not exist") in lines[-1]


@pytest.mark.parametrize("which", ["corrupt", "empty"])
def test_item6_OPS_1_a_damaged_sqlite_file_is_refused_with_one_line(
    tmp_path: Path, which: str
) -> None:
    path = tmp_path / "chakushin.db"
    path.write_bytes(b"" if which == "empty" else b"this is not a database" * 300)
    before = path.read_bytes()
    lines = _serve_fails(tmp_path, CHAKUSHIN_DATABASE_URL=f"sqlite:///{path}")
    assert lines[-1].startswith(f"error: database file {path} "), lines
    assert ("is empty" if which == "empty" else "is not a SQLite database") in lines[-1]
    assert path.read_bytes() == before  # left exactly as it was, for the operator to look at


def queue_decided_calls(sessions: sessionmaker[Session], calls: int) -> None:
    """``calls`` unanswered calls to CONTRACT, decided and mailed to both ADDRESSES (MAIL-10)."""
    now = dt.datetime.now(dt.UTC)
    with db.transaction(sessions) as s:
        for i in range(calls):
            linkedid = f"1700000000.{i}"
            service.record_call_decision(
                s,
                now=now,
                linkedid=linkedid,
                subscriber_number=CONTRACT,
                caller_number=traces.CALLER,
                presentation=Presentation.ALLOWED,
                outcome=CallOutcome.UNANSWERED,
                dial_status="NOANSWER",
                forward_dial_status="",
                started_at=now,
                ended_at=now,
                mailed=True,
                reason="notify",
                mails=[
                    service.QueuedMail(
                        a,
                        f"call {linkedid}",
                        f"From: chakushin@example.jp\r\nTo: {a}\r\nSubject: call {linkedid}\r\n"
                        f"Message-ID: <{linkedid}.{a}>\r\n\r\nbody\r\n",
                        f"<{linkedid}.{a}>",
                    )
                    for a in ADDRESSES
                ],
            )


@pytest.mark.parametrize(
    ("command", "role", "started"),
    [
        ("agi-server", "agi", "FastAGI server listening on 127.0.0.1:"),
        ("notifier", "notifier", "notifier: AMI 127.0.0.1:1"),
    ],
)
def test_issue13_OPS_1_agi_server_and_notifier_are_the_node_with_fewer_roles(
    tmp_path: Path, command: str, role: str, started: str
) -> None:
    """The one-role commands run ``serve``'s node with one role: each reports in
    ``chakushin status`` under its own name, runs no metrics endpoint (as before),
    prints its start-up line and stops clean on SIGTERM."""
    env = clean_env(  # its own database: the node's report must not leak into other tests
        CHAKUSHIN_DATA_DIR=str(tmp_path),
        CHAKUSHIN_AGI_PORT="0",
        CHAKUSHIN_AMI_PORT="1",  # nothing listens: the notifier keeps trying
        CHAKUSHIN_METRICS_PORT="0",
        CHAKUSHIN_SERVE_NODE_NAME=f"only-{role}",
        CHAKUSHIN_LOG_FORMAT="json",
    )
    node = ChakushinProcess([command], env, tmp_path)
    try:
        ready = node.wait_event("serve_ready")
        assert ready["roles"] == [role] and ready["node_name"] == f"only-{role}"
        assert ready["metrics_port"] is None and ready["site_port"] is None
        assert (ready["agi_port"] is not None) is (role == "agi")
        # The start-up line and the first report follow the ready event: waited
        # for (bounded), not a fixed time.
        deadline = time.monotonic() + 30
        reported = f"only-{role}  running  roles {role}  pid"
        while reported not in (out := run_status(env, tmp_path)[1]):
            assert time.monotonic() < deadline, out
        while not any(line.startswith(started) for line in node.lines):
            assert time.monotonic() < deadline, node.lines
            time.sleep(0.05)
        assert node.terminate() == 0
    finally:
        node.kill()
    assert node.wait_event("serve_stopped", node=f"only-{role}")
    if role == "agi":
        assert node.wait_event("agi_server_stopped")["sessions"] == {}
