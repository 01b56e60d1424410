"""Who the client is, behind the proxies the operator trusts (issue 12 item 14).

``X-Forwarded-For`` and ``X-Forwarded-Proto`` are believed only when the TCP
peer is one of ``site.trusted_proxies``: anyone else could write them, and
the login throttle (``web.ratelimit``) counts failures by the client's
address. Each trusted proxy appends the address it received the request
from, so the client is the right-most address of the chain that is not a
trusted proxy itself; what lies left of it was written by the client and is
ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@dataclass(frozen=True)
class Client:
    address: str
    scheme: str  # "http" or "https"


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """``site.trusted_proxies`` (validated by ``chakushin.config``) as networks."""
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def _trusted(address: str, trusted: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip().removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return any(ip in network for network in trusted)


def client_of(
    peer: str | None,
    scheme: str,
    forwarded_for: str | None,
    forwarded_proto: str | None,
    trusted: Sequence[Network],
) -> Client:
    """The client's address and the scheme it used, from the peer and the proxy headers."""
    address = peer or "unknown"
    if peer is None or not _trusted(peer, trusted):
        return Client(address, scheme)
    if forwarded_proto is not None:
        proto = forwarded_proto.split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            scheme = proto
    if forwarded_for:
        for hop in reversed(forwarded_for.split(",")):
            hop = hop.strip()
            if not hop:
                continue
            address = hop
            if not _trusted(hop, trusted):
                break
        if not _is_address(address):  # garbage from a client behind the proxy
            address = "invalid"
    return Client(address, scheme)


def _is_address(text: str) -> bool:
    try:
        ipaddress.ip_address(text.removeprefix("[").removesuffix("]"))
    except ValueError:
        return False
    return True


class ProxyHeaders:
    """ASGI middleware: the scope's client and scheme as ``client_of`` finds them.

    Everything downstream (the login throttle, Secure cookies) then reads
    ``request.client`` and ``request.url.scheme`` as usual.
    """

    def __init__(self, app: ASGIApp, *, trusted: Sequence[Network]) -> None:
        self.app = app
        self.trusted = tuple(trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            peer = scope.get("client")
            found = client_of(
                peer[0] if peer else None,
                scope.get("scheme", "http"),
                ", ".join(headers.getlist("x-forwarded-for")) or None,
                headers.getlist("x-forwarded-proto")[-1]
                if "x-forwarded-proto" in headers
                else None,
                self.trusted,
            )
            scope = dict(scope)
            scope["client"] = (found.address, peer[1] if peer else 0)
            scope["scheme"] = found.scheme
        await self.app(scope, receive, send)
