"""Issue 19, CHAT-1: every code store.chat_urls and store.destinations raise has its
Japanese sentence in web.texts (web/texts/chat.py ERRORS), and that sentence formats
with the params the code is raised with.

The codes are read from the modules' source (every ``code="..."`` keyword), so a new
refusal without its sentence fails here."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

import store.chat_urls
import store.destinations
from store.errors import InvalidInput
from web.texts import ERRORS, FALLBACK, japanese
from web.texts import chat as chat_texts


def _raised() -> dict[str, set[str]]:
    """code -> the param names its raise sites pass."""
    found: dict[str, set[str]] = {}
    for module in (store.chat_urls, store.destinations):
        tree = ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call):
                continue
            params: set[str] = set()
            codes: list[str] = []
            for keyword in node.keywords:
                value = keyword.value
                if keyword.arg == "code" and isinstance(value, ast.Constant):
                    codes.append(str(value.value))
                if keyword.arg == "params" and isinstance(value, ast.Dict):
                    params |= {str(k.value) for k in value.keys if isinstance(k, ast.Constant)}
            for code in codes:
                found.setdefault(code, set()).update(params)
    return found


RAISED = _raised()


def test_CHAT_1_the_scan_sees_the_codes() -> None:
    assert {"chat_url_not_public", "chatwork_token_format", "destinations_full"} <= set(RAISED)
    assert len(RAISED) >= 25


@pytest.mark.parametrize("code", sorted(RAISED))
def test_CHAT_1_every_destination_code_has_japanese(code: str) -> None:
    assert code in chat_texts.ERRORS, code
    text = ERRORS[code]
    wanted = {name for _, name, _, _ in string.Formatter().parse(text) if name}
    assert wanted <= RAISED[code], (code, wanted - RAISED[code])
    assert japanese(InvalidInput("x", code=code, params=dict.fromkeys(RAISED[code], 3))) != FALLBACK


def test_CHAT_1_texts_of_real_refusals() -> None:
    with pytest.raises(InvalidInput) as caught:
        store.chat_urls.chatwork_token("has spaces in it 0123")
    assert japanese(caught.value) == (
        "ChatworkのAPIトークンは、半角英数字16～100文字で入力してください(空白や記号は含めません)。"
    )
    with pytest.raises(InvalidInput) as caught:
        store.chat_urls.destination_url(store.models.ChatKind.WEBHOOK, "https://x.example/" * 30)
    assert japanese(caught.value) == "URLが長すぎます(500文字までにしてください)。"
