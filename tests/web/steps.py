"""What a browser does on the settings site, for more than one site test module.

The steps go through the real pages of the app under test (``Site`` from
tests/web/conftest.py): log in and enrol the one-time password (SITE-5),
upload the OTP CSV (SITE-9), press 送信テスト (MAIL-2), put both numbers in
the number unit (SITE-8); and what a test reads back (a credential row,
whether a session has ended, the mails the SMTP server received).
"""

from __future__ import annotations

from email.message import EmailMessage

import httpx
from sqlalchemy import select

from notifier.outbox import DeliveryWorker, SmtpSender, SmtpSettings
from store import db
from store.models import AuthUnit, Number, SiteCredential
from tests.web.conftest import CONTRACT, EXTRA, TEMP, Site
from web.sessions import COOKIE
from web.texts import page

GOOD = "Tokyo2026x"  # a site password every SITE-3 rule accepts
EXTRA_PW = "Extra2026x"  # EXTRA's own, in the number unit
OTP_ADDRESS = "me@example.jp"
CONFIRMATION = {"confirmation_id": "abcDEF12", "confirmation_password": "pass1234word"}


async def enrol(site: Site) -> None:
    """Temporary password, forced change, then "use the one-time password" and enrol
    (the form, 次へ, the 確認 step, 登録: seeds P.7)."""
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.NUMBER)
    await site.login(CONTRACT, TEMP)
    await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    chooser = await site.login(CONTRACT, GOOD)
    assert chooser.headers["location"] == "/otp/choice"
    use = await site.post("/otp/choice", {"choice": "use"})
    assert use.headers["location"] == "/otp/enrol"
    check = await site.post("/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION})
    assert check.status_code == 200 and 'name="confirmed"' in check.text, check.text
    enrolled = await site.post(
        "/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION, "confirmed": "1"}
    )
    assert enrolled.status_code == 200, enrolled.text
    assert "仮登録が完了しました" in enrolled.text


async def logged_in_with_otp(site: Site) -> None:
    await enrol(site)
    await site.client.get(f"/otp/verify?token={site.last_link_token()}")
    await site.post("/login/otp/send", {}, page="/login/otp")
    await site.post("/login/otp", {"otp_code": site.last_code()})


async def csv_upload(site: Site, row: str) -> str:
    token = await site.csrf("/otp/csv")
    done = await site.client.post(
        "/otp/csv",
        data={"csrf_token": token},
        files={"csv_file": ("a.csv", (row + "\r\n").encode(), "text/csv")},
    )
    return f"{done.status_code} {done.text}"


async def send_test(site: Site, row: int, address: str, **extra: str) -> httpx.Response:
    page = f"/numbers/{EXTRA}/addresses"
    token = await site.csrf(page)
    return await site.client.post(
        f"{page}/test",
        data={"csrf_token": token, f"address_{row}": address, "test_row": str(row), **extra},
    )


async def delivered(site: Site) -> list[EmailMessage]:
    """Every outbox mail sent by the real delivery worker to the test's SMTP server; what
    the server received, oldest first."""
    worker = DeliveryWorker(
        site.sessions,
        [SmtpSender(SmtpSettings("127.0.0.1", site.smtp.port, timeout=10))],
        "chakushin@example.jp",
        clock=site.clock,
    )
    while await worker.run_once():
        pass
    return list(site.smtp.inbox.messages)


def body(message: EmailMessage) -> str:
    part = message.get_body(("plain",))
    assert part is not None
    return str(part.get_content())


def credential_of(site: Site, number: str) -> SiteCredential:
    with db.transaction(site.sessions, read_only=True) as s:
        cred = s.scalar(select(SiteCredential).join(Number).where(Number.number == number))
        assert cred is not None
        s.expunge(cred)
        return cred


async def number_unit_line(site: Site) -> None:
    """Both numbers in the number unit with their passwords; EXTRA logged in."""
    await site.establish(CONTRACT, CONTRACT, AuthUnit.NUMBER, GOOD)
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, EXTRA_PW)


async def ended(site: Site, token: str) -> bool:
    """Whether the session of cookie ``token`` is gone (the current cookie is restored)."""
    current = site.client.cookies.get(COOKIE)
    site.client.cookies.set(COOKIE, token)
    home = await site.client.get("/")
    if current is not None:
        site.client.cookies.set(COOKIE, current)
    else:
        site.client.cookies.delete(COOKIE)
    return home.status_code == 200 and page("session.ended") in home.text
