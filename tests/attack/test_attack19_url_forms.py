"""Issue 19 (CHAT-1, CHAT-3) attack: URL forms that slipped past the store's rules.

- An IPv6 literal that carries a private IPv4 address (NAT64 ``64:ff9b::/96``,
  6to4 ``2002::/16``, IPv4-compatible ``::a.b.c.d``) reaches that IPv4 host
  through a gateway: the store refuses it at save as it refuses the IPv4
  address itself, with the sender's own judgement (one function, not two).
- A malformed ``xn--`` label (no valid Punycode behind it) is no name any
  resolver can look up; it is refused as a bad host, not stored.
- ``:443``, ``:`` and ``:0443`` on an https URL name the same endpoint as no
  port at all: the URL is stored without them, so the duplicate rule sees one
  destination, not four.
"""

from __future__ import annotations

import pytest

from notifier import webhooks
from store import chat_urls
from store.errors import InvalidInput
from store.models import ChatKind

SLACK_PATH = "/services/T0123ABCD/B0456EFGH/SlackS3cr3tToken0123"


def code_of(kind: ChatKind, url: str) -> str:
    with pytest.raises(InvalidInput) as caught:
        chat_urls.destination_url(kind, url)
    return caught.value.code


@pytest.mark.parametrize(
    "host",
    [
        "[64:ff9b::a00:1]",  # NAT64 of 10.0.0.1
        "[64:ff9b::7f00:1]",  # NAT64 of 127.0.0.1
        "[2002:a00:1::1]",  # 6to4 of 10.0.0.1
        "[2002:c0a8:101::1]",  # 6to4 of 192.168.1.1
        "[::a00:1]",  # IPv4-compatible 10.0.0.1
        "[::ffff:a9fe:a9fe]",  # IPv4-mapped 169.254.169.254 (cloud metadata)
    ],
)
def test_CHAT_3_attack_ipv6_carrying_a_private_ipv4_refused_at_save(host: str) -> None:
    assert code_of(ChatKind.WEBHOOK, f"https://{host}/hook") == "chat_url_not_public"


def test_CHAT_3_attack_store_and_sender_judge_addresses_alike() -> None:
    for address in ("64:ff9b::808:808", "2002:808:808::1", "8.8.8.8", "2001:4860:4860::8888"):
        assert webhooks.public(address) and chat_urls.public_address(address)
        host = address if "." in address else f"[{address}]"
        chat_urls.destination_url(ChatKind.WEBHOOK, f"https://{host}/h")
    for address in ("64:ff9b::a00:1", "2002:a00:1::1", "::a00:1", "ff02::1", "224.0.0.1"):
        assert not webhooks.public(address) and not chat_urls.public_address(address)


@pytest.mark.parametrize(
    "host",
    ["xn--zz.example.com", "xn--.example.com", "xn--a.example.com", "hooks.xn--abc-.com"],
)
def test_CHAT_1_attack_malformed_punycode_label_refused(host: str) -> None:
    assert code_of(ChatKind.WEBHOOK, f"https://{host}/hook") == "chat_url_host"


def test_CHAT_1_attack_good_punycode_labels_still_accepted() -> None:
    for host in ("xn--bcher-kva.example", "hooks.xn--55qx5d.cn", "XN--BCHER-KVA.example"):
        chat_urls.destination_url(ChatKind.WEBHOOK, f"https://{host}/hook")


@pytest.mark.parametrize("port", [":443", ":", ":0443", ":00443"])
def test_CHAT_1_attack_default_port_forms_are_one_endpoint(port: str) -> None:
    url = chat_urls.destination_url(ChatKind.SLACK, f"https://hooks.slack.com{port}{SLACK_PATH}")
    plain = chat_urls.destination_url(ChatKind.SLACK, "https://hooks.slack.com" + SLACK_PATH)
    assert chat_urls.endpoint_key(url) == chat_urls.endpoint_key(plain) == plain


def test_CHAT_1_attack_other_ports_compared_as_plain_numbers() -> None:
    def key(url: str, allow_hosts: tuple[str, ...] = ()) -> str:
        stored = chat_urls.destination_url(ChatKind.WEBHOOK, url, allow_hosts=allow_hosts)
        return chat_urls.endpoint_key(stored)

    assert key("https://hooks.example.com:08443/h") == "https://hooks.example.com:8443/h"
    assert key("https://hooks.example.com:8443/h") != key("https://hooks.example.com/h")
    assert key("http://127.0.0.1:80/h", allow_hosts=("127.0.0.1",)) == "http://127.0.0.1/h"
    assert key("http://127.0.0.1:443/h", allow_hosts=("127.0.0.1",)) == "http://127.0.0.1:443/h"
    assert key("https://[2001:4860:4860::8888]:0443/h") == "https://[2001:4860:4860::8888]/h"


# --- the second round (a review of the first round's fix) ---------------------------------


@pytest.mark.parametrize(
    "host",
    [
        "[::ffff:0:a00:1]",  # SIIT IPv4-translated ::ffff:0:0/96 of 10.0.0.1
        "[::ffff:0:127.0.0.1]",  # the same of 127.0.0.1
        "[64:ff9b:1::a00:1]",  # RFC 8215's local-use NAT64 prefix 64:ff9b:1::/48
        "[fec0::1]",  # deprecated site-local fec0::/10
        "[3fff::1]",  # RFC 9637 documentation 3fff::/20
        "[5f00::1]",  # RFC 9602 SRv6 SIDs 5f00::/16
    ],
)
def test_CHAT_3_attack_more_ipv6_forms_of_non_public_addresses_refused(host: str) -> None:
    address = host.strip("[]")
    assert not chat_urls.public_address(address) and not webhooks.public(address)
    assert code_of(ChatKind.WEBHOOK, f"https://{host}/hook") == "chat_url_not_public"


@pytest.mark.parametrize(
    ("one", "other"),
    [
        ("https://[2606:4700::1]/h", "https://[2606:4700:0:0::1]/h"),
        ("https://[2606:4700::1]/h", "https://[2606:4700:0000::0001]/h"),
        ("https://[2606:4700::1]/h", "https://[2606:4700::0.0.0.1]/h"),
        ("https://[::ffff:8.8.8.8]/h", "https://[::ffff:808:808]/h"),
        ("https://x.logic.azure.com/w/abc", "https://x.logic.azure.com/w/%61bc"),
        ("https://x.logic.azure.com/w/a%2Fb", "https://x.logic.azure.com/w/a%2fb"),
    ],
)
def test_CHAT_1_attack_same_endpoint_in_other_spelling_is_one_key(one: str, other: str) -> None:
    def key(url: str) -> str:
        return chat_urls.endpoint_key(chat_urls.destination_url(ChatKind.WEBHOOK, url))

    assert key(one) == key(other)


def test_CHAT_1_attack_an_encoded_reserved_character_is_not_decoded() -> None:
    """%2F is not "/" (a path of one segment, not two): those two stay different."""

    def key(url: str) -> str:
        return chat_urls.endpoint_key(chat_urls.destination_url(ChatKind.WEBHOOK, url))

    assert key("https://x.example.com/a%2Fb") != key("https://x.example.com/a/b")


@pytest.mark.parametrize(
    "url",
    [
        "https://[2606:4700::1]x/h",  # text after the bracket
        "https://example.com[2606:4700::1]/h",  # text before it
        "https://[v1.abc]/h",  # an IPvFuture literal
        "https://[2606:4700::1%eth0]/h",  # a zone id
        "https://[2606:4700::1%25eth0]/h",  # a zone id, encoded
        "https://xn--53h.com/h",  # IDNA 2003 only (U+2615): httpx's IDNA 2008 refuses it
    ],
)
def test_CHAT_1_attack_hosts_the_sender_could_never_reach_refused_at_save(url: str) -> None:
    assert code_of(ChatKind.WEBHOOK, url) in {"chat_url_host", "chat_url_format"}


def test_CHAT_1_attack_endpoint_key_of_a_row_written_around_the_store() -> None:
    """A stored URL the rules would refuse (a port out of range) is compared as it is,
    never raised on: adding another destination beside it still works."""
    for bad in ("https://hooks.example.com:99999/h", "https://[::1/h", "not a url"):
        assert chat_urls.endpoint_key(bad) == bad
