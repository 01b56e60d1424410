"""A real AMI server on loopback: the peer of the tests and of ``chakushin demo``.

The notifier's client tests and the demo both talk to this server instead
of an Asterisk. It speaks as much of Asterisk's manager protocol as a
client needs to get going: the banner, ``Login`` (checks Username and
Secret; a refused login closes the connection, as Asterisk does),
``Ping``, ``Logoff``; any other action gets an error. What else goes on
the wire is the caller's choice: bytes streamed to the logged-in client
(the events of a recorded trace, garbage), optionally in chunks that split
UTF-8 characters; a dropped connection; silence; a restart on the same
port.

The trace helpers cut a recorded ``.ami`` stream into frames and keep its
events only: its own Login, Originate and Logoff responses answered actions
of the recording session, not the client's, so the events alone can follow
whatever login the client does. The recordings are the ones packaged with
``chakushin.demo.recordings`` (``TRACES``): real traffic from Asterisk
22.10.1, described in ``traces/README.md`` beside this module.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType

from chakushin.demo.recordings import TRACES

BANNER = b"Asterisk Call Manager/9.0.0\r\n"
END = b"\r\n\r\n"
USERNAME, SECRET = "chakushin", "s3cret"


# --- recorded streams ------------------------------------------------------------------


def trace_names() -> list[str]:
    return sorted(p.stem for p in TRACES.glob("*.ami"))


def load_trace(name: str) -> bytes:
    """The raw bytes of ``<name>.ami`` among the packaged recordings."""
    return (TRACES / f"{name}.ami").read_bytes()


def split_frames(data: bytes) -> list[bytes]:
    """The frames of a raw AMI stream, each with its blank line; the banner dropped."""
    if data.startswith(b"Asterisk Call Manager/"):
        data = data.partition(b"\r\n")[2]
    return [frame + END for frame in data.split(END) if frame.strip()]


def event_frames(data: bytes) -> list[bytes]:
    """The event frames of a raw AMI stream, byte for byte: responses dropped."""
    return [frame for frame in split_frames(data) if frame.startswith(b"Event: ")]


def encode_frame(headers: Mapping[str, str] | Iterable[tuple[str, str]]) -> bytes:
    items = headers.items() if isinstance(headers, Mapping) else headers
    return b"".join(f"{name}: {value}\r\n".encode() for name, value in items) + b"\r\n"


def split_inside(data: bytes, inside: bytes) -> list[bytes]:
    """``data`` in chunks cut at every byte boundary within each occurrence of ``inside``.

    For a UTF-8 ``inside`` of multi-byte characters, every character of it
    is then split across chunks.
    """
    cuts: list[int] = []
    start = data.find(inside)
    while start >= 0:
        cuts.extend(range(start + 1, start + len(inside)))
        start = data.find(inside, start + len(inside))
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if b > a]


# --- waiting for a condition -------------------------------------------------------------


class Changes:
    """Lets a caller wait, with a bound, until a predicate over shared state holds.

    Whoever changes the state calls ``notify()``; waiters re-check their
    predicate after every change, so no change is missed.
    """

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def notify(self) -> None:
        self._event.set()

    async def wait_for(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        """Return once ``predicate()`` is true; ``TimeoutError`` after ``within`` s."""
        async with asyncio.timeout(within):
            while not predicate():
                self._event.clear()
                await self._event.wait()


# --- the server ---------------------------------------------------------------------------


@dataclass(eq=False)
class _Connection:
    number: int
    writer: asyncio.StreamWriter
    logged_in: bool = False
    silent: bool = False
    # One writer at a time, so that a reply never lands inside a streamed frame.
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def _headers(frame: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in frame.decode("utf-8", errors="replace").split("\r\n"):
        name, colon, value = line.partition(":")
        if colon:
            fields[name.strip()] = value.strip()
    return fields


class AmiServer:
    """An AMI server on 127.0.0.1; ``port`` is fixed at the first ``start()``.

    ``connections`` and ``logins`` count since creation (across restarts);
    ``actions`` holds every action received, in order. ``changes`` is
    notified whenever any of them, or the set of open connections, changes.
    ``ping_reply``, when set, makes the Pong from the ActionID instead.
    ``answers`` replies to other actions of a logged-in client, by lower-case
    action name: given the action's headers, the bytes to send (a response,
    and for a list action its events up to the ``…Complete`` one).
    """

    def __init__(self, username: str = USERNAME, secret: str = SECRET) -> None:
        self.username, self.secret = username, secret
        self.port = 0
        self.connections = 0
        self.logins = 0
        self.actions: list[dict[str, str]] = []
        self.changes = Changes()
        self.ping_reply: Callable[[str], bytes] | None = None
        self.answers: dict[str, Callable[[Mapping[str, str]], bytes]] = {}
        self._server: asyncio.Server | None = None
        self._open: set[_Connection] = set()

    async def __aenter__(self) -> AmiServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def open_connections(self) -> int:
        return len(self._open)

    async def start(self) -> None:
        """Listen (again) on ``port``; the first start takes a free port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        """Stop listening and close every connection; returns once they are gone."""
        if self._server is not None:
            self._server.close()
            self._server = None
        await self.drop()

    async def drop(self) -> None:
        """Close every open connection (the client sees EOF)."""
        for conn in list(self._open):
            conn.writer.close()
        await self.wait_until(lambda: not self._open)

    def go_silent(self) -> None:
        """Open connections stop answering anything (the TCP connection stays up)."""
        for conn in self._open:
            conn.silent = True

    async def wait_until(self, predicate: Callable[[], bool], within: float = 5.0) -> None:
        await self.changes.wait_for(predicate, within)

    async def send(self, data: bytes | Iterable[bytes], *, pause: float = 0.0) -> None:
        """Write to the logged-in connection: one blob, or chunks written one by one.

        Between chunks the server waits ``pause`` s, so that each chunk
        reaches the client in its own read (loopback TCP would otherwise
        deliver them together).
        """
        conn = self._logged_in()
        chunks = [data] if isinstance(data, bytes) else list(data)
        async with conn.lock:
            for i, chunk in enumerate(chunks):
                if i and pause:
                    await asyncio.sleep(pause)
                conn.writer.write(chunk)
                await conn.writer.drain()

    def _logged_in(self) -> _Connection:
        live = [c for c in self._open if c.logged_in]
        if not live:
            raise RuntimeError("no client is logged in")
        return max(live, key=lambda c: c.number)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        conn = _Connection(self.connections, writer)
        self._open.add(conn)
        self.changes.notify()
        try:
            writer.write(BANNER)
            await writer.drain()
            while True:
                action = _headers(await reader.readuntil(END))
                self.actions.append(action)
                self.changes.notify()
                if conn.silent:
                    continue
                reply, close = self._answer(conn, action)
                async with conn.lock:
                    writer.write(reply)
                    await writer.drain()
                if close:
                    break
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            pass  # the client went away, or sent no AMI
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()
            self._open.discard(conn)
            self.changes.notify()

    def _answer(self, conn: _Connection, action: dict[str, str]) -> tuple[bytes, bool]:
        """The reply to an action, and whether to close the connection after it."""
        name = action.get("Action", "").lower()
        action_id = action.get("ActionID", "")

        def response(status: str, **fields: str) -> bytes:
            return encode_frame({"Response": status, "ActionID": action_id, **fields})

        if name == "login":
            if action.get("Username") == self.username and action.get("Secret") == self.secret:
                conn.logged_in = True
                self.logins += 1
                self.changes.notify()
                return response("Success", Message="Authentication accepted"), False
            return response("Error", Message="Authentication failed"), True
        if name == "ping":
            if self.ping_reply is not None:
                return self.ping_reply(action_id), False
            return response("Success", Ping="Pong", Timestamp="1795303015.000000"), False
        if name == "logoff":
            return response("Goodbye", Message="Thanks for all the fish."), True
        if name in self.answers and conn.logged_in:
            return self.answers[name](action), False
        return response("Error", Message="Invalid/unknown command"), False
