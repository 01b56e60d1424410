"""The [site] keys of issue 12 (items 12-15, 19): defaults, and errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from chakushin import config
from chakushin.config import ConfigError


def load(tmp_config: Path, text: str) -> config.Config:
    file = tmp_config / "c.toml"
    file.write_text(text, encoding="utf-8")
    return config.load(file, env={})


def test_item13_item14_site_keys_have_safe_defaults(tmp_config: Path) -> None:
    site = load(tmp_config, "").site
    assert site.public_url == ""
    assert site.trusted_proxies == ()
    assert (site.max_form_bytes, site.max_csv_upload_bytes, site.csv_max_rows) == (
        65_536,
        1_048_576,
        1000,
    )
    assert (
        site.send_tests_per_session,
        site.send_tests_per_number,
        site.send_test_window_seconds,
    ) == (5, 10, 3600)


@pytest.mark.parametrize(
    "url",
    [
        "https://settings.example.jp",
        "http://127.0.0.1:8080",
        "https://x.example/site/",
        "https://[::1]:8443",
    ],
)
def test_item13_SITE_5_public_url_accepted(tmp_config: Path, url: str) -> None:
    assert load(tmp_config, f"[site]\npublic_url = {url!r}\n").site.public_url == url


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://settings.example.jp", "http or https"),
        ("settings.example.jp", "http or https"),
        ("https://", "host"),
        ("https:///path", "host"),
        ("https://settings.example.jp/?next=evil", "query"),
        ("https://settings.example.jp/#x", "fragment"),
        ("https://user:pw@settings.example.jp", "user"),
        ("https://settings.example.jp:99999", "URL"),
        ("https://settings example.jp", "spaces"),
        ("https://settings.example.jp\r\nX: y", "printable"),
    ],
)
def test_item13_SITE_5_config_check_refuses_a_bad_public_url(
    tmp_config: Path, url: str, words: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_config, f"[site]\npublic_url = {url!r}\n")
    assert err.value.key == "site.public_url"
    assert words in str(err.value)


def test_item14_SITE_1_trusted_proxies_are_addresses_or_networks(tmp_config: Path) -> None:
    site = load(tmp_config, "[site]\ntrusted_proxies = ['127.0.0.1', '10.0.0.0/24', '::1']\n").site
    assert site.trusted_proxies == ("127.0.0.1", "10.0.0.0/24", "::1")
    with pytest.raises(ConfigError) as err:
        load(tmp_config, "[site]\ntrusted_proxies = ['proxy.example']\n")
    assert err.value.key == "site.trusted_proxies" and "proxy.example" in str(err.value)


@pytest.mark.parametrize(
    "key",
    [
        "max_form_bytes",
        "max_csv_upload_bytes",
        "csv_max_rows",
        "send_tests_per_session",
        "send_tests_per_number",
        "send_test_window_seconds",
    ],
)
def test_item12_item15_item19_limits_must_be_positive(tmp_config: Path, key: str) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_config, f"[site]\n{key} = 0\n")
    assert err.value.key == f"site.{key}" and "must be" in str(err.value)


def test_issue16_CALL_3_number_request_options_off_by_default_and_read_as_a_bool(
    tmp_config: Path,
) -> None:
    assert load(tmp_config, "").site.number_request_options is False
    assert load(tmp_config, "[site]\nnumber_request_options = true\n").site.number_request_options
    file = tmp_config / "c.toml"  # true, from the line above; the environment wins
    off = {"CHAKUSHIN_SITE_NUMBER_REQUEST_OPTIONS": "no"}
    assert config.load(file, env=off).site.number_request_options is False
    file.write_text("", encoding="utf-8")
    on = {"CHAKUSHIN_SITE_NUMBER_REQUEST_OPTIONS": "yes"}
    assert config.load(file, env=on).site.number_request_options is True
    with pytest.raises(ConfigError) as err:
        load(tmp_config, '[site]\nnumber_request_options = "true"\n')
    assert err.value.key == "site.number_request_options" and "true or false" in str(err.value)
