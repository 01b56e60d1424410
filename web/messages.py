"""Japanese messages for the domain layer's errors, as the site shows them.

The domain layer (``store/``) raises typed errors with a ``code`` and an
English message for operators (CLI, logs). The site shows subscribers the
seeds' kind of Japanese sentence instead, chosen by code, and for the codes
shared by several lists (``already_exists``, ``limit_exceeded``) by what the
form is about. Errors that already speak Japanese (``store.site_auth``,
``store.password_rules``) pass through.
"""

from __future__ import annotations

from store.errors import DomainError

BY_CODE = {
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

BY_CODE_AND_CONTEXT = {
    ("already_exists", "address"): "このメールアドレスはすでに登録されています。",
    ("limit_exceeded", "address"): "送信先メールアドレスは5件まで登録できます。",
    ("already_exists", "designated"): "この電話番号はすでに指定番号に登録されています。",
    ("limit_exceeded", "designated"): "指定番号は30件まで登録できます。",
    ("not_found", "address"): "このメールアドレスは登録されていません。",
    ("not_found", "designated"): "この電話番号は指定番号に登録されていません。",
}

FALLBACK = "入力内容を確認してください。"


def japanese(exc: DomainError, context: str = "") -> str:
    """The sentence to show for ``exc`` on a form about ``context`` (address, designated…)."""
    if _is_japanese(exc.message):
        return exc.message
    return BY_CODE_AND_CONTEXT.get((exc.code, context)) or BY_CODE.get(exc.code) or FALLBACK


def _is_japanese(text: str) -> bool:
    return any("\u3040" <= ch <= "\u30ff" or "\u4e00" <= ch <= "\u9fff" for ch in text)


# The call history page: why a call was not mailed (notifier.rules reasons).
REASON_LABELS = {
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
    return REASON_LABELS.get(reason, reason)
