"""SITE-5 over HTTP, issue 14 flow 3: a subscriber who lost the OTP mailbox is not locked out.

Seeds (9): on the OTP send page 「メールアドレスの変更」, the confirmation ID
and password, then the new address (次へ, 確認, 登録), then its verification
link, mailed to the NEW address; until it is followed the old settings
stand. Seeds (10): after an OTP login the address change asks for neither.
Seeds (11): the confirmation ID and the confirmation password each have
their change page, proven by the current value. The mails are read at the
SMTP server (the outbox delivered by the real delivery worker).
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from store import db
from store.models import OtpEvent, OtpEventKind
from tests.web.conftest import CONTRACT, Site
from tests.web.steps import (
    CONFIRMATION,
    GOOD,
    OTP_ADDRESS,
    body,
    credential_of,
    delivered,
    logged_in_with_otp,
)

pytestmark = pytest.mark.asyncio

NEW = "new@example.jp"
WRONG = {"confirmation_id": CONFIRMATION["confirmation_id"], "confirmation_password": "wrong1234x"}


async def link_token_sent_to(site: Site, address: str) -> str:
    mails = [m for m in await delivered(site) if str(m["To"]) == address]
    found = re.findall(r"/otp/verify\?token=([A-Za-z0-9_-]+)", "".join(body(m) for m in mails))
    assert found, [str(m["To"]) for m in site.smtp.inbox.messages]
    return str(found[-1])


async def code_sent_to(site: Site, address: str) -> str:
    mails = [m for m in await delivered(site) if str(m["To"]) == address]
    found = re.findall(r"ワンタイムパスワード: (\d+)", "".join(body(m) for m in mails))
    assert found, [str(m["To"]) for m in site.smtp.inbox.messages]
    return str(found[-1])


def wrong_entries(site: Site) -> int:
    with db.transaction(site.sessions, read_only=True) as s:
        count = s.scalar(
            select(func.count())
            .select_from(OtpEvent)
            .where(OtpEvent.kind == OtpEventKind.CONFIRMATION_WRONG)
        )
        return int(count or 0)


async def at_the_otp_page(site: Site) -> None:
    """OTP enrolled and in use; a new login stands at the one-time password (SITE-5)."""
    await logged_in_with_otp(site)
    site.clock.advance(seconds=31)  # a new code may be mailed every 30 seconds
    again = await site.login(CONTRACT, GOOD)
    assert again.headers["location"] == "/login/otp", again.text


def field_of(html: str, name: str) -> str:
    """The markup from field ``name`` to the next label: where its error sentences are."""
    assert f'name="{name}"' in html, html
    return html.split(f'name="{name}"', 1)[1].split("<label", 1)[0]


async def test_SITE_5_seeds_9_a_lost_mailbox_is_replaced_by_confirmation_id_and_password(
    site: Site,
) -> None:
    await at_the_otp_page(site)
    otp_page = (await site.client.get("/login/otp")).text
    assert "メールアドレスの変更" in otp_page and 'href="/login/otp/address"' in otp_page

    proof = (await site.client.get("/login/otp/address")).text
    assert 'name="confirmation_id"' in proof and 'name="confirmation_password"' in proof
    assert 'name="address"' not in proof and "次へ" in proof
    wrong = await site.post("/login/otp/address/proof", WRONG, page="/login/otp/address")
    assert wrong.status_code == 400 and wrong_entries(site) == 1
    assert "確認用IDまたは確認用パスワードが正しくありません。" in wrong.text
    right = await site.post("/login/otp/address/proof", CONFIRMATION, page="/login/otp/address")
    assert right.status_code == 303 and right.headers["location"] == "/login/otp/address"

    form = (await site.client.get("/login/otp/address")).text
    assert 'name="address"' in form and 'name="confirmation_id"' not in form and "次へ" in form
    bad = await site.post("/login/otp/address", {"address": "abc..def@ntt-east.jp"})
    assert bad.status_code == 400
    assert "「.」が2つ以上連続するメールアドレスは設定できません。" in field_of(bad.text, "address")
    check = await site.post("/login/otp/address", {"address": NEW})
    assert check.status_code == 200 and NEW in check.text and "登録" in check.text
    assert 'name="confirmed"' in check.text
    assert [str(m["To"]) for m in await delivered(site)].count(NEW) == 0  # nothing sent yet
    done = await site.post(
        "/login/otp/address", {"address": NEW, "confirmed": "1"}, page="/login/otp/address"
    )
    assert done.status_code == 200 and "仮登録が完了しました" in done.text
    token = await link_token_sent_to(site, NEW)

    # Until the link is followed the old settings stand: the code still goes to the old box.
    assert credential_of(site, CONTRACT).otp_address == OTP_ADDRESS
    await site.post("/login/otp/send", {}, page="/login/otp")
    assert str((await delivered(site))[-1]["To"]) == OTP_ADDRESS

    verified = await site.client.get(f"/otp/verify?token={token}")
    assert verified.status_code == 200 and "本登録が完了しました" in verified.text
    assert "ワンタイムパスワードを送信" in verified.text
    assert 'action="/login/otp/send"' in verified.text
    assert credential_of(site, CONTRACT).otp_address == NEW
    site.clock.advance(seconds=31)
    await site.post("/login/otp/send", {}, page="/login/otp")
    code = await code_sent_to(site, NEW)
    logged_in = await site.post("/login/otp", {"otp_code": code})
    assert logged_in.status_code == 303 and logged_in.headers["location"] == "/"


async def test_SITE_5_seeds_9_no_new_address_without_the_proof(site: Site) -> None:
    await at_the_otp_page(site)
    before = site.state()
    skipped = await site.post(
        "/login/otp/address", {"address": NEW, "confirmed": "1"}, page="/login/otp"
    )
    assert skipped.status_code == 303 and skipped.headers["location"] == "/login/otp/address"
    assert 'name="confirmation_id"' in (await site.client.get("/login/otp/address")).text
    assert site.state() == before
    assert NEW not in [str(m["To"]) for m in await delivered(site)]


async def test_SITE_5_seeds_9_proof_guesses_are_counted_and_capped(site: Site) -> None:
    """Issue 12's cap (``site.confirmation_failures_per_day``, 10) holds on the new page too."""
    await at_the_otp_page(site)
    for _ in range(9):
        wrong = await site.post("/login/otp/address/proof", WRONG, page="/login/otp/address")
        assert wrong.status_code == 400
    tenth = await site.post("/login/otp/address/proof", WRONG, page="/login/otp/address")
    assert tenth.status_code == 429 and "24時間で10回" in tenth.text
    # At the cap even the right values are refused, and nothing more is counted.
    right = await site.post("/login/otp/address/proof", CONFIRMATION, page="/login/otp/address")
    assert right.status_code == 429 and wrong_entries(site) == 10
    assert 'name="address"' not in (await site.client.get("/login/otp/address")).text


async def test_SITE_5_seeds_10_after_an_otp_login_the_address_change_asks_no_confirmation(
    site: Site,
) -> None:
    await logged_in_with_otp(site)
    menu = (await site.client.get("/otp")).text
    assert 'href="/otp/address"' in menu
    form = (await site.client.get("/otp/address")).text
    assert 'name="address"' in form and 'name="confirmation_id"' not in form
    check = await site.post("/otp/address", {"address": NEW})
    assert check.status_code == 200 and NEW in check.text and 'name="confirmed"' in check.text
    done = await site.post("/otp/address", {"address": NEW, "confirmed": "1"}, page="/otp/address")
    assert done.status_code == 200 and "仮登録が完了しました" in done.text
    token = await link_token_sent_to(site, NEW)
    assert credential_of(site, CONTRACT).otp_address == OTP_ADDRESS
    assert (await site.client.get(f"/otp/verify?token={token}")).status_code == 200
    assert credential_of(site, CONTRACT).otp_address == NEW


async def test_SITE_5_seeds_9_a_login_without_the_code_proves_the_confirmation_values(
    site: Site,
) -> None:
    """One-time password switched off: the password alone logged in, so the change asks."""
    await logged_in_with_otp(site)
    await site.post("/otp", {"enabled": "0", "agree": "1"})
    plain = await site.login(CONTRACT, GOOD)
    assert plain.headers["location"] == "/"
    form = (await site.client.get("/otp/address")).text
    assert 'name="confirmation_id"' in form and 'name="address"' not in form
    skipped = await site.post("/otp/address", {"address": NEW, "confirmed": "1"})
    assert skipped.headers["location"] == "/otp/address"
    right = await site.post("/otp/address/proof", CONFIRMATION, page="/otp/address")
    assert right.headers["location"] == "/otp/address"
    assert 'name="address"' in (await site.client.get("/otp/address")).text


async def test_SITE_5_seeds_11_the_confirmation_id_changes_with_the_current_one(
    site: Site,
) -> None:
    await logged_in_with_otp(site)
    menu = (await site.client.get("/otp/confirmation")).text
    assert 'href="/otp/confirmation/id"' in menu and 'href="/otp/confirmation/password"' in menu
    form = (await site.client.get("/otp/confirmation/id")).text
    assert "変更前の確認用ID" in form and "新しい確認用ID" in form and "登録" in form
    assert 'name="current_confirmation_password"' not in form  # seeds (11): the ID alone
    before = site.state()
    # Every rule the new ID breaks and the differing re-entry, at once; nothing looked up.
    weak = await site.post(
        "/otp/confirmation/id",
        {
            "current_confirmation_id": "abcDEF12",
            "new_confirmation_id": "abcdefgh",
            "confirm_confirmation_id": "abcdefgi",
        },
    )
    assert weak.status_code == 400
    assert "英字小文字のみの確認用IDは利用できません。" in field_of(
        weak.text, "new_confirmation_id"
    )
    assert "一致しません" in field_of(weak.text, "confirm_confirmation_id")
    assert site.state() == before and wrong_entries(site) == 0
    new_id = {"new_confirmation_id": "NeuID2026", "confirm_confirmation_id": "NeuID2026"}
    wrong = await site.post(
        "/otp/confirmation/id", {"current_confirmation_id": "abcDEF99", **new_id}
    )
    assert wrong.status_code == 400 and wrong_entries(site) == 1
    assert "確認用IDまたは確認用パスワードが正しくありません。" in wrong.text
    done = await site.post(
        "/otp/confirmation/id", {"current_confirmation_id": "abcDEF12", **new_id}
    )
    assert done.status_code == 200 and "確認用IDを変更しました" in done.text
    assert credential_of(site, CONTRACT).otp_confirmation_id == "NeuID2026"
    # The new ID is what proves the owner on the OTP page (seeds (9)); the old one not.
    site.clock.advance(seconds=31)
    await site.login(CONTRACT, GOOD)
    old = await site.post("/login/otp/address/proof", CONFIRMATION, page="/login/otp/address")
    assert old.status_code == 400
    proven = await site.post(
        "/login/otp/address/proof",
        {**CONFIRMATION, "confirmation_id": "NeuID2026"},
        page="/login/otp/address",
    )
    assert proven.status_code == 303
