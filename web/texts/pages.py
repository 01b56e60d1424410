"""The site's own sentences: titles, labels, buttons, hints (``page()`` reads them).

Part of the one catalogue (``web.texts``): the sentences a page says of its
own, where ``web.texts`` has those that word a domain refusal. Codes are
dotted by page (``addresses.title``); ``tests/web/test_texts.py`` keeps every
``page("…")`` call's code here and every ``{param}`` supplied.
"""

from __future__ import annotations

PAGES: dict[str, str] = {
    # shared by several pages
    "link.login": "ログイン画面へ",
    "link.back": "戻る",
    # store.service.mail.mail_warnings: stored settings under which no call is mailed
    "warning.designated_only_without_numbers": (
        "「お知らせ対象電話番号からの着信のみお知らせする」が設定されていますが、"
        "「指定」欄にチェックを入れたお知らせ対象電話番号がないため、"
        "着信お知らせメールは送信されません。お知らせ対象電話番号を指定するか、"
        "この条件の設定を解除してください。"
    ),
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
    # Issue 14: the numbers needing a temporary password are listed once, in the line
    # above (NOTICES need_temp_password); the login numbers' line refers to it.
    "auth_unit.login_numbers_and_above": (
        "ログインする電話番号: {numbers}、および上の電話番号(本パスワードを設定した後)"
    ),
    "auth_unit.login_numbers_above": "ログインする電話番号: 上の電話番号(本パスワードを設定した後)",
    # a number's notification settings (MAIL-1 ... MAIL-5)
    "number.title": "{number} 着信お知らせメール",
    # A number's サービス選択 (seeds (3) step 7, issue 16), in the carrier's order.
    "services.title": "サービス選択",
    "services.mail": "着信お知らせメール",
    "services.nuisance": "迷惑電話おことわり",
    "services.number_request": "ナンバー・リクエスト",
    "services.voice_warp": "ボイスワープ",
    "services.started": "開始中",
    "services.stopped": "停止中",
    "services.nuisance_count": "登録 {count}件",
    # Issue 17 (CALL-1, MAIL-9; web.pages.office): an office number's devices, its queue,
    # and who answered a call (the mail's words: 「応答：受付（PJSIP/201）」).
    "office.rings": "着信する電話機：{where}",
    "office.queue": "順番待ちの着信グループ（{queue}）",
    "addresses.title": "送信先メールアドレス設定",
    "addresses.too_many": "送信先メールアドレスは{limit}件まで登録できます。",
    # Issue 14: a saved address in full above its input (a long one is cut off in the box).
    "addresses.saved": "現在の設定: {address}",
    # Issue 16 (MAIL-2): the address's latest call notification failed (web.pages.delivery).
    "addresses.recently_failed": (
        "最近このアドレスに送信できませんでした。{reason}"
        "送信テストやお知らせメールをこのアドレスに送信できると、この表示は消えます。"
    ),
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
    # CALL-2 迷惑電話おことわり (web.pages.nuisance, issue 16)
    "nuisance.title": "迷惑電話おことわり",
    "nuisance.empty": "電話番号を入力してください。",
    # a number's call services (CALL-3, CALL-4; web.pages.forwarding, issue 16)
    "number_request.title": "ナンバー・リクエスト",
    "number_request.not_subscribed": "この電話番号はナンバー・リクエストを契約していません。",
    "voice_warp.title": "ボイスワープ",
    "voice_warp.not_subscribed": "この電話番号はボイスワープを契約していません。",
    "voice_warp.destination_empty": "転送先電話番号を入力してください。",
    "voice_warp.ring_seconds_format": "呼出時間は{low}～{high}秒の間で、数字で入力してください。",
    # numbers, history, bulk, CSV (SITE-7, SITE-9)
    "numbers.title": "電話番号の選択",
    "history.title": "着信履歴と通知結果",
    # Issue 16 (MAIL-10): what became of each address's mail (web.pages.delivery): the
    # outcome in words, never the mail server's reply or an SMTP code (for the operator).
    "delivery.sent": "送信済み({time})",
    "delivery.queued": "送信中",
    "delivery.retrying": "再送中(次の送信: {next} ごろ、これまでの送信: {attempts}回)",
    "delivery.failed": "送信できませんでした",
    "delivery.address_refused": (
        "メールサーバがこのメールアドレスへの送信を受け付けませんでした。"
        "メールアドレスに誤りがないか確認してください。"
    ),
    "delivery.mailbox_full": (
        "受信側のメールボックスの容量がいっぱいで、受け付けられませんでした。"
        "不要なメールを削除してください。"
    ),
    "delivery.refused": (
        "受信側のメールサーバがこのメールを受け付けませんでした。"
        "迷惑メール対策などの受信設定を確認してください。"
    ),
    "delivery.deferred": (
        "受信側のメールサーバが一時的に受け付けない状態が続いたため、送信を取りやめました。"
    ),
    "delivery.unreachable": (
        "メールサーバに接続できない状態が続いたため、送信を取りやめました"
        "(解決しない場合は、サービスの運営者にお問い合わせください)。"
    ),
    # Issue 19 (CHAT-3): a chat or webhook notice's outcome (web.pages.delivery), in words:
    # never the receiver's reply or an HTTP status code (for the operator).
    "delivery.chat_kind.slack": "Slack",
    "delivery.chat_kind.teams": "Microsoft Teams",
    "delivery.chat_kind.discord": "Discord",
    "delivery.chat_kind.chatwork": "Chatwork",
    "delivery.chat_kind.webhook": "Webhook",
    "delivery.chat_kind.chat": "チャット",
    "delivery.chat_heading": "チャット・Webhookへの通知:",
    "delivery.attempts": "送信 {attempts}回",
    "delivery.chat_removed": "(削除済みの送信先)",
    "delivery.chat_gone": (
        "送信先のWebhook(またはルーム)が見つかりませんでした。"
        "削除されていないか確認し、必要なら送信先を登録し直してください。"
    ),
    "delivery.chat_not_authorized": (
        "送信先が送信を許可しませんでした。APIトークンや投稿の権限を確認してください。"
    ),
    "delivery.chat_refused": (
        "送信先がこの通知を受け付けませんでした。送信先の設定を確認してください。"
    ),
    "delivery.chat_redirected": (
        "送信先が別のURLへの転送を返したため、送信しませんでした。URLを確認してください。"
    ),
    "delivery.chat_deferred": (
        "送信先が一時的に受け付けない状態が続いたため、送信を取りやめました。"
    ),
    "delivery.chat_unreachable": (
        "送信先に接続できない状態が続いたため、送信を取りやめました"
        "(解決しない場合は、サービスの運営者にお問い合わせください)。"
    ),
    "delivery.chat_blocked": (
        "送信先のURLが送信できない宛先を指しているため、送信しませんでした。"
        "URLを確認してください。"
    ),
    "delivery.chat_destination_removed": "送信先が削除されたため、送信しませんでした。",
    "delivery.destination_recently_failed": (
        "最近この送信先に送信できませんでした。{reason}"
        "送信テストや着信の通知をこの送信先に送信できると、この表示は消えます。"
    ),
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
