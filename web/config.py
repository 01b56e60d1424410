"""The settings site's settings: the ``[site]`` section of the configuration.

Parsed and checked by ``chakushin.config``; ``web/`` receives it, never the whole config.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SiteConfig:
    # The subscriber settings site (served by `chakushin serve` / `chakushin site`).
    # Put a TLS proxy in front of it and list it in trusted_proxies; its
    # X-Forwarded-Proto: https then makes the cookies Secure.
    host: str = "127.0.0.1"
    port: int = 8080
    # Failed logins from one client address (an IPv6 /64) allowed in 10 minutes
    # before it is refused for a while (the seeds' per-number lockouts apply as
    # well). The same number, counted apart, for each other guessing page: the
    # auth unit change, the password change's current password, the OTP
    # confirmation ID/password (pages and CSV upload).
    login_failures_per_address: int = 20
    # The site's address as subscribers reach it (e.g. "https://settings.example.jp"):
    # the only source of the links it mails (the OTP address verification).
    # Empty: http:// and the address and port the site's socket listens on
    # (fine on one box; behind a proxy, set it). Never the request's Host header.
    public_url: str = ""
    # Whom subscribers ask (issue 14): a name and a phone number or address, as one
    # line of at most 200 characters ("サポートセンター 0120-123-456(平日9時～17時)"),
    # shown on the login and help pages. Empty: they say to ask the operator.
    support_contact: str = ""
    # CALL-3 ナンバー・リクエスト: whether subscribers may set, on the site, that
    # payphone and unavailable callers are refused too (reject_payphone,
    # reject_unavailable). False: the page switches it on and off only; those
    # two stay as the operator set them with `chakushin number-request`.
    number_request_options: bool = False
    # Addresses or networks of the proxies in front of the site ("127.0.0.1",
    # "10.0.0.0/24"). Only a request from one of them has its X-Forwarded-For
    # (the right-most address not in this list is the client) and
    # X-Forwarded-Proto honoured. Empty: no proxy headers are trusted.
    trusted_proxies: tuple[str, ...] = ()
    # Largest request body of any form but the CSV upload, in bytes; bigger
    # requests are refused with 413 before anything is parsed.
    max_form_bytes: int = 65_536
    # Largest request body of the SITE-9 CSV upload (file and form), in bytes.
    max_csv_upload_bytes: int = 1_048_576
    # SITE-9: most rows one CSV upload may have.
    csv_max_rows: int = 1000
    # MAIL-2 送信テスト: test mails allowed per login (the number that logged
    # in, across all its sessions: logging in again starts no new count) and
    # per number (whoever sends them) within send_test_window_seconds.
    send_tests_per_session: int = 5
    send_tests_per_number: int = 10
    send_test_window_seconds: int = 3600
    # SITE-5 one-time passwords, per number over a rolling 24 hours: wrong
    # codes (at the cap no code is taken and the login stage ends) and code
    # mails (no more are sent).
    otp_wrong_codes_per_day: int = 10
    otp_code_mails_per_day: int = 10
    # SITE-5/SITE-9, issue 12: wrong confirmation ID/password entries per number
    # over a rolling 24 hours (the OTP address change, the confirmation change,
    # CSV rows that prove them). At the cap every one of them refuses the number,
    # even with the right values, until the oldest wrong entry is 24 hours old.
    # The pages are also throttled per client address (login_failures_per_address).
    confirmation_failures_per_day: int = 10
    # SITE-5/SITE-9, issue 12: OTP address verification mails (enrolment, the
    # address change, CSV rows that move an address) per number over a rolling
    # 24 hours. A line may send, in the same 24 hours, one for each of its
    # numbers plus this many (a bulk enrolment of every number goes through;
    # the same file again does not). At the cap nothing is stored or mailed.
    verification_mails_per_day: int = 5
