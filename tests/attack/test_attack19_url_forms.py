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
