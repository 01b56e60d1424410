"""IVR-11: the prompt catalogue, every guidance by id with its Japanese text.

The flows play prompts by id only; the AGI channel turns an id into the
sound file ``<ivr.sounds_dir>/<id>`` under Asterisk's sounds directory, and
``chakushin prompts synth`` renders every entry of ``TEXTS`` to such files.
Texts marked "seeds" are the carrier's guidance word for word (the seeds'
△△△ number read-back is a separate ``say_digits`` before the prompt that
continues the sentence); the others are ours, where the seeds are silent.
"""

from __future__ import annotations

import enum


class Prompt(enum.StrEnum):
    # Temporary-password line (IVR-3 ... IVR-9)
    TP_UNIT_MENU = "tp-unit-menu"
    TP_ENTER_NUMBER = "tp-enter-number"
    TP_NUMBER_ENTER_PASSWORD = "tp-number-enter-password"
    TP_CONFIRM_PASSWORD = "tp-confirm-password"
    TP_INVALID_ENTRY = "tp-invalid-entry"
    TP_NUMBER_COMPLETED = "tp-number-completed"
    TP_CALL_AGAIN = "tp-call-again"
    TP_NOT_SUBSCRIBER = "tp-not-subscriber"
    TP_SYSTEM_ERROR = "tp-system-error"
    # Incoming calls refused (CALL-2, CALL-3)
    CALL_REJECTED_NUISANCE = "call-rejected-nuisance"
    CALL_REJECTED_WITHHELD = "call-rejected-withheld"
    CALL_REJECTED_PAYPHONE = "call-rejected-payphone"
    CALL_REJECTED_UNAVAILABLE = "call-rejected-unavailable"
    # The nuisance-list feature code (CALL-2: 144, then 2)
    NUISANCE_MENU = "nuisance-menu"
    NUISANCE_ADDED = "nuisance-added"
    NUISANCE_ADDED_WITHHELD = "nuisance-added-withheld"
    NUISANCE_ALREADY_LISTED = "nuisance-already-listed"
    NUISANCE_LIST_FULL = "nuisance-list-full"
    NUISANCE_NO_LAST_CALL = "nuisance-no-last-call"
    NUISANCE_NO_NUMBER = "nuisance-no-number"
    NUISANCE_NOT_SUBSCRIBED = "nuisance-not-subscribed"
    SYSTEM_ERROR = "system-error"
    # Number read-back, one file per digit
    DIGIT_0 = "digit-0"
    DIGIT_1 = "digit-1"
    DIGIT_2 = "digit-2"
    DIGIT_3 = "digit-3"
    DIGIT_4 = "digit-4"
    DIGIT_5 = "digit-5"
    DIGIT_6 = "digit-6"
    DIGIT_7 = "digit-7"
    DIGIT_8 = "digit-8"
    DIGIT_9 = "digit-9"


TEXTS: dict[Prompt, str] = {
    # seeds, IVR-3
    Prompt.TP_UNIT_MENU: (
        "仮パスワードの設定を行います。仮パスワードを設定する単位を選択します。"
        "回線単位に設定する場合は1、電話番号単位に設定する場合は2、"
        "管理者／ユーザ単位に設定する場合は3を入力してください。"
    ),
    # seeds, IVR-5
    Prompt.TP_ENTER_NUMBER: (
        "仮パスワードを設定する電話番号を市外局番から入力し、最後に#を押してください。"
    ),
    # seeds, IVR-4, after the number is read back: "△△△番の…"
    Prompt.TP_NUMBER_ENTER_PASSWORD: (
        "番の仮パスワードの設定を行います。設定したい仮パスワードを入力してください。"
    ),
    # seeds, IVR-7
    Prompt.TP_CONFIRM_PASSWORD: "確認のためにもう一度仮パスワードを入力してください。",
    # seeds, IVR-8
    Prompt.TP_INVALID_ENTRY: "入力された番号が正しくありません。もう一度押してください。",
    # seeds, IVR-9, after the number is read back
    Prompt.TP_NUMBER_COMPLETED: (
        "番の仮パスワードの設定が完了しました。ご利用ありがとうございました。"
    ),
    # ours, IVR-8: after the third error (the seeds tell the caller to start over)
    Prompt.TP_CALL_AGAIN: (
        "3回誤って入力されましたので、お電話をお切りします。"
        "お手数ですが、はじめからおかけ直しください。"
    ),
    # ours, IVR-2
    Prompt.TP_NOT_SUBSCRIBER: (
        "おかけになった電話番号からは、仮パスワードの設定はできません。"
        "本サービスをご契約の電話番号からおかけ直しください。"
    ),
    # ours: the database or the AGI server cannot be reached
    Prompt.TP_SYSTEM_ERROR: (
        "ただいま仮パスワードの設定を受け付けることができません。"
        "しばらくたってからおかけ直しください。"
    ),
    # ours, in the carrier's words for 迷惑電話おことわりサービス (CALL-2)
    Prompt.CALL_REJECTED_NUISANCE: (
        "おかけになった電話は、お客さまのご希望により、おつなぎできません。"
    ),
    # ours, after the carrier's ナンバー・リクエスト guidance (CALL-3)
    Prompt.CALL_REJECTED_WITHHELD: (
        "おそれいりますが、電話番号の前に186をつけて、"
        "あなたの電話番号を通知しておかけ直しください。"
    ),
    Prompt.CALL_REJECTED_PAYPHONE: (
        "おかけになった電話は、公衆電話からの通話をお受けしておりません。"
        "電話番号を通知できる電話からおかけ直しください。"
    ),
    Prompt.CALL_REJECTED_UNAVAILABLE: (
        "おかけになった電話は、電話番号が表示されない通話をお受けしておりません。"
        "電話番号を通知できる電話からおかけ直しください。"
    ),
    # ours: the 144 feature code (CALL-2)
    Prompt.NUISANCE_MENU: (
        "迷惑電話おことわりサービスです。"
        "最後にかかってきた電話番号を迷惑電話リストに登録する場合は、2を押してください。"
    ),
    # after the number is read back
    Prompt.NUISANCE_ADDED: "番を迷惑電話リストに登録しました。",
    Prompt.NUISANCE_ADDED_WITHHELD: (
        "最後にかかってきた、番号非通知の電話を迷惑電話リストに登録しました。"
    ),
    Prompt.NUISANCE_ALREADY_LISTED: (
        "最後にかかってきた電話番号は、すでに迷惑電話リストに登録されています。"
    ),
    Prompt.NUISANCE_LIST_FULL: (
        "迷惑電話リストの登録件数が上限の30件に達しているため、登録できません。"
    ),
    Prompt.NUISANCE_NO_LAST_CALL: "最後にかかってきた電話がないため、登録できません。",
    Prompt.NUISANCE_NO_NUMBER: (
        "最後にかかってきた電話は、電話番号が通知されていないため、登録できません。"
    ),
    Prompt.NUISANCE_NOT_SUBSCRIBED: (
        "この電話番号では、迷惑電話おことわりサービスをご利用いただけません。"
    ),
    Prompt.SYSTEM_ERROR: (
        "ただいま、このサービスを受け付けることができません。しばらくたってからおかけ直しください。"
    ),
    Prompt.DIGIT_0: "ゼロ",
    Prompt.DIGIT_1: "イチ",
    Prompt.DIGIT_2: "ニー",
    Prompt.DIGIT_3: "サン",
    Prompt.DIGIT_4: "ヨン",
    Prompt.DIGIT_5: "ゴー",
    Prompt.DIGIT_6: "ロク",
    Prompt.DIGIT_7: "ナナ",
    Prompt.DIGIT_8: "ハチ",
    Prompt.DIGIT_9: "キュウ",
}


def digit(d: str) -> Prompt:
    """The read-back prompt of one digit 0-9."""
    return Prompt(f"digit-{d}")
