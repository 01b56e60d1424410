"""What the ``chakushin`` commands print (OPS-2), and the one shape of their writes.

Text for people, ``--json`` for scripts; both from the same data
(``number_data``: ``store.service.describe_number`` with the names of the
number's devices), so the two never disagree.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
from sqlalchemy.orm import Session

from chakushin.cli.app import App
from store import service, validation
from store.models import Line, Number, Service


def emit(app: App, data: Any, text: Callable[[], str]) -> None:
    """``data`` as JSON with ``--json``, else ``text()`` (after the commit inside a transaction)."""
    if app.json:
        app.echo(json.dumps(data, ensure_ascii=False, indent=2))
    else:
        app.echo(text())


def on_off(_ctx: click.Context, _param: click.Parameter, value: str | None) -> bool | None:
    return None if value is None else value.lower() == "on"


ON_OFF = click.Choice(["on", "off"], case_sensitive=False)


def services_of(value: str | None) -> list[Service]:
    """``--services mail,voice_warp`` as services (default: all)."""
    if value is None:
        return list(Service)
    names = [part.strip() for part in value.split(",") if part.strip()]
    wrong = [n for n in names if n not in {s.value for s in Service}]
    if wrong:
        raise click.BadParameter(
            f"unknown service(s) {', '.join(wrong)}; known: {', '.join(s.value for s in Service)}"
        )
    return [Service(n) for n in names]


def _yes(flag: bool) -> str:
    return "on" if flag else "off"


# store.service.mail.mail_warnings' codes, as ``number show`` says them.
WARNINGS = {
    "designated_only_without_numbers": (
        "designated only is on but no designated number is ticked: no call is mailed"
    ),
}


def device_shown(device: dict[str, Any]) -> str:
    """Issue 17: 受付 (PJSIP/201) for a named device, else PJSIP/201."""
    interface, label = device["interface"], device["label"]
    return f"{label} ({interface})" if label else str(interface)


def queue_shown(d: dict[str, Any]) -> str:
    """Issue 17: the queue and Queue()'s timeout (default: call.ring_seconds)."""
    if not d["queue"]:
        return "-"
    seconds = d["queue_seconds"]
    timeout = f"{seconds} s" if seconds else "default: call.ring_seconds"
    return f"{d['queue']} (timeout {timeout})"


def render_number(d: dict[str, Any]) -> str:
    mail = d["mail"]
    role = "contract number" if d["is_contract"] else "additional number"
    lines = [
        f"{d['number']}  ({role} of line {d['contract_number']}, auth unit {d['auth_unit']})",
        f"  endpoint:        {d['endpoint'] or '-'}",
    ]
    if d["devices"]:
        lines.append(f"  devices ({len(d['devices'])}/{validation.MAX_DEVICES}):")
        lines += [f"    {device_shown(x)}" for x in d["devices"]]
    lines += [
        f"  queue:           {queue_shown(d)}",
        f"  time zone:       {d['timezone']}",
        f"  services:        {', '.join(d['services']) or '-'}",
        f"  mail service:    {'started' if mail['started'] else 'stopped'}",
        f"  conditions:      designated only {_yes(mail['designated_only'])}, "
        f"unanswered only {_yes(mail['unanswered_only'])}",
        *(f"  warning: {WARNINGS[code]}" for code in mail["warnings"]),
        f"  addresses ({len(mail['addresses'])}/5):",
    ]
    lines += [
        f"    {a['position']}. {a['address']}  send {_yes(a['send'])}" for a in mail["addresses"]
    ]
    lines.append(f"  designated numbers ({len(mail['designated_numbers'])}/30):")
    lines += [
        f"    {x['position']}. {x['caller_number']}  designated {_yes(x['designated'])}"
        for x in mail["designated_numbers"]
    ]
    lines.append(f"  nuisance list ({len(d['nuisance_list'])}/30):")
    lines += [
        f"    {x['position']}. {x['caller_number'] or '(withheld caller)'}"
        for x in d["nuisance_list"]
    ]
    nr, vw = d["number_request"], d["voice_warp"]
    lines.append(
        f"  number request:  {_yes(nr['enabled'])} (payphone {_yes(nr['reject_payphone'])}, "
        f"unavailable {_yes(nr['reject_unavailable'])})"
    )
    lines.append(
        f"  voice warp:      {_yes(vw['enabled'])} ({vw['mode']} to {vw['destination'] or '-'}, "
        f"ring {vw['ring_seconds']} s)"
    )
    return "\n".join(lines)


def number_data(session: Session, found: Number) -> dict[str, Any]:
    """``describe_number`` with each device as {"interface", "label"} (issue 17: the
    name ``chakushin device name`` gave it, else None)."""
    data = service.describe_number(found)
    labels = service.device_labels(session, data["devices"])
    data["devices"] = [{"interface": d, "label": labels.get(d)} for d in data["devices"]]
    return data


def show_number(app: App, session: Session, found: Number) -> None:
    data = number_data(session, found)
    emit(app, data, lambda: render_number(data))


def line_data(line: Line) -> dict[str, Any]:
    return {
        "contract_number": line.contract_number,
        "auth_unit": line.auth_unit.value,
        "numbers": [n.number for n in line.numbers],
    }


def change_number(app: App, number: str, change: Callable[[Session], object]) -> None:
    """The shape of every write to one number: one transaction, the change, then the number.

    The change runs through ``store.service`` (which refuses bad input
    before writing); the number is shown as it now is, after the commit
    (``App.transaction``), so a refused or failed write prints nothing.
    """
    with app.transaction() as session:
        change(session)
        show_number(app, session, service.get_number(session, number))
