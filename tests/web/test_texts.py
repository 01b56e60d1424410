"""Every domain refusal a subscriber can meet on the site has a Japanese sentence."""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Iterator
from pathlib import Path

import pytest

import notifier.rules
import store.validation
from store.errors import InvalidAddress, LimitExceeded
from web.texts import FALLBACK, FORMS, PAGES, REASONS, japanese, page

ROOT = Path(__file__).resolve().parents[2]


def test_MAIL_10_every_no_mail_reason_has_a_label_for_the_history_page() -> None:
    source = Path(notifier.rules.__file__).read_text(encoding="utf-8")
    reasons = set(re.findall(r'_no_mail\("([a-z_]+)"', source))
    assert reasons, "no reasons found in notifier/rules.py"
    assert reasons <= set(REASONS), reasons - set(REASONS)


def test_MAIL_10_issue14_every_reason_the_notifier_records_has_words() -> None:
    """The history page says every stored reason in words (issue 14 flow 10): the rules'
    refusals, the mailed one, the malformed calls of notifier.ami and notifier.engine."""
    import notifier.ami
    import notifier.engine
    from store import bulk

    rules = Path(notifier.rules.__file__).read_text(encoding="utf-8")
    engine = Path(notifier.engine.__file__).read_text(encoding="utf-8")
    recorded = set(re.findall(r'_no_mail\("([a-z_]+)"', rules))
    recorded |= set(re.findall(r'else "([a-z_]+)"', engine))
    recorded |= {notifier.rules.NOTIFY, notifier.engine.UNSTORABLE, notifier.engine.DECISION_ERROR}
    recorded |= {v for k, v in vars(notifier.ami).items() if k.startswith("MALFORMED_")}
    recorded.add(bulk.UNDECIDED)
    assert "mail_not_composed" in recorded and "malformed_route" in recorded
    assert recorded <= set(REASONS), recorded - set(REASONS)
    for words in REASONS.values():
        assert JAPANESE.search(words) and not re.search(r"[A-Z]+-\d", words), words


@pytest.mark.parametrize("prefix", ["address_", "number_"])
def test_MAIL_3_every_validation_code_of_a_form_field_is_translated(prefix: str) -> None:
    source = Path(store.validation.__file__).read_text(encoding="utf-8")
    codes = {c for c in re.findall(r'"([a-z_]+)"', source) if c.startswith(prefix)}
    codes -= {"address_key"}
    assert codes and codes <= set(FORMS), codes - set(FORMS)


def test_MAIL_2_shared_codes_are_worded_by_the_form_they_come_from() -> None:
    full = LimitExceeded("already 5")
    assert japanese(full, "address") == "送信先メールアドレスは5件まで登録できます。"
    assert japanese(full, "designated") == "お知らせ対象電話番号は30件まで登録できます。"
    assert (
        japanese(InvalidAddress("x", code="address_at_count")) == "「@」は1つだけ含めてください。"
    )
    assert japanese(InvalidAddress("x", code="something_new")) == FALLBACK


# --- issue 13: the site's own sentences come from the one catalogue ----------------------------

WEB = ROOT / "web"
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _web_modules() -> list[Path]:
    return sorted(p for p in WEB.rglob("*.py") if "texts" not in p.relative_to(WEB).parts)


def _page_calls(tree: ast.AST) -> Iterator[ast.Call]:
    """Every call of ``page(...)`` / ``texts.page(...)``."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if (isinstance(func, ast.Name) and func.id == "page") or (
                isinstance(func, ast.Attribute) and func.attr == "page"
            ):
                yield node


def _codes(arg: ast.expr) -> list[str] | None:
    """The codes a call's first argument can be: a literal, or a choice of two literals."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        return [arg.value]
    if isinstance(arg, ast.IfExp):
        body, orelse = _codes(arg.body), _codes(arg.orelse)
        if body is not None and orelse is not None:
            return body + orelse
    return None


def _used_pages() -> dict[str, list[tuple[str, set[str]]]]:
    """code -> every (place, keyword names) it is used with in web/."""
    used: dict[str, list[tuple[str, set[str]]]] = {}
    for path in _web_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _page_calls(tree):
            place = f"{path.relative_to(ROOT)}:{call.lineno}"
            codes = _codes(call.args[0]) if call.args else None
            assert codes is not None, f"{place}: page() needs a literal code"
            names = {k.arg for k in call.keywords if k.arg is not None}
            for code in codes:
                used.setdefault(code, []).append((place, names))
    return used


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def test_issue13_every_page_code_used_in_web_exists_with_its_params() -> None:
    used = _used_pages()
    assert len(used) > 50, "the checker found too few page() calls"
    missing = sorted(
        f"{place}: {code}" for code, uses in used.items() for place, _ in uses if code not in PAGES
    )
    assert not missing, "\n".join(missing)
    wrong = sorted(
        f"{place}: {code} takes {sorted(_placeholders(PAGES[code]))}, given {sorted(names)}"
        for code, uses in used.items()
        for place, names in uses
        if names != _placeholders(PAGES[code])
    )
    assert not wrong, "\n".join(wrong)


def test_issue13_every_page_text_of_the_catalogue_is_shown_somewhere() -> None:
    unused = sorted(set(PAGES) - set(_used_pages()))
    assert not unused, unused
    assert page("session.ended") == PAGES["session.ended"]
    assert page("bulk.done", count=3) == "3件の電話番号に設定しました。"


def _docstrings(tree: ast.AST) -> set[int]:
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = node.body[0] if node.body else None
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def test_issue13_no_japanese_text_in_web_outside_the_catalogue() -> None:
    """Templates keep their page text (markup); Python code in web/ asks web.texts."""
    found = []
    for path in _web_modules():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = _docstrings(tree)
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Constant)
                and isinstance(node.value, str)
                and id(node) not in docstrings
                and JAPANESE.search(node.value)
            ):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:40]}")
    assert not found, "\n".join(found)


def test_SITE_8_every_auth_unit_notice_has_its_sentence_and_params() -> None:
    """Every ``Notice(...)`` the auth-unit transitions give is worded, with the params it needs."""
    import string

    import store.site_auth.auth_unit as auth_unit
    from web.texts import NOTICES

    source = Path(auth_unit.__file__).read_text(encoding="utf-8")
    given = dict(re.findall(r'Notice\(\s*"([a-z_]+)"(?:,\s*\{([^}]*)\})?', source))
    assert len(given) >= 10, given
    assert set(given) == set(NOTICES), set(given) ^ set(NOTICES)
    for code, params in given.items():
        supplied = set(re.findall(r'"([a-z_]+)":', params))
        wanted = {f for _, f, _, _ in string.Formatter().parse(NOTICES[code]) if f}
        assert supplied == wanted, (code, supplied, wanted)
