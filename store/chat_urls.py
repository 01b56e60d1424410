"""Issue 19 (CHAT-1, CHAT-3): the rules a chat/webhook destination's URL must meet.

Pure: nothing here touches the database or the network. The store calls
``destination_url`` before it keeps a URL, and the sender calls it again
before it posts (a row written around the store is still refused), then
resolves the host and refuses a non-public address; this module only
judges the text.

The rules, in the order they are checked: at most ``MAX_DESTINATION_URL``
characters of visible ASCII that a URL may hold (an international domain
name in its ``xn--`` form); ``https``, or ``http`` only to a host the
operator allows; no ``user:password@``, no fragment; a host and a port
1-65535; an IP address written as one (four decimal parts: ``2130706433``,
``0x7f.1`` and ``0177.0.0.1`` are what resolvers read as 127.0.0.1) that is
public, a name that is not ``localhost``, ``.local``, ``.internal`` or a
single label; and then the host and path each kind's service gives its
webhooks. A host in ``allow_hosts`` waives the public and the kind's rules
(the operator's test receiver on 127.0.0.1).

The messages are English, for operators; none repeats the URL, whose path
or query is the destination's credential (anyone who has it can post to
the channel). They name the host at most.
"""

from __future__ import annotations

import contextlib
import ipaddress
import re
from collections.abc import Collection, Mapping
from urllib.parse import SplitResult, urlsplit

import idna

from store.errors import InvalidInput, Param
from store.models import ChatKind
from store.validation import (
    MAX_CHATWORK_ROOM,
    MAX_DESTINATION_LABEL,
    MAX_DESTINATION_SECRET,
    MAX_DESTINATION_URL,
    _shows_something,
)

# RFC 3986's unreserved and reserved characters and "%": what a URL may hold
# unescaped. Not the space, controls (CR/LF would split a request line), the
# backslash (browsers read it as "/"), quotes, "<>", "{}", "|", "^", "`".
_URL_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_HOST = 253
_DEFAULT_PORTS = {"https": 443, "http": 80}
# The host part as a whole: a name or IPv4 address, or an IPv6 literal in brackets (hex
# digits, colons and dots only), then at most a port (urlsplit lets text around brackets by).
_NETLOC = re.compile(r"(?:\[[0-9A-Fa-f:.]+(?:%25[0-9A-Za-z._~-]+)?\]|[^\[\]@:%]+)(?::[0-9]*)?")
# WHATWG's URL parser (and the resolver's inet_aton) read a host whose last
# label is a number (decimal, 0x hex or 0-led octal) as an IPv4 address.
_NUMERIC_LABEL = re.compile(r"(?:0x[0-9a-f]*|[0-9]+)")
# Names that never lead to a public server (RFC 6761, RFC 6762, RFC 8375, ICANN's .internal).
_PRIVATE_SUFFIXES = (".localhost", ".local", ".internal", ".localdomain", ".home.arpa")

SLACK_HOST = "hooks.slack.com"
_SLACK_PATH = re.compile(r"/(?:services|triggers)/[A-Za-z0-9_-]+(?:/[A-Za-z0-9_-]+)+/?")
DISCORD_HOSTS = frozenset(
    {"discord.com", "discordapp.com", "ptb.discord.com", "canary.discord.com"}
)
_DISCORD_PATH = re.compile(r"/api(?:/v[0-9]{1,2})?/webhooks/[0-9]{1,20}/[A-Za-z0-9_-]{1,100}/?")
# Teams' Workflows ("post to a channel when a webhook request is received")
# give a Logic Apps or Power Platform URL; the Office 365 connectors' URLs
# (*.webhook.office.com, outlook.office.com/webhook) are retired.
TEAMS_SUFFIXES = (".logic.azure.com", ".powerplatform.com")
_TEAMS_RETIRED = (".webhook.office.com", "outlook.office.com", "outlook.office365.com")

_CHATWORK_ROOM = re.compile(r"[1-9][0-9]*")
_CHATWORK_TOKEN = re.compile(r"[0-9A-Za-z]+")
MIN_CHATWORK_TOKEN = 16


def _bad(
    reason: str, *, code: str, field: str, params: Mapping[str, Param] | None = None
) -> InvalidInput:
    return InvalidInput(f"destination URL: {reason}", code=code, field=field, params=params)


def _plain_host(host: str) -> str:
    """A host as compared: lower case, an IPv6 literal without its brackets."""
    host = host.strip().lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host


def host_allowed(host: str, allow_hosts: Collection[str]) -> bool:
    """Whether ``host`` is one the operator allows (``[chat] allow_hosts``), exactly, any case."""
    plain = _plain_host(host)
    return bool(plain) and plain in {_plain_host(h) for h in allow_hosts}


def _split(url: str, field: str) -> SplitResult:
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError for a port out of range or not a number
    except ValueError:
        raise _bad(
            "is not a URL (a host with a bad [IPv6] literal or a port that is not 1-65535)",
            code="chat_url_format",
            field=field,
        ) from None
    return parts


NAT64 = ipaddress.IPv6Network("64:ff9b::/96")  # RFC 6052: the last 32 bits are an IPv4 address
SIIT = ipaddress.IPv6Network("::ffff:0:0:0/96")  # RFC 2765 IPv4-translated: the same
# Not global whatever the Python version's ``is_global`` says (3.11's misses these).
_NOT_GLOBAL_V6 = tuple(
    ipaddress.IPv6Network(net)
    for net in (
        "64:ff9b:1::/48",  # RFC 8215 local-use NAT64
        "fec0::/10",  # deprecated site-local (RFC 3879)
        "3fff::/20",  # documentation (RFC 9637)
        "5f00::/16",  # SRv6 SIDs (RFC 9602)
    )
)


def public_address(address: str) -> bool:
    """CHAT-3: whether an address is on the public internet, and not a multicast group.

    An IPv6 address that carries an IPv4 one (IPv4-mapped, IPv4-compatible,
    IPv4-translated, 6to4, NAT64) is judged by that IPv4 address:
    ``64:ff9b::a00:1`` reaches 10.0.0.1 through a NAT64 gateway. The store
    judges a URL's literal with it, the sender every address a name resolves to.
    """
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    ip = ipaddress.ip_address(address.partition("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        if any(ip in net for net in _NOT_GLOBAL_V6):
            return False
        embedded = ip.ipv4_mapped or ip.sixtofour
        if embedded is None and (ip in NAT64 or ip in SIIT or ip.packed[:12] == bytes(12)):
            embedded = ipaddress.IPv4Address(ip.packed[12:])
        if embedded is not None:
            ip = embedded
    return ip.is_global and not ip.is_multicast


def _check_ip(host: str, *, field: str) -> bool:
    """True if ``host`` is an IP address (refused unless public); False for a name."""
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    if not public_address(host):
        raise _bad(
            f"the address {host} is not a public one (loopback, private, link-local, "
            "reserved, or an IPv6 form of one); only a host in the operator's allow list "
            "may be such",
            code="chat_url_not_public",
            field=field,
        )
    if "%" in host:
        raise _bad(
            "a zone id (%25...) names an interface of this machine, not a public host",
            code="chat_url_host",
            field=field,
        )
    return True


def _punycode_ok(label: str) -> bool:
    """Whether an ``xn--`` label is a valid A-label of IDNA 2008 (as httpx encodes hosts:
    ``xn--53h``, U+2615, is one in IDNA 2003 only, and could never be posted to)."""
    try:
        idna.decode(label)
    except (idna.IDNAError, UnicodeError, ValueError):
        return False
    return True


def _check_name(host: str, *, field: str) -> None:
    labels = host.split(".")
    if (
        len(host) > _MAX_HOST
        or not all(_LABEL.fullmatch(label) for label in labels)
        or not all(_punycode_ok(label) for label in labels if label.startswith("xn--"))
    ):
        raise _bad(
            "the host must be a name of letters, digits and hyphens between dots "
            "(an international name in its xn-- form), or an IP address",
            code="chat_url_host",
            field=field,
        )
    if _NUMERIC_LABEL.fullmatch(labels[-1]):
        # 2130706433, 0x7f000001, 0177.0.0.1, 127.1: resolvers read these as
        # IPv4 addresses, which the public-address rule must see as such.
        raise _bad(
            f"the host {host} is an IP address in another form; write it as a.b.c.d",
            code="chat_url_ip_form",
            field=field,
        )
    if host == "localhost" or host.endswith(_PRIVATE_SUFFIXES) or len(labels) == 1:
        raise _bad(
            f"the host {host} is a local name (localhost, .local, .internal or one label); "
            "only a host in the operator's allow list may be such",
            code="chat_url_not_public",
            field=field,
        )


def _check_kind(kind: ChatKind, host: str, path: str, *, field: str) -> None:
    if kind is ChatKind.SLACK:
        if host != SLACK_HOST or not _SLACK_PATH.fullmatch(path):
            raise _bad(
                f"a Slack incoming webhook is https://{SLACK_HOST}/services/... "
                "(or /triggers/... for a workflow)",
                code="chat_url_slack",
                field=field,
            )
    elif kind is ChatKind.DISCORD:
        if host not in DISCORD_HOSTS or not _DISCORD_PATH.fullmatch(path):
            raise _bad(
                "a Discord webhook is https://discord.com/api/webhooks/<id>/<token>",
                code="chat_url_discord",
                field=field,
            )
    elif kind is ChatKind.TEAMS:
        if host.endswith(_TEAMS_RETIRED) or host in _TEAMS_RETIRED:
            raise _bad(
                "Office 365 connector URLs are retired by Microsoft; make a Teams workflow "
                "('post to a channel when a webhook request is received') and give its URL",
                code="chat_url_teams_connector",
                field=field,
            )
        if not host.endswith(TEAMS_SUFFIXES) or not path.strip("/"):
            raise _bad(
                "a Microsoft Teams workflow URL is on a host ending in "
                + " or ".join(TEAMS_SUFFIXES),
                code="chat_url_teams",
                field=field,
            )


def destination_url(
    kind: ChatKind, url: str, *, allow_hosts: Collection[str] = (), field: str = "url"
) -> str:
    """CHAT-1: the URL to store for a destination of ``kind``, or ``InvalidInput`` (``chat_url_*``).

    Returned stripped, with its scheme and host in lower case (so the same
    URL typed twice is one, for the duplicate rule).
    """
    if kind is ChatKind.CHATWORK:
        raise _bad(
            "a Chatwork destination has no URL (it posts to Chatwork's API with a room id "
            "and the room's API token)",
            code="chat_url_not_wanted",
            field=field,
        )
    value = url.strip()
    if not value:
        raise _bad("is empty", code="chat_url_empty", field=field)
    if len(value) > MAX_DESTINATION_URL:
        raise _bad(
            f"is longer than {MAX_DESTINATION_URL} characters",
            code="chat_url_too_long",
            field=field,
            params={"limit": MAX_DESTINATION_URL},
        )
    if not value.isascii():
        raise _bad(
            "must be ASCII (give an international domain name in its xn-- form and "
            "percent-encode the rest)",
            code="chat_url_not_ascii",
            field=field,
        )
    if any(char not in _URL_CHARS for char in value):
        raise _bad(
            'has characters a URL cannot hold (spaces, control characters, \\ " < > { } | ^ `)',
            code="chat_url_chars",
            field=field,
        )
    parts = _split(value, field)
    scheme = parts.scheme.lower()
    host = _plain_host(parts.hostname or "")
    allowed = host_allowed(host, allow_hosts)
    if scheme not in ("https", "http"):
        raise _bad("must start with https://", code="chat_url_scheme", field=field)
    if "@" in parts.netloc:
        raise _bad(
            "must not hold a user name or password (user:password@)",
            code="chat_url_userinfo",
            field=field,
        )
    if "#" in value:
        raise _bad("must not have a fragment (#...)", code="chat_url_fragment", field=field)
    if parts.netloc and not _NETLOC.fullmatch(parts.netloc):
        raise _bad(
            "the host must be a name, an IPv4 address or an [IPv6] address, nothing around "
            "it (no zone id, no IPvFuture) and then at most :port",
            code="chat_url_host",
            field=field,
        )
    if not host or not value[len(parts.scheme) :].startswith("://"):
        raise _bad("has no host (https://host/...)", code="chat_url_host", field=field)
    if parts.port == 0:
        raise _bad("the port must be 1-65535", code="chat_url_format", field=field)
    if scheme == "http" and not allowed:
        raise _bad(
            f"must use https (http only to a host the operator allows; {host} is not one)",
            code="chat_url_http",
            field=field,
        )
    if not allowed:
        if not _check_ip(host, field=field):
            _check_name(host, field=field)
        _check_kind(kind, host, parts.path, field=field)
    rest = value[len(parts.scheme) + 3 + len(parts.netloc) :]
    return f"{scheme}://{parts.netloc.lower()}{rest}"


def endpoint_key(url: str) -> str:
    """CHAT-1: what the duplicate rule compares of a stored URL: the URL with no port when
    it is the scheme's own (``:443``, ``:`` and ``:0443`` name the port-less URL's
    endpoint; Teams gives its URLs with ``:443``), any other port as a plain number, an
    IP address in its one written form, and percent-escapes as RFC 3986 normalises them."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a row written around the store: compared as it is
        return url
    if not parts.netloc or not url[len(parts.scheme) :].startswith("://"):
        return url
    host = _plain_host(parts.hostname or "")
    with contextlib.suppress(ValueError):
        host = str(ipaddress.ip_address(host))  # 2606:4700:0::0001 is 2606:4700::1
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS.get(parts.scheme):
        netloc = f"{netloc}:{port}"
    rest = _ESCAPE.sub(_unescaped, url[len(parts.scheme) + 3 + len(parts.netloc) :])
    return f"{parts.scheme}://{netloc}{rest}"


_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _unescaped(escape: re.Match[str]) -> str:
    """RFC 3986 6.2.2: ``%61`` is ``a`` (an unreserved character), ``%2f`` is ``%2F``."""
    char = chr(int(escape.group(1), 16))
    return char if char in _UNRESERVED else escape.group(0).upper()


def masked_url(kind: ChatKind, url: str) -> str:
    """A stored URL as shown after it is saved: the host and no credential.

    Slack's and Discord's paths keep their kind's prefix and the first two
    characters of the next part (to tell two apart); the rest, and the whole
    path and query of a Teams or generic URL, is "••••".
    """
    parts = urlsplit(url)
    origin = f"{parts.scheme}://{parts.netloc}"
    segments = [s for s in parts.path.split("/") if s]
    keep = {ChatKind.SLACK: 1, ChatKind.DISCORD: 2}.get(kind, 0)
    if kind is ChatKind.DISCORD and len(segments) > 1 and segments[1].startswith("v"):
        keep = 3  # /api/v10/webhooks/...
    if not segments and not parts.query:
        return origin
    if len(segments) <= keep:
        return f"{origin}/••••"
    shown = "/".join(segments[:keep])
    hint = segments[keep][:2]
    head = f"/{shown}" if shown else ""
    return f"{origin}{head}/{hint}…/••••" if keep else f"{origin}/••••"


def chatwork_room(value: str, *, field: str = "room_id") -> str:
    """A Chatwork room id: 1-``MAX_CHATWORK_ROOM`` digits, not starting with 0."""
    room = value.strip()
    if len(room) > MAX_CHATWORK_ROOM or not room.isascii() or not _CHATWORK_ROOM.fullmatch(room):
        raise InvalidInput(
            f"Chatwork room id: 1-{MAX_CHATWORK_ROOM} digits (the number after rid in the "
            "room's address)",
            code="chatwork_room_format",
            field=field,
            params={"limit": MAX_CHATWORK_ROOM},
        )
    return room


def chatwork_token(value: str, *, field: str = "token") -> str:
    """A Chatwork API token: ``MIN_CHATWORK_TOKEN``-``MAX_DESTINATION_SECRET`` letters and digits.

    The message never repeats the value (it is a credential).
    """
    token = value.strip()
    if (
        not MIN_CHATWORK_TOKEN <= len(token) <= MAX_DESTINATION_SECRET
        or not token.isascii()
        or not _CHATWORK_TOKEN.fullmatch(token)
    ):
        raise InvalidInput(
            f"Chatwork API token: {MIN_CHATWORK_TOKEN}-{MAX_DESTINATION_SECRET} letters and "
            "digits, nothing else (no spaces)",
            code="chatwork_token_format",
            field=field,
            params={"min": MIN_CHATWORK_TOKEN, "max": MAX_DESTINATION_SECRET},
        )
    return token


def destination_label(value: str, *, field: str = "label") -> str:
    """A destination's own name (営業部): 0-``MAX_DESTINATION_LABEL`` printable characters."""
    label = value.strip(" \u3000")
    if label and (
        len(label) > MAX_DESTINATION_LABEL or not label.isprintable() or not _shows_something(label)
    ):
        raise InvalidInput(
            f"destination name {value[:40]!r}: 0-{MAX_DESTINATION_LABEL} printable characters",
            code="destination_label_format",
            field=field,
            params={"limit": MAX_DESTINATION_LABEL},
        )
    return label
