"""Issue 19, CHAT-1 and CHAT-3: the URL rules of chat/webhook destinations (pure)."""

from __future__ import annotations

import pytest

from store import chat_urls
from store.errors import InvalidInput
from store.models import ChatKind

SLACK = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/abcdefghijklmnopqrstuvwx"
SLACK_WORKFLOW = "https://hooks.slack.com/triggers/T0123ABCD/1234567890/0123456789abcdef"
DISCORD = "https://discord.com/api/webhooks/123456789012345678/AbC-dEf_0123456789"
TEAMS = (
    "https://prod-12.japaneast.logic.azure.com:443/workflows/0123abcd/triggers/manual/paths/"
    "invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig=s3cr3tSiGnAtUrE"
)
TEAMS_PP = (
    "https://default0123.ab.environment.api.powerplatform.com:443/powerautomate/automations/"
    "direct/workflows/0123/triggers/manual/paths/invoke?api-version=1&sig=s3cr3t"
)
HOOK = "https://hooks.example.com/chakushin/in?key=s3cr3t"


def code_of(kind: ChatKind, url: str, **kw: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        chat_urls.destination_url(kind, url, **kw)  # type: ignore[arg-type]
    assert "s3cr3t" not in caught.value.message and "abcdefghijklmnop" not in caught.value.message
    return caught.value.code


@pytest.mark.parametrize(
    ("kind", "url"),
    [
        (ChatKind.SLACK, SLACK),
        (ChatKind.SLACK, SLACK_WORKFLOW),
        (ChatKind.DISCORD, DISCORD),
        (ChatKind.DISCORD, "https://discordapp.com/api/webhooks/1/tok"),
        (ChatKind.DISCORD, "https://canary.discord.com/api/v10/webhooks/1/tok?wait=true"),
        (ChatKind.TEAMS, TEAMS),
        (ChatKind.TEAMS, TEAMS_PP),
        (ChatKind.WEBHOOK, HOOK),
        (ChatKind.WEBHOOK, "https://203.0.113.0.example.net/x"),
        (ChatKind.WEBHOOK, "https://8.8.8.8/hook"),
        (ChatKind.WEBHOOK, "https://[2001:4860:4860::8888]:8443/hook"),
        (ChatKind.WEBHOOK, "https://xn--eckwd4c7c.xn--zckzah/hook"),
    ],
)
def test_chat1_accepted_urls(kind: ChatKind, url: str) -> None:
    assert chat_urls.destination_url(kind, url) == url


def test_chat1_url_stripped_scheme_and_host_lower_case() -> None:
    got = chat_urls.destination_url(ChatKind.WEBHOOK, "  HTTPS://Hooks.Example.COM/In?A=B \t")
    assert got == "https://hooks.example.com/In?A=B"


@pytest.mark.parametrize(
    ("url", "code"),
    [
        ("", "chat_url_empty"),
        ("   ", "chat_url_empty"),
        ("https://user:s3cr3t@hooks.example.com/x", "chat_url_userinfo"),
        ("https://hooks.example.com@evil.example/x", "chat_url_userinfo"),
        ("https://hooks.example.com/x#frag", "chat_url_fragment"),
        ("https://hooks.example.com/a b", "chat_url_chars"),
        ("https://hooks.example.com/a\r\nHost: evil", "chat_url_chars"),
        ("https://hooks.example.com/\x00", "chat_url_chars"),
        ("https:\\\\127.0.0.1\\x", "chat_url_chars"),
        ('https://hooks.example.com/"x"', "chat_url_chars"),
        ("https://例え.jp/hook", "chat_url_not_ascii"),
        ("https://hooks.example.com/ｘ", "chat_url_not_ascii"),
        ("https://hooks.example.com/" + "a" * 475, "chat_url_too_long"),
        ("http://hooks.example.com/x", "chat_url_http"),
        ("ftp://hooks.example.com/x", "chat_url_scheme"),
        ("javascript:alert(1)", "chat_url_scheme"),
        ("hooks.example.com/x", "chat_url_scheme"),
        ("https:hooks.example.com/x", "chat_url_host"),
        ("https:///x", "chat_url_host"),
        ("https://hooks.example.com:0/x", "chat_url_format"),
        ("https://hooks.example.com:65536/x", "chat_url_format"),
        ("https://hooks.example.com:https/x", "chat_url_format"),
        ("https://[::1/x", "chat_url_format"),
        ("https://127.0.0.1/", "chat_url_not_public"),
        ("https://[::1]/", "chat_url_not_public"),
        ("https://[::ffff:127.0.0.1]/", "chat_url_not_public"),
        ("https://[fe80::1%25eth0]/", "chat_url_not_public"),
        ("https://10.0.0.1/", "chat_url_not_public"),
        ("https://192.168.1.1/", "chat_url_not_public"),
        ("https://100.64.0.1/", "chat_url_not_public"),
        ("https://169.254.169.254/latest/meta-data/", "chat_url_not_public"),
        ("https://0.0.0.0/", "chat_url_not_public"),
        ("https://224.0.0.1/", "chat_url_not_public"),
        ("https://localhost/", "chat_url_not_public"),
        ("https://LOCALHOST:8443/", "chat_url_not_public"),
        ("https://a.localhost/", "chat_url_not_public"),
        ("https://printer.local/", "chat_url_not_public"),
        ("https://db.internal/", "chat_url_not_public"),
        ("https://intranet/", "chat_url_not_public"),
        ("https://2130706433/", "chat_url_ip_form"),
        ("https://0x7f000001/", "chat_url_ip_form"),
        ("https://0177.0.0.1/", "chat_url_ip_form"),
        ("https://127.1/", "chat_url_ip_form"),
        ("https://010.0.0.1/", "chat_url_ip_form"),
        ("https://localhost./", "chat_url_host"),
        ("https://hooks.example.com./x", "chat_url_host"),
        ("https://-bad.example.com/x", "chat_url_host"),
        ("https://under_score.example.com/x", "chat_url_host"),
        ("https://a..example.com/x", "chat_url_host"),
    ],
)
def test_chat1_hostile_webhook_urls_refused(url: str, code: str) -> None:
    assert code_of(ChatKind.WEBHOOK, url) == code


def test_chat1_url_of_exactly_500_characters_accepted_501_refused() -> None:
    base = "https://hooks.example.com/"
    ok = base + "a" * (500 - len(base))
    assert chat_urls.destination_url(ChatKind.WEBHOOK, ok) == ok
    assert code_of(ChatKind.WEBHOOK, ok + "a") == "chat_url_too_long"


@pytest.mark.parametrize(
    ("kind", "url", "code"),
    [
        (ChatKind.SLACK, "https://hooks.slack.com.evil.example/services/T0/B0/x", "chat_url_slack"),
        (ChatKind.SLACK, "https://evil.example/services/T0/B0/xyz", "chat_url_slack"),
        (ChatKind.SLACK, "https://hooks.slack.com/api/chat.postMessage", "chat_url_slack"),
        (ChatKind.SLACK, "https://hooks.slack.com/services/", "chat_url_slack"),
        (ChatKind.SLACK, "http://hooks.slack.com/services/T0/B0/x", "chat_url_http"),
        (
            ChatKind.DISCORD,
            "https://discord.com/api/webhooks/123456789012345678",
            "chat_url_discord",
        ),
        (ChatKind.DISCORD, "https://discord.com/api/webhooks/123/", "chat_url_discord"),
        (ChatKind.DISCORD, "https://discord.com/api/webhooks/abc/tok", "chat_url_discord"),
        (ChatKind.DISCORD, "https://discord.com/api/webhooks/1/tok/slack", "chat_url_discord"),
        (ChatKind.DISCORD, "https://discord.gg/api/webhooks/1/tok", "chat_url_discord"),
        (ChatKind.DISCORD, "https://evil.example/api/webhooks/1/tok", "chat_url_discord"),
        (
            ChatKind.TEAMS,
            "https://contoso.webhook.office.com/webhookb2/0123@0456/IncomingWebhook/ab/cd",
            "chat_url_teams_connector",
        ),
        (
            ChatKind.TEAMS,
            "https://contoso.webhook.office.com/webhookb2/0123/IncomingWebhook/ab/cd",
            "chat_url_teams_connector",
        ),
        (ChatKind.TEAMS, "https://outlook.office.com/webhook/0123/x", "chat_url_teams_connector"),
        (ChatKind.TEAMS, "https://evil.example/workflows/x", "chat_url_teams"),
        (ChatKind.TEAMS, "https://logic.azure.com.evil.example/workflows/x", "chat_url_teams"),
        (ChatKind.TEAMS, "https://prod-1.japaneast.logic.azure.com/", "chat_url_teams"),
        (ChatKind.CHATWORK, "https://api.chatwork.com/v2/rooms/1/messages", "chat_url_not_wanted"),
    ],
)
def test_chat1_kind_host_and_path_rules(kind: ChatKind, url: str, code: str) -> None:
    assert code_of(kind, url) == code


def test_chat3_allowed_host_may_use_http_loopback_and_any_path() -> None:
    allow = ("127.0.0.1", "[::1]", "Receiver")
    for kind in (ChatKind.SLACK, ChatKind.TEAMS, ChatKind.DISCORD, ChatKind.WEBHOOK):
        url = "http://127.0.0.1:8123/hook"
        assert chat_urls.destination_url(kind, url, allow_hosts=allow) == url
    assert chat_urls.destination_url(ChatKind.WEBHOOK, "http://[::1]:81/", allow_hosts=allow)
    assert chat_urls.destination_url(ChatKind.WEBHOOK, "https://receiver/x", allow_hosts=allow)
    # The allow list waives the host rules only, never the form rules.
    assert code_of(ChatKind.WEBHOOK, "http://u:p@127.0.0.1/", allow_hosts=allow) == (
        "chat_url_userinfo"
    )
    assert code_of(ChatKind.WEBHOOK, "http://127.0.0.1/#x", allow_hosts=allow) == (
        "chat_url_fragment"
    )
    # Another loopback spelling is not the allowed host.
    assert code_of(ChatKind.WEBHOOK, "http://127.0.0.2/", allow_hosts=allow) == "chat_url_http"
    assert code_of(ChatKind.WEBHOOK, "https://2130706433/", allow_hosts=allow) == (
        "chat_url_ip_form"
    )


def test_chat3_host_allowed_exact_any_case() -> None:
    assert chat_urls.host_allowed("127.0.0.1", ["127.0.0.1"])
    assert chat_urls.host_allowed("[::1]", ["::1"])
    assert chat_urls.host_allowed("Receiver.Test", ["receiver.test"])
    assert not chat_urls.host_allowed("evil.receiver.test", ["receiver.test"])
    assert not chat_urls.host_allowed("", [""])
    assert not chat_urls.host_allowed("127.0.0.1", [])


def test_chat1_masked_url_shows_no_credential() -> None:
    assert chat_urls.masked_url(ChatKind.SLACK, SLACK) == (
        "https://hooks.slack.com/services/T0…/••••"
    )
    assert chat_urls.masked_url(ChatKind.DISCORD, DISCORD) == (
        "https://discord.com/api/webhooks/12…/••••"
    )
    teams = chat_urls.masked_url(ChatKind.TEAMS, TEAMS)
    assert teams == "https://prod-12.japaneast.logic.azure.com:443/••••"
    assert chat_urls.masked_url(ChatKind.WEBHOOK, HOOK) == "https://hooks.example.com/••••"
    assert chat_urls.masked_url(ChatKind.WEBHOOK, "https://hooks.example.com") == (
        "https://hooks.example.com"
    )
    assert chat_urls.masked_url(ChatKind.WEBHOOK, "https://hooks.example.com/?k=s3cr3t") == (
        "https://hooks.example.com/••••"
    )
    v10 = "https://discord.com/api/v10/webhooks/987/tok"
    assert (
        chat_urls.masked_url(ChatKind.DISCORD, v10)
        == "https://discord.com/api/v10/webhooks/98…/••••"
    )


@pytest.mark.parametrize("room", ["1", "123456789", "9" * 20, " 42 "])
def test_chat1_chatwork_room_accepted(room: str) -> None:
    assert chat_urls.chatwork_room(room) == room.strip()


@pytest.mark.parametrize("room", ["", "0", "012", "12a", "abc", "1 2", "9" * 21, "１２３", "-1"])
def test_chat1_chatwork_room_refused(room: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        chat_urls.chatwork_room(room)
    assert caught.value.code == "chatwork_room_format"


def test_chat1_chatwork_token_rules_and_no_echo() -> None:
    good = "0123456789abcdefABCDEF0123456789"
    assert chat_urls.chatwork_token(f" {good}\n") == good
    for bad in [
        "",
        "short123",
        "0123456789abcdef ABCDEF",
        "0123456789abcdef\r\nX",
        "a" * 101,
        "0123456789abcdéf",
        "0123456789abcdef-_",
    ]:
        with pytest.raises(InvalidInput) as caught:
            chat_urls.chatwork_token(bad)
        assert caught.value.code == "chatwork_token_format"
        assert "0123456789" not in caught.value.message
    assert chat_urls.chatwork_token("a" * 100) == "a" * 100
    assert chat_urls.chatwork_token("a" * 16) == "a" * 16


def test_chat1_destination_label() -> None:
    assert chat_urls.destination_label("") == ""
    assert chat_urls.destination_label("　営業部 ") == "営業部"
    assert chat_urls.destination_label("x" * 20) == "x" * 20
    for bad in ["x" * 21, "a\nb", "a\u200bb", "\u3164", "a\x00"]:
        with pytest.raises(InvalidInput) as caught:
            chat_urls.destination_label(bad)
        assert caught.value.code == "destination_label_format"
