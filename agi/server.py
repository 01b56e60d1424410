"""The FastAGI server: many calls at once, one thread per AGI session.

pyst2 is blocking, so each session runs in its own thread; a peer that
connects and sends nothing holds only its own thread until the idle
timeout (panoramisk's asyncio FastAGI server freezes its whole event loop
on such a peer). Sessions are dispatched on ``agi_network_script``, the
path of ``agi://host:port/<script>``.

What one peer may take is bounded (issue 12, ``SessionLimits``): the
length of a line, the number of environment lines, the time one line may
take (the idle timeout does not restart on every byte), the length of a
whole session, and the number of sessions at once. A connection over the
session cap is closed in the accepting thread, before any thread is made
for it. Every refusal or cut is counted by reason (``REFUSAL_REASONS``,
OPS-4 metrics) and logged as ``agi_connection_refused``; in a flood, one
line per reason every ``FLOOD_LOG_INTERVAL`` seconds, and as many
``agi_session_aborted`` lines for peers that leave before their
environment ends (port scans, TCP health checks).
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NoReturn

import structlog
from asterisk.agi import AGIError  # type: ignore[import-untyped]

from agi.config import AgiConfig
from agi.transport import MAX_ENVIRONMENT_LINES, AGIChannel, AGILimitExceeded, SafeAGI
from agi.wiring import Route

log = structlog.get_logger("agi.server")

# The labels of chakushin_agi_refused (OPS-4): why a connection was refused
# or a session cut.
NOT_ALLOWED_PEER = "not_allowed_peer"
TOO_MANY_SESSIONS = "too_many_sessions"
LINE_TOO_LONG = "line_too_long"
TOO_MANY_ENV_LINES = "too_many_env_lines"
DEADLINE = "deadline"
IDLE = "idle"
REFUSAL_REASONS = (
    NOT_ALLOWED_PEER,
    TOO_MANY_SESSIONS,
    LINE_TOO_LONG,
    TOO_MANY_ENV_LINES,
    DEADLINE,
    IDLE,
)
# In a flood, one log line per reason at most this often; the metrics count
# every refusal, and the next line says how many were not logged.
FLOOD_LOG_INTERVAL = 10.0
_RECV_BYTES = 4096


@dataclass(frozen=True)
class SessionLimits:
    """What one peer may take of the server; the defaults are ``[agi]``'s.

    A real call never comes near them: Asterisk's lines are a few hundred
    bytes, its environment about 22 lines, and the longest IVR call (eight
    digit entries at the longest input timeout) lasts about 12 minutes.
    """

    # Seconds one line (the environment's or a command's answer) may take to arrive.
    idle_timeout: float = 120.0
    # Seconds a whole session may last.
    session_deadline: float = 900.0
    # Bytes in one line, newline not counted.
    max_line_bytes: int = 8192
    max_environment_lines: int = MAX_ENVIRONMENT_LINES
    # Sessions at once; a connection beyond is closed at once.
    max_sessions: int = 200

    @classmethod
    def from_config(cls, agi: AgiConfig) -> SessionLimits:
        return cls(
            idle_timeout=float(agi.idle_timeout_seconds),
            session_deadline=float(agi.session_deadline_seconds),
            max_line_bytes=agi.max_line_bytes,
            max_environment_lines=agi.max_environment_lines,
            max_sessions=agi.max_sessions,
        )

    def limit_of(self, reason: str) -> float | None:
        """The configured value a refusal broke, for its log line."""
        return {
            TOO_MANY_SESSIONS: self.max_sessions,
            LINE_TOO_LONG: self.max_line_bytes,
            TOO_MANY_ENV_LINES: self.max_environment_lines,
            DEADLINE: self.session_deadline,
            IDLE: self.idle_timeout,
        }.get(reason)


class SessionStats:
    """Sessions active now, finished by outcome, refused by reason (metrics, benchmarks)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.active = 0
        self.finished: Counter[str] = Counter()
        self.refused: Counter[str] = Counter()

    def try_start(self, max_sessions: int) -> bool:
        """Take a session slot; False when all ``max_sessions`` are taken."""
        with self._changed:
            if self.active >= max_sessions:
                return False
            self.active += 1
            return True

    def ended(self, outcome: str) -> None:
        with self._changed:
            self.active -= 1
            self.finished[outcome] += 1
            self._changed.notify_all()

    def refuse(self, reason: str) -> None:
        with self._changed:
            self.refused[reason] += 1

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no session is active; False if some still are after ``timeout`` s."""
        with self._changed:
            return self._changed.wait_for(lambda: self.active == 0, timeout)


class _ThrottledLog:
    """In a flood, one line per key every ``interval`` s; the next one says how many were not."""

    def __init__(self, clock: Callable[[], float], interval: float) -> None:
        self._clock = clock
        self._interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._suppressed: Counter[str] = Counter()

    def emit(self, method: Callable[..., Any], event: str, key: str, **fields: Any) -> None:
        with self._lock:
            now = self._clock()
            last = self._last.get(key)
            if last is not None and now - last < self._interval:
                self._suppressed[key] += 1
                return
            self._last[key] = now
            suppressed = self._suppressed.pop(key, 0)
        method(event, suppressed=suppressed, **fields)


class FastAGIServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = False  # server_close() waits for calls in progress
    block_on_close = True
    # socketserver listens with a backlog of 5: a burst of calls overflowed it
    # and the kernel dropped connections (bench/agi_sessions.py). The kernel
    # caps this at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        routes: Mapping[str, Route],
        *,
        sounds_dir: str = "chakushin",
        allowed_peers: Iterable[str] = (),
        limits: SessionLimits | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.routes = dict(routes)
        self.sounds_dir = sounds_dir
        self.allowed_peers = frozenset(ipaddress.ip_address(p) for p in allowed_peers)
        self.limits = limits or SessionLimits()
        self.clock = clock
        self.stats = SessionStats()
        self._throttled_log = _ThrottledLog(clock, FLOOD_LOG_INTERVAL)
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, _SessionHandler)

    @property
    def port(self) -> int:
        return int(self.server_address[1])

    def stop(self, timeout: float) -> int:
        """Graceful stop: no new sessions, ``timeout`` s for those in progress.

        Call from another thread than ``serve_forever``. Sessions still
        running after the timeout are cut: their socket is shut down, which
        the flow sees as the caller hanging up (nothing half-stored: flows
        write only when complete). Returns how many were cut; on return
        every session thread has ended.
        """
        self.close_port()
        return self.finish(timeout)

    def close_port(self) -> None:
        """Stop ``serve_forever`` and close the listening socket: new calls are refused."""
        self.shutdown()
        self.socket.close()

    def finish(self, timeout: float) -> int:
        """After ``close_port``: wait for the sessions in progress, cut them after ``timeout``."""
        cut = 0
        if not self.stats.wait_idle(timeout):
            with self._sockets_lock:
                open_sockets = list(self._sockets)
            for sock in open_sockets:
                with contextlib.suppress(OSError):  # it may have closed meanwhile
                    sock.shutdown(socket.SHUT_RDWR)
                    cut += 1
            log.warning("agi_sessions_cut", sessions=cut, timeout=timeout)
        self.server_close()  # joins the session threads
        return cut

    def track(self, sock: socket.socket, open_: bool) -> None:
        with self._sockets_lock:
            if open_:
                self._sockets.add(sock)
            else:
                self._sockets.discard(sock)

    def refuse(self, reason: str, peer: str) -> None:
        """Count and log a refused connection or a session cut by a limit."""
        self.stats.refuse(reason)
        limit = self.limits.limit_of(reason)
        self._throttled_log.emit(
            log.warning,
            "agi_connection_refused",
            reason,
            reason=reason,
            peer=peer,
            **({} if limit is None else {"limit": limit}),
        )

    def aborted(self, peer: str, reason: str) -> None:
        """A peer that left before its environment ended (a port scan, a TCP health check)."""
        self._throttled_log.emit(log.info, "agi_session_aborted", "", peer=peer, reason=reason)

    def verify_request(self, request: Any, client_address: Any) -> bool:
        """In the accepting thread: a refused connection is closed before any thread is made."""
        if self.allowed_peers:
            peer = ipaddress.ip_address(client_address[0])
            if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
                peer = peer.ipv4_mapped
            if peer not in self.allowed_peers:
                self.refuse(NOT_ALLOWED_PEER, str(peer))
                return False
        if not self.stats.try_start(self.limits.max_sessions):
            self.refuse(TOO_MANY_SESSIONS, client_address[0])
            return False
        return True

    def process_request(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request(request, client_address)
        except Exception:
            self.stats.ended("aborted")  # no thread took the slot verify_request gave
            raise


class _LineReader:
    """Asterisk's lines from the socket, each within the session's limits.

    Never holds more than one line's cap plus one read of bytes. One line
    must arrive whole within the idle timeout (a peer trickling one byte at
    a time gains nothing), and no read goes past the session's deadline.
    A broken limit raises ``AGILimitExceeded``, then again on every read.
    """

    def __init__(
        self, sock: socket.socket, limits: SessionLimits, clock: Callable[[], float]
    ) -> None:
        self.sock = sock
        self.limits = limits
        self.clock = clock
        self.deadline = clock() + limits.session_deadline
        self.exceeded: AGILimitExceeded | None = None
        self._buffer = bytearray()

    def readline(self) -> str:
        if self.exceeded is not None:
            raise self.exceeded
        started = self.clock()
        while True:
            end = self._buffer.find(b"\n")
            if end > self.limits.max_line_bytes or (
                end < 0 and len(self._buffer) > self.limits.max_line_bytes
            ):
                self._exceed(LINE_TOO_LONG, f"a line over {self.limits.max_line_bytes} bytes")
            if end >= 0:
                line = bytes(self._buffer[: end + 1])
                del self._buffer[: end + 1]
                # Asterisk sends UTF-8; a stray byte must not end the call.
                return line.decode("utf-8", errors="replace")
            self.sock.settimeout(self._time_left(started))
            try:
                chunk = self.sock.recv(_RECV_BYTES)
            except TimeoutError:
                continue  # _time_left says which limit it was
            if not chunk:  # end of stream: what is left, then ""
                rest = bytes(self._buffer)
                self._buffer.clear()
                return rest.decode("utf-8", errors="replace")
            self._buffer += chunk

    def _time_left(self, line_started: float) -> float:
        """Seconds until the line's idle timeout or the deadline; raises once one has passed."""
        now = self.clock()
        if now >= self.deadline:
            self._exceed(DEADLINE, f"session longer than {self.limits.session_deadline} s")
        idle_ends = line_started + self.limits.idle_timeout
        if now >= idle_ends:
            self._exceed(IDLE, f"no complete line within {self.limits.idle_timeout} s")
        return min(idle_ends, self.deadline) - now

    def _exceed(self, reason: str, message: str) -> NoReturn:
        self.exceeded = AGILimitExceeded(reason, message)
        raise self.exceeded


class _SessionHandler(socketserver.BaseRequestHandler):
    server: FastAGIServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        server = self.server
        peer = self.client_address[0]
        server.track(sock, True)
        outcome = "aborted"
        reader = _LineReader(sock, server.limits, server.clock)
        self.env_refused: AGILimitExceeded | None = None
        sock.settimeout(server.limits.idle_timeout)
        wfile = sock.makefile("w", encoding="utf-8")
        try:
            outcome = self._run(reader, wfile, peer)
        finally:
            server.track(sock, False)
            exceeded = self.env_refused or reader.exceeded
            if exceeded is not None:
                server.refuse(exceeded.reason, peer)
            server.stats.ended(outcome)
            # The peer may be gone with output unflushed; nothing to do then.
            with contextlib.suppress(OSError):
                wfile.close()

    def _run(self, reader: _LineReader, wfile: Any, peer: str) -> str:
        try:
            agi = SafeAGI(
                reader, wfile, max_environment_lines=self.server.limits.max_environment_lines
            )
        except AGILimitExceeded as exc:
            self.env_refused = exc
            return "aborted"
        except (AGIError, OSError, UnicodeError) as exc:
            self.server.aborted(peer, str(exc))
            return "aborted"
        script = agi.env.get("agi_network_script", "")
        session_log = log.bind(call_id=agi.env.get("agi_uniqueid", ""), script=script)
        route = self.server.routes.get(script)
        if route is None:
            session_log.warning("agi_unknown_script", peer=peer)
            return "unknown_script"
        try:
            return route(AGIChannel(agi, self.server.sounds_dir))
        except Exception:  # noqa: BLE001 - one broken call must not stop the server
            session_log.exception("agi_session_failed")
            return "failed"
