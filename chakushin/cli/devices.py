"""Issue 17 (MAIL-9): ``chakushin device``, the names of devices and queue members.

A name is PBX-wide, by interface (PJSIP/201, Local/desk@phones/n): ``number
show`` lists a number's devices with it (受付 (PJSIP/201)) and a mail says who
answered with it (「応答：受付（PJSIP/201）」). ``store.service`` checks every
value; a refusal is one line and writes nothing.
"""

from __future__ import annotations

import click

from chakushin.cli.app import App, Group, pass_app
from chakushin.cli.output import emit
from store import service


@click.group(cls=Group)
def device() -> None:
    """Names of devices and queue members, shown by number show and in mails."""


@device.command("name")
@click.argument("interface")
@click.argument("label")
@pass_app
def device_name(app: App, interface: str, label: str) -> None:
    """Give INTERFACE (PJSIP/201, Local/desk@phones/n) the name LABEL (1-20 characters)."""
    with app.transaction() as session:
        named = service.name_device(session, interface, label)
        data = {"interface": named.interface, "label": named.label}
    emit(app, data, lambda: f"{data['interface']}: named {data['label']}")


@device.command("unname")
@click.argument("interface")
@pass_app
def device_unname(app: App, interface: str) -> None:
    """Remove the name of INTERFACE (mails then show the interface alone)."""
    with app.transaction() as session:
        service.unname_device(session, interface)
    emit(app, {"unnamed": interface}, lambda: f"{interface}: name removed")


@device.command("list")
@pass_app
def device_list(app: App) -> None:
    """List the named devices and queue members."""
    with app.transaction() as session:
        data = [
            {"interface": interface, "label": label}
            for interface, label in service.device_labels(session).items()
        ]

    def text() -> str:
        return "\n".join(f"{x['interface']}  {x['label']}" for x in data) or "no named devices"

    emit(app, data, text)
