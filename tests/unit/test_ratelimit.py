"""Issue 12: the per-address throttle (web/ratelimit.py) on its own, with a test clock."""

from __future__ import annotations

from tests.builders import MonotonicClock
from web.ratelimit import LoginThrottle, Reservation, client_key


def test_issue12_SITE_1_an_attempt_in_flight_counts_at_once() -> None:
    """Parallel attempts: the check and the count are one step, at most ``limit`` pass."""
    throttle = LoginThrottle(limit=3, window=600, clock=MonotonicClock())
    held = [throttle.try_acquire("198.51.100.7") for _ in range(5)]
    assert [isinstance(h, Reservation) for h in held] == [True, True, True, False, False]
    assert held[3] == 600.0


def test_issue12_SITE_1_a_success_gives_back_only_its_own_slot() -> None:
    clock = MonotonicClock()
    throttle = LoginThrottle(limit=2, window=600, clock=clock)
    wrong = throttle.try_acquire("a")
    assert isinstance(wrong, Reservation)
    wrong.keep()
    clock.now += 1
    right = throttle.try_acquire("a")
    assert isinstance(right, Reservation)
    right.release_success()
    right.release_success()  # once only: the wrong one's slot stays
    assert throttle.retry_after("a") == 0.0
    again = throttle.try_acquire("a")
    assert isinstance(again, Reservation)  # the 2nd failure
    assert throttle.try_acquire("a") == 599.0  # full: the oldest failure leaves at 1600
    clock.now = 1600.0
    assert isinstance(throttle.try_acquire("a"), Reservation)


def test_issue12_SITE_1_ipv6_is_keyed_by_its_64_ipv4_by_the_address() -> None:
    assert client_key("2001:db8:1:2::1") == client_key("2001:db8:1:2:ffff:1:2:3")
    assert client_key("2001:db8:1:2::1") == "2001:db8:1:2::/64"
    assert client_key("2001:db8:1:3::1") != client_key("2001:db8:1:2::1")
    assert client_key("fe80::1%eth0") == "fe80::/64"
    assert client_key("::ffff:198.51.100.7") == "198.51.100.7"
    assert client_key("198.51.100.7") != client_key("198.51.100.8")
    assert client_key("unknown") == "unknown"


def test_issue12_SITE_1_eviction_forgets_the_least_recently_failing_key() -> None:
    """Bounded memory; the order is that of the last failure, even within one clock tick."""
    throttle = LoginThrottle(limit=2, window=600, clock=MonotonicClock(), max_clients=2)
    throttle.failed("a")
    throttle.failed("b")
    throttle.failed("a")  # a failed last: b is the one to forget
    throttle.failed("c")
    assert throttle.retry_after("a") > 0  # still remembered, at its limit
    assert len(throttle._failures) == 2
    throttle.failed("b")  # b starts afresh, c is now the oldest
    throttle.failed("d")
    assert set(throttle._failures) == {"b", "d"}
