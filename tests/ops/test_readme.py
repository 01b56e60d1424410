"""OPS-1: the README's quick-start commands work exactly as written.

CI (``.ci/run``) runs the install and test commands verbatim on a fresh
clone; this test checks that it does, and runs the run and demo commands
verbatim, from the repository root, in a shell.
"""

from __future__ import annotations

import asyncio
import re
import subprocess
from pathlib import Path

import pytest

from chakushin.demo.amiserver import SECRET, USERNAME, AmiServer
from tests.ops.serve_process import ChakushinProcess, clean_env

ROOT = Path(__file__).resolve().parents[2]


def quick_start() -> dict[str, str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (\w+) \| `([^`]+)` \|$", section, re.MULTILINE)
    return dict(rows)


def test_OPS_1_readme_lists_install_run_test_and_ci_runs_them_verbatim() -> None:
    commands = quick_start()
    assert list(commands)[:3] == ["install", "run", "test"]
    ci = [
        line.strip()
        for line in (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert commands["install"] in ci
    assert ci[-1] == commands["test"]  # the last thing CI does is the README's test command


@pytest.mark.asyncio
async def test_OPS_1_readme_run_command_serves_and_stops_clean(tmp_path: Path) -> None:
    command = quick_start()["run"]
    async with AmiServer() as ami:
        env = clean_env(
            CHAKUSHIN_DATA_DIR=str(tmp_path),
            CHAKUSHIN_AGI_PORT="0",
            CHAKUSHIN_METRICS_PORT="0",
            CHAKUSHIN_SITE_PORT="0",
            CHAKUSHIN_AMI_PORT=str(ami.port),
            CHAKUSHIN_AMI_USERNAME=USERNAME,
            CHAKUSHIN_AMI_SECRET=SECRET,
            CHAKUSHIN_LOG_FORMAT="json",
        )
        serve = ChakushinProcess(["bash", "-c", f"exec {command}"], env, ROOT, argv=True)
        try:
            ready = await asyncio.to_thread(serve.wait_event, "serve_ready")
            assert ready["roles"] == ["agi", "notifier", "site"]
            await ami.wait_until(lambda: ami.logins == 1, within=30)
            assert await asyncio.to_thread(serve.terminate) == 0
        finally:
            serve.kill()
    assert (tmp_path / "chakushin.db").exists()  # OPS-1: created on first start


def test_OPS_1_readme_demo_command_runs_as_written(tmp_path: Path) -> None:
    command = quick_start()["demo"]
    result = subprocess.run(
        ["bash", "-c", command],
        cwd=ROOT,
        env=clean_env(CHAKUSHIN_DATA_DIR=str(tmp_path)),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "metrics: 13 calls seen, 15 mails queued, 15 sent" in result.stdout
