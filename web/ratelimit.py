"""Slowing down password guessing from one address (SITE-1, SITE-4).

The seeds' lockouts (3 wrong temporary passwords, 10 wrong passwords) are
per number and live in the database. They do not stop one client from
trying many numbers, nor a storm against one number from filling the
server's hashing slots. This throttle counts failed logins per client
address in a sliding window: over ``limit`` failures in ``window`` the
address is refused (HTTP 429) until the oldest failure leaves the window.
A success clears nothing: failures only age out, so that logging in with
one's own number does not buy more guesses at others. The auth unit
change page (SITE-8) counts under its own key (``auth_unit:<address>``);
wrong OTP confirmation IDs/passwords (SITE-5: the address change,
``/otp/confirmation`` and the SITE-9 CSV upload) under
``confirmation:<address>``.
It is per process; several site processes each apply it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class LoginThrottle:
    limit: int = 20
    window: float = 600.0
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 100_000
    _failures: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def retry_after(self, client: str) -> float:
        """0 when ``client`` may try now, else the seconds until it may."""
        now = self.clock()
        with self._lock:
            times = self._failures.get(client)
            if not times:
                return 0.0
            while times and now - times[0] >= self.window:
                times.popleft()
            if not times:
                del self._failures[client]
                return 0.0
            if len(times) < self.limit:
                return 0.0
            return max(0.0, times[0] + self.window - now)

    def failed(self, client: str) -> None:
        now = self.clock()
        with self._lock:
            if client not in self._failures and len(self._failures) >= self.max_clients:
                # Memory stays bounded: forget the client seen least recently.
                oldest = min(self._failures, key=lambda c: self._failures[c][-1])
                del self._failures[oldest]
            self._failures.setdefault(client, deque()).append(now)
