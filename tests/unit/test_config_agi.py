"""Issue 12 item 4: the FastAGI server's limits in [agi], and the open-port check."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from agi.server import SessionLimits
from chakushin import config
from chakushin.cli import cli
from chakushin.config import ConfigError


def test_item4_agi_limits_have_defaults_and_reach_the_server() -> None:
    agi = config.load(env={}).agi
    assert (agi.idle_timeout_seconds, agi.session_deadline_seconds) == (120, 900)
    assert (agi.max_line_bytes, agi.max_environment_lines, agi.max_sessions) == (8192, 64, 200)
    assert SessionLimits.from_config(agi) == SessionLimits()
    tuned = config.load(
        env={
            "CHAKUSHIN_AGI_SESSION_DEADLINE_SECONDS": "1800",
            "CHAKUSHIN_AGI_MAX_LINE_BYTES": "16384",
            "CHAKUSHIN_AGI_MAX_ENVIRONMENT_LINES": "128",
            "CHAKUSHIN_AGI_MAX_SESSIONS": "500",
            "CHAKUSHIN_AGI_IDLE_TIMEOUT_SECONDS": "60",
        }
    ).agi
    assert SessionLimits.from_config(tuned) == SessionLimits(
        idle_timeout=60.0,
        session_deadline=1800.0,
        max_line_bytes=16384,
        max_environment_lines=128,
        max_sessions=500,
    )


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("session_deadline_seconds", "59"),
        ("max_line_bytes", "100"),
        ("max_line_bytes", "209715200"),
        ("max_environment_lines", "8"),
        ("max_sessions", "0"),
        ("idle_timeout_seconds", "4"),
    ],
)
def test_item4_agi_limits_out_of_range_name_the_key(key: str, value: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(env={f"CHAKUSHIN_AGI_{key.upper()}": value})
    assert err.value.key == f"agi.{key}"


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.0.2.1", "pbx.example.jp"])
def test_item4_a_reachable_agi_port_needs_allowed_peers(host: str) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(env={"CHAKUSHIN_AGI_HOST": host})
    assert err.value.key == "agi.allowed_peers"
    allowed = config.load(env={"CHAKUSHIN_AGI_HOST": host, "CHAKUSHIN_AGI_ALLOWED_PEERS": "::1"})
    assert allowed.agi.allowed_peers == ("::1",)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "localhost"])
def test_item4_a_loopback_agi_port_may_leave_allowed_peers_empty(host: str) -> None:
    assert config.load(env={"CHAKUSHIN_AGI_HOST": host}).agi.allowed_peers == ()


def test_item4_config_check_refuses_an_open_agi_port_in_one_line(tmp_config: Path) -> None:
    (tmp_config / "chakushin.toml").write_text('[agi]\nhost = "0.0.0.0"\n', encoding="utf-8")
    result = CliRunner().invoke(cli, ["config", "check"])
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith("error: agi.allowed_peers: ")
    assert "'0.0.0.0'" in line and "temporary passwords" in line
