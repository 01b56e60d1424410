"""asterisklint on dialplan files as an operator installs them (OPS-3)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path


def lint(directory: Path, files: list[Path]) -> subprocess.CompletedProcess[str]:
    """asterisklint on an extensions.conf in ``directory`` that includes the given files."""
    for f in files:
        shutil.copy(f, directory / f.name)
    includes = "".join(f"#include {f.name}\n" for f in files)
    (directory / "extensions.conf").write_text(
        f"[general]\nstatic=yes\nwriteprotect=yes\n\n[globals]\n\n{includes}", encoding="utf-8"
    )
    command = shutil.which("asterisklint", path=os.path.dirname(sys.executable))
    assert command, "asterisklint (dev extra) is not installed"
    return subprocess.run(
        [command, "dialplan-check", "extensions.conf"],
        cwd=directory,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
