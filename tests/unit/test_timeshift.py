"""The suite's own clock harness (tests/timeshift): every process of a run shares one offset.

With ``CHAKUSHIN_TEST_DAYS_AHEAD`` set (CI runs the suite once with 365),
this process and every Python process it starts read the wall clock that
many days ahead, all with the same offset, so a time one process stores is
comparable with another's. Without it, the clock is the real one.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import time_machine

DAY = 86_400.0


def test_the_wall_clock_is_as_far_ahead_as_asked() -> None:
    days = int(os.environ.get("CHAKUSHIN_TEST_DAYS_AHEAD") or 0)
    assert time_machine.escape_hatch.is_travelling() == bool(days)
    if days:  # the real clock is only reachable while travelling
        ahead = time.time() - time_machine.escape_hatch.time.time()
        assert abs(ahead - days * DAY) < 60


def test_a_child_process_reads_the_same_clock() -> None:
    before = time.time()
    child = subprocess.run(
        [sys.executable, "-c", "import time; print(time.time())"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ),
    )
    after = time.time()
    assert before - 0.05 <= float(child.stdout) <= after + 0.05, (before, child.stdout, after)
