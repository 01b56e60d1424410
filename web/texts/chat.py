"""Issue 19: the chat/webhook destinations' Japanese text (part of ``web.texts``).

``ERRORS`` words the store's refusals about destinations (joined into
``web.texts.ERRORS``); ``PAGES`` the destinations page's own sentences and
what each destination sends (joined into ``web.texts.PAGES``).
"""

from __future__ import annotations

ERRORS: dict[str, str] = {
    # store.chat_urls (CHAT-1, CHAT-3): the URL of a Slack, Teams, Discord or generic webhook.
    "chat_url_empty": "通知先のURLを入力してください。",
    "chat_url_too_long": "URLが長すぎます({limit}文字までにしてください)。",
    "chat_url_not_ascii": (
        "URLに全角文字や日本語が含まれています。半角英数字と記号だけで入力してください"
        "(日本語のドメイン名は「xn--」で始まる形で入力してください)。"
    ),
    "chat_url_chars": (
        "URLに使えない文字(空白、改行、引用符、「\\」など)が含まれています。"
        "コピーしたURLをそのまま貼り付けてください。"
    ),
    "chat_url_format": (
        "URLの形式が正しくありません(ポート番号は1～65535、IPv6アドレスは[ ]で囲みます)。"
    ),
    "chat_url_scheme": "URLは「https://」で始まる形で入力してください。",
    "chat_url_http": "「http://」のURLには送信できません。「https://」で始まるURLを入力してください。",
    "chat_url_userinfo": "ユーザー名やパスワード(…:…@)を含むURLは登録できません。",
    "chat_url_fragment": "「#」を含むURLは登録できません。",
    "chat_url_host": "URLのホスト名が正しくありません。",
    "chat_url_ip_form": (
        "数値だけのホスト名や、省略した形のIPアドレスは使えません。"
        "IPアドレスは「203.0.113.10」のような形で入力してください。"
    ),
    "chat_url_not_public": (
        "このURLのあて先(社内ネットワークや、このサーバー自身など)には送信できません。"
        "インターネットから届くURLを入力してください。"
    ),
    "chat_url_slack": (
        "SlackのURLは「https://hooks.slack.com/services/」で始まる"
        "Incoming WebhookのURLを入力してください。"
    ),
    "chat_url_discord": (
        "DiscordのURLは「https://discord.com/api/webhooks/」で始まる"
        "WebhookのURLを、最後まで(トークンを含めて)入力してください。"
    ),
    "chat_url_teams": (
        "Microsoft TeamsのURLは、ワークフロー「Webhook 要求を受信したらチャネルに投稿する」で"
        "作成したURLを入力してください。"
    ),
    "chat_url_teams_connector": (
        "このURLは、提供が終了したMicrosoft Teamsのコネクタ(Incoming Webhook)のURLです。"
        "Teamsのワークフロー「Webhook 要求を受信したらチャネルに投稿する」を作成し、"
        "そのURLを入力してください。"
    ),
    "chat_url_not_wanted": "ChatworkにはURLは不要です。ルームIDとAPIトークンを入力してください。",
    "chatwork_room_format": (
        "ChatworkのルームIDは半角数字({limit}桁まで)で入力してください"
        "(ルームのURLの「rid」の後ろの数字です)。"
    ),
    "chatwork_token_format": (
        "ChatworkのAPIトークンは、半角英数字{min}～{max}文字で"
        "入力してください(空白や記号は含めません)。"
    ),
    "destination_label_format": (
        "通知先の名前は{limit}文字まで、改行や制御文字を含めずに入力してください。"
    ),
    # store.destinations (CHAT-1, CHAT-2).
    "destination_kind": (
        "通知先の種類は Slack、Microsoft Teams、Discord、Chatwork、Webhook から選んでください。"
    ),
    "destination_chatwork_only": "ルームIDとAPIトークンは、Chatworkの通知先にだけ入力します。",
    "destination_duplicate": "この送信先は、すでに通知先{position}として登録されています。",
    "destinations_full": (
        "通知先は{limit}件まで登録できます。追加する場合は、先にいずれかを削除してください。"
    ),
    "destination_not_found": "通知先{position}は登録されていません。画面を表示し直してください。",
    "destination_not_webhook": "署名用シークレットがあるのは、Webhookの通知先だけです。",
}

PAGES: dict[str, str] = {
    # The destinations page (web.pages.destinations, CHAT-1): its title, what it is for.
    "destinations.title": "チャット通知設定",
    "destinations.intro": (
        "着信のお知らせを、メールのほかにチャット(Slack、Microsoft Teams、Discord、Chatwork)や"
        "お客様のシステム(Webhook)にも送ります。通知先は{limit}件まで登録できます。"
    ),
    # CHAT-1: a call that gets no mail gets no chat message either.
    "destinations.follows_mail": (
        "チャットへのお知らせは、着信お知らせメールと同じ条件で送ります。"
        "お知らせメールを送らない着信(サービスの停止中、メール送信条件に合わない着信、"
        "迷惑電話おことわりやナンバー・リクエストでお断りした着信など)は、チャットにも送りません。"
    ),
    "destinations.needs_address": (
        "「送信」にチェックの入った送信先メールアドレスが1件もない間は、チャットにも送りません。"
    ),
    # BOOK-2: a withheld caller reaches no destination with digits or a name.
    "destinations.withheld": (
        "番号非通知・公衆電話・表示圏外の着信では、電話番号も電話帳の名前も送りません。"
    ),
    "destinations.warning_stopped": (
        "サービスが停止中のため、いまはメールもチャットも送られません。"
    ),
    "destinations.warning_no_address": (
        "「送信」にチェックの入った送信先メールアドレスがないため、いまはチャットにも送られません。"
    ),
    "destinations.not_subscribed": "この電話番号は着信お知らせメールを契約していません。",
    # What each kind sends (the README says the same).
    "destinations.sends_text": (
        "Slack、Microsoft Teams、Discord、Chatwork には、お知らせメールの本文と同じ内容"
        "(着信した電話番号、着信日時、発信者の電話番号と電話帳の名前、応答したかどうか)を"
        "1件のメッセージとして投稿します。全員あてのメンションは付けません。"
    ),
    "destinations.sends_slack": (
        "Slack の Webhook のURL(https://hooks.slack.com/services/…)に、"
        "メッセージを送ります。"
    ),
    "destinations.sends_teams": (
        "Microsoft Teams のワークフロー「Webhook 要求を受信したらチャネルに投稿する」のURLに、"
        "カード形式のメッセージを送ります。以前のコネクタのURL(….webhook.office.com)は使えません。"
    ),
    "destinations.sends_discord": (
        "Discord のチャンネルのWebhookのURL(https://discord.com/api/webhooks/…)に、"
        "メッセージを送ります。"
    ),
    "destinations.sends_chatwork": (
        "Chatwork の指定したルームに、APIトークンの持ち主としてメッセージを投稿します。"
        "ルームIDとAPIトークンを入力してください。"
    ),
    "destinations.sends_webhook": (
        "お客様のシステム(Webhook)には、指定したURLに着信の内容をJSON形式で送ります。"
        "項目は、着信ID、着信した電話番号、発信者(電話番号、通知の種類、電話帳の名前。"
        "番号非通知などの場合、電話番号と名前は値なし)、着信日時(時間帯付き)、着信結果、"
        "応答した電話機、お知らせした理由、メッセージ本文です。"
    ),
    "destinations.webhook_signed": (
        "Webhook のリクエストには Standard Webhooks 方式の署名(HMAC-SHA256)を付けます。"
        "受信側は、追加したときに一度だけ表示される署名用シークレットで署名を確かめてください。"
        "同じメッセージIDのリクエストが再送されることがあるので、1回だけ処理してください。"
    ),
    # The list of destinations.
    "destinations.none": "登録されている通知先はありません。",
    "destinations.heading": "通知先{position}: {name}",
    "destinations.kind_line": "種類: {kind}",
    "destinations.chatwork_room": "Chatwork ルーム {room}",
    "destinations.tested_at": "最後に送信テストを受け付けた日時: {at}",
    "destinations.at": "{year}年{month}月{day}日 {hour}:{minute}",
    "destinations.full": (
        "通知先が上限の{limit}件に達しています。追加する場合は、先にいずれかを削除してください。"
    ),
    "destinations.saved": "通知先{position}の設定を保存しました。",
    "destinations.added": (
        "通知先{position}を追加しました。送信テストで届くことを確かめてください。"
    ),
    "destinations.removed": "通知先{position}を削除しました。",
    # CHAT-2: the generic webhook's signing secret, shown once (after adding or rotating).
    "destinations.secret_once": (
        "通知先{position}の署名用シークレットです。この画面を離れると二度と表示されません。"
        "いま受信側のシステムに設定してください。"
    ),
    "destinations.secret_rotated": (
        "通知先{position}の署名用シークレットを作り直しました。"
        "これまでのシークレットでは署名を確かめられなくなります。"
    ),
    # The add form's refusals the page words itself.
    "destinations.too_many": "通知先は{limit}件まで登録できます。",
    "destinations.duplicate": "このURLはすでに通知先に登録されています。",
    "destinations.gone": (
        "この通知先は削除されたか、変更されています。画面を表示し直してください。"
    ),
    # MAIL-2 送信テスト of a destination, in words by its card (CHAT-3 outcomes).
    "destinations.test_sent": (
        "{name} に送信テストのメッセージを送りました(受信側が受け付けました)。"
        "届いたことを確認してから、「送信」にチェックを入れて「設定」を押してください。"
    ),
    "destinations.test_refused": (
        "{name} に送信できませんでした。受信側が受け付けませんでした(HTTP {status})。"
        "URLなどの設定に誤りがないか確認してください。"
    ),
    "destinations.test_refused_plain": (
        "{name} に送信できませんでした。受信側が受け付けませんでした。"
        "URLなどの設定に誤りがないか確認してください。"
    ),
    "destinations.test_deferred": (
        "{name} に送信できませんでした。受信側が一時的に受け付けませんでした(HTTP {status})。"
        "しばらくしてからもう一度お試しください。"
    ),
    "destinations.test_blocked": (
        "{name} には送信できません。このURLのあて先には送信が許可されていません。"
        "URLを確認してください。"
    ),
    "destinations.test_unreachable": (
        "{name} に送信できませんでした。受信側に接続できませんでした。"
        "しばらくしてからもう一度お試しください"
        "(解決しない場合は、サービスの運営者にお問い合わせください)。"
    ),
    "destinations.test_unavailable": "送信テストは利用できません。",
}
