"""Bearer tokens of the provisioning API (issue 18): made, listed, revoked, checked.

``chakushin api token create NAME --scope read|write`` makes one and prints
its secret once; only the SHA-256 of the secret is stored. The secret is 32
random bytes (``chk_`` and 43 URL-safe characters), so the hash is not a
password hash: nothing is left to guess slowly. A revoked token stays listed
(its name is in the logs) and is never accepted again; a name is never reused.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.errors import AlreadyExists, InvalidInput, NotFound
from store.models import ApiToken

PREFIX = "chk_"
SCOPES = ("read", "write")
MAX_NAME = 40
# The longest Authorization value looked at: a secret is 47 characters.
MAX_SECRET = 100
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
USE_NOTED_EVERY = dt.timedelta(minutes=1)
_SECRET = re.compile(r"chk_[A-Za-z0-9_-]{43}")


@dataclass(frozen=True)
class TokenInfo:
    """A token as the CLI lists it and a request carries it (never the secret)."""

    name: str
    scope: str
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None

    @property
    def writes(self) -> bool:
        return self.scope == "write"


def _info(row: ApiToken) -> TokenInfo:
    return TokenInfo(row.name, row.scope, row.created_at, row.last_used_at, row.revoked_at)


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise InvalidInput(
            f"a token name is 1-{MAX_NAME} characters: letters, digits, _ . - "
            "(starting with a letter or digit)",
            code="api_token_name",
            field="name",
            params={"max": MAX_NAME},
        )
    return name


def create_token(
    session: Session, name: str, scope: str, *, now: dt.datetime
) -> tuple[TokenInfo, str]:
    """A new token named ``name``; returns it with its secret (shown once)."""
    check_name(name)
    if scope not in SCOPES:
        raise InvalidInput(
            "a token's scope is read or write", code="api_token_scope", field="scope"
        )
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise AlreadyExists(
            f"a token named {name} exists (names are never reused, even revoked)",
            code="api_token_exists",
            field="name",
            params={"name": name},
        )
    secret = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(name=name, scope=scope, token_hash=digest(secret), created_at=now)
    session.add(row)
    session.flush()
    return _info(row), secret


def revoke_token(session: Session, name: str, *, now: dt.datetime) -> TokenInfo:
    """Revoke the token ``name`` at once; revoking it again changes nothing."""
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise NotFound(
            f"no token named {name}",
            code="api_token_not_found",
            field="name",
            params={"name": name},
        )
    if row.revoked_at is None:
        row.revoked_at = now
    return _info(row)


def list_tokens(session: Session) -> list[TokenInfo]:
    return [_info(r) for r in session.scalars(select(ApiToken).order_by(ApiToken.name))]


def use_due(token: TokenInfo, now: dt.datetime) -> bool:
    """True when ``verify_token`` would note this use (once a minute at most)."""
    return token.last_used_at is None or now - token.last_used_at >= USE_NOTED_EVERY


def verify_token(
    session: Session, secret: str, *, now: dt.datetime, note_use: bool = True
) -> TokenInfo | None:
    """The live token whose secret this is, or None; notes its use (to the minute).

    ``note_use=False`` only reads (a read-only transaction: the API checks every
    request's token so and writes the note only when ``use_due``)."""
    if len(secret) > MAX_SECRET or not _SECRET.fullmatch(secret):
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == digest(secret)))
    if row is None or row.revoked_at is not None:
        return None
    if note_use and (row.last_used_at is None or now - row.last_used_at >= USE_NOTED_EVERY):
        row.last_used_at = now
    return _info(row)
