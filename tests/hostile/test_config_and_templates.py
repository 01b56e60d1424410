"""Hostile config values and mail templates (issue 12): a clear error naming the key, or safe.

Every key of every section gets random and boundary values, from the
environment and from a TOML file (of the wrong type too). ``load`` either
returns a config whose every text value is free of control characters, or
raises ``ConfigError`` naming that key; never any other exception. The
operator's mail templates either load or raise ``TemplateError``; a
template that loads composes a mail for any call without raising.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import typing
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from chakushin import config as config_mod
from chakushin.config import Config, ConfigError
from notifier import mail
from notifier.model import CallRecord, MailSettings
from store.models import CallOutcome, Presentation
from tests.hostile.conftest import hostile_text


def _keys(cls: type[Any] = Config, prefix: str = "") -> list[tuple[str, Any]]:
    found: list[tuple[str, Any]] = []
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if f.metadata.get("internal"):
            continue
        kind = hints[f.name]
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            found += _keys(kind, prefix + f.name + ".")
        else:
            found.append((prefix + f.name, kind))
    return found


KEYS = _keys()


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, tuple):
        return [t for v in value for t in _texts(v)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [t for f in dataclasses.fields(value) for t in _texts(getattr(value, f.name))]
    return []


def _env_name(key: str) -> str:
    return config_mod.ENV_PREFIX + key.replace(".", "_").upper()


def _base_env(tmp: Path) -> dict[str, str]:
    return {"CHAKUSHIN_DATA_DIR": str(tmp)}


def _load_or_key(env: dict[str, str], key: str, path: Path | None = None) -> Config | None:
    try:
        loaded = config_mod.load(path, env=env)
    except ConfigError as exc:
        # The error names the key (or the key it conflicts with names it: agi.host
        # off loopback is refused as agi.allowed_peers, naming agi.host).
        assert exc.key is not None and (exc.key.startswith(key) or key in str(exc)), (key, exc)
        assert "\n" not in str(exc)
        return None
    for text in _texts(loaded):
        assert text.isprintable() or text == "", (key, text)
    return loaded


# About 60 keys: a dozen values each keeps the suite fast; boundary values come first.
@pytest.mark.parametrize(("key", "kind"), KEYS, ids=[k for k, _ in KEYS])
@settings(max_examples=12)
@given(value=hostile_text)
def test_hostile_config_value_from_the_environment(
    tmp_path: Path, key: str, kind: Any, value: str
) -> None:
    if "\x00" in value:
        return  # an environment variable cannot hold NUL
    env = _base_env(tmp_path) | {_env_name(key): value}
    if key == "data_dir":
        env.pop("CHAKUSHIN_DATA_DIR", None)
    _load_or_key(env, key)
    # The next valid configuration still loads.
    assert config_mod.load(None, env=_base_env(tmp_path)).agi.port == 4573


WRONG_TYPES: list[Any] = [
    "",
    "x" * 5000,
    -1,
    0,
    2**63,
    -(2**63),
    1.5,
    True,
    [],
    ["a", 1],
    {"nested": 1},
    dt.datetime(2026, 1, 1),
]


@pytest.mark.parametrize(("key", "kind"), KEYS, ids=[k for k, _ in KEYS])
@settings(max_examples=12)
@given(value=st.sampled_from(WRONG_TYPES) | hostile_text)
def test_hostile_config_value_in_the_toml_file(
    tmp_path: Path, key: str, kind: Any, value: Any
) -> None:
    section, _, name = key.rpartition(".")
    literal = _toml(value)
    if literal is None:
        return
    text = (f"[{section}]\n" if section else "") + f"{name} = {literal}\n"
    if not section:
        text = f"{name} = {literal}\n"
    path = tmp_path / "chakushin.toml"
    path.write_text(text, encoding="utf-8")
    _load_or_key(_base_env(tmp_path), key, path)


def _toml(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, str):
        if any(ord(c) < 0x20 or ord(c) == 0x7F or 0xD800 <= ord(c) <= 0xDFFF for c in value):
            return None  # not writable as a TOML basic string without escapes
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        parts = [_toml(v) for v in value]
        return None if None in parts else "[" + ", ".join(p for p in parts if p) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{k} = {_toml(v)}" for k, v in value.items()) + " }"
    return None


CALL = CallRecord(
    linkedid="1.1",
    subscriber_number="0312345678",
    caller_number="0398765432",
    presentation=Presentation.ALLOWED,
    outcome=CallOutcome.UNANSWERED,
    started_at=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    ended_at=dt.datetime(2026, 1, 1, 0, 1, tzinfo=dt.UTC),
)
SETTINGS = MailSettings(
    number="0312345678",
    subscribed=True,
    started=True,
    designated_only=False,
    unanswered_only=False,
    addresses=(("boss@example.jp", True),),
    designated=(),
    timezone="Asia/Tokyo",
)
placeholder = st.sampled_from(["$number", "$caller", "${time}", "$$", "$", "${", "$nosuch", "$1"])


@pytest.mark.parametrize("name", sorted(mail.TEMPLATE_FIELDS))
@given(parts=st.lists(placeholder | hostile_text, max_size=6))
def test_hostile_mail_template(
    tmp_path_factory: pytest.TempPathFactory, name: str, parts: list[str]
) -> None:
    folder = tmp_path_factory.mktemp("templates")
    text = "".join(parts)
    try:
        (folder / name).write_text(text, encoding="utf-8", errors="strict")
    except UnicodeEncodeError:
        return  # a lone surrogate cannot be in a file of UTF-8 text
    try:
        templates = mail.Templates.load(folder)
    except mail.TemplateError as exc:
        assert str(folder / name) in str(exc)
        return
    made = mail.compose_all(
        CALL, SETTINGS, ["boss@example.jp"], sender="c@example.jp", templates=templates
    )
    assert len(made) == 1
    test = mail.compose_test(
        "boss@example.jp",
        "0312345678",
        sender="c@example.jp",
        templates=templates,
        now=dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
        timezone="Asia/Tokyo",
    )
    assert "\r\nBcc" not in test.as_string()
