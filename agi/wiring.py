"""Dependencies of the voice flows, made from the config by the entry points."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agi.channel import Channel
from agi.temp_password import StoreUnavailable, TempPasswordCall
from chakushin.config import Config
from dialplan import variables
from store import db, service
from store.errors import DomainError
from store.models import AuthUnit
from store.service import CallerLine

# A route runs one AGI session to its end and returns its outcome (for logs
# and counters).
Route = Callable[[Channel], str]


@dataclass
class SqlTempPasswordStore:
    """The temporary-password flow's store, through the domain layer."""

    sessions: sessionmaker[Session]
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def caller_line(self, caller_number: str) -> CallerLine | None:
        try:
            with db.transaction(self.sessions, read_only=True) as session:
                return service.caller_line(session, caller_number)
        except (SQLAlchemyError, DomainError) as exc:
            raise StoreUnavailable(db.first_line(exc)) from exc

    def save(
        self, caller_number: str, target_number: str, temp_password: str, auth_unit: AuthUnit
    ) -> None:
        hashed = service.hash_temp_password(temp_password)  # slow: outside the transaction
        try:
            with db.transaction(self.sessions) as session:
                service.set_temp_password(
                    session, caller_number, target_number, hashed, auth_unit, now=self.clock()
                )
        except (SQLAlchemyError, DomainError) as exc:
            raise StoreUnavailable(db.first_line(exc)) from exc


def routes(config: Config, sessions: sessionmaker[Session]) -> Mapping[str, Route]:
    """The FastAGI scripts this server answers, by ``agi_network_script``."""
    store = SqlTempPasswordStore(sessions)
    timeout = float(config.ivr.input_timeout_seconds)

    def temp_password(channel: Channel) -> str:
        return TempPasswordCall(channel, store, input_timeout=timeout).run().value

    return {variables.SCRIPT_TEMP_PASSWORD: temp_password}
