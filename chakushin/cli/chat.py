"""``chakushin chat``: a number's chat and webhook destinations (issue 19, CHAT-1 ... CHAT-3).

Besides its five mail addresses a number has up to three destinations:
a Slack, Microsoft Teams or Discord webhook, a Chatwork room, or the
operator's own system (a generic webhook, signed per Standard Webhooks).
They follow the mail's conditions (a call that gets no mail gets no chat
message). Every write shows the number's destinations as they now are,
masked: a webhook URL's path and query, a Chatwork API token and a
signing secret are credentials, never printed, except the signing secret
once, when it is made (``add`` of a webhook, ``rotate-secret``).
``test`` posts the 送信テスト now (MAIL-2), as the site's button does, and
prints the receiver's answer.

Credentials are read from a file or standard input (``--url-file``,
``--token-file``, ``-`` for stdin), not from the command line, where
every user of the machine sees them in ``ps`` and the shell keeps them
in its history; ``--url`` is there for URLs that are no secret (a test
receiver).
"""

from __future__ import annotations

import datetime as dt
from typing import IO, Any

import click
from sqlalchemy.orm import Session

from chakushin import bootstrap
from chakushin.cli.app import App, Group, pass_app
from chakushin.cli.output import ON_OFF, emit, on_off
from store import destinations
from store.destinations import Shown
from store.errors import DomainError, InvalidInput
from store.models import ChatKind
from store.validation import MAX_DESTINATION_SECRET, MAX_DESTINATION_URL, MAX_DESTINATIONS

POSITION = click.IntRange(1, MAX_DESTINATIONS)
KINDS = click.Choice([k.value for k in ChatKind], case_sensitive=False)
# A credential file is read up to this many characters; a longer one is refused
# unread (it is not a URL or a token), not read whole into memory.
MAX_CREDENTIAL_FILE = 4 * max(MAX_DESTINATION_URL, MAX_DESTINATION_SECRET)


def read_credential(stream: IO[str], *, what: str, field: str) -> str:
    """A URL or token from a file or stdin: one line, surrounding whitespace dropped."""
    try:
        text = stream.read(MAX_CREDENTIAL_FILE + 1)
    except UnicodeDecodeError:
        raise InvalidInput(f"{what}: the file is not UTF-8 text", code=f"{field}_file") from None
    if len(text) > MAX_CREDENTIAL_FILE:
        raise InvalidInput(
            f"{what}: the file is longer than {MAX_CREDENTIAL_FILE} characters",
            code=f"{field}_file",
        )
    value = text.strip()
    if "\n" in value or "\r" in value:
        raise InvalidInput(f"{what}: the file must hold one line", code=f"{field}_file")
    return value


def shown_data(d: Shown) -> dict[str, Any]:
    return {
        "position": d.position,
        "kind": d.kind.value,
        "name": d.name,
        "label": d.label,
        "url": d.shown_url,
        "room_id": d.room_id,
        "send": d.send,
        "signed": d.signed,
        "test_sent_at": d.test_sent_at.isoformat() if d.test_sent_at else None,
    }


def shown_line(d: Shown) -> str:
    tested = f", test accepted {d.test_sent_at:%Y-%m-%d %H:%M} UTC" if d.test_sent_at else ""
    signed = ", signed" if d.signed else ""
    return (
        f"  {d.position}. {d.name} ({d.kind.value}), send {'on' if d.send else 'off'}: "
        f"{d.shown_url}{signed}{tested}"
    )


def listing_text(number: str, shown: list[Shown]) -> str:
    head = f"{number}: {len(shown)} of {MAX_DESTINATIONS} chat/webhook destinations"
    return "\n".join([head, *(shown_line(d) for d in shown)])


def _show(app: App, session: Session, number: str, extra: dict[str, Any] | None = None) -> None:
    """The number's destinations as they now are (after the commit), and ``extra``."""
    shown = destinations.destinations(session, number)
    data: dict[str, Any] = {"number": number, "destinations": [shown_data(d) for d in shown]}
    data |= extra or {}

    def text() -> str:
        lines = [listing_text(number, shown)]
        if extra and extra.get("secret"):
            lines.append(
                f"signing secret of destination {extra['position']} (shown once, keep it "
                f"in the receiver now): {extra['secret']}"
            )
        return "\n".join(lines)

    emit(app, data, text)


@click.group(cls=Group)
def chat() -> None:
    """Chat and webhook destinations of a number (at most 3; CHAT-1 ... CHAT-3).

    URLs and tokens are credentials: give them with --url-file/--token-file
    (a file, or - for standard input), not on the command line, where other
    users see them in ps.
    """


@chat.command("list")
@click.argument("number")
@pass_app
def chat_list(app: App, number: str) -> None:
    """The number's destinations, masked (no URL path, token or secret)."""
    with app.transaction() as session:
        _show(app, session, number)


@chat.command("add")
@click.argument("number")
@click.argument("kind", type=KINDS)
@click.option(
    "--url-file",
    type=click.File("r", encoding="utf-8"),
    help="A file holding the webhook URL (- for standard input). Preferred: a webhook "
    "URL is a credential.",
)
@click.option(
    "--url",
    help="The webhook URL on the command line. Visible to other users in ps and kept in "
    "the shell's history: only for URLs that are no secret; else use --url-file.",
)
@click.option("--room", "room_id", help="Chatwork: the room id (the digits after rid).")
@click.option(
    "--token-file",
    type=click.File("r", encoding="utf-8"),
    help="Chatwork: a file holding the room's API token (- for standard input). There is "
    "no option for the token itself: on the command line other users would see it in ps.",
)
@click.option("--label", default="", help="The destination's own name (at most 20 characters).")
@click.option("--off", is_flag=True, help="Add it with its send flag off (test it first).")
@pass_app
def chat_add(
    app: App,
    number: str,
    kind: str,
    url_file: IO[str] | None,
    url: str | None,
    room_id: str | None,
    token_file: IO[str] | None,
    label: str,
    off: bool,
) -> None:
    """Add a destination of KIND (slack, teams, discord, chatwork, webhook).

    A webhook's signing secret is printed once, now; nothing shows it again
    (rotate-secret makes a new one).
    """
    if url_file is not None and url is not None:
        raise click.UsageError("give --url or --url-file, not both")
    if url_file is not None:
        url = read_credential(url_file, what="destination URL", field="url")
    token = None
    if token_file is not None:
        token = read_credential(token_file, what="Chatwork API token", field="token")
    allow_hosts = app.config.chat.allow_hosts
    with app.transaction() as session:
        added, secret = destinations.add_destination(
            session,
            number,
            kind,
            url=url,
            room_id=room_id,
            token=token,
            label=label,
            send=not off,
            allow_hosts=allow_hosts,
            now=dt.datetime.now(dt.UTC),
        )
        _show(app, session, number, {"position": added.position, "secret": secret})


@chat.command("remove")
@click.argument("number")
@click.argument("position", type=POSITION)
@pass_app
def chat_remove(app: App, number: str, position: int) -> None:
    """Remove destination POSITION (its queued messages are not sent)."""
    with app.transaction() as session:
        destinations.remove_destination(session, number, position)
        _show(app, session, number)


@chat.command("send")
@click.argument("number")
@click.argument("position", type=POSITION)
@click.argument("flag", type=ON_OFF, callback=on_off)
@pass_app
def chat_send(app: App, number: str, position: int, flag: bool) -> None:
    """Set a destination's send flag on or off."""
    with app.transaction() as session:
        destinations.set_destination_send(session, number, position, flag)
        _show(app, session, number)


@chat.command("label")
@click.argument("number")
@click.argument("position", type=POSITION)
@click.argument("label")
@pass_app
def chat_label(app: App, number: str, position: int, label: str) -> None:
    """Name a destination ("" for none: it is then called by its kind)."""
    with app.transaction() as session:
        destinations.set_destination_label(session, number, position, label)
        _show(app, session, number)


@chat.command("rotate-secret")
@click.argument("number")
@click.argument("position", type=POSITION)
@pass_app
def chat_rotate_secret(app: App, number: str, position: int) -> None:
    """Make a webhook's signing secret anew and print it once (the old one stops verifying)."""
    with app.transaction() as session:
        secret = destinations.rotate_secret(session, number, position)
        _show(app, session, number, {"position": position, "secret": secret})


@chat.command("test")
@click.argument("number")
@click.argument("position", type=POSITION)
@pass_app
def chat_test(app: App, number: str, position: int) -> None:
    """Post the 送信テスト to a destination now and show the receiver's answer (MAIL-2).

    Sent whatever the send flag says (a test is how a new destination is
    checked before it is turned on); accepted, its time is kept and shown
    by ``list`` and the site, as the site's button keeps it.
    """
    import asyncio

    with app.transaction() as session:
        name = destinations.subscribed_destination(session, number, position).name
    send_test = bootstrap.chat_send_test(app.config, app.sessions())
    result = asyncio.run(send_test(number, position))
    if not result.ok:
        raise DomainError(
            f"the receiver did not accept the test notice: {result.reply}",
            code="test_chat_refused",
        )
    with app.transaction() as session:
        destinations.note_test_sent(session, number, position, now=dt.datetime.now(dt.UTC))
    data = {"number": number, "position": position, "accepted": True, "reply": result.reply}
    emit(app, data, lambda: f"test notice to {position}. {name} accepted: {result.reply}")
