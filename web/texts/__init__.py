"""The site's Japanese text, every sentence by code: the one catalogue.

Modelled on ``agi.prompts``: the domain layer (``store/``) raises errors
with a stable ``code``, ``params`` and an English ``message`` for operators;
the site shows subscribers the seeds' kind of Japanese sentence for that
code, chosen here and only here. A code shared by several lists
(``already_exists``, ``limit_exceeded``) is worded by what the form is
about (``IN_CONTEXT``). ``tests/web/test_texts.py`` keeps every code the
domain raises translated and every ``{param}`` supplied.

The sections below follow the areas of SPEC.md; ``ERRORS`` joins them, and
a code may appear in one section only. The site's own sentences (titles,
labels, hints: ``PAGES``, read by ``page()``) are in ``web/texts/pages.py``.
"""

from __future__ import annotations

from collections.abc import Mapping

from store import validation
from store.errors import DomainError, Param, filled
from store.validation import (
    MAX_ADDRESSES,
    MAX_DESIGNATED,
    MAX_LOCAL_PART,
    MAX_RING_SECONDS,
    MIN_RING_SECONDS,
)
from web.texts import chat as _chat
from web.texts import phonebook as _phonebook
from web.texts.pages import PAGES as _SITE_PAGES

# What a refusal without its own sentence reads as (a test keeps every code worded).
FALLBACK = "入力内容を確認してください。"

# --- notification settings forms (MAIL-1 ... MAIL-3, numbers) ----------------------------

FORMS: dict[str, str] = {
    # MAIL-3 (seeds: 送信先メールアドレスとして設定できる文字 / 以下の条件)
    "address_empty": "メールアドレスを入力してください。",
    "address_too_long": "メールアドレスが長すぎます。",
    "address_at_count": "「@」は1つだけ含めてください。",
    "address_at_first": "先頭が「@」のメールアドレスは設定できません。",
    "address_at_last": "末尾が「@」のメールアドレスは設定できません。",
    # Seeds: 「@マークの前が64文字以上になっている」 is an RFC violation: at most 63.
    "address_local_too_long": (
        f"「@」の前が{MAX_LOCAL_PART + 1}文字以上のメールアドレスは設定できません"
        f"({MAX_LOCAL_PART}文字までにしてください)。"
    ),
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
    # MAIL-4 (a) needs the designated numbers (seeds: お知らせ対象電話番号設定
    # 「…を指定した場合に本設定が必要です」, issue 14 flow 5).
    "designated_only_without_numbers": (
        "「お知らせ対象電話番号からの着信のみお知らせする」を指定する場合は、"
        "お知らせ対象電話番号設定が必要です。"
        "先に「お知らせ対象電話番号設定」で電話番号を入力し、「指定」欄にチェックを入れてください。"
    ),
    "last_designated_of_designated_only": (
        "「お知らせ対象電話番号からの着信のみお知らせする」を指定している間は、"
        "「指定」欄にチェックを入れたお知らせ対象電話番号が1件以上必要です。"
        "すべて外す場合は、先に「メール送信条件設定」でこの条件のチェックを外してください。"
    ),
    # store.validation's other values: the ring time is the ボイスワープ page's (CALL-4);
    # the others no page takes yet (the CLI, the IVR), worded for the pages to come.
    "ring_seconds_range": f"呼出時間は{MIN_RING_SECONDS}～{MAX_RING_SECONDS}秒で入力してください。",
    "timezone_unknown": "タイムゾーンが正しくありません(例: Asia/Tokyo)。",
    "endpoint_format": "接続先の形式が正しくありません(例: PJSIP/0312345678)。",
    # Issue 17: office numbers (several devices, a queue, device names); the CLI's.
    "endpoint_too_long": "接続先が長すぎます。",
    "endpoint_too_many_devices": "同時に呼び出せる電話機は8台までです。",
    "endpoint_duplicate_device": "同じ電話機が2回指定されています。",
    "endpoint_or_queue": "電話機か着信グループ(キュー)のどちらか一方を指定してください。",
    "queue_format": "着信グループ(キュー)の名前が正しくありません。",
    "queue_seconds_range": "着信グループの待ち時間は5～300秒で入力してください。",
    "queue_seconds_without_queue": "待ち時間は着信グループ(キュー)とあわせて指定してください。",
    "interface_format": "電話機の形式が正しくありません(例: PJSIP/201)。",
    "device_label_format": "電話機の名前は20文字以内で入力してください。",
    "device_labels_full": "名前を付けられる電話機の数の上限に達しています。",
    "temp_password_format": "仮パスワードは半角数字8桁で入力してください。",
    # store.service's refusals that the CLI meets (forward_to_self: also the ボイスワープ page),
    # worded for the pages to come.
    "contract_number_removal": ("契約電話番号は削除できません。回線ごと削除してください。"),
    "forward_to_self": "転送先に、この電話番号そのものは設定できません。",
    "forward_without_destination": "転送先の電話番号を設定してから開始してください。",
    "temp_password_target": "この電話番号の仮パスワードは設定できません。",
    # The classes' own codes (store.errors), for a refusal raised without a finer one.
    "invalid": FALLBACK,
    "invalid_input": "入力内容が正しくありません。",
    "invalid_number": "電話番号が正しくありません。",
    "invalid_address": "メールアドレスが正しくありません。",
    "limit_exceeded": "登録できる件数の上限に達しています。",
    "not_found": "指定された内容は登録されていません。",
    "already_exists": "すでに登録されています。",
    "rule_violation": "この操作は行えません。",
    "password_rule": "このパスワードは設定できません。",
    "passwords_refused": "パスワードが正しくありません。",
    "otp_refused": "ワンタイムパスワードの手続きを続けられません。もう一度お試しください。",
    "csv_row_refused": "CSVファイルの内容が正しくありません。",
    "send_test_limit": "送信テストの回数の上限に達しました。しばらくたってからお試しください。",
}


IN_CONTEXT: dict[tuple[str, str], str] = {
    ("already_exists", "address"): "このメールアドレスはすでに登録されています。",
    ("limit_exceeded", "address"): f"送信先メールアドレスは{MAX_ADDRESSES}件まで登録できます。",
    ("already_exists", "designated"): (
        "この電話番号はすでにお知らせ対象電話番号に登録されています。"
    ),
    ("limit_exceeded", "designated"): f"お知らせ対象電話番号は{MAX_DESIGNATED}件まで登録できます。",
    # SITE-7 一括設定 (issue 16): a number's refusal of the part about CALL-3 / CALL-4.
    ("not_subscribed", "bulk_number_request"): (
        "この電話番号はナンバー・リクエストを契約していません。"
    ),
    ("not_subscribed", "bulk_voice_warp"): "この電話番号はボイスワープを契約していません。",
    ("forward_without_destination", "bulk_voice_warp"): (
        "転送先電話番号が設定されていません。"
        "この電話番号のボイスワープ設定で転送先電話番号を設定してから開始してください。"
    ),
    ("not_found", "address"): "このメールアドレスは登録されていません。",
    ("not_found", "designated"): "この電話番号はお知らせ対象電話番号に登録されていません。",
    # CALL-2 (issue 16): the nuisance page; numbers are taken as typed (hyphens, full-width).
    ("already_exists", "nuisance"): "この電話番号はすでに迷惑電話リストに登録されています。",
    ("limit_exceeded", "nuisance"): (
        f"迷惑電話リストに登録できる電話番号は{validation.MAX_NUISANCE}件までです。"
        "登録する場合は、先にいずれかを削除してください。"
    ),
    ("not_found", "nuisance"): (
        "この電話番号は迷惑電話リストに登録されていません(すでに削除されています)。"
    ),
    ("not_subscribed", "nuisance"): "この電話番号は迷惑電話おことわりを契約していません。",
    ("number_not_digits", "nuisance"): (
        "電話番号は数字で入力してください(ハイフンはあってもなくてもかまいません)。"
    ),
    # CALL-4: the destination is taken as people type it (hyphens, full-width digits).
    ("number_not_digits", "voice_warp"): "転送先電話番号は数字で入力してください。",
    # Both take validation.diallable_number's 10-18 digits (010 and a number abroad),
    # not the 10 or 11 of a subscriber's own number (issue 16).
    ("number_format", "nuisance"): "電話番号は市外局番から入力してください(0から始まる10～18桁)。",
    ("number_format", "voice_warp"): (
        "電話番号は市外局番から入力してください(0から始まる10～18桁。海外へは010から)。"
    ),
}


# --- login, passwords, auth unit, one-time password (SITE-1 ... SITE-10) -----------------

# The seeds tell the subscriber to set a temporary password again (SITE-2, SITE-4).
_RESET = "仮パスワード設定用の番号に電話をして、仮パスワードを設定し直してください。"

# Codes of ``store.site_auth`` (its ``errors.OPERATOR_TEXT`` has each one's English line).
SITE_AUTH: dict[str, str] = {
    # SITE-1 (number_not_digits: FORMS)
    "password_empty": "パスワードを入力してください。",
    "login_refused": "電話番号またはパスワードが正しくありません。",
    # SITE-2 / SITE-4: the seeds tell the subscriber to set a temporary password again.
    "temp_password_expired": (
        f"仮パスワードの設定から24時間以上経過したため、仮パスワードが無効になりました。{_RESET}"
    ),
    "temp_password_invalidated": (
        f"仮パスワードを3回続けて間違えたため、仮パスワードが無効になりました。{_RESET}"
    ),
    "password_invalidated": (
        "パスワードが無効になりました(パスワードを10回続けて間違えた場合などに無効になります)。"
        f"{_RESET}"
    ),
    # SITE-10
    "current_password_empty": "現在のパスワードを入力してください。",
    "current_password_wrong": "現在のパスワードが正しくありません。",
    "confirm_mismatch": "新しいパスワードと確認用のパスワードが一致しません。",
    "login_not_allowed": "ログインし直してください。",
    "out_of_scope": "この電話番号のパスワードは変更できません。",
    "temp_password_own_only": (
        "仮パスワードでログインした場合は、ログインした電話番号のパスワードを先に変更してください。"
    ),
    # SITE-8
    "auth_unit_unchanged": "現在と同じ認証単位です。",
    "contract_number_only": (
        "管理者/ユーザ単位からの認証単位の変更は、契約電話番号でログインした場合のみ行えます。"
    ),
    "passwords_missing": "次の電話番号のパスワードを入力してください: {numbers}",
    "passwords_not_set": (
        "次の電話番号はパスワードが設定されていないか無効です。"
        "仮パスワードを設定し、パスワードを設定してから認証単位を変更してください: {numbers}"
    ),
    # Names no number: the page must not tell which password was wrong (an oracle).
    "passwords_wrong": "入力されたパスワードが正しくありません。",
    # SITE-5 (the OTP address breaks MAIL-3 as any address: FORMS' sentences, issue 14)
    "otp_address_invalid": "メールアドレスの形式が正しくありません。",
    "no_site_password": "先にパスワードを設定してください。",
    "otp_already_enabled": (
        "ワンタイムパスワードは利用中です。受信用メールアドレスの変更から手続きしてください。"
    ),
    "otp_already_enrolled": (
        "ワンタイムパスワード利用情報は登録済みです。"
        "ワンタイムパスワード受信用メールアドレス変更から手続きしてください。"
    ),
    "otp_not_enrolled": "ワンタイムパスワード利用情報が登録されていません。",
    "otp_address_unverified": (
        "ワンタイムパスワード受信用メールアドレスの本登録を先に完了してください。"
    ),
    "confirmation_mismatch": "確認用IDまたは確認用パスワードが正しくありません。",
    "confirmation_id_confirm_mismatch": "新しい確認用IDと確認のための入力が一致しません。",
    "confirmation_password_confirm_mismatch": (
        "新しい確認用パスワードと確認のための入力が一致しません。"
    ),
    "token_invalid": (
        "このURLは無効です。設定サイトにログインして、もう一度お手続きをお願いします。"
    ),
    "token_used": "このURLは使用済みです。メールアドレスの本登録は完了しています。",
    "token_expired": (
        "メールアドレスの本登録お手続きURLの有効期限(24時間)を過ぎています。"
        "再度設定サイトにログインしてお手続きをお願いします。"
    ),
    "otp_code_empty": "ワンタイムパスワードを入力してください。",
    "otp_code_format": "ワンタイムパスワードは、メールに記載された半角数字6桁を入力してください。",
    "otp_code_missing": "ワンタイムパスワードを送信してください。",
    "otp_code_wrong": "ワンタイムパスワードが正しくありません。",
    "otp_code_expired": (
        "ワンタイムパスワードの有効時間(300秒)を過ぎています。"
        "再度ログインしてワンタイムパスワードを送信してください。"
    ),
    "otp_code_used": (
        "このワンタイムパスワードは使用済みです。再度ログインしてワンタイムパスワードを送信してください。"
    ),
    "otp_code_too_soon": (
        "ワンタイムパスワードは送信済みです。届くまでしばらくお待ちください"
        "(30秒たつと、もう一度送信できます)。"
    ),
    "otp_code_void": (
        "ワンタイムパスワードを5回間違えたため、無効になりました。"
        "再度ログインしてワンタイムパスワードを送信してください。"
    ),
    "otp_wrong_limit": (
        "ワンタイムパスワードの誤りが24時間で{limit}回に達したため、"
        "ワンタイムパスワードでのログインを停止しています。"
        "24時間ほどたってから、もう一度ログインしてください。"
    ),
    "otp_mail_limit": (
        "ワンタイムパスワードの送信が24時間で{limit}回に達したため、これ以上送信できません。"
        "24時間ほどたってから、もう一度ログインしてください。"
    ),
    # Issue 12: wrong confirmation IDs/passwords per number over 24 hours.
    "confirmation_limit": (
        "確認用IDまたは確認用パスワードの誤りが24時間で{limit}回に達したため、"
        "この電話番号の確認用ID・確認用パスワードの入力を停止しています"
        "(正しい確認用ID・確認用パスワードも受け付けません)。"
        "{until}以降に、もう一度お試しください。"
    ),
    # Issue 12: verification mails (the link of SITE-5) per number and per line over 24 hours.
    "verification_number_limit": (
        "この電話番号のメールアドレス本登録お手続きメールの送信が24時間で{limit}通に達したため、"
        "これ以上送信できません(メールアドレスは登録されていません)。"
        "{until}以降に、もう一度お試しください。"
    ),
    "verification_line_limit": (
        "この回線のメールアドレス本登録お手続きメールの送信が24時間で{limit}通に達したため、"
        "これ以上送信できません(メールアドレスは登録されていません)。"
        "{until}以降に、もう一度お試しください。"
    ),
}

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

# --- the one-time-password CSV (SITE-9) ------------------------------------------------------

# Codes of ``store.otp_csv`` (its ``OPERATOR_TEXT`` has each one's English line).
# A refused file's problems are (line, error) pairs (``CsvRefused.problems``);
# the site shows ``japanese(error)`` for each. Problems the pages share keep
# their one sentence there: number_not_digits (FORMS), otp_address_invalid,
# confirmation_mismatch and the refusals of store.site_auth (SITE_AUTH), the
# ID and password rules (PASSWORD_RULES).
CSV: dict[str, str] = {
    "csv_refused": (
        "CSVファイルに誤りがあるため、一括設定を行いませんでした"
        "(どの電話番号の設定も変更されていません)。"
    ),
    "empty": "CSVファイルに設定する行がありません。",
    "too_many_rows": "CSVファイルの行数が多すぎます。一度に設定できるのは{max_rows}行までです。",
    "encoding": (
        "CSVファイルの文字コードが正しくありません。UTF-8またはShift_JISで保存してください。"
    ),
    "line_ending": (
        "改行コードが「CR+LF」ではありません。改行コードを「CR+LF」にして保存してください。"
    ),
    "quoting": '「"」(ダブルクォーテーション)の使い方が正しくありません。',
    "field_count": "項目の数が正しくありません(5項目のところ、{count}項目あります)。",
    "number_empty": "電話番号を入力してください。",
    "number_leading_zero": (
        "電話番号の先頭の「0」が欠けています(表計算ソフトで保存すると欠けることがあります)。"
    ),
    "number_out_of_scope": "この電話番号の設定はできません。",
    "number_duplicate": "電話番号が{line}行目と重複しています。",
    "otp_flag": (
        "ワンタイムパスワード利用設定は「0」(利用なし)または「1」(利用あり)を入力してください。"
    ),
    "otp_address_missing": (
        "ワンタイムパスワード利用設定が「1」の場合は、"
        "ワンタイムパスワード受信用メールアドレスを入力してください。"
    ),
    "confirmation_id_missing": "確認用パスワードを入力する場合は、確認用IDも入力してください。",
    # Found when the row is applied: they depend on the stored settings.
    "confirmation_password_for_id": (
        "確認用IDを変更する場合は、確認用パスワードも入力してください。"
    ),
    "confirmation_for_address": (
        "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
        "確認用IDと確認用パスワードも入力してください。"
    ),
    "current_confirmation_for_address": (
        "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
        "現在の確認用IDと確認用パスワードを入力してください。"
    ),
    "confirmation_not_current": (
        "確認用IDと確認用パスワードは一括設定では変更できません。"
        "現在の確認用IDと確認用パスワードを入力するか、空欄にしてください"
        "(変更は「ワンタイムパスワード設定」の「確認用ID/パスワードの変更」で行えます)。"
    ),
    "address_needs_otp_on": (
        "ワンタイムパスワード受信用メールアドレスを変更する場合は、"
        "ワンタイムパスワード利用設定を「1」にしてください。"
    ),
    "number_not_found": "この電話番号は登録されていません。",
}

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

# --- the auth unit change's completion page (SITE-8, seeds (2)…(7)) --------------------------
# store.site_auth.auth_unit.Notice codes.

NOTICES: dict[str, str] = {
    "contract_number_logs_in": (
        "認証単位変更後にログインする際の電話番号は、契約電話番号({contract})になります。"
    ),
    "contract_number_manages_all": (
        "契約電話番号({contract})でログインすると全ての電話番号を、"
        "追加番号でログインするとその電話番号の設定ができます。"
    ),
    "each_number_logs_in": (
        "ログインする際は、設定したいサービスをご契約の電話番号を入力してください。"
    ),
    "password_of_login_number": "パスワードは、{number}番でログインした際のパスワードになります。",
    "passwords_of_number_unit": (
        "パスワードは、各電話番号で電話番号単位でログインした際のパスワードです。"
    ),
    "contract_password_of_line_unit": (
        "契約電話番号のパスワードは、回線単位でログインした際のパスワードです。"
    ),
    "line_password_given_to_all": (
        "回線単位でログインした際のパスワードと同じパスワードが全ての電話番号に設定されました。"
    ),
    "passwords_of_admin_user_unit": (
        "パスワードは、各電話番号で管理者/ユーザ単位でログインした際のパスワードです。"
    ),
    "contract_password_kept_others_invalid": (
        "パスワードは、契約電話番号でログインした際のパスワードです。"
        "追加電話番号のパスワードは無効になりました。"
    ),
    "need_temp_password": (
        "次の電話番号は、仮パスワードを発行のうえ、本パスワードを設定してください: {numbers}"
    ),
}


# --- the provisioning API's tokens (issue 18) -------------------------------------------------

# Codes of ``store.api_tokens`` (the operator's ``chakushin api token``; no page shows them).
API_TOKENS: dict[str, str] = {
    "api_token_name": (
        "トークン名は半角英数字と「_」「.」「-」で{max}文字以内で入力してください(先頭は英数字)。"
    ),
    "api_token_scope": "トークンの権限は read または write を指定してください。",
    "api_token_exists": "トークン名「{name}」は使用済みです(失効したトークンの名前も使えません)。",
    "api_token_not_found": "トークン名「{name}」のトークンはありません。",
}


# --- bulk import (issue 18) ------------------------------------------------------------------

# Codes of ``store.import_file`` / ``store.importing`` (the operator's ``chakushin import``;
# no page shows them; its ``OPERATOR_TEXT`` has each one's English line).
IMPORT: dict[str, str] = {
    "import_refused": "取り込むファイルに誤りがあります。",
    "import_empty": "ファイルに取り込む行がありません。",
    "import_too_big": "ファイルが大きすぎます({max}バイトまで)。",
    "import_too_many_rows": (
        "ファイルの行数が多すぎます。一度に取り込めるのは{max_rows}行までです。"
    ),
    "import_encoding": "ファイルの文字コードがUTF-8ではありません({offset}バイト目)。",
    "import_binary": "ファイルにNUL文字が含まれています(テキストファイルではありません)。",
    "import_line_too_long": "行が長すぎます({max}文字まで)。",
    "import_csv_format": "CSVファイルをこれ以上読み取れません: {reason}",
    "import_too_many_columns": "見出し行の項目が{count}個あります(項目は{max}個までです)。",
    "import_unknown_column": "不明な項目名があります: {names}",
    "import_duplicate_column": "項目名「{name}」が2回あります。",
    "import_missing_column": "見出し行に contract_number の項目がありません。",
    "import_field_count": (
        "項目の数が正しくありません(見出し行は{expected}項目、この行は{count}項目)。"
    ),
    "import_field_too_long": "値が長すぎます({max}文字まで)。",
    "import_control_character": "値に制御文字または書式文字({char})が含まれています。",
    "import_not_on_off": "「{value}」は on / off ではありません。",
    "import_not_integer": "「{value}」は秒数(整数)ではありません。",
    "import_choice": "「{value}」は次のいずれでもありません: {choices}",
    "import_empty_entry": "一覧に空の項目があります。",
    "import_missing_value": "どの行にも contract_number が必要です。",
    "import_json": "行が1つのJSONオブジェクトではありません: {reason}",
    "import_not_object": "行がJSONオブジェクトではありません。",
    "import_unknown_field": "不明な項目です。",
    "import_duplicate_field": "項目が2回あります。",
    "import_type": "値の形式が正しくありません({expected})。",
    "import_duplicate": "電話番号{number}が{line}行目にもあります。",
    "import_auth_unit_conflict": (
        "{line}行目が回線{contract_number}に別の認証単位を指定しています。"
    ),
    "import_database": (
        "データベースのエラーのため、取り込みをここで中止しました(何も書き込んでいません): {reason}"
    ),
}


def _joined(*sections: Mapping[str, str]) -> dict[str, str]:
    joined: dict[str, str] = {}
    for section in sections:
        twice = joined.keys() & section.keys()
        if twice:
            raise RuntimeError(f"web.texts: codes in two sections: {sorted(twice)}")
        joined.update(section)
    return joined


ERRORS: Mapping[str, str] = _joined(
    FORMS,
    SITE_AUTH,
    PASSWORD_RULES,
    CSV,
    BULK,
    SEND_TEST,
    API_TOKENS,
    IMPORT,
    _phonebook.ERRORS,
    _chat.ERRORS,
)
# Issue 19: the phonebook's and the destinations' pages have their sentences in their modules.
PAGES: Mapping[str, str] = _joined(_SITE_PAGES, _phonebook.PAGES, _chat.PAGES)


def _worded(text: str, params: Mapping[str, Param]) -> str:
    """``text`` with its params; the numbers of a list are written 0312345678、0312345679."""
    return filled(text, params, list_separator="、")


def japanese(exc: DomainError, context: str = "") -> str:
    """The sentence to show for ``exc`` on a form about ``context`` (address, designated…)."""
    return _worded(
        IN_CONTEXT.get((exc.code, context)) or ERRORS.get(exc.code, FALLBACK), exc.params
    )


def page(code: str, **params: str | int) -> str:
    """One of the site's own sentences (``PAGES``)."""
    return PAGES[code].format_map(params) if params else PAGES[code]


def notice(code: str, params: Mapping[str, Param]) -> str:
    """One sentence of a completion page (``NOTICES``), e.g. ``AuthUnitChanged.notices``."""
    return _worded(NOTICES[code], params)


# --- the call history page: why a call was not mailed (notifier.rules reasons) ----------------

REASONS: dict[str, str] = {
    # Every reason the notifier records (notifier.rules, notifier.engine,
    # notifier.ami; tests/web/test_texts.py keeps each worded): the page says
    # it in words and never the rule id (issue 14 flow 10).
    "notify": "お知らせメールを送信しました",
    "not_subscribed": "着信お知らせメールの契約がありませんでした",
    "service_stopped": "サービスが停止中でした",
    "number_request": "ナンバー・リクエストで非通知の着信をお断りしました",
    "nuisance_list": "迷惑電話おことわりで着信を拒否しました",
    "forward_failed": "ボイスワープの転送先が話し中などで、転送されませんでした",
    "no_outcome": "通話の結果がわかりませんでした",
    "designated_only_anonymous": (
        "「お知らせ対象電話番号からの着信のみお知らせする」の設定中に、"
        "発信者番号が通知されない着信でした"
    ),
    "not_designated": (
        "「お知らせ対象電話番号からの着信のみお知らせする」の設定中に、"
        "お知らせ対象電話番号以外からの着信でした"
    ),
    "answered": "「応答できなかった着信のみお知らせする」の設定中に、応答した着信でした",
    "no_recipient": "「送信」にチェックの入った送信先メールアドレスがありませんでした",
    "unknown_number": "電話番号が登録されていませんでした",
    "mail_not_composed": "メールを作成できませんでした",
    # The call was reported with values that cannot be used (issue 12): recorded, not mailed.
    "malformed_subscriber_number": "着信の記録が正しくなかったため、お知らせしませんでした",
    "malformed_dial_status": "着信の記録が正しくなかったため、お知らせしませんでした",
    "malformed_route": "着信の記録が正しくなかったため、お知らせしませんでした",
    "malformed_unstorable": "着信の記録が正しくなかったため、お知らせしませんでした",
    "decision_error": "お知らせするかどうかを判定できませんでした",
    "undecided": "判定の記録がありません",
}


def reason_label(reason: str) -> str:
    """Why a call was (not) mailed, in words; a code without words reads as no record."""
    return REASONS.get(reason, REASONS["undecided"])
