"""Issue 19 (CHAT-3): the ``[chat]`` section: defaults, overrides, one clear line per bad value."""

from __future__ import annotations

from pathlib import Path

import pytest

from chakushin import config


def load(tmp_config: Path, text: str, env: dict[str, str] | None = None) -> config.Config:
    file = tmp_config / "chakushin.toml"
    file.write_text(text, encoding="utf-8")
    return config.load(file, env=env or {})


def test_CHAT_3_chat_defaults(tmp_config: Path) -> None:
    chat = config.load(env={}).chat
    assert chat == config.ChatConfig()
    assert (chat.timeout_seconds, chat.max_response_bytes, chat.concurrency) == (10.0, 4096, 4)
    assert chat.allow_hosts == ()
    assert chat.chatwork_api == "https://api.chatwork.com/v2"


def test_CHAT_3_chat_values_from_the_file_and_the_environment(tmp_config: Path) -> None:
    loaded = load(
        tmp_config,
        "[chat]\ntimeout_seconds = 2\nmax_response_bytes = 1024\nallow_hosts = ['127.0.0.1']\n",
        env={"CHAKUSHIN_CHAT_CONCURRENCY": "2", "CHAKUSHIN_CHAT_TIMEOUT_SECONDS": "1.5"},
    )
    assert loaded.chat.timeout_seconds == 1.5
    assert loaded.chat.max_response_bytes == 1024
    assert loaded.chat.allow_hosts == ("127.0.0.1",)
    assert loaded.chat.concurrency == 2
    http_api = load(
        tmp_config,
        "[chat]\nallow_hosts = ['chatwork.test']\nchatwork_api = 'http://chatwork.test:8080/v2'\n",
    )
    assert http_api.chat.chatwork_api == "http://chatwork.test:8080/v2"


@pytest.mark.parametrize(
    ("text", "env", "line"),
    [
        ("timeout_seconds = 0", {}, "chat.timeout_seconds: must be 0.5-120 seconds; got 0"),
        ("timeout_seconds = 'x'", {}, "chat.timeout_seconds: expected a number, got 'x'"),
        ("timeout_seconds = true", {}, "chat.timeout_seconds: expected a number, got True"),
        ("", {"CHAKUSHIN_CHAT_TIMEOUT_SECONDS": "nan"}, "expected a finite number"),
        ("", {"CHAKUSHIN_CHAT_TIMEOUT_SECONDS": "soon"}, "expected a number, got 'soon'"),
        ("max_response_bytes = 10", {}, "chat.max_response_bytes: must be 256-1048576; got 10"),
        ("concurrency = 0", {}, "chat.concurrency: must be 1-64; got 0"),
        ("allow_hosts = ['http://x.test']", {}, "chat.allow_hosts: 'http://x.test' is not a host"),
        ("allow_hosts = ['X.test']", {}, "chat.allow_hosts: 'X.test' is not a host"),
        ("allow_hosts = ['x.test:80']", {}, "chat.allow_hosts: 'x.test:80' is not a host"),
        ("chatwork_api = 'http://api.chatwork.com/v2'", {}, "chat.chatwork_api: must be https://"),
        ("chatwork_api = 'https://u:p@api.chatwork.com'", {}, "must not contain a user"),
        ("chatwork_api = 'https://api.chatwork.com/v2?x=1'", {}, "must not have a query"),
        ("chatwork_api = 'https:///v2'", {}, "chat.chatwork_api: must name a host"),
        ("colour = 'red'", {}, "chat.colour: unknown key"),
        (
            "timeout_seconds = 30",
            {"CHAKUSHIN_MAIL_LEASE_SECONDS": "60"},
            "chat.timeout_seconds: must be under half of mail.lease_seconds (60); got 30",
        ),
    ],
)
def test_CHAT_3_a_bad_chat_value_is_one_clear_line(
    tmp_config: Path, text: str, env: dict[str, str], line: str
) -> None:
    with pytest.raises(config.ConfigError) as caught:
        load(tmp_config, f"[chat]\n{text}\n", env=env)
    assert len(caught.value.problems) == 1
    message = str(caught.value)
    assert line in message and "\n" not in message
