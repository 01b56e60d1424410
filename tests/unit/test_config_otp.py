"""The [site] caps of one-time passwords (issue 12 item 11): defaults, errors that name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from chakushin import config
from chakushin.config import ConfigError
from store import site_auth


def load(tmp_config: Path, text: str) -> config.Config:
    file = tmp_config / "c.toml"
    file.write_text(text, encoding="utf-8")
    return config.load(file, env={})


def test_item11_SITE_5_otp_caps_default_to_10_a_day(tmp_config: Path) -> None:
    site = load(tmp_config, "").site
    assert (site.otp_wrong_codes_per_day, site.otp_code_mails_per_day) == (10, 10)
    defaults = site_auth.OtpLimits()
    assert (defaults.wrong_codes_per_day, defaults.code_mails_per_day) == (10, 10)
    assert site_auth.OTP_LIMIT_WINDOW.total_seconds() == 86400


@pytest.mark.parametrize("key", ["otp_wrong_codes_per_day", "otp_code_mails_per_day"])
@pytest.mark.parametrize("value", ["0", "-1", "1001", '"10"'])
def test_item11_SITE_5_otp_caps_out_of_range_name_the_key(
    tmp_config: Path, key: str, value: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_config, f"[site]\n{key} = {value}\n")
    assert f"site.{key}" in str(err.value)


def test_issue12_SITE_5_confirmation_failures_cap_defaults_to_10_a_day(tmp_config: Path) -> None:
    site = load(tmp_config, "").site
    assert site.confirmation_failures_per_day == 10
    assert site_auth.OtpLimits().confirmation_failures_per_day == 10
    assert load(tmp_config, "[site]\nconfirmation_failures_per_day = 1000\n").site == (
        config.SiteConfig(confirmation_failures_per_day=1000)
    )


@pytest.mark.parametrize("value", ["0", "-1", "1001", '"10"'])
def test_issue12_SITE_5_confirmation_failures_cap_out_of_range_names_the_key(
    tmp_config: Path, value: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_config, f"[site]\nconfirmation_failures_per_day = {value}\n")
    assert "site.confirmation_failures_per_day" in str(err.value)


def test_issue12_SITE_5_verification_mails_cap_defaults_to_5_a_day(tmp_config: Path) -> None:
    site = load(tmp_config, "").site
    assert site.verification_mails_per_day == 5
    assert site_auth.OtpLimits().verification_mails_per_day == 5
    for value in (1, 1000):
        assert load(tmp_config, f"[site]\nverification_mails_per_day = {value}\n").site == (
            config.SiteConfig(verification_mails_per_day=value)
        )


@pytest.mark.parametrize("value", ["0", "-1", "1001", '"5"'])
def test_issue12_SITE_5_verification_mails_cap_out_of_range_names_the_key(
    tmp_config: Path, value: str
) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_config, f"[site]\nverification_mails_per_day = {value}\n")
    assert "site.verification_mails_per_day" in str(err.value)
