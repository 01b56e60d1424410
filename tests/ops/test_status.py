"""OPS-4: node reports, the health verdict of ``chakushin status``, the metrics collector."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from prometheus_client import CollectorRegistry, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from chakushin import node
from chakushin.cli import cli
from chakushin.metrics import ChakushinCollector, Sources
from notifier.outbox import MaildirSender
from store import db
from store.models import MailKind, MailStatus, OutboxMail

NOW = dt.datetime(2026, 11, 22, 3, 0, tzinfo=dt.UTC)


def view(
    name: str = "pbx1/agi+notifier",
    *,
    roles: tuple[str, ...] = ("agi", "notifier"),
    heartbeat_ago: float = 1.0,
    stopped: bool = False,
    ami_state: str = "logged_in",
) -> node.NodeView:
    beat = NOW - dt.timedelta(seconds=heartbeat_ago)
    return node.NodeView(
        name=name,
        roles=roles,
        pid=1234,
        started_at=NOW - dt.timedelta(hours=1),
        heartbeat_at=beat,
        heartbeat_seconds=10,
        stopped_at=beat if stopped else None,
        ami_state=ami_state,
        agi_active=0,
        last_error=None,
        last_error_at=None,
    )


EMPTY = node.OutboxView(0, 0, None, 0, None, None)


def test_OPS_4_healthy_when_a_node_runs_logged_in_and_no_mail_waits_long() -> None:
    outbox = node.OutboxView(3, 1, NOW - dt.timedelta(seconds=60), 0, None, None)
    health = node.assess([view()], outbox, NOW, alert_seconds=900)
    assert health.healthy and health.problems == ()


@pytest.mark.parametrize(
    ("nodes", "outbox", "problem"),
    [
        ([], EMPTY, "no chakushin serve node is running"),
        ([view(stopped=True)], EMPTY, "no chakushin serve node is running"),
        (
            [view(), view("pbx2/notifier", heartbeat_ago=36)],
            EMPTY,
            "pbx2/notifier has not reported",
        ),
        ([view(ami_state="login_failed")], EMPTY, "AMI connection is login_failed"),
        ([view(ami_state="reconnecting")], EMPTY, "AMI connection is reconnecting"),
        (
            [view()],
            node.OutboxView(5, 5, NOW - dt.timedelta(seconds=901), 0, "451 try later", NOW),
            "5 mail(s) waiting, the oldest for 901 s",
        ),
    ],
    ids=["no_node", "only_stopped", "silent_node", "login_failed", "ami_down", "old_mail"],
)
def test_OPS_4_each_problem_makes_the_verdict_unhealthy(
    nodes: list[node.NodeView], outbox: node.OutboxView, problem: str
) -> None:
    health = node.assess(nodes, outbox, NOW, alert_seconds=900)
    assert not health.healthy
    assert any(problem in p for p in health.problems), health.problems
    assert "UNHEALTHY" in node.render(health)


def test_OPS_4_an_agi_only_node_needs_no_ami_and_silence_has_a_margin() -> None:
    agi_only = view("web/agi", roles=("agi",), ami_state="")
    just_in_time = view(heartbeat_ago=3 * 10 + 4)  # three heartbeats plus less than the margin
    health = node.assess([agi_only, just_in_time], EMPTY, NOW, alert_seconds=900)
    assert health.healthy, health.problems


def _reporter(
    sessions: sessionmaker[Session], clock: dt.datetime, **snap: object
) -> node.NodeReporter:
    return node.NodeReporter(
        sessions,
        "pbx1/agi+notifier",
        ("agi", "notifier"),
        10,
        lambda: node.NodeSnapshot(**snap),  # type: ignore[arg-type]
        clock=lambda: clock,
    )


def _mail(i: int, *, status: MailStatus, attempts: int, created: dt.datetime) -> OutboxMail:
    return OutboxMail(
        dedup_key=f"k{i}",
        kind=MailKind.CALL_NOTIFICATION,
        recipient=f"r{i}@example.jp",
        subject="s",
        body="b",
        headers={},
        status=status,
        attempts=attempts,
        next_attempt_at=created,
        created_at=created,
        last_error="451 4.3.0 try again later" if attempts else None,
    )


def test_OPS_4_reports_and_outbox_are_read_back_from_the_database(
    sessions: sessionmaker[Session],
) -> None:
    _reporter(sessions, NOW - dt.timedelta(seconds=2), ami_state="logged_in").report()
    with db.transaction(sessions) as s:
        s.add(
            _mail(1, status=MailStatus.PENDING, attempts=0, created=NOW - dt.timedelta(seconds=30))
        )
        s.add(
            _mail(2, status=MailStatus.PENDING, attempts=2, created=NOW - dt.timedelta(seconds=950))
        )
        s.add(_mail(3, status=MailStatus.SENT, attempts=1, created=NOW - dt.timedelta(days=3)))
        s.add(_mail(4, status=MailStatus.FAILED, attempts=3, created=NOW - dt.timedelta(hours=2)))
    health = node.check(sessions, alert_seconds=900, now=NOW)
    assert [n.name for n in health.nodes] == ["pbx1/agi+notifier"]
    assert health.nodes[0].state(NOW) == "running"
    o = health.outbox
    assert (o.pending, o.retrying, o.failed_last_day) == (2, 1, 1)
    assert o.oldest_pending_at == NOW - dt.timedelta(seconds=950)
    assert o.last_failure == "451 4.3.0 try again later"
    assert not health.healthy
    assert health.problems == (
        "2 mail(s) waiting, the oldest for 950 s (more than serve.outbox_alert_seconds = 900)",
    )

    # A clean stop is recorded: the node is "stopped", no longer "running".
    _reporter(sessions, NOW, ami_state="closed").report(stopped=True)
    health = node.check(sessions, alert_seconds=900, now=NOW)
    assert health.nodes[0].state(NOW) == "stopped"
    assert "no chakushin serve node is running" in health.problems


def test_OPS_4_status_command_exit_status_json_and_forget(tmp_config: Path) -> None:
    runner = CliRunner()
    first = runner.invoke(cli, ["status"])
    assert first.exit_code == 1
    assert "problem: no chakushin serve node is running" in first.stdout

    engine = db.make_engine(f"sqlite:///{tmp_config / 'data' / 'chakushin.db'}")
    sessions = db.session_factory(engine)
    _reporter(sessions, dt.datetime.now(dt.UTC), ami_state="logged_in").report()
    healthy = runner.invoke(cli, ["status", "--json"])
    assert healthy.exit_code == 0, healthy.stdout
    data = json.loads(healthy.stdout)
    assert data["healthy"] is True
    assert data["nodes"][0]["state"] == "running"
    assert data["nodes"][0]["ami_state"] == "logged_in"

    unknown = runner.invoke(cli, ["status", "--forget", "nope"])
    assert unknown.exit_code == 1
    assert unknown.stderr == "error: no node named 'nope' has reported\n"
    forgot = runner.invoke(cli, ["status", "--forget", "pbx1/agi+notifier"])
    assert forgot.exit_code == 1  # nothing runs any more
    assert "(none has reported" in forgot.stdout
    engine.dispose()


def test_OPS_4_metrics_say_when_the_database_is_down(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    registry = CollectorRegistry(auto_describe=False)
    registry.register(ChakushinCollector(Sources(db.session_factory(engine), "n1")))
    text = generate_latest(registry).decode()
    assert "chakushin_database_up 0.0" in text
    assert "chakushin_outbox_pending" not in text
    assert 'chakushin_node_info{node="n1"} 1.0' in text
    engine.dispose()


@pytest.mark.asyncio
async def test_OPS_1_maildir_sink_works_in_an_existing_empty_directory(tmp_path: Path) -> None:
    box = tmp_path / "maildir"
    box.mkdir()  # e.g. made by the operator or the packaging
    result = await MaildirSender(str(box)).send(
        "a@example.jp", "b@example.jp", "Subject: x\n\nhi\n"
    )
    assert result.ok
    assert len(list((box / "new").iterdir())) == 1


@pytest.mark.asyncio
async def test_MAIL_10_a_maildir_write_error_is_retried_not_fatal(tmp_path: Path) -> None:
    box = tmp_path / "maildir"
    sender = MaildirSender(str(box))
    (box / "tmp").rmdir()  # the sink became unusable
    result = await sender.send("a@example.jp", "b@example.jp", "Subject: x\n\nhi\n")
    assert not result.ok and not result.permanent
    assert result.reply.startswith("maildir: ")


def test_OPS_4_site_login_attempts_are_counted_by_result(tmp_path: Path) -> None:
    engine = db.make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    db.ensure_schema(engine)
    registry = CollectorRegistry(auto_describe=False)
    logins = {"ok": 3, "refused": 7}
    registry.register(
        ChakushinCollector(Sources(db.session_factory(engine), "n1", site_logins=logins))
    )
    text = generate_latest(registry).decode()
    assert 'chakushin_site_logins_total{result="ok"} 3.0' in text
    assert 'chakushin_site_logins_total{result="refused"} 7.0' in text
    assert 'chakushin_site_logins_total{result="throttled"} 0.0' in text
    engine.dispose()


@pytest.mark.asyncio
async def test_issue12_OPS_4_a_change_during_a_report_is_reported_without_a_heartbeat_wait(
    sessions: sessionmaker[Session],
) -> None:
    """An AMI state change that lands while a report is being written is not lost.

    The heartbeat is an hour: only the change itself can bring the second report.
    """
    loop = asyncio.get_running_loop()
    states = iter(["connecting", "logged_in"])
    reporter: node.NodeReporter

    def snapshot() -> node.NodeSnapshot:
        state = next(states, "logged_in")
        if state == "connecting":
            # The notifier logs in while the first report is in its transaction.
            loop.call_soon_threadsafe(reporter.changed)
        return node.NodeSnapshot(ami_state=state)

    reporter = node.NodeReporter(
        sessions, "pbx1/notifier", ("notifier",), 3600, snapshot, clock=lambda: NOW
    )
    stop = asyncio.Event()
    running = asyncio.create_task(reporter.run(stop))
    try:
        reported = await _bounded_poll(
            lambda: _ami_states(sessions) == ["logged_in"], 20
        )
        assert reported, _ami_states(sessions)
    finally:
        stop.set()
        await running


async def _bounded_poll(condition: Callable[[], bool], within: float) -> bool:
    """Whether ``condition`` became true within ``within`` seconds (checked every 50 ms)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def _ami_states(sessions: sessionmaker[Session]) -> list[str]:
    with db.transaction(sessions, read_only=True) as s:
        return [n.ami_state for n in node.read_nodes(s)]
