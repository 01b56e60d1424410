"""A real SMTP server on loopback (aiosmtpd) that can refuse on purpose."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
from collections import Counter
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from aiosmtpd.controller import Controller

from tests.builders import free_port


@dataclass
class Inbox:
    """What the server accepted, and what it should answer next."""

    messages: list[EmailMessage] = field(default_factory=list)
    # The envelope sender (MAIL FROM) of each accepted message, in the same order.
    envelope_senders: list[str] = field(default_factory=list)
    # Replies to give instead of accepting, one per DATA, in order ("451 ...", "550 ...").
    refusals: list[str] = field(default_factory=list)
    # Seconds each DATA takes before the reply (a slow server).
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    arrived: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.arrived = threading.Condition(self.lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.delay:
            await asyncio.sleep(self.delay)
        with self.lock:
            if self.refusals:
                return self.refusals.pop(0)
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            self.messages.append(message)
            self.envelope_senders.append(envelope.mail_from)
            self.arrived.notify_all()
        return "250 OK queued"

    def message_ids(self) -> Counter[str]:
        with self.lock:
            return Counter(str(m["Message-ID"]) for m in self.messages)

    def wait_for(self, count: int, timeout: float = 30.0) -> bool:
        with self.lock:
            return self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)


class SmtpServer:
    def __init__(self, port: int | None = None, inbox: Inbox | None = None) -> None:
        self.port = port or free_port()
        self.inbox = inbox or Inbox()
        self.controller: Controller | None = None

    def start(self) -> SmtpServer:
        self.controller = Controller(self.inbox, hostname="127.0.0.1", port=self.port)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None
