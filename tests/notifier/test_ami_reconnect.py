"""Issue 14: after an AMI outage the notifier is back within a few seconds, never half a minute.

Calls that end while the notifier is disconnected are never seen (AMI does
not replay events), so the reconnect delay is capped by
``ami.reconnect_max_seconds`` (5 s by default). The loopback AMI server goes
down and comes back; the client is built from its ``[ami]`` section as the
notifier builds it, and its waits go to a recording sleep (no real sleeps):
every delay it asks for is within the cap, and it logs in again as soon as
the server is back.
"""

from __future__ import annotations

import asyncio
import random

import pytest

from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer
from notifier.amiclient import AmiClient, AmiState
from notifier.config import AmiConfig
from tests.builders import until


class RecordingSleep:
    """The client's sleep: records each delay, returns at once until ``hold_after`` of them."""

    def __init__(self, hold_after: int) -> None:
        self.delays: list[float] = []
        self.hold_after = hold_after
        self.released = asyncio.Event()

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)
        if len(self.delays) >= self.hold_after:
            await self.released.wait()
        await asyncio.sleep(0)


async def outage(ami: AmiConfig, server: AmiServer, failures: int) -> list[float]:
    """Log in, lose the server for ``failures`` attempts, get it back; the delays asked for."""
    sleep = RecordingSleep(hold_after=failures)
    states: list[AmiState] = []
    client = AmiClient.from_config(
        ami, on_event=lambda event: None, on_state=states.append, rng=random.Random(7), sleep=sleep
    )
    await client.start()
    try:
        await until(lambda: client.state is AmiState.LOGGED_IN, "the first login", within=10)
        await server.stop()  # Asterisk goes away: every attempt is refused
        await until(lambda: len(sleep.delays) >= failures, "the failed attempts", within=10)
        await server.start()  # Asterisk is back
        sleep.released.set()
        await until(lambda: server.logins == 2, "the login after the outage", within=10)
        assert states.count(AmiState.LOGGED_IN) == 2
    finally:
        await client.close()
    return sleep.delays


@pytest.mark.asyncio
async def test_issue14_reconnect_delay_never_exceeds_the_default_cap() -> None:
    async with AmiServer() as server:
        ami = AmiConfig(port=server.port, username=USERNAME, secret=SECRET)
        assert ami.reconnect_max_seconds == 5
        delays = await outage(ami, server, failures=20)
    assert len(delays) >= 20
    assert max(delays) <= 5.0
    # The delays still grow (and spread, each from the upper half of its ceiling)
    # up to the cap: many attempts were made at the cap itself.
    assert delays[0] < 1.0
    assert all(2.5 <= d <= 5.0 for d in delays[6:])


@pytest.mark.asyncio
async def test_issue14_reconnect_cap_is_configurable() -> None:
    async with AmiServer() as server:
        ami = AmiConfig(port=server.port, username=USERNAME, secret=SECRET, reconnect_max_seconds=2)
        delays = await outage(ami, server, failures=12)
    assert max(delays) <= 2.0
    assert all(1.0 <= d <= 2.0 for d in delays[4:])
