"""The AMI connection: panoramisk, kept alive by one supervisor task.

panoramisk 1.4 speaks AMI for us: frames to ``Message``s (``AMIProtocol``),
actions matched to their responses by ActionID (``Action``), events handed
out by name pattern (``Manager.register_event`` / ``dispatch``). A check on
Python 3.11 found faults in it; each override below says which and why:

(a) No action has a timeout and a silent peer goes unnoticed
    (``Manager.ping`` sends Ping and never looks for the answer). Here every
    action is awaited with a timeout, and a watchdog pings every
    ``ping_interval`` s and drops the connection when no answer comes.
(b) ``Manager`` reconnects on ``loop.call_later`` timers that it keeps no
    handle to, at a fixed delay: ``close()`` right after a connection loss
    cannot stop the reconnect. Here one supervisor task connects, logs in
    and reconnects (capped exponential backoff with jitter); ``close()``
    cancels it.
(c) ``AMIProtocol`` decodes every TCP chunk on its own with errors ignored:
    a multi-byte character split across two chunks vanished (山田太郎
    arrived as 田太郎). ``AmiProtocol`` decodes incrementally.
(d) ``Action()`` makes its future with ``asyncio.Future()``, which outside a
    running loop falls back to ``get_event_loop()`` (a DeprecationWarning on
    3.12+). ``_Action`` takes the running loop, or fails at once.

Event and field names are ``notifier.ami``'s business: every event frame
goes through ``notifier.ami.read_event``; a garbled one is logged and
dropped, and so is a frame that is not AMI at all. Nothing a peer sends can
stop the client; the worst it can do is get its connection dropped.
"""

from __future__ import annotations

import asyncio
import codecs
import enum
import random
import re
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, NoReturn

import structlog
from panoramisk import Manager  # type: ignore[import-untyped]
from panoramisk.actions import Action  # type: ignore[import-untyped]
from panoramisk.ami_protocol import AMIProtocol  # type: ignore[import-untyped]
from panoramisk.message import Message  # type: ignore[import-untyped]
from panoramisk.utils import EOL, CaseInsensitiveDict  # type: ignore[import-untyped]

from notifier import ami
from notifier.config import AmiConfig
from notifier.model import Event

# A frame larger than this without its blank line is not AMI: drop it rather
# than buffer random bytes without end.
MAX_PENDING_CHARS = 1 << 20
# CR or LF would end a header early and let the rest be read as another
# header or action; NUL ends a C string in Asterisk.
_UNSAFE = re.compile(r"[\r\n\x00]")

Log = structlog.typing.FilteringBoundLogger


class AmiError(Exception):
    """Base of the client's errors."""


class AmiTimeoutError(AmiError, TimeoutError):
    """No response to an action within its timeout."""


class AmiConnectionError(AmiError, ConnectionError):
    """Not logged in, or the connection went before the response came."""


class UnsafeAmiValue(AmiError, ValueError):
    """An action header or value with CR, LF or NUL in it."""


class AmiState(enum.StrEnum):
    """What the client is doing; ``AmiClient.state``, for health and metrics."""

    STOPPED = "stopped"  # not started yet
    CONNECTING = "connecting"
    CONNECTED = "connected"  # TCP up, logging in
    LOGGED_IN = "logged_in"  # events flow
    LOGIN_FAILED = "login_failed"  # credentials refused; retried with backoff
    DISCONNECTED = "disconnected"
    RECONNECTING = "reconnecting"  # waiting out the backoff delay
    CLOSED = "closed"  # close() was called; final


class _Action(Action):  # type: ignore[misc]
    def __init__(self, fields: Mapping[str, Any]) -> None:
        # Fix (d): Action.__init__ calls asyncio.Future(), which outside a
        # running loop falls back to get_event_loop() (DeprecationWarning on
        # 3.12+, an error later) and may bind the future to a loop that never
        # runs. Take the running loop: outside one, RuntimeError at once.
        loop = asyncio.get_running_loop()
        for name, value in fields.items():
            values = value if isinstance(value, list | tuple) else [value]
            if _UNSAFE.search(name) or any(_UNSAFE.search(str(v)) for v in values):
                raise UnsafeAmiValue(f"CR, LF or NUL in action header {name!r}")
        CaseInsensitiveDict.__init__(self, fields)
        self.as_list = None
        if "actionid" not in self:
            self["ActionID"] = self.action_id_generator()
        self.responses: list[Message] = []
        self.future: asyncio.Future[Any] = loop.create_future()


def _reason(exc: object) -> str:
    if exc is None:
        return "peer_closed"
    if isinstance(exc, BaseException):
        return f"{type(exc).__name__}: {exc}"
    # AMIProtocol.handle_message passes the Shutdown event itself.
    return "asterisk_shutdown"


class AmiProtocol(AMIProtocol):  # type: ignore[misc]
    """``AMIProtocol`` that decodes across chunks and survives any frame.

    ``lost`` resolves (with a short reason) when the connection is gone.
    """

    lost: asyncio.Future[str]
    closed: bool
    version: str | None
    log: Log

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        self.encoding = "utf-8"
        self.log = structlog.get_logger(__name__)
        self.lost = asyncio.get_running_loop().create_future()
        # Fix (c): AMIProtocol decodes each chunk on its own with errors
        # ignored, so a UTF-8 character split between two TCP reads was lost
        # (山田太郎 arrived as 田太郎). The incremental decoder keeps a partial
        # character for the next chunk; bytes that are not UTF-8 become
        # U+FFFD instead of vanishing.
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""

    def data_received(self, data: bytes) -> None:
        text = self._pending + self._decoder.decode(data)
        if self.version is None:
            if EOL not in text and len(text) <= MAX_PENDING_CHARS:
                self._pending = text
                return
            first, _, rest = text.partition(EOL)
            if first.startswith(ami.BANNER_PREFIX):
                self.version = first.removeprefix(ami.BANNER_PREFIX).strip()
                self.log.info("ami_banner", version=self.version)
                text = rest
            else:
                self.version = ""
                self.log.warning("ami_banner_missing")
        *frames, pending = text.split(EOL + EOL)
        if len(pending) > MAX_PENDING_CHARS:
            self.log.warning("ami_frame_too_long", chars=len(pending))
            pending = ""
        self._pending = pending
        for frame in frames:
            self._frame(frame)

    def _frame(self, text: str) -> None:
        text = text.strip()  # as AMIProtocol: Asterisk may send a stray EOL
        if not text:
            return
        message = Message.from_line(text)
        if message is None:
            self.log.warning("ami_frame_ignored", chars=len(text))
            return
        try:
            self.handle_message(message)
        except Exception:
            # Fix: AMIProtocol lets exceptions out of data_received (a
            # repeated Event header becomes a list, and handle_message calls
            # .lower() on it; an event callback may raise), and asyncio then
            # drops the connection as a fatal protocol error, with the rest
            # of the chunk. One bad frame costs only itself here.
            self.log.exception("ami_frame_failed")

    def send(self, data: Mapping[str, Any], as_list: bool = False) -> asyncio.Future[Any]:
        # Fix (d): build our _Action (future from the running loop) rather
        # than AMIProtocol's Action/Command.
        action = data if isinstance(data, _Action) else _Action(data)
        if self.closed:
            # AMIProtocol would write to a closed transport (asyncio only
            # logs that) and leave the future pending forever.
            action.future.set_exception(AmiConnectionError("connection closed"))
            return action.future
        future: asyncio.Future[Any] = super().send(action, as_list=as_list)
        return future

    def close(self) -> None:
        # Fix: AMIProtocol.close() leaves Login and Ping futures pending for
        # ever and queues other pending actions to be sent again after the
        # next FullyBooted, even when their caller has given up (an
        # Originate could then run twice). Fail them all now: an action is
        # sent at most once.
        pending = {id(action): action for action in self.responses.values()}
        self.responses.clear()
        for action in pending.values():
            if not action.future.done():
                action.future.set_exception(AmiConnectionError("connection lost"))
        if not self.closed:
            self.closed = True
            self.transport.close()

    def abort(self) -> None:
        """Close without flushing: a silent peer may not be reading either."""
        self.close()
        self.transport.abort()

    def connection_lost(self, exc: Exception | None) -> None:
        # Fix (b): AMIProtocol.connection_lost calls Manager.connection_lost,
        # which schedules a reconnect that close() cannot cancel (and skips
        # even that when the protocol was closed first). Here the loss only
        # resolves `lost`; AmiClient's supervisor decides what comes next.
        self.close()
        if not self.lost.done():
            self.lost.set_result(_reason(exc))


class _Manager(Manager):  # type: ignore[misc]
    """panoramisk's event dispatch and action sending; AmiClient connects."""

    def connect(self, *args: object, **kwargs: object) -> NoReturn:
        # Fix (b): Manager.connect / connection_made / connection_lost
        # reconnect on call_later timers that close() cannot cancel, at a
        # fixed delay, with no connect or login timeout. AmiClient connects
        # instead; refuse, so that nothing starts the old path by mistake.
        raise NotImplementedError("AmiClient owns the connection")

    def send_awaiting_actions(self, *_: object) -> None:
        # Manager runs this coroutine on every FullyBooted, fire-and-forget,
        # to re-send actions queued by AMIProtocol.close(). AmiProtocol.close
        # queues none (it fails them), so there is nothing to send.
        return None

    def attach(self, protocol: AmiProtocol) -> None:
        """What Manager.connection_made does with a new protocol, minus Login and pinger."""
        self.protocol = protocol
        protocol.factory = self


class AmiClient:
    """Connects, logs in, hands every notifier event to ``on_event``, reconnects.

    ``on_event`` gets ``notifier.model`` events only; ``on_state`` every
    ``AmiState`` change (each is also logged). ``on_frame``, for diagnostics
    and tests, gets every AMI event frame before it is read (frames carry
    withheld numbers: never log them). An exception from a callback is
    logged and the client goes on.

    The watchdog pings every ``ping_interval`` s and drops the connection
    when no answer comes within ``ping_timeout`` s (default:
    ``action_timeout``). Reconnect delays double from ``reconnect_min`` up to
    ``reconnect_max`` s, each drawn from its upper half so that clients
    restarted together spread out; a session that logged in resets them.
    The delays are waited with ``sleep`` (tests pass one that records them).
    """

    def __init__(
        self,
        host: str,
        port: int,
        username: str,
        secret: str,
        *,
        on_event: Callable[[Event], None],
        on_state: Callable[[AmiState], None] | None = None,
        on_frame: Callable[[Mapping[str, Any]], None] | None = None,
        ping_interval: float = 20.0,
        ping_timeout: float | None = None,
        action_timeout: float = 10.0,
        connect_timeout: float = 10.0,
        reconnect_min: float = 0.5,
        reconnect_max: float = 5.0,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if not 0 < reconnect_min <= reconnect_max:
            raise ValueError("need 0 < reconnect_min <= reconnect_max")
        ping_timeout = action_timeout if ping_timeout is None else ping_timeout
        if min(ping_interval, ping_timeout, action_timeout, connect_timeout) <= 0:
            raise ValueError("intervals and timeouts must be positive")
        self._host, self._port = host, port
        self._username, self._secret = username, secret
        self._on_event, self._on_state, self._on_frame = on_event, on_state, on_frame
        self._ping_interval = ping_interval
        self._ping_timeout = ping_timeout
        self._action_timeout = action_timeout
        self._connect_timeout = connect_timeout
        self._reconnect_min, self._reconnect_max = reconnect_min, reconnect_max
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._log: Log = structlog.get_logger(__name__).bind(ami_host=host, ami_port=port)
        self._state = AmiState.STOPPED
        self._closed = False
        self._manager: _Manager | None = None
        self._protocol: AmiProtocol | None = None
        self._runner: asyncio.Task[None] | None = None

    @classmethod
    def from_config(
        cls,
        config: AmiConfig,
        *,
        on_event: Callable[[Event], None],
        on_state: Callable[[AmiState], None] | None = None,
        rng: random.Random | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> AmiClient:
        """The client of an ``[ami]`` section, its reconnect delays capped by it."""
        return cls(
            config.host,
            config.port,
            config.username,
            config.secret,
            on_event=on_event,
            on_state=on_state,
            reconnect_max=float(config.reconnect_max_seconds),
            rng=rng,
            sleep=sleep,
        )

    @property
    def state(self) -> AmiState:
        return self._state

    async def start(self) -> None:
        """Start connecting in the background; returns at once."""
        if self._closed:
            raise RuntimeError("AmiClient was closed")
        if self._runner is not None:
            raise RuntimeError("AmiClient already started")
        self._manager = _Manager(
            loop=asyncio.get_running_loop(),
            host=self._host,
            port=self._port,
            protocol_factory=AmiProtocol,
        )
        self._manager.register_event("*", self._dispatch)
        self._runner = asyncio.create_task(self._run(), name=f"ami {self._host}:{self._port}")

    async def close(self) -> None:
        """Stop for good: cancels a pending reconnect, closes the connection."""
        self._closed = True
        runner, self._runner = self._runner, None
        if runner is not None:
            runner.cancel()
            await asyncio.wait([runner])
        protocol = self._protocol
        if protocol is not None:
            protocol.close()
            done, _ = await asyncio.wait([protocol.lost], timeout=1.0)
            if not done:
                protocol.abort()
        if self._state is not AmiState.CLOSED:
            self._set_state(AmiState.CLOSED)

    async def send_action(
        self, action: Mapping[str, str], *, response_timeout: float | None = None
    ) -> Mapping[str, Any]:
        """Send one action; its (single) response.

        Raises ``AmiTimeoutError`` (a ``TimeoutError``) after
        ``response_timeout`` (default ``action_timeout``) s, ``AmiConnectionError`` when not logged
        in or when the connection goes first, ``UnsafeAmiValue`` for CR/LF.
        """
        protocol = self._protocol
        if protocol is None or self._state is not AmiState.LOGGED_IN:
            raise AmiConnectionError(f"not logged in ({self._state})")
        return await self._request(
            protocol, action, self._action_timeout if response_timeout is None else response_timeout
        )

    # --- the supervisor ----------------------------------------------------------

    async def _run(self) -> None:
        failures = 0
        while True:
            self._set_state(AmiState.CONNECTING)
            try:
                logged_in, reason = await self._session()
            except Exception as exc:  # noqa: BLE001 - logged; the supervisor must go on
                # A bug of ours or panoramisk's must not end the supervisor:
                # log it and reconnect like after any other loss.
                self._log.exception("ami_session_failed")
                logged_in, reason = False, _reason(exc)
            if logged_in:
                failures = 0
            if reason:
                self._set_state(AmiState.DISCONNECTED, reason=reason)
            delay = self._backoff(failures)
            failures += 1
            self._set_state(AmiState.RECONNECTING, delay=round(delay, 3))
            await self._sleep(delay)

    async def _session(self) -> tuple[bool, str]:
        """One connection: (whether it logged in, why it ended; "" after login_failed)."""
        try:
            protocol = await self._connect()
        except OSError as exc:  # refused, unreachable, or TimeoutError
            return False, _reason(exc)
        try:
            self._set_state(AmiState.CONNECTED)
            try:
                response = await self._request(
                    protocol,
                    ami.login_action(self._username, self._secret),
                    self._action_timeout,
                )
            except AmiTimeoutError:
                return False, "login_timeout"
            except AmiConnectionError:
                return False, await protocol.lost
            if not ami.response_succeeded(response):
                self._set_state(AmiState.LOGIN_FAILED, message=ami.response_message(response))
                return False, ""
            self._set_state(AmiState.LOGGED_IN, version=protocol.version)
            return True, await self._watch(protocol)
        finally:
            protocol.close()

    async def _connect(self) -> AmiProtocol:
        assert self._manager is not None
        loop = asyncio.get_running_loop()
        async with asyncio.timeout(self._connect_timeout):
            _, protocol = await loop.create_connection(
                self._manager.config["protocol_factory"], self._host, self._port
            )
        assert isinstance(protocol, AmiProtocol)
        protocol.log = self._log
        self._manager.attach(protocol)
        self._protocol = protocol
        return protocol

    async def _watch(self, protocol: AmiProtocol) -> str:
        """Fix (a): ping until the connection is gone; drop it when a ping goes unanswered."""
        while True:
            done, _ = await asyncio.wait([protocol.lost], timeout=self._ping_interval)
            if done:
                return protocol.lost.result()
            try:
                await self._request(protocol, ami.ping_action(), self._ping_timeout)
            except AmiTimeoutError:
                self._log.warning("ami_ping_timeout", timeout=self._ping_timeout)
                protocol.abort()
                await protocol.lost
                return "ping_timeout"
            except AmiConnectionError:
                return await protocol.lost

    async def _request(
        self, protocol: AmiProtocol, action: Mapping[str, str], within: float
    ) -> Mapping[str, Any]:
        # Fix (a): panoramisk's futures have no timeout; a peer that never
        # answers would hold the caller for ever.
        future = protocol.send(action)
        try:
            response: Mapping[str, Any] = await asyncio.wait_for(future, within)
        except TimeoutError:
            raise AmiTimeoutError(f"no response within {within} s") from None
        return response

    def _backoff(self, failures: int) -> float:
        ceiling = min(self._reconnect_max, self._reconnect_min * 2.0 ** min(failures, 32))
        return ceiling * self._rng.uniform(0.5, 1.0)

    # --- callbacks -----------------------------------------------------------------

    def _set_state(self, state: AmiState, **fields: object) -> None:
        self._state = state
        bad = state in (AmiState.DISCONNECTED, AmiState.LOGIN_FAILED)
        (self._log.warning if bad else self._log.info)(f"ami_{state.value}", **fields)
        if self._on_state is not None:
            try:
                self._on_state(state)
            except Exception:  # noqa: BLE001 - a callback's bug must not stop the client
                self._log.exception("ami_state_handler_failed", state=state.value)

    def _dispatch(self, manager: Manager, message: Message) -> None:
        if self._on_frame is not None:
            try:
                self._on_frame(message)
            except Exception:  # noqa: BLE001 - a callback's bug must not stop the client
                self._log.exception("ami_frame_handler_failed")
        try:
            event = ami.read_event(message)
        except ami.MalformedEvent as exc:
            self._log.warning("ami_event_malformed", ami_event=exc.event, reason=exc.reason)
            return
        if event is None:
            return
        try:
            self._on_event(event)
        except Exception:  # noqa: BLE001 - a callback's bug must not stop the client
            self._log.exception("ami_event_handler_failed", event_type=type(event).__name__)
