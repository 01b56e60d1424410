"""A real HTTP server on 127.0.0.1 (http.server in a thread) that answers as told.

Each request is recorded (method, path, headers, body); the answers are a
script (``Reply`` objects, one per request, then ``default``). A reply can
hold its answer until ``release`` is set (a slow server: the test sets it
once done, nothing sleeps to synchronise) or stream a body far larger than
any client should read (``body_size``), counting what it managed to write.
"""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from types import TracebackType
from typing import Self

WITHIN = 60.0  # seconds a held answer waits at most


@dataclass(frozen=True)
class Reply:
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    # Hold the answer until the server's ``release`` is set (a server that does not answer).
    hold: bool = False
    # Stream this many bytes of body instead of ``body`` (Content-Length says so).
    body_size: int = 0
    # Send the headers and ``body``, then hold the rest of a longer body until ``release``.
    stall_body: bool = False


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class HttpServer:
    script: list[Reply] = field(default_factory=list)
    default: Reply = field(default_factory=Reply)
    requests: list[Request] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)
    written: int = 0  # bytes of streamed body the server could write
    # Told of each request as it arrives, before the answer (in the server's thread).
    on_request: Callable[[Request], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                self._answer()

            def do_GET(self) -> None:
                self._answer()

            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                request = Request(
                    self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body
                )
                with owner.lock:
                    owner.requests.append(request)
                    reply = owner.script.pop(0) if owner.script else owner.default
                if owner.on_request is not None:
                    owner.on_request(request)
                if reply.hold:
                    owner.release.wait(WITHIN)
                try:
                    self._send(reply)
                except OSError:  # the client stopped reading and closed
                    self.close_connection = True

            def _send(self, reply: Reply) -> None:
                self.send_response(reply.status)
                for name, value in reply.headers:
                    self.send_header(name, value)
                size = reply.body_size or len(reply.body) + (1000 if reply.stall_body else 0)
                self.send_header("Content-Length", str(size))
                self.end_headers()
                if reply.stall_body:
                    self.wfile.write(reply.body)
                    self.wfile.flush()
                    owner.release.wait(WITHIN)
                    self.close_connection = True
                    return
                if not reply.body_size:
                    self.wfile.write(reply.body)
                    return
                chunk = b"x" * 65536
                while owner.written < size:
                    self.wfile.write(chunk)
                    owner.written += len(chunk)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def url(self, path: str = "/hook", host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(WITHIN)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def paths(self) -> list[str]:
        with self.lock:
            return [r.path for r in self.requests]


def closed_port() -> int:
    """A loopback port with nothing listening (a refused connection)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
