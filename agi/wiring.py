"""Dependencies of the voice flows, made from the config by the entry points.

The stores say "cannot answer" and "no" apart: a database error becomes
``store.errors.StoreUnavailable`` (the flow's system-error ending); a
refusal of the domain layer (``NotFound``, ``NotSubscribed``, ...) goes to
the flow as it is, which ends the call as that refusal (IVR-2, CALL-2).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from agi.call_route import RouteCall
from agi.caller import Caller
from agi.channel import Channel
from agi.nuisance_feature import NuisanceFeatureCall
from agi.temp_password import TempPasswordCall
from dialplan import variables
from dialplan.config import CallConfig, IvrConfig
from store import db, service
from store.errors import NotFound, StoreUnavailable
from store.models import AuthUnit, Service
from store.service import CallerLine, LastCallerResult, RoutingSettings

# A route runs one AGI session to its end and returns its outcome (for logs
# and counters).
Route = Callable[[Channel], str]


def _unavailable(exc: SQLAlchemyError) -> StoreUnavailable:
    """The database could not answer; its first line only (the rest is the SQL
    and its parameters, the caller's number among them: MAIL-9)."""
    return StoreUnavailable(db.first_line(exc))


@dataclass
class SqlTempPasswordStore:
    """The temporary-password flow's store, through the domain layer."""

    sessions: sessionmaker[Session]
    clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def caller_line(self, caller_number: str) -> CallerLine | None:
        try:
            with db.transaction(self.sessions, read_only=True) as session:
                return service.caller_line(session, caller_number)
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def save(
        self, caller_number: str, target_number: str, temp_password: str, auth_unit: AuthUnit
    ) -> None:
        hashed = service.hash_temp_password(temp_password)  # slow: outside the transaction
        try:
            with db.transaction(self.sessions) as session:
                service.set_temp_password(
                    session, caller_number, target_number, hashed, auth_unit, now=self.clock()
                )
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc


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
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc


@dataclass
class SqlNuisanceStore:
    """The nuisance feature code's store (CALL-2)."""

    sessions: sessionmaker[Session]

    def subscribes(self, number: str) -> bool:
        try:
            with db.transaction(self.sessions, read_only=True) as session:
                return service.get_number(session, number).subscribes(Service.NUISANCE)
        except NotFound:
            return False  # CALL-2: an unknown number has no nuisance service
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc

    def add_last_caller(self, number: str) -> tuple[LastCallerResult, str | None]:
        try:
            with db.transaction(self.sessions) as session:
                return service.add_last_caller_to_nuisance(session, number)
        except SQLAlchemyError as exc:
            raise _unavailable(exc) from exc


def routes(
    sessions: sessionmaker[Session], *, ivr: IvrConfig, call: CallConfig
) -> Mapping[str, Route]:
    """The FastAGI scripts this server answers, by ``agi_network_script``."""
    temp_passwords = SqlTempPasswordStore(sessions)
    routing = SqlRoutingStore(sessions)
    nuisance = SqlNuisanceStore(sessions)
    timeout = float(ivr.input_timeout_seconds)

    def temp_password(channel: Channel) -> str:
        return (
            TempPasswordCall(
                channel,
                temp_passwords,
                input_timeout=timeout,
                e164_without_plus=call.e164_without_plus,
            )
            .run()
            .value
        )

    def route_call(channel: Channel) -> str:
        return RouteCall(
            channel,
            routing,
            fallback_endpoint=call.fallback_endpoint,
            forward_dial=call.forward_dial,
            ring_seconds=call.ring_seconds,
            e164_without_plus=call.e164_without_plus,
        ).run()

    def nuisance_last_caller(channel: Channel) -> str:
        return NuisanceFeatureCall(
            channel, nuisance, input_timeout=timeout, e164_without_plus=call.e164_without_plus
        ).run()

    return {
        variables.SCRIPT_TEMP_PASSWORD: temp_password,
        variables.SCRIPT_ROUTE_CALL: route_call,
        variables.SCRIPT_NUISANCE_FEATURE: nuisance_last_caller,
    }
