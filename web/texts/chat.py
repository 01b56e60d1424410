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

PAGES: dict[str, str] = {}
