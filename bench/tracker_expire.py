"""Benchmark: what ``CallTracker.expire`` costs with many calls that never end (issue 12, item 5).

Run: ``.venv/bin/python bench/tracker_expire.py [--calls 120000] [--rounds 50]``.

The notifier calls ``expire`` about five times a second. This fills a
tracker with ``--calls`` calls that are ringing (a channel up, no outcome:
they end only by ``max_age``, four hours), plus a call finishing every
round, and times ``--rounds`` calls of ``expire``. It prints the CPU time
per call and the share of one core at five calls a second. Run it from
an older checkout (``PYTHONPATH=<checkout>``) to compare.
"""

from __future__ import annotations

import sys
from pathlib import Path

# Run as a script, bench/ comes first on sys.path, and bench/notifier.py would
# hide the notifier package: the checkout comes from the install or PYTHONPATH.
if sys.path and Path(sys.path[0] or ".").resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse
import datetime as dt
import json
import time

from dialplan import variables
from notifier.calls import CallTracker
from notifier.model import ChannelCreated, ChannelHungUp, OutcomeReported
from store.models import CallOutcome, Presentation

T = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
EXPIRE_PER_SECOND = 5  # notifier.app.DECIDE_INTERVAL is 0.2 s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=120_000)
    parser.add_argument("--rounds", type=int, default=50)
    args = parser.parse_args()
    tracker = CallTracker(max_calls=args.calls + 10_000, wall_clock=lambda: T)
    for i in range(args.calls):
        tracker.feed(
            ChannelCreated(f"R{i}", f"R{i}.1", variables.CONTEXT_SUBSCRIBERS, "0312345678"), 0.0
        )
    cpu = 0.0
    finished = 0
    for r in range(args.rounds):
        now = 10.0 + r
        linkedid = f"D{r}"
        tracker.feed(
            ChannelCreated(linkedid, f"{linkedid}.1", variables.CONTEXT_SUBSCRIBERS, "0312345678"),
            now,
        )
        tracker.feed(
            OutcomeReported(
                linkedid,
                "0312345678",
                "",
                Presentation.WITHHELD,
                T,
                CallOutcome.UNANSWERED,
                "NOANSWER",
                "",
                "decided",
            ),
            now,
        )
        tracker.feed(ChannelHungUp(linkedid, f"{linkedid}.1"), now)  # finishes it at once
        started = time.process_time()
        finished += len(tracker.expire(now))
        cpu += time.process_time() - started
    per_call_ms = 1000 * cpu / args.rounds
    print(
        json.dumps(
            {
                "calls_tracked": len(tracker),
                "expire_ms": round(per_call_ms, 3),
                "core_share_at_5_per_s": f"{per_call_ms * EXPIRE_PER_SECOND / 10:.2f} %",
            }
        )
    )


if __name__ == "__main__":
    main()
