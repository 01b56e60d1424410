"""Every domain refusal a subscriber can meet on the site has a Japanese sentence."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import notifier.rules
import store.validation
from store.errors import InvalidAddress, LimitExceeded
from web.texts import FALLBACK, FORMS, REASONS, japanese

ROOT = Path(__file__).resolve().parents[2]


def test_MAIL_10_every_no_mail_reason_has_a_label_for_the_history_page() -> None:
    source = Path(notifier.rules.__file__).read_text(encoding="utf-8")
    reasons = set(re.findall(r'_no_mail\("([a-z_]+)"', source))
    assert reasons, "no reasons found in notifier/rules.py"
    assert reasons <= set(REASONS), reasons - set(REASONS)


@pytest.mark.parametrize("prefix", ["address_", "number_"])
def test_MAIL_3_every_validation_code_of_a_form_field_is_translated(prefix: str) -> None:
    source = Path(store.validation.__file__).read_text(encoding="utf-8")
    codes = {c for c in re.findall(r'"([a-z_]+)"', source) if c.startswith(prefix)}
    codes -= {"address_key"}
    assert codes and codes <= set(FORMS), codes - set(FORMS)


def test_MAIL_2_shared_codes_are_worded_by_the_form_they_come_from() -> None:
    full = LimitExceeded("already 5")
    assert japanese(full, "address") == "送信先メールアドレスは5件まで登録できます。"
    assert japanese(full, "designated") == "指定番号は30件まで登録できます。"
    assert (
        japanese(InvalidAddress("x", code="address_at_count")) == "「@」は1つだけ含めてください。"
    )
    assert japanese(InvalidAddress("x", code="something_new")) == FALLBACK
