"""``chakushin api``: the provisioning API's bearer tokens and its OpenAPI document (issue 18).

- ``token create NAME --scope read|write``: a new token; its secret is
  printed once, here (stdout, or the ``--json`` object), and only its
  SHA-256 is stored. The log event (warning level, written without ``-v``:
  a credential was made) names the token and its scope, never the secret.
- ``token list``: every token, revoked ones too (their names are in the logs).
- ``token revoke NAME``: refused at once by every node (each request checks
  the database); a name is never reused.
- ``openapi``: the OpenAPI 3.1 document the API serves at
  ``/api/v1/openapi.json`` (``docs/openapi.json`` is a copy CI compares).

The API itself (FastAPI, ``web.api``) is imported by ``openapi`` alone: the
token commands, like every command, start without it.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING, Any

import click
import structlog

from chakushin.cli.app import App, Group, pass_app
from chakushin.cli.output import emit

if TYPE_CHECKING:
    from store.api_tokens import TokenInfo

log = structlog.get_logger("cli")
SCOPES = ("read", "write")  # store.api_tokens.SCOPES (checked there too)


@click.group(cls=Group)
def api() -> None:
    """The provisioning API (/api/v1): its tokens and its OpenAPI document."""


@api.group(cls=Group)
def token() -> None:
    """Bearer tokens of the API: create (the secret shown once), list, revoke."""


def _when(at: dt.datetime | None) -> str | None:
    return at.astimezone(dt.UTC).isoformat() if at is not None else None


def _token_data(info: TokenInfo) -> dict[str, Any]:
    return {
        "name": info.name,
        "scope": info.scope,
        "created_at": _when(info.created_at),
        "last_used_at": _when(info.last_used_at),
        "revoked_at": _when(info.revoked_at),
    }


@token.command("create")
@click.argument("name")
@click.option(
    "--scope",
    type=click.Choice(SCOPES),
    required=True,
    help="read: GET only; write: every request.",
)
@pass_app
def token_create(app: App, name: str, scope: str) -> None:
    """Create the token NAME (1-40 of A-Z a-z 0-9 _ . -) and print its secret once.

    Send it as "Authorization: Bearer <secret>". Only its SHA-256 is stored:
    a lost secret cannot be shown again; revoke the token and create another.
    """
    from store import api_tokens

    now = dt.datetime.now(dt.UTC)
    with app.transaction() as session:
        info, secret = api_tokens.create_token(session, name, scope, now=now)
        log.warning("api_token_created", token=info.name, scope=info.scope)
        data = {**_token_data(info), "secret": secret}
        emit(
            app,
            data,
            lambda: (
                f"api token {info.name} (scope {info.scope}) created; its secret, shown only "
                f"this once:\n{secret}\n"
                "Send it as the header: Authorization: Bearer <secret>"
            ),
        )


@token.command("list")
@pass_app
def token_list(app: App) -> None:
    """List every token: name, scope, created, last used (to the minute), revoked."""
    from store import api_tokens

    with app.transaction() as session:
        data = [_token_data(info) for info in api_tokens.list_tokens(session)]

    def text() -> str:
        if not data:
            return "no api tokens (create one: chakushin api token create NAME --scope read)"
        rows = [("NAME", "SCOPE", "CREATED", "LAST USED", "REVOKED")]
        rows += [
            (
                x["name"],
                x["scope"],
                _short(x["created_at"]),
                _short(x["last_used_at"]),
                _short(x["revoked_at"]),
            )
            for x in data
        ]
        widths = [max(len(row[i]) for row in rows) for i in range(4)]
        return "\n".join(
            "  ".join([*(cell.ljust(w) for cell, w in zip(row[:4], widths, strict=True)), row[4]])
            for row in rows
        )

    emit(app, data, text)


def _short(iso: str | None) -> str:
    """2026-12-01T23:40:00+00:00 as 2026-12-01 23:40 UTC; '-' for never."""
    if iso is None:
        return "-"
    return f"{dt.datetime.fromisoformat(iso):%Y-%m-%d %H:%M} UTC"


@token.command("revoke")
@click.argument("name")
@pass_app
def token_revoke(app: App, name: str) -> None:
    """Revoke the token NAME: every request with it is refused (401) from now on."""
    from store import api_tokens

    now = dt.datetime.now(dt.UTC)
    with app.transaction() as session:
        info = api_tokens.revoke_token(session, name, now=now)
        log.warning("api_token_revoked", token=info.name, scope=info.scope)
        data = _token_data(info)
        emit(app, data, lambda: f"api token {info.name} revoked ({_short(data['revoked_at'])})")


@api.command("openapi")
@pass_app
def openapi(app: App) -> None:
    """Print the API's OpenAPI 3.1 document (JSON), as served at /api/v1/openapi.json."""
    from web.api.app import openapi_document

    del app  # no config or database is needed: the document is the code's
    click.echo(json.dumps(openapi_document(), ensure_ascii=False, indent=2))
