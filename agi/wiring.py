"""Dependencies of the voice flows, made from the config by the entry points."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agi import call_route, nuisance_feature
from agi.call_route import RouteCall
from agi.caller import Caller
from agi.channel import Channel
from agi.nuisance_feature import NuisanceFeatureCall
from agi.temp_password import StoreUnavailable, TempPasswordCall
from dialplan import variables
from dialplan.config import CallConfig, IvrConfig
from store import db, service
from store.errors import DomainError, NotFound
from store.models import AuthUnit, Service
from store.service import CallerLine, LastCallerResult, RoutingSettings

# A route runs one AGI session to its end and returns its outcome (for logs
# and counters).
Route = Callable[[Channel], str]


def _reason(exc: SQLAlchemyError | DomainError) -> str:
    """Why the store failed, for the flow's log line.

    MAIL-9: a domain error's message names the numbers it is about (the
    caller's too, withheld or not), so only its code is given.
    """
    return exc.code if isinstance(exc, DomainError) else db.first_line(exc)


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
            raise StoreUnavailable(_reason(exc)) from exc

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
            raise StoreUnavailable(_reason(exc)) from exc


@dataclass
class SqlRoutingStore:
    """The call-routing decision's store (CALL-1)."""

    sessions: sessionmaker[Session]
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def route_incoming_call(self, number: str, caller: Caller) -> RoutingSettings | None:
        try:
            with db.transaction(self.sessions) as session:
                return service.route_incoming_call(
                    session,
                    number,
                    caller_number=caller.number,
                    presentation=caller.presentation,
                    now=self.clock(),
                )
        except (SQLAlchemyError, DomainError) as exc:
            raise call_route.StoreUnavailable(_reason(exc)) from exc


@dataclass
class SqlNuisanceStore:
    """The nuisance feature code's store (CALL-2)."""

    sessions: sessionmaker[Session]

    def subscribes(self, number: str) -> bool:
        try:
            with db.transaction(self.sessions, read_only=True) as session:
                return service.get_number(session, number).subscribes(Service.NUISANCE)
        except NotFound:
            return False
        except (SQLAlchemyError, DomainError) as exc:
            raise nuisance_feature.StoreUnavailable(_reason(exc)) from exc

    def add_last_caller(self, number: str) -> tuple[LastCallerResult, str | None]:
        try:
            with db.transaction(self.sessions) as session:
                return service.add_last_caller_to_nuisance(session, number)
        except (SQLAlchemyError, DomainError) as exc:
            raise nuisance_feature.StoreUnavailable(_reason(exc)) from exc


def routes(
    sessions: sessionmaker[Session], *, ivr: IvrConfig, call: CallConfig
) -> Mapping[str, Route]:
    """The FastAGI scripts this server answers, by ``agi_network_script``."""
    temp_passwords = SqlTempPasswordStore(sessions)
    routing = SqlRoutingStore(sessions)
    nuisance = SqlNuisanceStore(sessions)
    timeout = float(ivr.input_timeout_seconds)

    def temp_password(channel: Channel) -> str:
        return TempPasswordCall(channel, temp_passwords, input_timeout=timeout).run().value

    def route_call(channel: Channel) -> str:
        return RouteCall(
            channel,
            routing,
            fallback_endpoint=call.fallback_endpoint,
            forward_dial=call.forward_dial,
            ring_seconds=call.ring_seconds,
        ).run()

    def nuisance_last_caller(channel: Channel) -> str:
        return NuisanceFeatureCall(channel, nuisance, input_timeout=timeout).run()

    return {
        variables.SCRIPT_TEMP_PASSWORD: temp_password,
        variables.SCRIPT_ROUTE_CALL: route_call,
        variables.SCRIPT_NUISANCE_FEATURE: nuisance_last_caller,
    }
