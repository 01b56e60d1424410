"""Provisioning (OPS-2): ``chakushin line`` and ``chakushin number``.

Lines (契約者回線) with their auth unit, and their subscriber numbers;
every write is one transaction through ``store.service``.
"""

from __future__ import annotations

import click
from click.core import ParameterSource

from chakushin.cli.app import App, Group, pass_app
from chakushin.cli.output import (
    change_number,
    emit,
    line_data,
    number_data,
    render_number,
    services_of,
    show_number,
)
from store import service
from store.models import AuthUnit, Service

AUTH_UNIT = click.Choice([u.value for u in AuthUnit])
SERVICE = click.Choice([s.value for s in Service])
# Issue 17: a number rings its devices (one, or up to 8 joined by &) or waits in an
# Asterisk queue; store.service checks every value (one line, nothing written).
ENDPOINT_OPTION = click.option(
    "--endpoint",
    help="Asterisk dial string of the device(s) that ring this number "
    "(up to 8 joined by &: 'PJSIP/201&PJSIP/202').",
)
QUEUE_OPTION = click.option(
    "--queue", help="Asterisk queue (queues.conf) the calls wait in instead of ringing devices."
)
QUEUE_SECONDS_OPTION = click.option(
    "--queue-seconds",
    type=int,
    help="Queue timeout, 5-300 s (default: call.ring_seconds; Voice Warp on no answer "
    "waits its own ring time).",
)


# --- lines ------------------------------------------------------------------------------


@click.group(cls=Group)
def line() -> None:
    """Lines (契約者回線) and their auth unit."""


@line.command("add")
@click.argument("contract_number")
@click.option("--auth-unit", type=AUTH_UNIT, default=AuthUnit.LINE.value, show_default=True)
@click.option(
    "--endpoint",
    help="Asterisk dial string of the device(s) that ring the contract number "
    "(up to 8 joined by &: 'PJSIP/201&PJSIP/202').",
)
@QUEUE_OPTION
@QUEUE_SECONDS_OPTION
@click.option("--timezone", help="IANA time zone (default: the config's timezone).")
@click.option("--services", help="Comma-separated services (default: all).")
@pass_app
def line_add(
    app: App,
    contract_number: str,
    auth_unit: str,
    endpoint: str | None,
    queue: str | None,
    queue_seconds: int | None,
    timezone: str | None,
    services: str | None,
) -> None:
    """Add a line with its contract number (ringing its devices or a queue)."""
    with app.transaction() as session:
        added = service.add_line(
            session,
            contract_number,
            auth_unit=AuthUnit(auth_unit),
            timezone=timezone or app.config.timezone,
            endpoint=endpoint,
            services=services_of(services),
            queue=queue,
            queue_seconds=queue_seconds,
        )
        data = line_data(added)
    emit(app, data, lambda: f"line {contract_number} added (auth unit {auth_unit})")


@line.command("list")
@pass_app
def line_list(app: App) -> None:
    """List the lines with their numbers."""
    with app.transaction() as session:
        data = [line_data(x) for x in service.list_lines(session)]

    def text() -> str:
        if not data:
            return "no lines"
        return "\n".join(
            f"{x['contract_number']}  {x['auth_unit']:<10}  {len(x['numbers'])} number(s)"
            for x in data
        )

    emit(app, data, text)


@line.command("show")
@click.argument("contract_number")
@pass_app
def line_show(app: App, contract_number: str) -> None:
    """Show a line and every setting of its numbers."""
    with app.transaction() as session:
        found = service.get_line(session, contract_number)
        data = {**line_data(found), "numbers": [number_data(session, n) for n in found.numbers]}

    def text() -> str:
        head = f"line {contract_number}, auth unit {data['auth_unit']}"
        return "\n\n".join([head, *(render_number(n) for n in data["numbers"])])

    emit(app, data, text)


@line.command("remove")
@click.argument("contract_number")
@click.option("--yes", is_flag=True, help="Confirm: removes every number and setting of the line.")
@pass_app
def line_remove(app: App, contract_number: str, yes: bool) -> None:
    """Remove a line with all its numbers and settings."""
    if not yes:
        raise click.UsageError("removing a line removes all its numbers and settings; add --yes")
    with app.transaction() as session:
        service.remove_line(session, contract_number)
    emit(app, {"removed": contract_number}, lambda: f"line {contract_number} removed")


@line.command("auth-unit")
@click.argument("contract_number")
@click.argument("auth_unit", type=AUTH_UNIT)
@pass_app
def line_auth_unit(app: App, contract_number: str, auth_unit: str) -> None:
    """Set the auth unit (line, number, admin_user) of a line."""
    with app.transaction() as session:
        data = line_data(service.set_auth_unit(session, contract_number, AuthUnit(auth_unit)))
    emit(app, data, lambda: f"line {contract_number}: auth unit {auth_unit}")


# --- numbers -------------------------------------------------------------------------


@click.group(cls=Group)
def number() -> None:
    """Subscriber numbers (contract and additional)."""


@number.command("add")
@click.argument("contract_number")
@click.argument("number")
@ENDPOINT_OPTION
@QUEUE_OPTION
@QUEUE_SECONDS_OPTION
@click.option("--timezone", help="IANA time zone (default: the config's timezone).")
@click.option("--services", help="Comma-separated services (default: all).")
@pass_app
def number_add(
    app: App,
    contract_number: str,
    number: str,
    endpoint: str | None,
    queue: str | None,
    queue_seconds: int | None,
    timezone: str | None,
    services: str | None,
) -> None:
    """Add an additional number to the line CONTRACT_NUMBER (ringing its devices or a queue)."""
    change_number(
        app,
        number,
        lambda session: service.add_number(
            session,
            contract_number,
            number,
            timezone=timezone or app.config.timezone,
            endpoint=endpoint,
            services=services_of(services),
            queue=queue,
            queue_seconds=queue_seconds,
        ),
    )


@number.command("list")
@click.option("--line", "contract_number", help="Only the numbers of this line.")
@pass_app
def number_list(app: App, contract_number: str | None) -> None:
    """List subscriber numbers."""
    with app.transaction() as session:
        data = [
            {
                "number": n.number,
                "contract_number": n.line.contract_number,
                "is_contract": n.is_contract,
                "mail_started": n.notification.started,
            }
            for n in service.list_numbers(session, contract_number)
        ]

    def text() -> str:
        return (
            "\n".join(
                f"{x['number']:<12} line {x['contract_number']:<12} "
                f"{'contract' if x['is_contract'] else 'additional':<10} "
                f"mail {'started' if x['mail_started'] else 'stopped'}"
                for x in data
            )
            or "no numbers"
        )

    emit(app, data, text)


@number.command("show")
@click.argument("number")
@click.option("--calls", is_flag=True, help="Also the recent calls and each mail's delivery.")
@click.option(
    "--limit",
    type=click.IntRange(1, 1000),
    default=20,
    show_default=True,
    help="How many calls --calls lists, newest first.",
)
@pass_app
def number_show(app: App, number: str, calls: bool, limit: int) -> None:
    """Show everything about one number (with --calls: what became of its mails)."""
    given = click.get_current_context().get_parameter_source("limit")
    if not calls and given is ParameterSource.COMMANDLINE:
        raise click.UsageError("--limit says how many calls --calls lists; add --calls")
    with app.transaction() as session:
        found = service.get_number(session, number)
        if not calls:
            show_number(app, session, found)
            return
        from chakushin.cli.calls import calls_data, render_calls  # only --calls needs it

        data = {**number_data(session, found), **calls_data(session, number, limit)}
    emit(app, data, lambda: f"{render_number(data)}\n{render_calls(data, limit)}")


@number.command("remove")
@click.argument("number")
@click.option("--yes", is_flag=True, help="Confirm: removes the number's settings too.")
@pass_app
def number_remove(app: App, number: str, yes: bool) -> None:
    """Remove an additional number and its settings."""
    if not yes:
        raise click.UsageError("removing a number removes all its settings; add --yes")
    with app.transaction() as session:
        service.remove_number(session, number)
    emit(app, {"removed": number}, lambda: f"number {number} removed")


@number.command("set")
@click.argument("number")
@ENDPOINT_OPTION
@click.option(
    "--no-endpoint", is_flag=True, help="Clear the endpoint (calls ring call.fallback_endpoint)."
)
@QUEUE_OPTION
@QUEUE_SECONDS_OPTION
@click.option(
    "--no-queue",
    is_flag=True,
    help="Leave the queue (calls ring call.fallback_endpoint until an --endpoint is given).",
)
@click.option("--timezone", help="IANA time zone for this number's mails.")
@pass_app
def number_set(
    app: App,
    number: str,
    endpoint: str | None,
    no_endpoint: bool,
    queue: str | None,
    queue_seconds: int | None,
    no_queue: bool,
    timezone: str | None,
) -> None:
    """Change a number's devices, queue or time zone (devices or a queue, not both)."""
    change_number(
        app,
        number,
        lambda session: service.update_number(
            session,
            number,
            endpoint=endpoint,
            clear_endpoint=no_endpoint,
            queue=queue,
            queue_seconds=queue_seconds,
            clear_queue=no_queue,
            timezone=timezone,
        ),
    )


@number.command("services")
@click.argument("number")
@click.option("--enable", multiple=True, type=SERVICE, help="Subscribe to a service.")
@click.option("--disable", multiple=True, type=SERVICE, help="Unsubscribe (also switches it off).")
@pass_app
def number_services(
    app: App, number: str, enable: tuple[str, ...], disable: tuple[str, ...]
) -> None:
    """Subscribe or unsubscribe a number's services."""
    change_number(
        app,
        number,
        lambda session: service.set_services(
            session,
            number,
            enable=[Service(s) for s in enable],
            disable=[Service(s) for s in disable],
        ),
    )
