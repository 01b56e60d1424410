"""The FastAGI server: many calls at once, one thread per AGI session.

pyst2 is blocking, so each session runs in its own thread; a peer that
connects and sends nothing holds only its own thread until the idle
timeout (panoramisk's asyncio FastAGI server freezes its whole event loop
on such a peer). Sessions are dispatched on ``agi_network_script``, the
path of ``agi://host:port/<script>``.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import structlog
from asterisk.agi import AGIError  # type: ignore[import-untyped]

from agi.transport import AGIChannel, SafeAGI
from agi.wiring import Route

log = structlog.get_logger("agi.server")


class SessionStats:
    """Sessions active now and finished by outcome (for metrics and benchmarks)."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self.active = 0
        self.finished: Counter[str] = Counter()

    def started(self) -> None:
        with self._changed:
            self.active += 1

    def ended(self, outcome: str) -> None:
        with self._changed:
            self.active -= 1
            self.finished[outcome] += 1
            self._changed.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no session is active; False if some still are after ``timeout`` s."""
        with self._changed:
            return self._changed.wait_for(lambda: self.active == 0, timeout)


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
        idle_timeout: float = 120.0,
    ) -> None:
        self.routes = dict(routes)
        self.sounds_dir = sounds_dir
        self.allowed_peers = frozenset(ipaddress.ip_address(p) for p in allowed_peers)
        self.idle_timeout = idle_timeout
        self.stats = SessionStats()
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

    def verify_request(self, request: Any, client_address: Any) -> bool:
        if not self.allowed_peers:
            return True
        peer = ipaddress.ip_address(client_address[0])
        if isinstance(peer, ipaddress.IPv6Address) and peer.ipv4_mapped is not None:
            peer = peer.ipv4_mapped
        if peer in self.allowed_peers:
            return True
        log.warning("agi_peer_refused", peer=str(peer))
        return False


class _SessionHandler(socketserver.BaseRequestHandler):
    server: FastAGIServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.settimeout(self.server.idle_timeout)
        peer = self.client_address[0]
        stats = self.server.stats
        stats.started()
        self.server.track(sock, True)
        outcome = "aborted"
        # Asterisk sends UTF-8; a stray byte must not end the call.
        rfile = sock.makefile("r", encoding="utf-8", errors="replace")
        wfile = sock.makefile("w", encoding="utf-8")
        try:
            outcome = self._run(rfile, wfile, peer)
        finally:
            self.server.track(sock, False)
            stats.ended(outcome)
            for f in (wfile, rfile):
                # The peer may be gone with output unflushed; nothing to do then.
                with contextlib.suppress(OSError):
                    f.close()

    def _run(self, rfile: Any, wfile: Any, peer: str) -> str:
        try:
            agi = SafeAGI(rfile, wfile)
        except (AGIError, OSError, UnicodeError) as exc:
            log.info("agi_session_aborted", peer=peer, reason=str(exc))
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
