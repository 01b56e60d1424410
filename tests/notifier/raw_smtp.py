"""An SMTP peer on loopback that answers with exactly the bytes it is given (issue 16).

aiosmtpd encodes what a handler returns, so it cannot send a reply that is
not UTF-8, or one with a NUL or an escape sequence in it. This peer speaks
just enough SMTP for aiosmtplib: every command is answered ``250 ok``
unless a scripted reply for that command is waiting (one per occurrence, in
order); DATA answers ``354`` and, after the message, the next scripted DATA
reply or ``250 ok``. The messages it accepted are kept, in order.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

OK = b"250 ok\r\n"


@dataclass
class RawSmtpPeer:
    # Per command (b"MAIL", b"RCPT", b"DATA"): the whole replies, CRLFs included.
    replies: Mapping[bytes, Sequence[bytes]] = field(default_factory=dict)
    accepted: list[bytes] = field(default_factory=list)
    arrived: asyncio.Event = field(default_factory=asyncio.Event)
    port: int = 0
    _left: dict[bytes, list[bytes]] = field(default_factory=dict)
    _server: asyncio.Server | None = None

    async def start(self) -> RawSmtpPeer:
        self._left = {command: list(said) for command, said in self.replies.items()}
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    def _reply(self, command: bytes) -> bytes:
        left = self._left.get(command)
        return left.pop(0) if left else OK

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            writer.write(b"220 raw ESMTP\r\n")
            while line := await reader.readline():
                command = line[:4].upper()
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
                        self.accepted.append(message)
                        self.arrived.set()
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
