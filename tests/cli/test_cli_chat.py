"""Issue 19, CHAT-1 and CHAT-2: ``chakushin chat``, a number's chat/webhook destinations,
through the CLI's entry point on both backends.

What the CLI prints is masked (no URL path, token or signing secret) except the
signing secret once, when it is made; credentials come from a file or stdin."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from chakushin.cli import cli
from store import db, destinations
from tests.builders import snapshot
from tests.cli.conftest import Chakushin
from tests.web.chat_receiver import receiving

NUMBER = "0312345678"
SLACK = "https://hooks.slack.com/services/T0123ABCD/B0456EFGH/SlackS3cr3tToken0123"
DISCORD = "https://discord.com/api/webhooks/123456789012345678/DiscordS3cr3tToken"
HOOK = "https://hooks.example.com/in/HookS3cr3tPath"
TOKEN = "0123456789abcdefCHATWORKs3cr3t99"


def invoke(c: Chakushin, *args: str, stdin: str | None = None, **env: str) -> Result:
    return CliRunner().invoke(
        cli,
        list(args),
        input=stdin,
        env={"CHAKUSHIN_DATABASE_URL": c.db_url, "CHAKUSHIN_DATA_DIR": str(c.workdir), **env},
        catch_exceptions=False,
    )


def secret_file(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def no_credentials(text: str) -> None:
    assert "S3cr3t" not in text and TOKEN not in text, text


@pytest.fixture
def number(chakushin: Chakushin) -> Chakushin:
    chakushin("line", "add", NUMBER)
    return chakushin


def test_CHAT_1_add_from_a_file_and_list_masked(number: Chakushin, tmp_path: Path) -> None:
    added = number(
        "chat",
        "add",
        NUMBER,
        "slack",
        "--url-file",
        secret_file(tmp_path, "u", SLACK + "\n"),
        "--label",
        "営業部",
    )
    no_credentials(added.stdout)
    assert "1. 営業部 (slack), send on: https://hooks.slack.com/services/T0…/••••" in added.stdout
    number("chat", "add", NUMBER, "discord", "--url", DISCORD, "--off")
    listed = number("chat", "list", NUMBER)
    no_credentials(listed.stdout)
    assert listed.stdout.splitlines() == [
        f"{NUMBER}: 2 of 3 chat/webhook destinations",
        "  1. 営業部 (slack), send on: https://hooks.slack.com/services/T0…/••••",
        "  2. Discord (discord), send off: https://discord.com/api/webhooks/12…/••••",
    ]
    data = number.json("chat", "list", NUMBER)
    assert [(d["position"], d["kind"], d["name"], d["send"]) for d in data["destinations"]] == [
        (1, "slack", "営業部", True),
        (2, "discord", "Discord", False),
    ]
    no_credentials(json.dumps(data))


def test_CHAT_2_webhook_secret_printed_once_from_stdin_url(number: Chakushin) -> None:
    added = invoke(
        number, "chat", "add", NUMBER, "webhook", "--url-file", "-", "--json", stdin=HOOK + "\n"
    )
    assert added.exit_code == 0, added.stderr
    data = json.loads(added.stdout)
    secret = data["secret"]
    assert secret.startswith("whsec_") and data["position"] == 1
    assert data["destinations"][0]["url"] == "https://hooks.example.com/••••"
    assert data["destinations"][0]["signed"] is True
    no_credentials(added.stdout)
    listed = number("chat", "list", NUMBER)
    assert secret not in listed.stdout and "whsec_" not in listed.stdout
    rotated = number("chat", "rotate-secret", NUMBER, "1")
    new = rotated.stdout.splitlines()[-1].rsplit(" ", 1)[-1]
    assert new.startswith("whsec_") and new != secret
    assert "shown once" in rotated.stdout
    with db.transaction(db.session_factory(db.make_engine(number.db_url))) as s:
        assert destinations.destination_row(s, NUMBER, 1).secret == new


def test_CHAT_1_chatwork_token_only_from_a_file_or_stdin(number: Chakushin, tmp_path: Path) -> None:
    # There is no option that takes the token itself (it would show in ps).
    number.refused("chat", "add", NUMBER, "chatwork", "--room", "1", "--token", TOKEN, status=2)
    added = invoke(
        number,
        "chat",
        "add",
        NUMBER,
        "chatwork",
        "--room",
        "42",
        "--token-file",
        "-",
        stdin=f"  {TOKEN}\n",
    )
    assert added.exit_code == 0, added.stderr
    no_credentials(added.stdout)
    assert "1. Chatwork (chatwork), send on: chatwork room 42" in added.stdout
    help_text = number("chat", "add", "--help").stdout
    assert "ps" in help_text and "--token-file" in help_text
    assert "ps" in number("chat", "--help").stdout


@pytest.mark.parametrize(
    ("args", "url_text", "says"),
    [
        (("webhook",), "https://user:pass@hooks.example.com/x", "user name or password"),
        (("webhook",), "https://hooks.example.com/x#frag", "fragment"),
        (("webhook",), "https://hooks.example.com/a b", "characters a URL cannot hold"),
        (("webhook",), "https://hooks.example.com/x\r\nX: y", "one line"),
        (("webhook",), "https://例え.jp/x", "ASCII"),
        (("webhook",), "https://hooks.example.com/" + "a" * 475, "longer than 500"),
        (("webhook",), "http://hooks.example.com/x", "must use https"),
        (("webhook",), "https://127.0.0.1/", "not a public one"),
        (("webhook",), "https://[::1]/", "not a public one"),
        (("webhook",), "https://10.0.0.1/", "not a public one"),
        (("webhook",), "https://169.254.169.254/", "not a public one"),
        (("webhook",), "https://localhost/", "local name"),
        (("webhook",), "https://2130706433/", "another form"),
        (("slack",), "https://hooks.slack.com.evil.example/services/T0/B0/x", "Slack"),
        (("discord",), "https://discord.com/api/webhooks/123456789012345678", "Discord"),
        (
            ("teams",),
            "https://contoso.webhook.office.com/webhookb2/a@b/IncomingWebhook/c/d",
            "retired",
        ),
        (("chatwork", "--room", "1"), "https://api.chatwork.com/v2", "no URL"),
        (("webhook",), "x" * 5000, "longer than 2000 characters"),
    ],
)
def test_CHAT_1_hostile_urls_refused_and_nothing_written(
    number: Chakushin, tmp_path: Path, args: tuple[str, ...], url_text: str, says: str
) -> None:
    number("chat", "add", NUMBER, "discord", "--url", DISCORD)
    path = secret_file(tmp_path, "url", url_text)
    stderr = number.refused("chat", "add", NUMBER, *args, "--url-file", path)
    assert says in stderr
    no_credentials(stderr)
    assert "hooks.example.com/" not in stderr and "user:pass@" not in stderr


@pytest.mark.parametrize(
    ("room", "token", "says"),
    [
        ("12ab", TOKEN, "room id"),
        ("", TOKEN, "room id"),
        ("1" * 21, TOKEN, "room id"),
        ("42", "0123456789abcdef 0123456789", "API token"),
        ("42", "short", "API token"),
        ("42", "", "API token"),
    ],
)
def test_CHAT_1_chatwork_hostile_room_and_token(
    number: Chakushin, tmp_path: Path, room: str, token: str, says: str
) -> None:
    path = secret_file(tmp_path, "token", token)
    stderr = number.refused("chat", "add", NUMBER, "chatwork", "--room", room, "--token-file", path)
    assert says in stderr and (not token or token not in stderr)


def test_CHAT_1_fourth_and_duplicate_refused(number: Chakushin, tmp_path: Path) -> None:
    number("chat", "add", NUMBER, "discord", "--url", DISCORD)
    loud = DISCORD.replace("https://discord.com", "HTTPS://Discord.COM")
    stderr = number.refused("chat", "add", NUMBER, "discord", "--url", loud)
    assert "destination 1 already posts there" in stderr
    number("chat", "add", NUMBER, "webhook", "--url", HOOK)
    number("chat", "add", NUMBER, "webhook", "--url", HOOK + "2")
    stderr = number.refused("chat", "add", NUMBER, "slack", "--url", SLACK)
    assert "already 3 destinations" in stderr
    data = number.json("chat", "list", NUMBER)
    assert [d["kind"] for d in data["destinations"]] == ["discord", "webhook", "webhook"]


def test_CHAT_3_allowed_hosts_from_the_config(number: Chakushin) -> None:
    url = "http://127.0.0.1:8123/hook"
    number.refused("chat", "add", NUMBER, "slack", "--url", url)
    added = invoke(
        number, "chat", "add", NUMBER, "slack", "--url", url, CHAKUSHIN_CHAT_ALLOW_HOSTS="127.0.0.1"
    )
    assert added.exit_code == 0, added.stderr
    assert "http://127.0.0.1:8123/••••" in added.stdout


def test_MAIL_2_send_label_remove_and_positions(number: Chakushin) -> None:
    number("chat", "add", NUMBER, "slack", "--url", SLACK)
    number("chat", "add", NUMBER, "webhook", "--url", HOOK)
    assert "send off" in number("chat", "send", NUMBER, "1", "off").stdout
    assert "1. 受付 (slack)" in number("chat", "label", NUMBER, "1", "受付").stdout
    number.refused("chat", "label", NUMBER, "1", "a\nb")
    number.refused("chat", "label", NUMBER, "1", "x" * 21)
    number.refused("chat", "rotate-secret", NUMBER, "1")
    number.refused("chat", "send", NUMBER, "3", "on")
    number.refused("chat", "send", NUMBER, "4", "on", status=2)
    number.refused("chat", "remove", NUMBER, "0", status=2)
    number.refused("chat", "remove", NUMBER, "x", status=2)
    removed = number("chat", "remove", NUMBER, "1")
    assert removed.stdout.splitlines()[0] == f"{NUMBER}: 1 of 3 chat/webhook destinations"
    data: dict[str, Any] = number.json("chat", "list", NUMBER)
    assert [d["position"] for d in data["destinations"]] == [2]


def test_CHAT_1_unknown_number_and_credential_files(number: Chakushin, tmp_path: Path) -> None:
    number.refused("chat", "list", "0399999999")
    number.refused("chat", "add", "0399999999", "slack", "--url", SLACK)
    two = secret_file(tmp_path, "two", SLACK + "\n" + HOOK + "\n")
    assert "one line" in number.refused("chat", "add", NUMBER, "slack", "--url-file", two)
    latin = tmp_path / "latin"
    latin.write_bytes(b"\xff\xfe" + SLACK.encode())
    assert "UTF-8" in number.refused("chat", "add", NUMBER, "slack", "--url-file", str(latin))
    missing = str(tmp_path / "missing")
    number.refused("chat", "add", NUMBER, "slack", "--url-file", missing, status=2)
    number.refused("chat", "add", NUMBER, "slack", "--url", SLACK, "--url-file", two, status=2)


def test_CHAT_1_refusal_writes_nothing_with_json(number: Chakushin) -> None:
    before = snapshot(number.db_url)
    result = number(
        "chat", "add", NUMBER, "webhook", "--url", "https://10.0.0.1/", "--json", ok=False
    )
    assert result.exit_code == 1 and result.stdout == ""
    assert json.loads(result.stderr)["error"] == "chat_url_not_public"
    assert snapshot(number.db_url) == before


def test_MAIL_2_chat_test_posts_now_and_says_the_answer(number: Chakushin) -> None:
    """``chakushin chat test``: the 送信テスト posted now to a real receiver, accepted (its
    time stamped, as the site does) or refused (one error line, nothing stamped)."""
    allow = {"CHAKUSHIN_CHAT_ALLOW_HOSTS": "127.0.0.1"}
    with receiving() as receiver:
        url = receiver.url("/hook/S3cr3tPath")
        added = invoke(number, "chat", "add", NUMBER, "webhook", "--url", url, **allow)
        assert added.exit_code == 0, added.stderr
        tested = invoke(number, "chat", "test", NUMBER, "1", **allow)
        assert tested.exit_code == 0, tested.stderr
        assert tested.stdout.startswith("test notice to 1. Webhook accepted: HTTP 200"), tested
        no_credentials(tested.stdout)
        [got] = receiver.wait_for(1)
        assert got.path == "/hook/S3cr3tPath"
        assert got.headers["webhook-id"].startswith("msg_test_")
        assert json.loads(got.body)["type"] == "test"
        listed = number.json("chat", "list", NUMBER)["destinations"][0]
        assert listed["test_sent_at"] is not None
        data = json.loads(invoke(number, "chat", "test", NUMBER, "1", "--json", **allow).stdout)
        assert data["accepted"] is True and data["position"] == 1
        receiver.answers.append(404)
        before = snapshot(number.db_url)
        refused = invoke(number, "chat", "test", NUMBER, "1", **allow)
        assert refused.exit_code == 1 and refused.stdout == ""
        [line] = refused.stderr.strip().splitlines()
        assert line.startswith("error: the receiver did not accept the test notice: HTTP 404")
        assert snapshot(number.db_url) == before
    number.refused("chat", "test", NUMBER, "2")
    number.refused("chat", "test", NUMBER, "4", status=2)
