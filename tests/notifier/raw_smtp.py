"""An SMTP peer on loopback that answers with exactly the bytes it is given (issue 16).

aiosmtpd encodes what a handler returns, so it cannot send a reply that is
not UTF-8, or one with a NUL or an escape sequence in it. This peer speaks
just enough SMTP for aiosmtplib: every command is answered ``250 ok``
unless a scripted reply for that command is waiting (one per occurrence, in
order); DATA answers ``354`` and, after the message, the next scripted DATA
reply or ``250 ok``. The messages it accepted are kept, in order.

Like a real server (and aiosmtpd's controller) it answers whatever the
test's loop is doing: it runs on a loop of its own, in its own thread. On
the test's loop, a test that blocked it (``ChakushinProcess.terminate()``
waits for the process) left the client's QUIT unanswered until the SMTP
timeout. ``accepted`` and ``arrived`` are for the test to read once
``arrived`` is set or the peer is stopped.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

OK = b"250 ok\r\n"
_T = TypeVar("_T")


@dataclass
class RawSmtpPeer:
    # Per command (b"MAIL", b"RCPT", b"DATA"): the whole replies, CRLFs included.
    replies: Mapping[bytes, Sequence[bytes]] = field(default_factory=dict)
    # Commands the peer reads and never answers (b"QUIT": a server that hangs at the end).
    silent: frozenset[bytes] = frozenset()
    accepted: list[bytes] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _left: dict[bytes, list[bytes]] = field(default_factory=dict)
    _server: asyncio.Server | None = None
    _loop: asyncio.AbstractEventLoop | None = None  # the peer's own, run by _thread
    _thread: threading.Thread | None = None
    _caller: asyncio.AbstractEventLoop | None = None  # the test's, where ``arrived`` is set
    _sessions: set[asyncio.Task[None]] = field(default_factory=set)

    async def start(self) -> RawSmtpPeer:
        self._left = {command: list(said) for command, said in self.replies.items()}
        self._caller = asyncio.get_running_loop()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="raw-smtp-peer", daemon=True
        )
        self._thread.start()
        self._server = await self._on_peer_loop(asyncio.start_server(self._serve, "127.0.0.1", 0))
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._loop is None or self._thread is None:
            return
        await self._on_peer_loop(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        await asyncio.to_thread(self._thread.join)
        self._loop.close()
        self._loop = self._thread = None

    async def _on_peer_loop(self, work: Coroutine[object, object, _T]) -> _T:
        assert self._loop is not None
        return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(work, self._loop))

    async def _close(self) -> None:
        """On the peer's loop: no new connection, and the open ones ended."""
        if self._server is not None:
            self._server.close()
            for session in self._sessions:
                session.cancel()
            await asyncio.gather(*self._sessions, return_exceptions=True)
            await self._server.wait_closed()
            self._server = None

    def _accept(self, message: bytes) -> None:
        self.accepted.append(message)
        if self._caller is not None:
            self._caller.call_soon_threadsafe(self.arrived.set)

    def _reply(self, command: bytes) -> bytes:
        left = self._left.get(command)
        return left.pop(0) if left else OK

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = asyncio.current_task()
        assert session is not None
        self._sessions.add(session)
        try:
            writer.write(b"220 raw ESMTP\r\n")
            while line := await reader.readline():
                command = line[:4].upper()
                if command in self.silent:
                    continue
                if command == b"QUIT":
                    writer.write(b"221 bye\r\n")
                    break
                if command == b"DATA":
                    writer.write(b"354 go ahead\r\n")
                    await writer.drain()
                    message = b""
                    while (data := await reader.readline()) not in (b".\r\n", b""):
                        message += data
                    reply = self._reply(command)
                    if reply.startswith(b"2"):
                        self._accept(message)
                    writer.write(reply)
                elif command in (b"EHLO", b"HELO"):
                    writer.write(b"250 raw\r\n")
                else:
                    writer.write(self._reply(command))
                await writer.drain()
        except ConnectionError:
            pass  # the client dropped the connection after a refusal
        finally:
            writer.close()
            self._sessions.discard(session)
