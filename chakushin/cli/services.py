"""The supplementary services of a number (CALL-2 ... CALL-4).

``chakushin nuisance`` (迷惑電話おことわり), ``chakushin number-request``
(ナンバー・リクエスト) and ``chakushin voice-warp`` (ボイスワープ); every
write shows the number as it now is.
"""

from __future__ import annotations

import click

from chakushin.cli.app import App, Command, Group, pass_app
from chakushin.cli.output import ON_OFF, change_number, on_off
from store import service
from store.models import VoiceWarpMode


@click.group(cls=Group)
def nuisance() -> None:
    """Nuisance-call list (迷惑電話おことわり, at most 30, CALL-2)."""


@nuisance.command("add")
@click.argument("number")
@click.argument("caller_number")
@click.option("--hidden", is_flag=True, help="Never show this caller number (withheld caller).")
@pass_app
def nuisance_add(app: App, number: str, caller_number: str, hidden: bool) -> None:
    """Add a caller to the nuisance list."""
    change_number(
        app,
        number,
        lambda session: service.add_nuisance(session, number, caller_number, hidden=hidden),
    )


@nuisance.command("remove")
@click.argument("number")
@click.argument("caller_number", required=False)
@click.option("--position", type=int, help="Remove the entry at this list position.")
@pass_app
def nuisance_remove(app: App, number: str, caller_number: str | None, position: int | None) -> None:
    """Remove a caller (by number, or by --position for withheld callers)."""
    change_number(
        app,
        number,
        lambda session: service.remove_nuisance(
            session, number, caller_number=caller_number, position=position
        ),
    )


@click.command("number-request", cls=Command)
@click.argument("number")
@click.option("--on/--off", "enabled", default=None, help="Switch Number Request on or off.")
@click.option(
    "--reject-payphone", type=ON_OFF, callback=on_off, help="Also refuse payphone callers."
)
@click.option(
    "--reject-unavailable",
    type=ON_OFF,
    callback=on_off,
    help="Also refuse callers without a number.",
)
@pass_app
def number_request(
    app: App,
    number: str,
    enabled: bool | None,
    reject_payphone: bool | None,
    reject_unavailable: bool | None,
) -> None:
    """Number Request (ナンバー・リクエスト, CALL-3): refuse withheld callers."""
    change_number(
        app,
        number,
        lambda session: service.set_number_request(
            session,
            number,
            enabled=enabled,
            reject_payphone=reject_payphone,
            reject_unavailable=reject_unavailable,
        ),
    )


@click.command("voice-warp", cls=Command)
@click.argument("number")
@click.option("--on/--off", "enabled", default=None, help="Switch forwarding on or off.")
@click.option("--mode", type=click.Choice([m.value for m in VoiceWarpMode]))
@click.option("--to", "destination", help="Forwarding destination number.")
@click.option("--ring-seconds", type=int, help="Ring time before no-answer forwarding (5-60).")
@pass_app
def voice_warp(
    app: App,
    number: str,
    enabled: bool | None,
    mode: str | None,
    destination: str | None,
    ring_seconds: int | None,
) -> None:
    """Voice Warp (ボイスワープ, CALL-4): call forwarding."""
    change_number(
        app,
        number,
        lambda session: service.set_voice_warp(
            session,
            number,
            enabled=enabled,
            mode=VoiceWarpMode(mode) if mode else None,
            destination=destination,
            ring_seconds=ring_seconds,
        ),
    )
