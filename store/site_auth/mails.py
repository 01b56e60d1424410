"""The mails the site queues (SITE-5): the verification link and the one-time password.

Mails, not site messages: their subjects and bodies are written here, in
the subscriber's Japanese, and composed by ``store.mail_message.build_message``
(the header guards every mail of this product passes), then queued by
``store.outbox.enqueue`` in the caller's transaction, so a mail goes out
exactly when what caused it is stored.
"""

from __future__ import annotations

import datetime as dt
import email.utils
import secrets
import zoneinfo

from sqlalchemy.orm import Session

from store import outbox
from store.mail_message import build_message, header_sender
from store.models import MailKind, Number
from store.site_auth.limits import local_time

SITE_NAME = "着信お知らせメール設定サイト"
# The end of every site mail (a mail nobody asked for may be thrown away; no replies).
_FOOTER = (
    "このメールにお心当たりのない場合は、このメールを破棄してください。\n"
    "このメールは送信専用です。\n"
)


def queue_verification_mail(
    session: Session,
    found: Number,
    *,
    address: str,
    link: str,
    expires_at: dt.datetime,
    token_hash: str,
    sender: str,
    now: dt.datetime,
) -> None:
    """SITE-5 仮登録: the link that makes ``address`` the OTP address, valid 24 hours."""
    body = (
        "ワンタイムパスワード受信用メールアドレスの仮登録を受け付けました。\n"
        "\n"
        f"電話番号: {found.number}\n"
        "\n"
        "次のURLを開いて、メールアドレスの本登録を完了してください。\n"
        f"{link}\n"
        "\n"
        f"このURLの有効期限は24時間です({local_time(expires_at, found.timezone)}まで)。\n"
        "24時間を経過した場合は、再度設定サイトにログインしてお手続きをお願いします。\n"
        "\n" + _FOOTER
    )
    _queue_mail(
        session,
        kind=MailKind.ADDRESS_VERIFICATION,
        dedup_key=f"address_verification:{token_hash}",
        found=found,
        sender=sender,
        recipient=address,
        subject=f"【{SITE_NAME}】メールアドレスの本登録のお手続き",
        body=body,
        now=now,
    )


def queue_otp_code_mail(
    session: Session,
    found: Number,
    *,
    recipient: str,
    code: str,
    expires_at: dt.datetime,
    sender: str,
    now: dt.datetime,
) -> None:
    """SITE-5 「ワンタイムパスワードを送信」: the code, valid 300 seconds, to the OTP address."""
    body = (
        "設定サイトへのログインに必要なワンタイムパスワードをお知らせします。\n"
        "\n"
        f"電話番号: {found.number}\n"
        f"ワンタイムパスワード: {code}\n"
        "\n"
        "ワンタイムパスワードの有効時間は300秒です"
        f"({local_time(expires_at, found.timezone)}まで)。\n"
        "300秒を経過した場合は、再度設定サイトにログインしてワンタイムパスワードを送信してください。\n"
        "\n" + _FOOTER
    )
    _queue_mail(
        session,
        kind=MailKind.ONE_TIME_PASSWORD,
        # Unique per mail; a code may repeat on a number over time.
        dedup_key=f"otp_code:{found.number}:{secrets.token_hex(8)}",
        found=found,
        sender=sender,
        recipient=recipient,
        subject=f"【{SITE_NAME}】ワンタイムパスワードのお知らせ",
        body=body,
        now=now,
    )


def _compose(
    *,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    now: dt.datetime,
    timezone: str,
) -> tuple[str, str]:
    """The whole RFC 5322 message the outbox sends, and its Message-ID.

    Headers pass the guards of ``store.mail_message`` (no control characters;
    MAIL-3 addresses), as every mail header this product builds.
    """
    # Short enough not to be folded with a domain of usual length.
    message_id = email.utils.make_msgid(domain=header_sender(sender).domain)
    msg = build_message(
        sender=sender,
        recipient=recipient,
        subject=subject,
        body=body,
        date=now.astimezone(zoneinfo.ZoneInfo(timezone)),
        message_id=message_id,
    )
    return msg.as_string(), message_id


def _queue_mail(
    session: Session,
    *,
    kind: MailKind,
    dedup_key: str,
    found: Number,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    now: dt.datetime,
) -> None:
    message, message_id = _compose(
        sender=sender,
        recipient=recipient,
        subject=subject,
        body=body,
        now=now,
        timezone=found.timezone,
    )
    outbox.enqueue(
        session,
        [
            outbox.QueuedMessage(
                dedup_key=dedup_key,
                kind=kind,
                recipient=recipient,
                subject=subject,
                message=message,
                message_id=message_id,
            )
        ],
        now=now,
    )
