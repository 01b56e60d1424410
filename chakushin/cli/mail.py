"""``chakushin mail``: the incoming-call notification mail of a number (MAIL-1 ... MAIL-5).

Start and stop (MAIL-1), the conditions (MAIL-4), the destination
addresses (MAIL-2/3), the designated caller numbers (MAIL-5) and the test
mail (MAIL-2). Every write shows the number as it now is.
"""

from __future__ import annotations

import click

from chakushin import bootstrap
from chakushin.cli.app import App, Group, fail, pass_app
from chakushin.cli.output import ON_OFF, change_number, emit, on_off
from store import service
from store.errors import DomainError


@click.group(cls=Group)
def mail() -> None:
    """Incoming-call notification mail (MAIL-1 ... MAIL-5)."""


@mail.command("start")
@click.argument("number")
@pass_app
def mail_start(app: App, number: str) -> None:
    """Start the service (MAIL-1: needs a destination address)."""
    change_number(app, number, lambda session: service.start_mail(session, number))


@mail.command("stop")
@click.argument("number")
@pass_app
def mail_stop(app: App, number: str) -> None:
    """Stop the service."""
    change_number(app, number, lambda session: service.stop_mail(session, number))


@mail.command("conditions")
@click.argument("number")
@click.option(
    "--designated-only",
    type=ON_OFF,
    callback=on_off,
    help="Notify only calls from designated numbers.",
)
@click.option(
    "--unanswered-only", type=ON_OFF, callback=on_off, help="Notify only calls not answered."
)
@pass_app
@click.pass_context
def mail_conditions(
    ctx: click.Context,
    app: App,
    number: str,
    designated_only: bool | None,
    unanswered_only: bool | None,
) -> None:
    """Set the mail conditions (MAIL-4): one option or both."""
    if designated_only is None and unanswered_only is None:
        fail(
            ctx,
            "usage",
            "nothing to set: give --designated-only on|off and/or --unanswered-only on|off",
        )
    change_number(
        app,
        number,
        lambda session: service.set_conditions(
            session, number, designated_only=designated_only, unanswered_only=unanswered_only
        ),
    )


@mail.command("test")
@click.argument("number")
@click.argument("address")
@pass_app
def mail_test(app: App, number: str, address: str) -> None:
    """Send a test mail to ADDRESS now and show the mail server's reply (MAIL-2)."""
    import asyncio

    send_test = bootstrap.send_test(app.config, app.sessions())
    result = asyncio.run(send_test(number, address))
    data = {"accepted": result.ok, "permanent": result.permanent, "reply": result.reply}
    if not result.ok:
        raise DomainError(
            f"the mail server did not accept the test mail: {result.reply}",
            code="test_mail_refused",
        )
    emit(app, data, lambda: f"test mail to {address} accepted: {result.reply}")


# --- destination addresses ------------------------------------------------------------


@mail.group("address")
def mail_address() -> None:
    """Destination addresses (at most 5, MAIL-2/3)."""


@mail_address.command("add")
@click.argument("number")
@click.argument("address")
@click.option("--send/--no-send", default=True, show_default=True, help="The send flag.")
@pass_app
def address_add(app: App, number: str, address: str, send: bool) -> None:
    """Add a destination address."""
    change_number(
        app, number, lambda session: service.add_address(session, number, address, send=send)
    )


@mail_address.command("remove")
@click.argument("number")
@click.argument("address")
@pass_app
def address_remove(app: App, number: str, address: str) -> None:
    """Remove a destination address."""
    change_number(app, number, lambda session: service.remove_address(session, number, address))


@mail_address.command("send")
@click.argument("number")
@click.argument("address")
@click.argument("flag", type=ON_OFF, callback=on_off)
@pass_app
def address_send(app: App, number: str, address: str, flag: bool) -> None:
    """Set an address's send flag on or off."""
    change_number(
        app, number, lambda session: service.set_address_send(session, number, address, flag)
    )


# --- designated caller numbers ----------------------------------------------------------


@mail.group("designated")
def mail_designated() -> None:
    """Designated caller numbers (at most 30, MAIL-5)."""


@mail_designated.command("add")
@click.argument("number")
@click.argument("caller_number")
@click.option("--designated/--not-designated", default=True, show_default=True)
@pass_app
def designated_add(app: App, number: str, caller_number: str, designated: bool) -> None:
    """Add a designated caller number."""
    change_number(
        app,
        number,
        lambda session: service.add_designated(
            session, number, caller_number, designated=designated
        ),
    )


@mail_designated.command("remove")
@click.argument("number")
@click.argument("caller_number")
@pass_app
def designated_remove(app: App, number: str, caller_number: str) -> None:
    """Remove a designated caller number."""
    change_number(
        app, number, lambda session: service.remove_designated(session, number, caller_number)
    )


@mail_designated.command("flag")
@click.argument("number")
@click.argument("caller_number")
@click.argument("flag", type=ON_OFF, callback=on_off)
@pass_app
def designated_flag(app: App, number: str, caller_number: str, flag: bool) -> None:
    """Set the "designated" flag of a caller number on or off."""
    change_number(
        app,
        number,
        lambda session: service.set_designated_flag(session, number, caller_number, flag),
    )
