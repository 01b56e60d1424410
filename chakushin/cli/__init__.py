"""The ``chakushin`` command (OPS-2): provisioning and settings for operators.

Every command that writes runs in one transaction through ``store.service``,
so bad input exits non-zero with a one-line reason and writes nothing.
``--json`` (on any command, or before it) prints machine-readable output.

One module per command group: ``app`` (the context, ``--json``, the one
exit of errors), ``output`` (text and JSON, the shape of a write), ``run``
(serve and its one-role forms, demo, status, config, db, dialplan),
``provisioning`` (line, number), ``devices`` (device: the names of devices
and queue members, issue 17), ``mail`` and ``services`` (nuisance,
number-request, voice-warp), ``support`` (the support desk's otp-reset and
temp-password), ``asterisk`` (check: the carrier trunk as Asterisk loaded
it, over AMI), ``api`` (the provisioning API's tokens, issue 18) and
``importer`` (import: lines and numbers from a file, issue 18). The table
below is every command of the root.
"""

from __future__ import annotations

import click

from chakushin.cli import (
    api,
    asterisk,
    devices,
    importer,
    mail,
    provisioning,
    run,
    services,
    support,
)
from chakushin.cli.app import App, cli
from chakushin.cli_prompts import prompts

__all__ = ["App", "cli", "main"]

COMMANDS: tuple[click.Command, ...] = (
    run.config,
    run.db_group,
    run.serve_command,
    run.site_command,
    run.status_command,
    run.demo_command,
    run.agi_server,
    run.notifier_command,
    run.dialplan_group,
    provisioning.line,
    provisioning.number,
    devices.device,
    mail.mail,
    services.nuisance,
    services.number_request,
    services.voice_warp,
    support.support,
    asterisk.asterisk,
    api.api,
    importer.import_command,
    prompts,
)
for _command in COMMANDS:
    cli.add_command(_command)


def main() -> None:
    cli(prog_name="chakushin", obj=App(config_path=None))
