"""The CLI starts fast (issue 18, OPS-2): a read command imports only what it needs.

No timing here (``bench/cli_startup.py`` measures it): each read command runs
in a new interpreter, and what it imported is compared with what a read
needs. The site, the API, the FastAGI server, the notifier's AMI and mail,
the migrations and the IVR's prompts are imported only by the commands that
use them; ``--help`` still lists every command, each by its own name.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import click
import pytest
from click.testing import CliRunner

from chakushin.cli import cli

CONTRACT, EXTRA = "0312345678", "0312345679"

# Every command of the root, as the eager table registered them before issue 18.
ROOT_COMMANDS = (
    "agi-server",
    "api",
    "asterisk",
    "chat",
    "config",
    "db",
    "demo",
    "device",
    "dialplan",
    "import",
    "line",
    "mail",
    "notifier",
    "nuisance",
    "number",
    "number-request",
    "phonebook",
    "prompts",
    "serve",
    "site",
    "status",
    "support",
    "voice-warp",
)
# Libraries a read command must not import (the servers, mail, AMI, migrations,
# password hashing, templates, metrics, the IVR's speech).
HEAVY_LIBRARIES = (
    "alembic",
    "uvicorn",
    "fastapi",
    "starlette",
    "pydantic",
    "panoramisk",
    "aiosmtplib",
    "argon2",
    "jinja2",
    "prometheus_client",
    "numpy",
)
# Of the service packages a read command needs only the config sections.
SERVICE_PACKAGES = ("agi", "notifier", "web", "dialplan")
ALLOWED_OF_SERVICES = {
    "agi",
    "agi.config",
    "notifier",
    "notifier.config",
    "web",
    "web.config",
    "dialplan",
    "dialplan.config",
}
# Command modules of other commands.
OTHER_COMMANDS = (
    "chakushin.cli.api",
    "chakushin.cli.asterisk",
    "chakushin.cli.importer",
    "chakushin.cli.mail",
    "chakushin.cli.support",
    "chakushin.cli_prompts",
    "chakushin.serve",
    "chakushin.metrics",
    "chakushin.demo",
)

LIST_MODULES = "import json, sys, chakushin.cli; print(json.dumps(sorted(sys.modules)))"
RUN_AND_LIST_MODULES = """
import json, sys
from chakushin.cli import main
sys.argv = ["chakushin", *json.loads(sys.argv[1])]
try:
    main()
except SystemExit as exc:
    status = exc.code
else:
    status = 0
print(json.dumps({"status": status, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def imported_by(db_url: str, tmp_path: os.PathLike[str], *args: str) -> tuple[int, set[str]]:
    """Run ``chakushin ARGS`` in a new interpreter; its exit status and every module it imported."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("CHAKUSHIN_")}
    env.update(CHAKUSHIN_DATABASE_URL=db_url, CHAKUSHIN_DATA_DIR=str(tmp_path))
    done = subprocess.run(
        [sys.executable, "-c", RUN_AND_LIST_MODULES, json.dumps(args)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["status"], set(report["modules"])


def heavy_of(modules: set[str]) -> list[str]:
    libraries = [name for name in HEAVY_LIBRARIES if name in modules]
    services = sorted(
        name
        for name in modules
        if name.split(".")[0] in SERVICE_PACKAGES and name not in ALLOWED_OF_SERVICES
    )
    commands = [name for name in OTHER_COMMANDS if name in modules]
    return libraries + services + commands


@pytest.mark.parametrize(
    "args",
    [
        ("line", "list"),
        ("number", "show", EXTRA),
        ("number", "show", EXTRA, "--calls"),
        ("status",),
    ],
    ids=["line-list", "number-show", "number-show-calls", "status"],
)
def test_issue18_OPS_2_a_read_command_imports_no_server_mail_or_migrations(
    db_url: str, tmp_path: os.PathLike[str], args: tuple[str, ...]
) -> None:
    env = {"CHAKUSHIN_DATABASE_URL": db_url, "CHAKUSHIN_DATA_DIR": str(tmp_path)}
    for setup in (("line", "add", CONTRACT), ("number", "add", CONTRACT, EXTRA)):
        result = CliRunner().invoke(cli, list(setup), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.stderr
    status, modules = imported_by(db_url, tmp_path, *args)
    assert status in (0, 1)  # status exits 1: no node runs
    assert "chakushin.cli.provisioning" in modules or args == ("status",)
    assert heavy_of(modules) == []


def test_issue18_OPS_2_importing_the_cli_imports_no_command() -> None:
    done = subprocess.run(
        [sys.executable, "-c", LIST_MODULES],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    modules = set(json.loads(done.stdout))
    command_modules = sorted(
        name
        for name in modules
        if name.startswith("chakushin.cli.") and name not in {"chakushin.cli.app"}
    )
    assert command_modules == []
    assert heavy_of(modules) == []
    assert "chakushin.cli_prompts" not in modules


def test_issue18_OPS_2_the_root_lists_every_command_by_its_own_name() -> None:
    ctx = click.Context(cli)
    assert tuple(cli.list_commands(ctx)) == ROOT_COMMANDS
    for name in ROOT_COMMANDS:
        command = cli.get_command(ctx, name)
        assert isinstance(command, click.Command) and command.name == name
        assert cli.commands[name] is command
    assert cli.get_command(ctx, "no-such-command") is None
    listed = CliRunner().invoke(cli, ["--help"]).stdout
    shown = [line.split()[0] for line in listed.split("Commands:\n")[1].splitlines() if line]
    assert tuple(shown) == ROOT_COMMANDS


def test_issue18_OPS_2_an_unknown_command_is_still_a_usage_error() -> None:
    result = CliRunner().invoke(cli, ["lines"])
    assert result.exit_code == 2
    assert "No such command 'lines'" in result.stderr
    assert "Did you mean" in result.stderr and "line" in result.stderr
