"""Small asyncio helpers for every part (the ground floor, so all may import it)."""

from __future__ import annotations

import asyncio


async def wait_for_work(work: asyncio.Event, stop: asyncio.Event, seconds: float) -> None:
    """Return when ``work`` or ``stop`` is set, or after ``seconds``.

    The caller clears ``work`` *before* it does the work it was woken for,
    so that a wake-up arriving during that work is not lost: the next wait
    then returns at once.
    """
    if work.is_set() or stop.is_set():
        return
    waiters = [asyncio.ensure_future(work.wait()), asyncio.ensure_future(stop.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
