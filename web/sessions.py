"""SITE-6: server-side sessions.

The cookie holds only a random token; the database keeps its SHA-256, the
login number, the stage of the login (a forced password change or the
one-time password still to come, or done), the CSRF token and the idle
timeout. So a session ends for good at logout or after its idle time (the
row is gone, a copied cookie is worth nothing), sessions survive a restart
and are shared by several site processes, and the id changes at every
login and at every stage (no fixation).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import enum
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass

import structlog
from sqlalchemy import delete, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.errors import StoreUnavailable
from store.models import SiteSession

log = structlog.get_logger("web.sessions")

COOKIE = "chakushin_session"


class Stage(enum.StrEnum):
    PASSWORD_CHANGE = "password_change"  # SITE-2/SITE-4: nothing else until changed
    OTP = "otp"  # SITE-5: the one-time password is still to come
    OTP_CHOICE = "otp_choice"  # SITE-5: first login: use a one-time password or not
    READY = "ready"


@dataclass(frozen=True)
class SessionView:
    token: str
    login_number: str
    stage: Stage
    csrf_token: str
    via_temp_password: bool
    idle: dt.timedelta
    created_at: dt.datetime
    # SITE-5, seeds (9)/(10): this login proved the one-time password's owner.
    otp_proven: bool = False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def id_hash(view: SessionView | None) -> str | None:
    """The stored key of a session (``SiteSession.id_hash``): the one a store change that
    ends the number's sessions keeps (``keep_session``), the session that made it."""
    return None if view is None else _digest(view.token)


class SessionStore:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.sessions = sessions
        self.clock = clock

    def create(
        self,
        login_number: str,
        stage: Stage,
        idle: dt.timedelta,
        *,
        via_temp_password: bool = False,
        replaces: str | None = None,
    ) -> SessionView:
        """A new session (new token, new CSRF token); ``replaces`` ends the old one."""
        made = self._create(
            login_number, stage, idle, via_temp_password=via_temp_password, replaces=replaces
        )
        assert made is not None  # only a required replacement can be missing
        return made

    def _create(
        self,
        login_number: str,
        stage: Stage,
        idle: dt.timedelta,
        *,
        via_temp_password: bool,
        replaces: str | None,
        must_replace: bool = False,
        otp_proven: bool = False,
    ) -> SessionView | None:
        token = secrets.token_urlsafe(32)
        now = self.clock()
        with db.transaction(self.sessions) as s:
            if replaces:
                gone = s.execute(
                    delete(SiteSession).where(SiteSession.id_hash == _digest(replaces))
                )
                if must_replace and gone.rowcount != 1:  # type: ignore[attr-defined]
                    return None
            number = service.get_number(s, login_number)
            row = SiteSession(
                id_hash=_digest(token),
                number_id=number.id,
                stage=stage.value,
                csrf_token=secrets.token_urlsafe(32),
                via_temp_password=via_temp_password,
                otp_proven=otp_proven,
                idle_seconds=int(idle.total_seconds()),
                created_at=now,
                last_seen_at=now,
                expires_at=now + idle,
            )
            s.add(row)
            s.flush()
            return self._view(token, row, login_number)

    def load(self, token: str | None, *, touch: bool = True) -> SessionView | None:
        """The live session of ``token``; None if unknown or idle too long (then it is removed)."""
        if not token or len(token) > 100:
            return None
        now = self.clock()
        with db.transaction(self.sessions) as s:
            row = s.scalar(
                select(SiteSession).where(SiteSession.id_hash == _digest(token)).with_for_update()
            )
            if row is None:
                return None
            if now > row.expires_at:
                s.delete(row)
                return None
            if touch:
                row.last_seen_at = now
                row.expires_at = now + dt.timedelta(seconds=row.idle_seconds)
            return self._view(token, row, row.number.number)

    def advance(
        self, current: SessionView, stage: Stage, *, otp_proven: bool | None = None
    ) -> SessionView | None:
        """The next stage of a login, under a new session id.

        None if the current session has ended meanwhile (a password change in
        another session ends this one, SITE-6): it must not come back to life
        as a session one stage further. ``otp_proven`` (SITE-5): the login has
        now proved the one-time password's owner; by default it keeps what it
        had.
        """
        return self._create(
            current.login_number,
            stage,
            current.idle,
            via_temp_password=current.via_temp_password and stage is Stage.PASSWORD_CHANGE,
            replaces=current.token,
            must_replace=True,
            otp_proven=current.otp_proven if otp_proven is None else otp_proven,
        )

    def end(self, token: str | None) -> None:
        if not token:
            return
        with db.transaction(self.sessions) as s:
            s.execute(delete(SiteSession).where(SiteSession.id_hash == _digest(token)))

    def purge(self) -> int:
        """Remove every idle-expired session, abandoned ones included (housekeeping)."""
        with db.transaction(self.sessions) as s:
            result = s.execute(delete(SiteSession).where(SiteSession.expires_at < self.clock()))
            return int(getattr(result, "rowcount", 0) or 0)

    @staticmethod
    def _view(token: str, row: SiteSession, login_number: str) -> SessionView:
        return SessionView(
            token=token,
            login_number=login_number,
            stage=Stage(row.stage),
            csrf_token=row.csrf_token,
            via_temp_password=row.via_temp_password,
            idle=dt.timedelta(seconds=row.idle_seconds),
            created_at=row.created_at,
            otp_proven=row.otp_proven,
        )


PURGE_EVERY = 300.0  # seconds


async def purge_sessions(store: SessionStore, stop: asyncio.Event) -> None:
    """Every ``PURGE_EVERY`` s until ``stop``: delete the sessions nobody came back to."""
    while not stop.is_set():
        try:
            gone = await asyncio.to_thread(store.purge)
        except (SQLAlchemyError, StoreUnavailable) as exc:
            log.warning("site_sessions_not_purged", error=db.first_line(exc))
        else:
            if gone:
                log.info("site_sessions_purged", sessions=gone)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), PURGE_EVERY)
