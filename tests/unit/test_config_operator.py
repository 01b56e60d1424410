"""Issue 14, the operator's path: a From display name, every config error at once, the AMI cap."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from chakushin import config
from chakushin.config import ConfigError

NAME, ADDRESS = "着信お知らせメール", "noreply@example.jp"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "from_address",
    [
        f"{NAME} <{ADDRESS}>",
        f'"{NAME}" <{ADDRESS}>',
        f"  {NAME}   <{ADDRESS}>  ",
    ],
)
def test_issue14_from_address_may_carry_a_display_name(tmp_config: Path, from_address: str) -> None:
    cfg = config.load(env={"CHAKUSHIN_MAIL_FROM_ADDRESS": from_address})
    assert cfg.mail.from_address == from_address
    assert cfg.mail.sender_name == NAME
    assert cfg.mail.sender_address == ADDRESS
    # What the address page tells subscribers to allow (受信指定ドメイン).
    assert cfg.mail.sender_domain == "example.jp"


def test_issue14_a_bare_from_address_has_no_name(tmp_config: Path) -> None:
    cfg = config.load(env={"CHAKUSHIN_MAIL_FROM_ADDRESS": "chakushin@mail.example.co.jp"})
    assert (cfg.mail.sender_name, cfg.mail.sender_address) == ("", "chakushin@mail.example.co.jp")
    assert cfg.mail.sender_domain == "mail.example.co.jp"
    assert config.load(env={}).mail.sender_domain == "localhost"


@pytest.mark.parametrize(
    ("from_address", "words"),
    [
        (f"{NAME}\r\nBcc: x@evil.example <{ADDRESS}>", "control"),
        (f"{NAME}\n <{ADDRESS}>", "control"),
        ("あ" * 65 + f" <{ADDRESS}>", "at most 64"),
        (f"a<b> <{ADDRESS}>", "< or >"),
        (f"a > b <{ADDRESS}>", "< or >"),
        (f"{NAME} <{ADDRESS}", "Name <address>"),
        (f"{NAME} {ADDRESS}>", "Name <address>"),
        (f"{NAME} <>", "is empty"),
        (f"{NAME} <a..b@example.jp>", "two dots"),
        (f'"{NAME} <{ADDRESS}>', "quote"),
        (f'"a"b" <{ADDRESS}>', "quote"),
        (f"a\\b <{ADDRESS}>", "backslash"),
    ],
)
def test_issue14_hostile_display_names_are_refused_in_one_line(
    tmp_config: Path, from_address: str, words: str
) -> None:
    file = write(tmp_config / "c.toml", f"[mail]\nfrom_address = {json.dumps(from_address)}\n")
    with pytest.raises(ConfigError) as err:
        config.load(file, env={})
    assert err.value.key == "mail.from_address"
    assert words in str(err.value)
    assert "\n" not in str(err.value) and "\r" not in str(err.value)


def test_issue14_every_config_error_is_reported_not_only_the_first(tmp_config: Path) -> None:
    file = write(
        tmp_config / "c.toml",
        "[ami]\nport = 70000\n[log]\nlevel = 'loud'\n[mail]\nfrom_address = 'a..b@example.jp'\n",
    )
    with pytest.raises(ConfigError) as err:
        config.load(file, env={"CHAKUSHIN_SERVE_HEARTBEAT_SECONDS": "often"})
    problems = [(p.key, str(p)) for p in err.value.problems]
    assert [key for key, _ in problems] == [
        "serve.heartbeat_seconds (from $CHAKUSHIN_SERVE_HEARTBEAT_SECONDS)",
        "mail.from_address",
        "ami.port",
        "log.level",
    ]
    text = str(err.value)
    assert "4 problems" in text and "\n" not in text
    for _key, line in problems:
        assert line in text


def test_issue14_one_error_reads_as_before(tmp_config: Path) -> None:
    file = write(tmp_config / "c.toml", "[ami]\nport = 70000\n")
    with pytest.raises(ConfigError) as err:
        config.load(file, env={})
    assert str(err.value) == "ami.port: port must be 1-65535; got 70000"
    assert [str(p) for p in err.value.problems] == [str(err.value)]


def test_issue14_unknown_keys_and_wrong_types_are_all_reported(tmp_config: Path) -> None:
    file = write(
        tmp_config / "c.toml", "colour = 'red'\nami = 5\n[site]\nport = 'http'\nprot = 1\n"
    )
    with pytest.raises(ConfigError) as err:
        config.load(file, env={})
    assert {p.key for p in err.value.problems} == {"colour", "ami", "site.prot", "site.port"}


def test_issue14_ami_reconnect_cap_is_a_few_seconds_and_configurable(tmp_config: Path) -> None:
    assert config.load(env={}).ami.reconnect_max_seconds == 5
    cfg = config.load(env={"CHAKUSHIN_AMI_RECONNECT_MAX_SECONDS": "12"})
    assert cfg.ami.reconnect_max_seconds == 12
    for bad in ("0", "301"):
        with pytest.raises(ConfigError) as err:
            config.load(env={"CHAKUSHIN_AMI_RECONNECT_MAX_SECONDS": bad})
        assert err.value.key == "ami.reconnect_max_seconds" and "1-300" in str(err.value)
