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

from store.errors import DomainError, Param, filled
from store.validation import MAX_ADDRESSES, MAX_DESIGNATED, MAX_LOCAL_PART

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
    # store.validation's other values: no page takes them yet (the CLI, the IVR), so
    # that a page that comes to show one has its sentence (CALL-4, IVR-7, provisioning).
    "ring_seconds_range": "呼出時間は5～60秒で入力してください。",
    "timezone_unknown": "タイムゾーンが正しくありません(例: Asia/Tokyo)。",
    "endpoint_format": "接続先の形式が正しくありません(例: PJSIP/0312345678)。",
    "temp_password_format": "仮パスワードは半角数字8桁で入力してください。",
    # store.service's refusals that no page meets yet (the CLI's), worded for the pages to come.
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
    ("not_found", "address"): "このメールアドレスは登録されていません。",
    ("not_found", "designated"): "この電話番号はお知らせ対象電話番号に登録されていません。",
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

# --- the site's own sentences (pages, sessions, forms) ----------------------------------------

PAGES: dict[str, str] = {
    # shared by several pages
    "link.login": "ログイン画面へ",
    "link.back": "戻る",
    "link.otp_settings": "ワンタイムパスワード設定へ",
    "list.separator": "、",
    # Issue 14: the heading of a page of one number names it.
    "heading.number": "（{number}）",
    "unit.line": "回線単位",
    "unit.number": "電話番号単位",
    "unit.admin_user": "管理者／ユーザ単位",
    # SITE-6 sessions, CSRF, SITE-1 scope, issue 12 item 16 (web.pages.base)
    "session.ended": (
        "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"
    ),
    "csrf.title": "もう一度操作してください",
    "csrf.refused": "画面の有効期限が切れたか、不正な送信です。最初からやり直してください。",
    "scope.title": "表示できません",
    "scope.refused": "この電話番号の設定は表示・変更できません。",
    "form.title": "保存できませんでした",
    "form.refused": "入力内容が正しくありません。画面を表示し直して、もう一度操作してください。",
    # refused requests (web.pages.errors, issue 12 item 12)
    "body.title": "送信できませんでした",
    "body.too_large": (
        "送信されたデータが大きすぎます({size}まで)。"
        "入力内容やファイルを確認して、もう一度操作してください。"
    ),
    "body.no_files": "この画面からはファイルは送信できません。",
    "body.bad_length": "送信されたデータの形式が正しくありません。",
    "body.bytes": "{size}バイト",
    "not_found.title": "ページが見つかりません",
    "not_found.lines": "お探しのページはありません。アドレスに誤りがないか確認してください。",
    "link.top": "最初の画面へ",
    "unavailable.title": "ただいま利用できません",
    "unavailable.retry": "しばらくしてからもう一度お試しください。",
    # login, logout, home (SITE-1, SITE-2, SITE-4, SITE-10)
    "login.title": "ログイン",
    # IVR-1, issue 14: no access number configured (ivr.access_numbers empty).
    "login.ask_operator": (
        "仮パスワードの設定方法は、サービスの運営者(ご契約先)にお問い合わせください。"
    ),
    "help.title": "ヘルプ",
    "login.throttled": (
        "ログインの失敗が続いたため、しばらくログインできません。"
        "{minutes}分ほど待ってからやり直してください。"
    ),
    "logout.done": "ログアウトしました。",
    "home.title": "設定メニュー",
    "home.login_gone": "この電話番号ではログインできなくなりました。",
    # password change (SITE-2, SITE-3, SITE-4)
    "password.title": "パスワード変更",
    "password.forced_temp": "仮パスワードでログインしました。パスワードを設定してください。",
    # SITE-2, issue 14: a ログアウト here does not spend the temporary password.
    "password.temp_stays_valid": (
        "ログアウトした場合も、パスワードを設定するまでは、この仮パスワードで再度ログインできます"
        "(仮パスワードの設定から24時間以内、続けて3回間違えるまで)。"
    ),
    "password.forced_expired": (
        "パスワードの有効期限(60日)が切れました。新しいパスワードを設定してください。"
    ),
    "password.current": "現在のパスワード",
    # Seeds P.5 step 4: what the 「現在のパスワード」 field takes, by login (issue 14).
    "password.current_hint": "現在ご利用中のパスワードを入力します。",
    "password.current_hint_temp": "仮パスワードでログインした場合は、仮パスワードを入力します。",
    "password.current_is_own": (
        "「現在のパスワード」には、ログインしている電話番号({number})のパスワードを入力します"
        "(他の電話番号のパスワードを変更する場合も、変更する電話番号のパスワードではありません)。"
    ),
    "password.target_refused": "この電話番号は変更できません。",
    "password.throttled": (
        "パスワードの誤りが続いたため、しばらくパスワードを変更できません。"
        "{minutes}分ほど待ってからやり直してください。"
    ),
    "password.changed_title": "パスワードを変更しました",
    "password.changed": "{number} のパスワードを変更しました。",
    "password.log_in_again": "新しいパスワードでログインしてください。",
    # one-time password (SITE-5)
    "otp_choice.title": "ワンタイムパスワードの利用選択",
    "otp_choice.choose": (
        "「ワンタイムパスワードを利用する」または「ワンタイムパスワードを利用しない」を"
        "選択してください。"
    ),
    "otp_decline.title": "ワンタイムパスワードを利用しないことの確認",
    # Seeds P.7: 仮登録 → 確認 → 登録 (issue 14 flow 10).
    "otp_enrol.title_new": "ワンタイムパスワード利用情報仮登録",
    "otp_enrol.confirm_title": "ワンタイムパスワード利用情報仮登録の確認",
    "otp_enrol.sent_title": "仮登録が完了しました",
    "otp_enrol.sent": "{address} にメールを送りました。",
    "otp_enrol.open_the_link": (
        "メールに記載された「メールアドレスの本登録お手続きURL」を24時間以内に開いて、"
        "本登録を完了してください。"
    ),
    "otp_verify.refused_title": "本登録できませんでした",
    "otp_verify.done_title": "本登録が完了しました",
    "otp_verify.done": "{number} のワンタイムパスワード受信用メールアドレスを登録しました。",
    "otp_login.title": "ワンタイムパスワードの入力",
    "otp_login.sent": "ワンタイムパスワードを送信しました。メールを確認してください。",
    "otp_settings.title": "ワンタイムパスワード設定",
    # seeds (11) (web.pages.otp_confirmation)
    "otp_confirmation.title": "ワンタイムパスワード確認用ID/パスワード変更",
    "otp_confirmation.id_title": "確認用ID変更",
    "otp_confirmation.id_done_title": "確認用IDを変更しました",
    "otp_confirmation.id_done": "ワンタイムパスワードの確認用IDを変更しました。",
    "otp_confirmation.password_title": "確認用パスワード変更",
    "otp_confirmation.password_done_title": "確認用パスワードを変更しました",
    "otp_confirmation.password_done": "ワンタイムパスワードの確認用パスワードを変更しました。",
    # SITE-5 address change, seeds (9)/(10) (web.pages.otp_address, issue 14)
    "otp_proof.title": "確認用ID・確認用パスワードの入力",
    "otp_address.title": "ワンタイムパスワード受信用メールアドレス変更",
    "otp_address.confirm_title": "ワンタイムパスワード受信用メールアドレス変更の確認",
    # The 本登録完了 page of a login at the one-time password (seeds P.8 [5]).
    "otp_verify.send_next": (
        "「ワンタイムパスワードを送信」を押し、"
        "ワンタイムパスワード受信用メールアドレスに届くワンタイムパスワードを確認してください。"
    ),
    "confirmation.throttled": (
        "確認用IDまたは確認用パスワードの誤りが続いたため、しばらく入力を受け付けません。"
        "{minutes}分ほど待ってからやり直してください。"
    ),
    # auth unit change (SITE-8)
    "auth_unit.title": "認証単位の変更",
    "auth_unit.choose": "変更後の認証単位を選択してください。",
    "auth_unit.throttled": (
        "パスワードの誤りが続いたため、しばらく認証単位を変更できません。"
        "{minutes}分ほど待ってからやり直してください。"
    ),
    "auth_unit.done_title": "認証単位を変更しました",
    "auth_unit.done": "認証単位を{unit}に変更しました。",
    "auth_unit.login_numbers": "ログインする電話番号: {numbers}",
    # a number's notification settings (MAIL-1 ... MAIL-5)
    "number.title": "{number} 着信お知らせメール",
    "addresses.title": "送信先メールアドレス設定",
    "addresses.too_many": "送信先メールアドレスは{limit}件まで登録できます。",
    # Seeds P.9, in their order (type, 送信テスト, tick 送信, 設定) and their notes.
    "addresses.step_type": "着信お知らせメールの送信先メールアドレスを入力します(5件まで)。",
    "addresses.step_test": "「送信テスト」ボタンを押し、正しくメールが届くことを確認します。",
    "addresses.step_send": (
        "お知らせメールを送りたいメールアドレスの「送信」欄にチェックを入れます。"
    ),
    "addresses.step_save": "「設定」ボタンを押します。",
    "addresses.third_party": (
        "送信先メールアドレスの登録を誤った場合、第三者に着信情報が通知されるおそれがあります。"
        "メールアドレス登録の際、必ず「送信テスト」を行ってください。"
    ),
    "addresses.allowed_domain": (
        "メールの受信制限をされている場合は受信できません。"
        "受信拒否設定を解除するか、「{domain}」を受信指定ドメインとして設定してください。"
    ),
    "addresses.characters": (
        "「@」の左側に使える文字は 0～9、A～Z、a～z と _ . - ! $ % ' * + / ? ^ # 、"
        "右側に使える文字は 0～9、A～Z、a～z と - . です。"
        "「@」は1つだけで、先頭と末尾には置けません。"
    ),
    "addresses.delay": (
        "送信先メールアドレスの登録誤りやメールサーバの不具合等により、お知らせメールが"
        "送信されない場合や届くまでにしばらく時間がかかる場合があります。"
    ),
    "send_test.unavailable": "送信テストは利用できません。",
    # MAIL-2 送信テスト, by its row (issue 14): the outcome in words, never the
    # server's reply or our side's error text (those go to the log).
    "send_test.empty": "送信テストするメールアドレスを入力してください。",
    "send_test.sent": (
        "{address} に送信テストのメールを送りました(メールサーバが受け付けました)。"
        "メールが届いたことを確認してから、「送信」にチェックを入れて「設定」を押してください。"
    ),
    "send_test.refused": (
        "{address} に送信できませんでした。"
        "メールサーバがこのメールアドレスへの送信を受け付けませんでした。"
        "メールアドレスに誤りがないか確認してください。"
    ),
    "send_test.deferred": (
        "{address} に送信できませんでした。メールサーバが一時的に受け付けませんでした。"
        "しばらくしてからもう一度お試しください。"
    ),
    # No mail server answered (connection refused, timeout, issue 12).
    "send_test.unreachable": (
        "{address} に送信できませんでした。メールサーバに接続できませんでした。"
        "しばらくしてからもう一度お試しください"
        "(解決しない場合は、サービスの運営者にお問い合わせください)。"
    ),
    "conditions.title": "メール送信条件設定",
    "designated.title": "お知らせ対象電話番号設定",
    # numbers, history, bulk, CSV (SITE-7, SITE-9)
    "numbers.title": "電話番号の選択",
    "history.title": "着信履歴と通知結果",
    "bulk.title": "一括設定",
    "bulk.out_of_scope": "設定できない電話番号が含まれています。",
    "bulk.done": "{count}件の電話番号に設定しました。",
    "otp_csv.title": "ワンタイムパスワード各種一括設定",
    "otp_csv.no_file": "CSVファイルを指定してください。",
    "otp_csv.done": "{changed}件の電話番号の設定を変更しました(変更なし {unchanged}件)。",
    "otp_csv.verification_sent": (
        "新しい受信用メールアドレスに本登録のメールを送りました: {numbers}"
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
        "次の電話番号は、仮パスワードを設定したうえでパスワードを設定してください: {numbers}"
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


ERRORS: Mapping[str, str] = _joined(FORMS, SITE_AUTH, PASSWORD_RULES, CSV, BULK, SEND_TEST)


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
