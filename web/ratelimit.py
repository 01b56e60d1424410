"""Slowing down password guessing from one address (SITE-1, SITE-4).

The seeds' lockouts (3 wrong temporary passwords, 10 wrong passwords) are
per number and live in the database. They do not stop one client from
trying many numbers, nor a storm against one number from filling the
server's hashing slots. This throttle counts failed attempts per client
address in a sliding window: over ``limit`` failures in ``window`` the
address is refused (HTTP 429) until the oldest failure leaves the window.

An attempt takes its slot before it is checked (``try_acquire``): it
counts as a failure from that moment, so that parallel requests cannot all
pass the check before the first failure is recorded (issue 12). An attempt
that turns out not to be a wrong guess gives its slot back
(``Reservation.release_success``); a wrong one keeps it. A success gives
back only its own slot: earlier failures only age out, so that logging in
with one's own number does not buy more guesses at others.

The keys: the login counts under the client's address (``client_key``: an
IPv6 address by its /64, which one subscriber holds whole; an IPv4 address
as it is); the password change page (SITE-10) under ``password:<address>``,
the auth unit change page (SITE-8) under ``auth_unit:<address>``, wrong OTP
confirmation IDs/passwords (SITE-5: the address change,
``/otp/confirmation`` and the SITE-9 CSV upload) under
``confirmation:<address>``. At most ``max_clients`` keys are kept, the one
whose last failure is oldest forgotten first (O(1)). It is per process;
several site processes each apply it.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field


def client_key(host: str) -> str:
    """The throttle's key for a client address: IPv6 by its /64, IPv4 as it is.

    An IPv6 subscriber is given a whole /64 and can rotate through it at
    will; an IPv4-mapped IPv6 address is the IPv4 address. Anything that is
    not an address (``unknown``, a test client's name) is its own key.
    """
    try:
        address = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


@dataclass
class Reservation:
    """One attempt in flight, already counted as a failure of ``key``."""

    throttle: LoginThrottle
    key: str
    at: float
    _done: bool = False

    def release_success(self) -> None:
        """The attempt was not a wrong guess: its slot is given back (once)."""
        if not self._done:
            self._done = True
            self.throttle._give_back(self.key, self.at)

    def keep(self) -> None:
        """The attempt was a wrong guess: its slot stays until it ages out."""
        self._done = True


@dataclass
class LoginThrottle:
    limit: int = 20
    window: float = 600.0
    clock: Callable[[], float] = time.monotonic
    max_clients: int = 100_000
    # Keys in the order of their last failure, oldest first.
    _failures: OrderedDict[str, deque[float]] = field(default_factory=OrderedDict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def _aged(self, client: str, now: float) -> deque[float] | None:
        """The failures of ``client`` still in the window (lock held)."""
        times = self._failures.get(client)
        if times is None:
            return None
        while times and now - times[0] >= self.window:
            times.popleft()
        if not times:
            del self._failures[client]
            return None
        return times

    def _wait(self, times: deque[float] | None, now: float) -> float:
        if times is None or len(times) < self.limit:
            return 0.0
        return max(0.0, times[0] + self.window - now)

    def retry_after(self, client: str) -> float:
        """0 when ``client`` may try now, else the seconds until it may."""
        now = self.clock()
        with self._lock:
            return self._wait(self._aged(client, now), now)

    def try_acquire(self, client: str) -> Reservation | float:
        """A slot for one attempt, counted as a failure at once; or the seconds to wait.

        The check and the count are one step: of parallel attempts at most
        ``limit`` pass in a window, whatever their timing.
        """
        now = self.clock()
        with self._lock:
            wait = self._wait(self._aged(client, now), now)
            if wait > 0:
                return wait
            self._record(client, now)
        return Reservation(self, client, now)

    def failed(self, client: str) -> None:
        """One more failure of ``client`` (e.g. a CSV file with several wrong rows)."""
        now = self.clock()
        with self._lock:
            self._record(client, now)

    def _record(self, client: str, now: float) -> None:
        times = self._failures.get(client)
        if times is None:
            if len(self._failures) >= self.max_clients:
                # Memory stays bounded: forget the key whose last failure is oldest.
                self._failures.popitem(last=False)
            times = self._failures[client] = deque()
        else:
            self._failures.move_to_end(client)
        times.append(now)

    def _give_back(self, client: str, at: float) -> None:
        with self._lock:
            times = self._failures.get(client)
            if times is None:
                return  # aged out or evicted meanwhile
            try:
                times.remove(at)  # at most ``limit`` entries
            except ValueError:
                return
            if not times:
                del self._failures[client]
