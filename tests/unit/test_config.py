"""Configuration: defaults for one box, TOML, environment overrides, clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from chakushin import config
from chakushin.config import ConfigError


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_make_a_single_box(tmp_config: Path) -> None:
    cfg = config.load(env={"CHAKUSHIN_DATA_DIR": str(tmp_config / "data")})
    assert (cfg.ami.host, cfg.ami.port) == ("127.0.0.1", 5038)
    assert (cfg.agi.host, cfg.agi.port) == ("127.0.0.1", 4573)
    assert (cfg.site.host, cfg.site.port) == ("127.0.0.1", 8080)
    assert cfg.timezone == "Asia/Tokyo"
    assert cfg.database_url == f"sqlite:///{tmp_config / 'data' / 'chakushin.db'}"
    assert cfg.mail.smtp_host == "" and cfg.mail.sink == "maildir"
    assert cfg.maildir == str(tmp_config / "data" / "maildir")
    assert cfg.ivr.access_numbers == ("0363044747", "0664806430")
    assert cfg.source == "defaults"


def test_toml_file_then_environment(tmp_config: Path) -> None:
    file = write(
        tmp_config / "c.toml",
        """
        timezone = "Asia/Tokyo"
        [ami]
        port = 15038
        secret = "s3cret"
        [agi]
        allowed_peers = ["127.0.0.1", "192.0.2.10"]
        [database]
        url = "postgresql+psycopg://chakushin:pw@db.example/chakushin"
        """,
    )
    cfg = config.load(
        file, env={"CHAKUSHIN_AMI_PORT": "25038", "CHAKUSHIN_AGI_ALLOWED_PEERS": "::1, 127.0.0.1"}
    )
    assert cfg.ami.port == 25038  # environment wins over the file
    assert cfg.ami.secret == "s3cret"
    assert cfg.agi.allowed_peers == ("::1", "127.0.0.1")
    assert cfg.database_url.startswith("postgresql+psycopg://")
    assert cfg.source == str(file)


def test_config_file_from_environment_and_current_directory(tmp_config: Path) -> None:
    write(tmp_config / "chakushin.toml", "[site]\nport = 8081\n")
    assert config.load(env={}).site.port == 8081
    other = write(tmp_config / "other.toml", "[site]\nport = 8082\n")
    assert config.load(env={"CHAKUSHIN_CONFIG": str(other)}).site.port == 8082


@pytest.mark.parametrize(
    ("text", "env", "key", "words"),
    [
        ("[ami]\nprot = 5038\n", {}, "ami.prot", "unknown key"),
        ("colour = 'red'\n", {}, "colour", "unknown key"),
        ("[ami]\nport = '5038'\n", {}, "ami.port", "whole number"),
        ("[ami]\nport = 70000\n", {}, "ami.port", "1-65535"),
        ("", {"CHAKUSHIN_SITE_PORT": "http"}, "site.port", "whole number"),
        ("timezone = 'Tokyo'\n", {}, "timezone", "IANA"),
        ("[database]\nurl = 'mysql://x@y/z'\n", {}, "database.url", "not supported"),
        ("[database]\nurl = 'no url here'\n", {}, "database.url", "not a URL"),
        ("[mail]\nsink = 'pigeon'\n", {}, "mail.sink", "one of maildir, console"),
        ("[mail]\nfrom_address = 'a..b@x'\n", {}, "mail.from_address", "two dots"),
        ("[ivr]\naccess_numbers = ['03-6304-4747']\n", {}, "ivr.access_numbers", "hyphens"),
        ("[log]\nlevel = 'loud'\n", {}, "log.level", "one of"),
        ("ami = 5\n", {}, "ami", "must be a table"),
        ("[agi]\nallowed_peers = '127.0.0.1'\n", {}, "agi.allowed_peers", "list of strings"),
        ("[agi]\nallowed_peers = ['10.0.0.0/24']\n", {}, "agi.allowed_peers", "not an IP"),
        ("[serve]\nshutdown_timeout_seconds = 0\n", {}, "serve.shutdown_timeout_seconds", "1-600"),
        ("", {"CHAKUSHIN_SERVE_AGI": "maybe"}, "serve.agi", "true or false"),
        ("[metrics]\nport = -1\n", {}, "metrics.port", "0-65535"),
        ("[serve]\noutbox_alert_seconds = 5\n", {}, "serve.outbox_alert_seconds", "60 s"),
    ],
)
def test_errors_name_the_key(
    tmp_config: Path, text: str, env: dict[str, str], key: str, words: str
) -> None:
    file = write(tmp_config / "c.toml", text)
    with pytest.raises(ConfigError) as err:
        config.load(file, env=env)
    assert err.value.key is not None and err.value.key.startswith(key)
    assert words in str(err.value)


def test_malformed_toml_is_reported_with_its_position(tmp_config: Path) -> None:
    file = write(tmp_config / "c.toml", "[ami]\nport = = 1\n")
    with pytest.raises(ConfigError, match=r"not valid TOML.*line 2"):
        config.load(file, env={})


def test_missing_explicit_file_is_an_error(tmp_config: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        config.load(tmp_config / "nope.toml", env={})


def test_effective_config_masks_secrets(tmp_config: Path) -> None:
    file = write(
        tmp_config / "c.toml",
        "[ami]\nsecret = 'amipw'\n[mail]\nsmtp_password = 'smtppw'\n"
        "[database]\nurl = 'postgresql+psycopg://u:dbpw@h/d'\n",
    )
    shown = config.effective(config.load(file, env={"CHAKUSHIN_SITE_SECRET_KEY": "sitekey"}))
    text = repr(shown)
    for secret in ("amipw", "smtppw", "dbpw", "sitekey"):
        assert secret not in text
    assert shown["ami"]["secret"] == config.MASK
    assert shown["mail"]["smtp_username"] == ""
    assert shown["database"]["url"] == "postgresql+psycopg://u:***@h/d"


def test_shipped_example_lists_every_key_with_its_default(tmp_config: Path) -> None:
    example = Path(__file__).resolve().parents[2] / "chakushin.example.toml"
    shown = config.effective(config.load(example, env={}))
    defaults = config.effective(config.load(env={}))
    assert shown == defaults
    text = example.read_text(encoding="utf-8")
    for section, values in defaults.items():
        keys = values if isinstance(values, dict) else {section: values}
        for key in keys:
            if not key.startswith("effective_"):
                assert f"{key} =" in text, f"{section}.{key} is not documented in the example"
