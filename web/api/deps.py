"""What the API's endpoints are given: the caller's token and a transaction.

An endpoint declares ``api: Reader`` (any live token) or ``api: Writer`` (a
token of scope ``write``) and opens its own unit of work inside the function::

    with api.transaction() as session:
        found = service.get_number(session, number)
        return NumberOut.of(found)

The transaction commits when the block ends, before the response is made, so
a client is never told of a change that was not stored; a ``DomainError``
raised inside rolls it back and becomes a problem+json response (``app``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session, sessionmaker

from store import db
from store.api_tokens import TokenInfo
from web.api.problems import Forbidden
from web.deps import ChatSendTest, SendTest


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _temp_password() -> str:
    return f"{secrets.randbelow(10**8):08d}"


@dataclass
class ApiDeps:
    """Everything the API needs from the node (made by ``chakushin.bootstrap``)."""

    sessions: sessionmaker[Session]
    # The time zone of a line or number made without one (the config's ``timezone``).
    default_timezone: str = "Asia/Tokyo"
    clock: Callable[[], dt.datetime] = _utc_now
    # A new temporary password (8 digits, IVR-2); tests fix it.
    new_temp_password: Callable[[], str] = _temp_password
    # MAIL-2 送信テスト through the node's mailer (the site's own type); None: not offered.
    send_test: SendTest | None = None
    # Failed bearer tokens per client address and minute before 429 (``app``).
    auth_failures_per_minute: int = 20
    # Issue 19 (CHAT-3): hosts a destination URL may name over http:// and without the
    # kinds' host rules and the public-address rule (the config's ``[chat] allow_hosts``).
    chat_allow_hosts: tuple[str, ...] = ()
    # Issue 19 (MAIL-2): a destination's 送信テスト through the node's sender; None: not offered.
    chat_send_test: ChatSendTest | None = None
    extra: dict[str, object] = field(default_factory=dict)


@dataclass
class Caller:
    """The token a request came with, and the node's dependencies."""

    token: TokenInfo
    deps: ApiDeps

    def now(self) -> dt.datetime:
        return self.deps.clock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work, committed when the block ends (a write)."""
        with db.transaction(self.deps.sessions) as session:
            yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only unit of work."""
        with db.transaction(self.deps.sessions, read_only=True) as session:
            yield session


def _caller(request: Request) -> Caller:
    caller = request.state.caller
    assert isinstance(caller, Caller)
    return caller


def _reader(request: Request) -> Caller:
    return _caller(request)


def _writer(request: Request) -> Caller:
    caller = _caller(request)
    if not caller.token.writes:
        raise Forbidden()
    return caller


Reader = Annotated[Caller, Depends(_reader)]
Writer = Annotated[Caller, Depends(_writer)]
