"""Issue 19 (BOOK-1): every code the phonebook raises has a Japanese sentence that formats.

The codes are read from the modules' source (``code="..."`` keywords, a
``CsvRowRefused("...")``'s first argument, ``OPERATOR_TEXT``), as
``tests/unit/test_store_texts.py`` reads the older modules', so a new refusal
cannot go unworded.
"""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

import store.phonebook
import store.phonebook_csv
import store.validation
from store.errors import InvalidInput
from web.texts import ERRORS, japanese

OURS = re.compile(r"(caller_name|phonebook)_[a-z_]+")


def _codes() -> dict[str, set[str]]:
    """code -> the params it is raised with (keywords and ``params={...}`` keys)."""
    found: dict[str, set[str]] = {}
    for module in (store.phonebook, store.phonebook_csv, store.validation):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            params = {
                k.arg for k in node.keywords if k.arg not in (None, "code", "field", "params")
            }
            for keyword in node.keywords:
                if keyword.arg == "params" and isinstance(keyword.value, ast.Dict):
                    params |= {
                        k.value
                        for k in keyword.value.keys
                        if isinstance(k, ast.Constant) and isinstance(k.value, str)
                    }
            codes = [
                k.value.value
                for k in node.keywords
                if k.arg == "code" and isinstance(k.value, ast.Constant)
            ]
            first = node.args[0] if node.args else None
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if (
                name.endswith("Refused")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                codes.append(first.value)
            for code in codes:
                if isinstance(code, str) and OURS.fullmatch(code):
                    found.setdefault(code, set()).update(str(p) for p in params)
    for code, english in store.phonebook_csv.OPERATOR_TEXT.items():
        names = {n for _, n, _, _ in string.Formatter().parse(english) if n}
        found.setdefault(code, set()).update(names)
    return found


CODES = _codes()


def test_BOOK_1_the_scan_sees_the_codes() -> None:
    for code in ("caller_name_control", "phonebook_full", "phonebook_csv_duplicate"):
        assert code in CODES, code
    assert CODES["phonebook_full"] == {"max"}


@pytest.mark.parametrize("code", sorted(CODES))
def test_BOOK_1_every_phonebook_code_has_japanese_that_formats(code: str) -> None:
    assert code in ERRORS, code
    wanted = {n for _, n, _, _ in string.Formatter().parse(ERRORS[code]) if n}
    assert wanted <= CODES[code], (code, wanted, CODES[code])
    assert "{" not in ERRORS[code].format_map({n: "x" for n in CODES[code]})


@pytest.mark.parametrize(
    "cls", [store.phonebook_csv.CsvRowRefused, store.phonebook_csv.PhonebookCsvRefused]
)
def test_BOOK_1_the_refusal_classes_have_japanese(cls: type[InvalidInput]) -> None:
    assert cls.code in ERRORS


def test_BOOK_1_too_long_says_the_limit() -> None:
    with pytest.raises(InvalidInput) as err:
        store.validation.caller_name("x" * 41)
    assert japanese(err.value) == "名前は40文字以内で入力してください。"
    with pytest.raises(InvalidInput) as err:
        store.validation.phonebook_note("x" * 101)
    assert japanese(err.value) == "メモは100文字以内で入力してください。"
