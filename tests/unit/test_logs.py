"""Logging (OPS-4 groundwork): pretty on a terminal, one JSON object per line otherwise."""

from __future__ import annotations

import io
import json

import structlog

from chakushin import logs


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_lines_when_not_a_terminal() -> None:
    out = io.StringIO()
    logs.configure("info", "auto", out)
    structlog.get_logger().bind(call_id="1700000000.1").info("mail_skipped", reason="nuisance_list")
    structlog.get_logger().debug("not_shown")
    (line,) = out.getvalue().splitlines()
    event = json.loads(line)
    assert event["event"] == "mail_skipped"
    assert event["call_id"] == "1700000000.1" and event["reason"] == "nuisance_list"
    assert event["level"] == "info" and event["timestamp"].endswith("Z")


def test_pretty_console_on_a_terminal() -> None:
    out = Terminal()
    logs.configure("debug", "auto", out)
    structlog.get_logger().debug("number_added", number="0312345678")
    text = out.getvalue()
    assert "number_added" in text and "0312345678" in text
    assert not text.lstrip().startswith("{")
