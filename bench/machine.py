"""The machine a benchmark ran on, for its report (shared by the bench scripts)."""

from __future__ import annotations

import contextlib
import os
import platform
from pathlib import Path


def machine() -> dict[str, str | int | float | None]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.partition(":")[2].strip()
                break
    ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "platform": platform.platform(),
        "cpu_model": cpu,
        "cpu_count": os.cpu_count(),
        "ram_gib": round(ram, 1),
        "python": platform.python_version(),
    }


def machine_line(m: dict[str, str | int | float | None]) -> str:
    return (
        f"Machine: {m['platform']}, CPU {m['cpu_model']}, {m['cpu_count']} CPUs, "
        f"{m['ram_gib']} GiB RAM, Python {m['python']}"
    )
