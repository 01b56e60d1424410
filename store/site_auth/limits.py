"""The figures of the site's authentication rules (SITE-2, SITE-4, SITE-5, SITE-6, issue 12).

One place for every count, validity and cap the rules use, with the seeds'
words they come from; and the two time helpers the windows need.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

TEMP_PASSWORD_MAX_WRONG = 3  # SITE-2: 連続して3回間違ると、仮パスワードが無効
PASSWORD_MAX_WRONG = 10  # SITE-4: 連続して10回間違ると、パスワードが無効
PASSWORD_VALIDITY = dt.timedelta(days=60)  # SITE-4: 有効期限は60日間
ADDRESS_LINK_VALIDITY = dt.timedelta(hours=24)  # SITE-5: 本登録お手続きURLの有効期限は24時間
OTP_CODE_VALIDITY = dt.timedelta(seconds=300)  # SITE-5: ワンタイムパスワードの有効時間は300秒
# A new code is mailed at most this often: pressing 「送信」 again and again
# must not flood the subscriber's mailbox (the seeds set no figure).
OTP_CODE_RESEND_AFTER = dt.timedelta(seconds=30)
OTP_CODE_DIGITS = 6  # SITE-5: "a 6+ digit code"
# SITE-5: the seeds set no limit on wrong one-time passwords; with 10^6 codes,
# 5 guesses per mailed code keep the odds of a guess at 1 in 200,000.
OTP_CODE_MAX_WRONG = 5
# Issue 12: without a cap across codes, 5 guesses a code and a code every
# 30 seconds are ~10 guesses a minute and thousands of mails a day. Both are
# counted per number over this rolling window (limits: ``OtpLimits``).
OTP_LIMIT_WINDOW = dt.timedelta(hours=24)
# SITE-6 (seeds 001): 「電話番号単位」で30分間…「回線単位」で10分間何も操作しなかった場合
IDLE_TIMEOUT_LINE = dt.timedelta(minutes=10)
IDLE_TIMEOUT_OTHER = dt.timedelta(minutes=30)

# How a refusal's ``until`` and a mail's expiry read, in the number's time zone.
TIME_FORMAT = "%Y/%m/%d %H:%M:%S"


@dataclass(frozen=True)
class OtpLimits:
    """Issue 12: caps per number over ``OTP_LIMIT_WINDOW`` (config: ``[site]``)."""

    wrong_codes_per_day: int = 10
    code_mails_per_day: int = 10
    # Wrong confirmation IDs/passwords (address change, confirmation change, CSV rows).
    confirmation_failures_per_day: int = 10
    # Verification mails per number (and, with the line's numbers, per line:
    # ``line_verification_cap``).
    verification_mails_per_day: int = 5


DEFAULT_OTP_LIMITS = OtpLimits()


def local_time(moment: dt.datetime, timezone: str) -> str:
    """``moment`` as the subscriber reads it: ``TIME_FORMAT`` in the number's time zone."""
    return moment.astimezone(zoneinfo.ZoneInfo(timezone)).strftime(TIME_FORMAT)


def aware(value: dt.datetime | str) -> dt.datetime:
    """An aggregate (max) bypasses the column type: SQLite returns naive text."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
