"""Test harness only: run this Python process days ahead when the tests ask for it.

``CHAKUSHIN_TEST_DAYS_AHEAD=365 .venv/bin/pytest`` runs the whole suite with
the wall clock a year ahead (issue 12: no test may depend on today's date).
tests/conftest.py puts this directory on ``PYTHONPATH``, so every Python
process the tests start (``chakushin serve``, ``chakushin-agi``, the xdist
workers) travels too, through time-machine: the wall clock (``time.time``,
``datetime.now``) moves, the monotonic clock and every timed wait do not.
Production never has this directory on its path.
"""

from __future__ import annotations

import datetime as dt
import os
import time

DAYS_AHEAD_ENV = "CHAKUSHIN_TEST_DAYS_AHEAD"
traveller = None


def travel() -> None:
    """Start the journey once per process, if asked for."""
    global traveller
    days = int(os.environ.get(DAYS_AHEAD_ENV) or 0)
    if days and traveller is None:
        import time_machine

        traveller = time_machine.travel(
            dt.datetime.now(dt.UTC) + dt.timedelta(days=days), tick=True
        )
        traveller.start()
        # time-machine starts the clock ticking at the first reading, not at
        # start(): read it now, so that every process runs the same offset.
        time.time()


travel()
