"""Fixtures of the ops tests (chakushin serve, status, demo)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.notifier.smtp_server import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server (aiosmtpd) on a free loopback port."""
    server = SmtpServer().start()
    yield server
    server.stop()
