"""Issue 13: every code the CSV, bulk, password-rule, send-test and validation modules
raise has a Japanese sentence in web.texts, and that sentence formats with the params
the code is raised with.

The codes are read from the modules' own source, not from a list kept here: every
``code="..."`` keyword, the first argument of a refusal's constructor when it is a
literal (``RowRefused("field_count", count=...)``, ``site_auth.OtpRefused(...)``), and
each module's ``OPERATOR_TEXT`` (which covers codes built at run time, such as the
password rules' ``f"{prefix}_length"``). The params are the keywords a literal call
passes (``params={...}`` included) and the ``{placeholders}`` of the English line.
"""

from __future__ import annotations

import ast
import importlib
import re
import string
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import ModuleType

import pytest

import store.api_tokens
import store.bulk
import store.otp_csv.apply
import store.otp_csv.check
import store.otp_csv.file_format
import store.otp_csv.rows
import store.password_rules
import store.send_limits
import store.service.calls
import store.service.devices
import store.service.lines
import store.service.mail
import store.service.routing
import store.service.supplementary
import store.service.temp_password
import store.service.views
import store.validation
from store.errors import DomainError, InvalidInput
from web.texts import ERRORS, FORMS, japanese

MODULES: tuple[ModuleType, ...] = (
    store.otp_csv.rows,
    store.otp_csv.file_format,
    store.otp_csv.check,
    store.otp_csv.apply,
    store.bulk,
    store.password_rules,
    store.send_limits,
    store.validation,
    store.service.lines,
    store.service.mail,
    store.service.supplementary,
    store.service.temp_password,
    store.service.routing,
    store.service.calls,
    store.service.views,
    store.service.devices,
    # The package exports a function of the module's name: the module itself, by its name.
    importlib.import_module("store.service.caller_names"),
    store.api_tokens,
)
# Keywords of a refusal that are not params of its sentence.
NOT_PARAMS = frozenset({"code", "field", "params"})
CODE = re.compile(r"[a-z][a-z0-9_]*")


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _refusal_name(func: ast.expr) -> str:
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name if name.endswith(("Refused", "Error", "Limited")) else ""


def _literal_codes(tree: ast.AST) -> Iterator[tuple[str, frozenset[str] | None, int]]:
    """(code, param names, line) of every call that names its code as a literal.

    The params are None when the call passes more positional arguments, from
    which the constructor makes them (``SendTestLimited(code, limit, window)``):
    its ``OPERATOR_TEXT`` line, formatted with them, names them.
    """
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        params = {k.arg for k in node.keywords if k.arg is not None} - NOT_PARAMS
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
            if k.arg == "code"
            and isinstance(k.value, ast.Constant)
            and isinstance(k.value.value, str)
        ]
        first = node.args[0] if node.args else None
        if (
            _refusal_name(node.func)
            and isinstance(first, ast.Constant)
            and isinstance(first.value, str)
            and CODE.fullmatch(first.value)
        ):
            codes.append(first.value)
        given = frozenset(params) if len(node.args) <= 1 else None
        for code in codes:
            yield code, given, node.lineno


Uses = list[tuple[str, frozenset[str] | None]]


def _raised(module: ModuleType) -> dict[str, Uses]:
    """code -> every (place, params) it is raised with in ``module``."""
    path = Path(module.__file__ or "")
    found: dict[str, Uses] = {}
    for code, params, line in _literal_codes(ast.parse(path.read_text(encoding="utf-8"))):
        found.setdefault(code, []).append((f"{module.__name__}:{line}", params))
    operator_text: Mapping[str, str] = getattr(module, "OPERATOR_TEXT", {})
    for code, english in operator_text.items():
        place = f"{module.__name__}.OPERATOR_TEXT[{code!r}]"
        found.setdefault(code, []).append((place, frozenset(_placeholders(english))))
    return found


RAISED: dict[str, Uses] = {}
for _module in MODULES:
    for _code, _uses in _raised(_module).items():
        RAISED.setdefault(_code, []).extend(_uses)


def test_issue13_the_checker_sees_the_codes() -> None:
    # Vacuous if the scan found nothing: one code of each kind of raise site.
    assert len(RAISED) > 60
    for code in (
        "address_at_count",  # validation's code= through its helper
        "field_count",  # RowRefused("...", count=...)
        "no_site_password",  # site_auth.OtpRefused("...") from otp_csv
        "password_length",  # built at run time: only in OPERATOR_TEXT
        "send_test_number_limit",
        "bulk_refused",
        "csv_refused",
    ):
        assert code in RAISED, code
    assert ("store.otp_csv.file_format", frozenset({"count"})) in {
        (place.rpartition(":")[0], params) for place, params in RAISED["field_count"]
    }


@pytest.mark.parametrize("code", sorted(RAISED))
def test_issue13_every_code_raised_has_a_japanese_text_that_formats(code: str) -> None:
    assert code in ERRORS, f"no Japanese text for {code!r}, raised at {RAISED[code]}"
    text = ERRORS[code]
    for place, params in RAISED[code]:
        if params is None:
            continue
        missing = _placeholders(text) - params
        assert not missing, f"{place}: {code!r} needs {sorted(missing)}, given {sorted(params)}"
        text.format_map({name: "x" for name in params})


@pytest.mark.parametrize("module", [m for m in MODULES if hasattr(m, "OPERATOR_TEXT")])
def test_issue13_operator_text_is_english(module: ModuleType) -> None:
    """The domain's own lines are for operators: no Japanese text left in them."""
    for code, english in module.OPERATOR_TEXT.items():
        assert english.isascii(), (module.__name__, code, english)


def test_issue13_validation_sentences_say_the_limits_the_code_checks() -> None:
    assert (
        f"{store.validation.MIN_RING_SECONDS}～{store.validation.MAX_RING_SECONDS}秒"
        in FORMS["ring_seconds_range"]
    )
    assert f"{store.validation.TEMP_PASSWORD_DIGITS}桁" in FORMS["temp_password_format"]
    with pytest.raises(InvalidInput) as err:
        store.validation.ring_seconds(61)
    assert japanese(err.value) == "呼出時間は5～60秒で入力してください。"


def _refusal_classes() -> list[type[DomainError]]:
    import importlib
    import pkgutil

    import store

    for info in pkgutil.walk_packages(store.__path__, "store."):
        if ".migrations" not in info.name:
            importlib.import_module(info.name)
    seen: list[type[DomainError]] = []
    todo: list[type[DomainError]] = [DomainError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return [c for c in seen if c.__module__.startswith("store.")]


@pytest.mark.parametrize("cls", _refusal_classes(), ids=lambda c: c.__qualname__)
def test_issue13_every_refusal_class_code_has_a_japanese_text(cls: type[DomainError]) -> None:
    """A refusal raised without a finer code still reads as a sentence, not the fallback."""
    assert cls.code in ERRORS, f"{cls.__module__}.{cls.__qualname__}: {cls.code!r}"


def test_issue17_every_module_of_store_service_is_read_for_its_codes() -> None:
    """A new module of store.service (issue 17's devices) cannot raise codes unseen here."""
    import pkgutil

    import store.service

    found = {f"store.service.{m.name}" for m in pkgutil.iter_modules(store.service.__path__)}
    assert found <= {m.__name__ for m in MODULES}
