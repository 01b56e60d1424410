"""Issue 14 flow 9: ``site.support_contact``, whom the site tells subscribers to ask."""

from __future__ import annotations

from pathlib import Path

import pytest

from chakushin import config
from chakushin.config import ConfigError


def load(tmp_config: Path, text: str) -> config.Config:
    file = tmp_config / "c.toml"
    file.write_text(text, encoding="utf-8")
    return config.load(file, env={})


def test_issue14_support_contact_is_empty_by_default_and_read_as_written(tmp_config: Path) -> None:
    assert load(tmp_config, "").site.support_contact == ""
    site = load(
        tmp_config, '[site]\nsupport_contact = "サポートセンター 0120-123-456(平日9時～17時)"\n'
    )
    assert site.site.support_contact == "サポートセンター 0120-123-456(平日9時～17時)"


def test_issue14_support_contact_is_one_short_line(tmp_config: Path) -> None:
    with pytest.raises(ConfigError) as err:
        load(tmp_config, f'[site]\nsupport_contact = "{"あ" * 201}"\n')
    assert err.value.key == "site.support_contact" and "200" in str(err.value)
    with pytest.raises(ConfigError) as err:
        load(tmp_config, '[site]\nsupport_contact = "a\\nb"\n')
    assert err.value.key == "site.support_contact"
