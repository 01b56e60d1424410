"""The shipped systemd units and the operator guide agree with the code (OPS-1, OPS-4).

The guide (``docs/operator-guide.md``) and the units in ``deploy/`` name
commands, options and config keys; these tests fail when one of them no
longer exists, so the documentation cannot drift from the CLI and the
config silently.
"""

from __future__ import annotations

import configparser
import dataclasses
import re
import shlex
import typing
from pathlib import Path

import click
import pytest

from chakushin.cli import cli
from chakushin.config import Config

ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "operator-guide.md"
DEPLOY = ROOT / "deploy"
UNIT = DEPLOY / "chakushin.service"
# What serve needs after its own grace: the notifier's last batch, the
# node's final report and the metrics server's stop.
STOP_MARGIN_SECONDS = 10


def read_unit(path: Path) -> configparser.ConfigParser:
    # systemd allows repeated keys (the last wins, or they add up); strict=False
    # keeps the last one, which is enough for the keys checked here.
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]  # keys are case-sensitive
    parser.read(path, encoding="utf-8")
    return parser


def seconds(value: str) -> float:
    """A systemd time span ("45", "45s", "1min 30s") in seconds."""
    units = {"": 1, "s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value.strip()):
        assert unit in units, f"time unit {unit!r} in {value!r} not understood by this test"
        total += float(number) * units[unit]
    return total


# --- the unit -------------------------------------------------------------------------


def test_OPS_1_unit_runs_the_serve_command_of_the_venv() -> None:
    service = read_unit(UNIT)["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/.venv/bin/chakushin"), command
    assert command[1:] == ["serve"]
    assert isinstance(cli, click.Group)
    assert "serve" in cli.commands
    assert not isinstance(cli.commands["serve"], click.Group)


def test_OPS_1_unit_gives_the_shutdown_grace_time_to_finish() -> None:
    service = read_unit(UNIT)["Service"]
    grace = Config().serve.shutdown_timeout_seconds
    stop_timeout = seconds(service["TimeoutStopSec"])
    assert stop_timeout > grace
    assert stop_timeout >= grace + STOP_MARGIN_SECONDS, (
        f"TimeoutStopSec={stop_timeout:g} leaves less than {STOP_MARGIN_SECONDS} s after "
        f"serve.shutdown_timeout_seconds={grace}: systemd would kill a clean stop"
    )
    assert service["KillSignal"] == "SIGTERM"


def test_OPS_1_unit_restarts_always_as_an_unprivileged_user() -> None:
    unit = read_unit(UNIT)
    service = unit["Service"]
    # AMI does not replay the events of calls that end while no notifier runs.
    assert service["Restart"] == "always"
    assert service.get("User", "root") not in ("root", "0", "")
    assert service.get("Group", "root") not in ("root", "0", "")
    assert service["NoNewPrivileges"] == "true"
    assert service["ProtectSystem"] == "strict"
    assert "/var/lib/chakushin" in service["ReadWritePaths"].split()
    assert service["Environment"].startswith("CHAKUSHIN_CONFIG=")
    assert unit["Install"]["WantedBy"] == "multi-user.target"


def test_OPS_4_status_unit_runs_the_status_command() -> None:
    service = read_unit(DEPLOY / "chakushin-status.service")["Service"]
    command = shlex.split(service["ExecStart"])
    assert command[0].endswith("/.venv/bin/chakushin")
    assert command[1:] == ["status"]
    assert "status" in cli.commands
    assert service["Type"] == "oneshot"
    assert service.get("User", "root") not in ("root", "0", "")
    timer = read_unit(DEPLOY / "chakushin-status.timer")
    assert timer["Install"]["WantedBy"] == "timers.target"


# --- the guide: commands ------------------------------------------------------------------


def code_blocks(text: str) -> list[str]:
    return re.findall(r"^```[^\n]*\n(.*?)^```", text, flags=re.MULTILINE | re.DOTALL)


# Shell control operators and redirections, as shlex's punctuation_chars splits them.
OPERATOR = re.compile(r"[();<>|&]+")


def commands_in(line: str) -> list[list[str]]:
    """The arguments of every ``chakushin`` command in one shell line (or ExecStart=)."""
    lexer = shlex.shlex(line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    tokens = list(lexer)
    found = []
    at_start = True  # the token begins a command (not an argument of another)
    for i, token in enumerate(tokens):
        if OPERATOR.fullmatch(token):
            at_start = True
            continue
        program = token.removeprefix("ExecStart=")
        if (at_start and program == "chakushin") or program.endswith("/bin/chakushin"):
            rest = tokens[i + 1 :]
            if rest[:1] in (["("], ["()"]):  # the definition of a shell function
                continue
            args = []
            for word in rest:
                if OPERATOR.fullmatch(word):
                    break
                args.append(word)
            found.append(args)
        at_start = False
    return found


def guide_command_lines() -> list[list[str]]:
    """Every ``chakushin`` command in the guide's code blocks, as its arguments."""
    found = []
    for block in code_blocks(GUIDE.read_text(encoding="utf-8")):
        for line in block.splitlines():
            try:
                found += commands_in(line)
            except ValueError:  # not shell (an apostrophe in a config comment)
                assert not re.match(r"\s*(\S*/bin/)?chakushin\s", line), line
                assert "/bin/chakushin" not in line, line
    return found


def _option(command: click.Command, ctx: click.Context, name: str) -> click.Option | None:
    for param in command.get_params(ctx):
        if isinstance(param, click.Option) and name in (*param.opts, *param.secondary_opts):
            return param
    return None


def check_command_line(args: list[str]) -> str | None:
    """Walk ``args`` through the click groups; return what is wrong, or None."""
    command: click.Command = cli
    ctx = click.Context(cli, info_name="chakushin")
    path = ["chakushin"]
    positional: list[str] = []
    words = iter(args)
    for word in words:
        if word == "$@":  # the guide's shell function passes any command on
            return None
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            option = _option(command, ctx, name)
            if option is None:
                return f"{' '.join(path)} has no option {name}"
            if not option.is_flag and option.nargs == 1 and "=" not in word:
                next(words, None)
            continue
        if isinstance(command, click.Group):
            sub = command.get_command(ctx, word)
            if sub is None:
                return f"{' '.join(path)} has no command {word!r}"
            command, path = sub, [*path, word]
            ctx = click.Context(command, info_name=word, parent=ctx)
            continue
        positional.append(word)
    if isinstance(command, click.Group):
        return f"{' '.join(path)} is a group: a subcommand is missing"
    arguments = [p for p in command.get_params(ctx) if isinstance(p, click.Argument)]
    required = sum(1 for a in arguments if a.required)
    if not required <= len(positional) <= len(arguments):
        return (
            f"{' '.join(path)} takes {required}-{len(arguments)} argument(s), "
            f"the guide gives {len(positional)}: {positional}"
        )
    return None


def test_OPS_2_guide_shows_only_commands_that_exist() -> None:
    commands = guide_command_lines()
    assert len(commands) > 20, "the guide's chakushin commands were not found"
    problems = []
    for args in commands:
        problem = check_command_line(args)
        if problem:
            problems.append(f"chakushin {shlex.join(args)}: {problem}")
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("status --forget NODE", None),
        ("--json line show 0312345678", None),
        ("--config /etc/c.toml dialplan render --out /tmp/x", None),
        ("voice-warp 0312345679 --to 09012345678 --mode no_answer --on", None),
        ("db migrate", "no command 'migrate'"),
        ("status --watch", "has no option --watch"),
        ("mail address", "is a group"),
        ("mail start", "takes 1-1 argument(s)"),
    ],
)
def test_the_command_check_itself(line: str, expected: str | None) -> None:
    problem = check_command_line(shlex.split(line))
    if expected is None:
        assert problem is None
    else:
        assert problem is not None and expected in problem


# --- the guide: config keys -------------------------------------------------------------

# `name.suffix` in backticks that is a file, not a config key.
FILE_SUFFIXES = {"toml", "conf", "db", "service", "timer", "target", "md", "py", "sh", "txt"}


def config_keys() -> set[str]:
    keys: set[str] = set()
    hints = typing.get_type_hints(Config)
    for section in dataclasses.fields(Config):
        kind = hints[section.name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            keys |= {f"{section.name}.{f.name}" for f in dataclasses.fields(kind)}
        elif not section.metadata.get("internal"):
            keys.add(section.name)
    return keys


def guide_config_keys() -> set[str]:
    text = GUIDE.read_text(encoding="utf-8")
    found = re.findall(r"`([a-z_]+\.[a-z_]+)(?:\s*=[^`]*)?`", text)
    return {key for key in found if key.rsplit(".", 1)[1] not in FILE_SUFFIXES}


def test_OPS_1_guide_names_only_config_keys_that_exist() -> None:
    named = guide_config_keys()
    assert "serve.shutdown_timeout_seconds" in named  # the pattern finds them
    unknown = sorted(named - config_keys())
    assert not unknown, f"the guide names config keys that chakushin.config lacks: {unknown}"
