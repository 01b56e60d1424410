"""The site's Japanese text, every sentence by code: the one catalogue.

Modelled on ``agi.prompts``: the domain layer (``store/``) raises errors
with a stable ``code``, ``params`` and an English ``message`` for operators;
the site shows subscribers the seeds' kind of Japanese sentence for that
code, chosen here and only here. A code shared by several lists
(``already_exists``, ``limit_exceeded``) is worded by what the form is
about (``IN_CONTEXT``). ``tests/web/test_texts.py`` keeps every code the
domain raises translated and every ``{param}`` supplied.

The sections below follow the areas of SPEC.md; ``ERRORS`` joins them, and
a code may appear in one section only.
"""

from __future__ import annotations

from collections.abc import Mapping

from store.errors import DomainError

# --- notification settings forms (MAIL-1 ... MAIL-3, numbers) ----------------------------

FORMS: dict[str, str] = {
    # MAIL-3 (seeds: 送信先メールアドレスとして設定できる文字 / 以下の条件)
    "address_empty": "メールアドレスを入力してください。",
    "address_too_long": "メールアドレスが長すぎます。",
    "address_at_count": "「@」は1つだけ含めてください。",
    "address_at_first": "先頭が「@」のメールアドレスは設定できません。",
    "address_at_last": "末尾が「@」のメールアドレスは設定できません。",
    "address_local_too_long": "「@」より前が長すぎます。",
    "address_local_chars": (
        "「@」より前に使える文字は 0～9、a～z、A～Z と - . _ ! $ % ' * + / ? ^ # です。"
    ),
    "address_leading_dot": "先頭が「.」のメールアドレスは設定できません。",
    "address_dot_before_at": "「@」の直前が「.」のメールアドレスは設定できません。",
    "address_double_dot": "「.」が2つ以上連続するメールアドレスは設定できません。",
    "address_domain_chars": "「@」より後に使える文字は 0～9、a～z、A～Z と - . です。",
    "address_trailing_dot": "末尾が「.」のメールアドレスは設定できません。",
    "address_domain_label": "「@」より後の「.」の使い方が正しくありません。",
    # numbers
    "number_not_digits": "電話番号はハイフンなしの半角数字で入力してください。",
    "number_format": "電話番号は市外局番から入力してください(0から始まる10桁または11桁)。",
    # MAIL-1
    "start_without_address": "送信先メールアドレスを登録してから開始してください。",
    "last_address_of_started": (
        "サービスの開始中は、最後の送信先メールアドレスは削除できません。"
        "先にサービスを停止してください。"
    ),
    "not_subscribed": "この電話番号は着信お知らせメールを契約していません。",
}


IN_CONTEXT: dict[tuple[str, str], str] = {
    ("already_exists", "address"): "このメールアドレスはすでに登録されています。",
    ("limit_exceeded", "address"): "送信先メールアドレスは5件まで登録できます。",
    ("already_exists", "designated"): "この電話番号はすでに指定番号に登録されています。",
    ("limit_exceeded", "designated"): "指定番号は30件まで登録できます。",
    ("not_found", "address"): "このメールアドレスは登録されていません。",
    ("not_found", "designated"): "この電話番号は指定番号に登録されていません。",
}


# --- login, passwords, auth unit, one-time password (SITE-1 ... SITE-10) -----------------

SITE_AUTH: dict[str, str] = {}

# --- password rules (SITE-3, SITE-5) ----------------------------------------------------------

# Codes of ``store.password_rules`` (its ``OPERATOR_TEXT`` has each one's English line).
PASSWORD_RULES: dict[str, str] = {
    # SITE-3
    "password_length": "パスワードは8～12桁で入力してください。",
    "password_charset": "パスワードは半角英数字(A～Z、a～z、0～9)で入力してください。",
    "password_digits_only": "数字のみのパスワードは設定できません。",
    "password_repeated": "同じ文字を4文字以上続けたパスワードは設定できません。",
    "password_sequence": (
        "連続した文字・数字(1234、abcdなど)を4文字以上含むパスワードは設定できません。"
    ),
    "password_contains_number": "電話番号を含むパスワードは設定できません。",
    "password_same_as_current": "現在のパスワードと同一のパスワードは設定できません。",
    # SITE-5
    "confirmation_id_length": "確認用IDは8～12桁で入力してください。",
    "confirmation_id_charset": "確認用IDは半角英数字(A～Z、a～z、0～9)で入力してください。",
    "confirmation_id_digits_only": "数字のみの確認用IDは利用できません。",
    "confirmation_id_upper_only": "英字大文字のみの確認用IDは利用できません。",
    "confirmation_id_lower_only": "英字小文字のみの確認用IDは利用できません。",
    "confirmation_password_length": "確認用パスワードは8～12桁で入力してください。",
    "confirmation_password_charset": (
        "確認用パスワードは半角英数字(A～Z、a～z、0～9)で入力してください。"
    ),
    "confirmation_password_mix": "確認用パスワードは英字と数字を組み合わせて入力してください。",
}

# The rules in one sentence, as the forms show them next to the field (the
# password page; the confirmation ID and password of the enrolment page and of
# the change page, which used to carry a copy each).
PASSWORD_HINTS: dict[str, str] = {
    "password": (
        "8～12桁の半角英数字。数字のみ、同じ文字の4文字以上の連続、"
        "1234・abcdのような連続、電話番号を含むものは設定できません。"
    ),
    "confirmation_id": (
        "8～12桁の半角英数字。英大文字のみ・英小文字のみ・数字のみは利用できません。"
    ),
    "confirmation_password": "8～12桁の半角英数字。英字と数字を組み合わせてください。",
}

# --- the one-time-password CSV (SITE-5) ------------------------------------------------------

CSV: dict[str, str] = {}

# --- bulk settings and search (issue 9) ------------------------------------------------------

# Codes of ``store.bulk`` (its ``OPERATOR_TEXT`` has each one's English line).
BULK: dict[str, str] = {
    "search_pattern": "検索する電話番号は半角数字と「*」で入力してください。",
    "bulk_no_numbers": "一括設定する電話番号を選択してください。",
    "bulk_no_change": "一括設定する内容を選択してください。",
    "bulk_refused": (
        "次の電話番号は設定できないため、一括設定を行いませんでした"
        "(どの電話番号の設定も変更されていません): {numbers}"
    ),
}

# --- send test limits (MAIL-2) ---------------------------------------------------------------

# Codes of ``store.send_limits`` (its ``OPERATOR_TEXT`` has each one's English line).
SEND_TEST: dict[str, str] = {
    "send_test_session_limit": (
        "送信テストの回数が上限に達しました。ログインに使った電話番号では{minutes}分間に"
        "{limit}回まで送信できます。しばらくしてからもう一度お試しください。"
    ),
    "send_test_number_limit": (
        "送信テストの回数が上限に達しました。この電話番号では{minutes}分間に"
        "{limit}回まで送信できます。しばらくしてからもう一度お試しください。"
    ),
}

# --- the site's own sentences (pages, sessions, forms) ----------------------------------------

PAGES: dict[str, str] = {}

FALLBACK = "入力内容を確認してください。"


def _joined(*sections: Mapping[str, str]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for section in sections:
        twice = joined.keys() & section.keys()
        if twice:
            raise RuntimeError(f"web.texts: codes in two sections: {sorted(twice)}")
        joined.update(section)
    return joined


ERRORS: Mapping[str, str] = _joined(FORMS, SITE_AUTH, PASSWORD_RULES, CSV, BULK, SEND_TEST)


def japanese(exc: DomainError, context: str = "") -> str:
    """The sentence to show for ``exc`` on a form about ``context`` (address, designated…)."""
    text = IN_CONTEXT.get((exc.code, context)) or ERRORS.get(exc.code)
    if text is None:
        # Transitional: errors that still carry their Japanese text.
        return exc.message if _is_japanese(exc.message) else FALLBACK
    return text.format_map(exc.params) if exc.params else text


def page(code: str, **params: str | int) -> str:
    """One of the site's own sentences (``PAGES``)."""
    return PAGES[code].format_map(params) if params else PAGES[code]


def _is_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


# --- the call history page: why a call was not mailed (notifier.rules reasons) ----------------

REASONS: dict[str, str] = {
    "not_subscribed": "着信お知らせメールの契約がありませんでした",
    "service_stopped": "サービスが停止中でした",
    "number_request": "ナンバー・リクエストで非通知の着信をお断りしました",
    "nuisance_list": "迷惑電話おことわりで着信を拒否しました",
    "forward_failed": "ボイスワープの転送先につながりませんでした",
    "no_outcome": "通話の結果がわかりませんでした",
    "designated_only_anonymous": (
        "「指定番号からの着信のみ」の設定中に、番号が通知されない着信でした"
    ),
    "not_designated": "「指定番号からの着信のみ」の設定中に、指定番号以外からの着信でした",
    "answered": "「不在着信のみ」の設定中に、応答した着信でした",
    "no_recipient": "「送信」にチェックの入った送信先がありませんでした",
    "unknown_number": "電話番号が登録されていませんでした",
    "mail_not_composed": "メールを作成できませんでした",
    "undecided": "判定の記録がありません",
}


def reason_label(reason: str) -> str:
    return REASONS.get(reason, reason)
