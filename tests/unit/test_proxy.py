"""Issue 12 item 14: the client behind trusted proxies (web.proxy.client_of), on strings."""

from __future__ import annotations

import pytest

from web.proxy import Client, client_of, networks

TRUSTED = networks(["127.0.0.1", "10.0.0.0/24", "::1"])


@pytest.mark.parametrize(
    ("peer", "forwarded_for", "proto", "expected"),
    [
        # Not a trusted peer: the headers are the client's own words.
        ("198.51.100.9", "203.0.113.7", "https", Client("198.51.100.9", "http")),
        # A trusted proxy: the right-most address it did not write itself.
        ("127.0.0.1", "203.0.113.7", "https", Client("203.0.113.7", "https")),
        ("127.0.0.1", "6.6.6.6, 203.0.113.7", None, Client("203.0.113.7", "http")),
        ("127.0.0.1", "6.6.6.6, 203.0.113.7, 10.0.0.5", None, Client("203.0.113.7", "http")),
        ("::1", "2001:db8::1", "http", Client("2001:db8::1", "http")),
        # Nothing forwarded: the proxy itself is the client (the guide says to set it).
        ("127.0.0.1", None, None, Client("127.0.0.1", "http")),
        # Garbage in the right-most place: one bucket, not whatever the client chose.
        ("127.0.0.1", "evil, not-an-ip", None, Client("invalid", "http")),
        ("127.0.0.1", " , ", "gopher", Client("127.0.0.1", "http")),
        # Only trusted hops: the left-most one.
        ("127.0.0.1", "10.0.0.7, 10.0.0.5", None, Client("10.0.0.7", "http")),
    ],
)
def test_item14_SITE_1_client_of(
    peer: str, forwarded_for: str | None, proto: str | None, expected: Client
) -> None:
    assert client_of(peer, "http", forwarded_for, proto, TRUSTED) == expected


def test_item14_SITE_1_no_trusted_proxies_means_the_peer() -> None:
    assert client_of("127.0.0.1", "http", "203.0.113.7", "https", ()) == Client("127.0.0.1", "http")
    assert client_of(None, "http", "203.0.113.7", "https", TRUSTED) == Client("unknown", "http")
