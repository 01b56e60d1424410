"""The operator's CLI in-process, against one database of each backend (OPS-2)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from chakushin.cli import cli
from tests.builders import snapshot


class Chakushin:
    """``chakushin`` in-process against one database, with a clean environment."""

    def __init__(self, db_url: str, workdir: Path) -> None:
        self.db_url = db_url
        self.workdir = workdir

    def __call__(self, *args: str, ok: bool = True) -> Result:
        result = CliRunner().invoke(
            cli,
            list(args),
            env={"CHAKUSHIN_DATABASE_URL": self.db_url, "CHAKUSHIN_DATA_DIR": str(self.workdir)},
            catch_exceptions=False,
        )
        if ok:
            assert result.exit_code == 0, result.stderr
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--json").stdout)

    def refused(self, *args: str, status: int = 1) -> str:
        """A command that must fail cleanly: one line on stderr, nothing on stdout, no row
        changed. ``status`` 1: the store refused it; 2: click's usage error."""
        before = snapshot(self.db_url)
        result = self(*args, ok=False)
        assert result.exit_code == status, (args, result.stdout, result.stderr)
        assert result.stdout == ""
        lines = result.stderr.strip().splitlines()
        if status == 1:
            assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        else:
            assert lines[-1].startswith("Error: "), result.stderr
        assert snapshot(self.db_url) == before, args
        return result.stderr


@pytest.fixture
def chakushin(db_url: str, tmp_config: Path) -> Chakushin:
    return Chakushin(db_url, tmp_config / "data")
