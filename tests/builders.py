"""The tests' own helpers, in one place: clocks, waits, counts, ports, servers, rows.

Fixtures live in the conftest.py files (pytest finds them there); the helpers
that more than one test module uses live here, so that none is written twice
(with its arguments in another order) or imported from another test module.

- ``Clock`` (wall time, a ``datetime``) and ``MonotonicClock`` (seconds): the
  clocks the code under test is given, moved by hand.
- ``until``: wait for a condition, polled, with a bound (no fixed sleep
  decides an outcome).
- ``count``: rows of a model, in a read-only transaction; ``plain_text``: a mail's text.
- ``snapshot``, ``unchanged_after``, ``empty_tables``: every row, to prove that a
  refusal wrote nothing, and the clean-up after a test.
- ``free_port``, ``running_server``: a loopback port, a FastAGI server in a
  thread.
- ``hashed``, ``give_site_password``, ``OtpInUse``: the SITE-3/SITE-5 rows a
  fixture starts from.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker
from standardwebhooks import Webhook

from agi import wiring
from agi.server import FastAGIServer, SessionLimits
from agi.wiring import Route
from dialplan.config import CallConfig, IvrConfig
from store import db, passwords, service
from store.errors import DomainError, StoreUnavailable
from store.models import AuthUnit, Base, CallOutcome, Presentation, SiteCredential
from store.service import CallerLine

# --- clocks ----------------------------------------------------------------------------------


@dataclass
class Clock:
    """The wall clock a test hands to the code under test (``now=``/``clock=``) and moves."""

    now: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(
        self, seconds: float = 0.0, *, minutes: float = 0.0, hours: float = 0.0, days: float = 0.0
    ) -> None:
        self.now += dt.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


@dataclass
class MonotonicClock:
    """A monotonic clock in seconds (``time.monotonic``'s stand-in), moved by hand."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


# --- waiting and counting --------------------------------------------------------------------


async def until(
    condition: Callable[[], bool],
    what: str,
    *,
    within: float = 30.0,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll ``condition`` (in a thread: it may query the database) until it holds.

    Fails after ``within`` seconds, naming ``what`` and adding ``explain()``
    (a process's log, say) so that a timeout says why.
    """
    deadline = time.monotonic() + within
    while not await asyncio.to_thread(condition):
        if time.monotonic() > deadline:
            detail = f"; {explain()}" if explain is not None else ""
            pytest.fail(f"timed out waiting for {what}{detail}")
        await asyncio.sleep(0.05)


def count(
    sessions: sessionmaker[Session], model: type[Base], *where: sa.ColumnElement[bool]
) -> int:
    """How many rows of ``model`` match ``where``, read in a read-only transaction."""
    query = sa.select(sa.func.count()).select_from(model).where(*where)
    with db.transaction(sessions, read_only=True) as s:
        return int(s.scalar(query) or 0)


def snapshot(url_or_engine: str | Engine) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table, to prove that a failed request wrote nothing."""
    engine = db.make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        with engine.connect() as conn:
            return {
                table.name: sorted((tuple(row) for row in conn.execute(table.select())), key=repr)
                for table in Base.metadata.sorted_tables
            }
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def unchanged_after(
    sessions: sessionmaker[Session], action: Callable[[Session], object], error: type[Exception]
) -> DomainError:
    """Run ``action`` in a transaction, expect ``error``, prove no row changed."""
    engine = sessions.kw["bind"]
    before = snapshot(engine)
    with pytest.raises(error) as err, db.transaction(sessions) as s:
        action(s)
    assert snapshot(engine) == before
    assert isinstance(err.value, DomainError)
    return err.value


def empty_tables(engine: Engine) -> None:
    """Delete every row (a test's clean-up; the schema stays migrated)."""
    # DELETE, not TRUNCATE: on tables this small it is several times faster.
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())


def plain_text(mail: EmailMessage) -> str:
    """The text/plain body of a mail the tests' SMTP server received."""
    plain = mail.get_body(preferencelist=("plain",))
    assert plain is not None, f"no text/plain part in {mail['Subject']}"
    content = plain.get_content()
    assert isinstance(content, str)
    return content


# --- ports and servers -----------------------------------------------------------------------


def free_port() -> int:
    """A loopback TCP port that was free a moment ago (the kernel's pick)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def default_routes(sessions: sessionmaker[Session]) -> Mapping[str, Route]:
    """The FastAGI routes over ``sessions`` with the default [ivr] and [call] settings."""
    return wiring.routes(sessions, ivr=IvrConfig(), call=CallConfig())


@contextmanager
def running_server(
    routes: Mapping[str, Route],
    *,
    allowed_peers: Iterable[str] = (),
    limits: SessionLimits | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Iterator[FastAGIServer]:
    """The real FastAGI server on a free loopback port, serving in a thread until the block ends."""
    server = FastAGIServer(
        ("127.0.0.1", 0), routes, allowed_peers=allowed_peers, limits=limits, clock=clock
    )
    # A short poll interval makes shutdown() return quickly.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- rows ------------------------------------------------------------------------------------

# The line of the voice and site tests (tests/agi/conftest.py's ``sqlite_line``).
CONTRACT, EXTRA = "0312345678", "0312345679"
NO_MAIL = "0312345670"  # a number of that line without the mail service


@dataclass
class MemoryStore:
    """The temporary-password flow's store (IVR-2, IVR-9) in memory; ``down`` fails every call."""

    lines: dict[str, CallerLine] = field(default_factory=dict)
    saved: list[tuple[str, str, str, AuthUnit]] = field(default_factory=list)
    down: bool = False

    def caller_line(self, caller_number: str) -> CallerLine | None:
        if self.down:
            raise StoreUnavailable("database is down")
        return self.lines.get(caller_number)

    def save(self, caller: str, target: str, temp_password: str, unit: AuthUnit) -> None:
        if self.down:
            raise StoreUnavailable("database is down")
        self.saved.append((caller, target, temp_password, unit))


def a_line() -> MemoryStore:
    """CONTRACT, EXTRA and NO_MAIL of one line in a ``MemoryStore``; the first two have mail."""
    service = frozenset({CONTRACT, EXTRA})
    return MemoryStore(
        {
            CONTRACT: CallerLine(CONTRACT, CONTRACT, True, service),
            EXTRA: CallerLine(EXTRA, CONTRACT, False, service),
            NO_MAIL: CallerLine(NO_MAIL, CONTRACT, False, service),
        }
    )


# The line of the store tests' ``line`` fixture (tests/store/conftest.py). No run of four
# ascending/descending digits, so that "contains the number" is the only SITE-3 rule a
# password with the number in it breaks.
C = "0359207146"  # the contract number
E1 = "0359207147"  # additional numbers with the mail service
E2 = "0359207148"
N = "0359207149"  # an additional number without any service
TZ = "Asia/Tokyo"

SITE_PASSWORD = "hikari7Mail"  # the site password (SITE-3) a fixture gives a number


@functools.cache
def hashed(password: str) -> str:
    """``passwords.hash_password`` once per password and run: fixtures hash the same few often."""
    return passwords.hash_password(password)


@dataclass(frozen=True)
class OtpInUse:
    """SITE-5: a verified one-time-password address, with its confirmation values."""

    address: str
    confirmation_id: str
    confirmation_password: str


def give_site_password(
    s: Session,
    number: str,
    *,
    now: dt.datetime,
    password: str = SITE_PASSWORD,
    otp: OtpInUse | None = None,
) -> SiteCredential:
    """SITE-3: ``number`` gets a site password set at ``now``; SITE-5: with ``otp``, OTP in use."""
    credential = SiteCredential(
        number_id=service.get_number(s, number).id,
        password_hash=hashed(password),
        changed_at=now,
        wrong_count=0,
        otp_enabled=otp is not None,
    )
    if otp is not None:
        credential.otp_address = otp.address
        credential.otp_address_verified_at = now
        credential.otp_chosen_at = now
        credential.otp_confirmation_id = otp.confirmation_id
        credential.otp_confirmation_password_hash = hashed(otp.confirmation_password)
    s.add(credential)
    return credential


def a_mailed_call(
    sessions: sessionmaker[Session],
    *,
    number: str,
    linkedid: str,
    recipients: Iterable[str],
    at: dt.datetime,
    caller: str = "0311112222",
) -> None:
    """MAIL-10: an unanswered call to ``number`` at ``at`` whose decision mails each of
    ``recipients``, its mails queued then, as the notifier records it (issue 16)."""

    def mail(to: str) -> service.QueuedMail:
        message_id = f"<{linkedid}.{to}@example.jp>"
        return service.QueuedMail(
            to,
            f"call {linkedid}",
            f"From: chakushin@example.jp\r\nTo: {to}\r\nSubject: call\r\n"
            f"Message-ID: {message_id}\r\n\r\nbody\r\n",
            message_id,
        )

    with db.transaction(sessions) as s:
        assert service.record_call_decision(
            s,
            now=at,
            linkedid=linkedid,
            subscriber_number=number,
            caller_number=caller,
            presentation=Presentation.ALLOWED,
            outcome=CallOutcome.UNANSWERED,
            dial_status="NOANSWER",
            forward_dial_status="",
            started_at=at,
            ended_at=at,
            mailed=True,
            reason="notify",
            mails=[mail(to) for to in recipients],
        )


def verified_webhook(
    secret: str, body: bytes, headers: Mapping[str, str], *, at: dt.datetime
) -> Any:
    """CHAT-2: the event of a Standard Webhooks request, verified as a receiver would at
    ``at`` (the library checks ``webhook-timestamp`` against the wall clock: five minutes'
    tolerance, which a long run or the suite's clock a year ahead would pass)."""
    with time_machine.travel(at, tick=False):
        return Webhook(secret).verify(body, dict(headers))
