"""The ``chakushin`` command (OPS-2): provisioning and settings for operators.

Every command that writes runs in one transaction through ``store.service``,
so bad input exits non-zero with a one-line reason and writes nothing.
``--json`` (on any command, or before it) prints machine-readable output.

One module per command group: ``app`` (the context, ``--json``, the one
exit of errors), ``output`` (text and JSON, the shape of a write), ``run``
(serve and its one-role forms, demo, status, config, db, dialplan),
``provisioning`` (line, number), ``devices`` (device: the names of devices
and queue members, issue 17), ``mail``, ``chat`` (a number's chat and
webhook destinations, issue 19), ``phonebook`` (a number's caller names,
issue 19) and ``services`` (nuisance,
number-request, voice-warp), ``support`` (the support desk's otp-reset and
temp-password), ``asterisk`` (check: the carrier trunk as Asterisk loaded
it, over AMI), ``api`` (the provisioning API's tokens, issue 18) and
``importer`` (import: lines and numbers from a file, issue 18). The table
below is every command of the root, by the module that defines it.
"""

from __future__ import annotations

from collections.abc import Mapping

from chakushin.cli.app import App, cli

__all__ = ["App", "cli", "main"]

# Each command's module is imported when the command runs (issue 18): a read
# command starts without the site, the API, the servers and the migrations.
COMMANDS: Mapping[str, str] = {
    "config": "chakushin.cli.run:config",
    "db": "chakushin.cli.run:db_group",
    "serve": "chakushin.cli.run:serve_command",
    "site": "chakushin.cli.run:site_command",
    "status": "chakushin.cli.run:status_command",
    "demo": "chakushin.cli.run:demo_command",
    "agi-server": "chakushin.cli.run:agi_server",
    "notifier": "chakushin.cli.run:notifier_command",
    "dialplan": "chakushin.cli.run:dialplan_group",
    "line": "chakushin.cli.provisioning:line",
    "number": "chakushin.cli.provisioning:number",
    "device": "chakushin.cli.devices:device",
    "mail": "chakushin.cli.mail:mail",
    "chat": "chakushin.cli.chat:chat",
    "nuisance": "chakushin.cli.services:nuisance",
    "number-request": "chakushin.cli.services:number_request",
    "voice-warp": "chakushin.cli.services:voice_warp",
    "phonebook": "chakushin.cli.phonebook:phonebook_group",
    "support": "chakushin.cli.support:support",
    "asterisk": "chakushin.cli.asterisk:asterisk",
    "api": "chakushin.cli.api:api",
    "import": "chakushin.cli.importer:import_command",
    "prompts": "chakushin.cli_prompts:prompts",
}
cli.add_lazy_commands(COMMANDS)


def main() -> None:
    cli(prog_name="chakushin", obj=App(config_path=None))
