"""SITE-5 over HTTP, issue 14 flows 2 and 10: the OTP forms as the seeds show them.

Flow 2: the enrolment form shows every error by its field, all at once (the
seeds' bad addresses among them). Flow 10: 利用する／利用しない with 次へ, 次へ
on the OTP entry, a 確認 step before 登録 (the password masked), a 本登録完了
page after the link, 戻る on the "do not use" confirmation.
"""

from __future__ import annotations

import re

import pytest

from store.models import AuthUnit, MailKind
from tests.web.conftest import CONTRACT, TEMP, Site
from tests.web.steps import CONFIRMATION, GOOD, OTP_ADDRESS, body, credential_of, delivered
from web.texts import FORMS, PASSWORD_RULES

pytestmark = pytest.mark.asyncio


async def at_the_choice(site: Site) -> None:
    """Temporary password, forced change, the first login: the one-time password choice."""
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.NUMBER)
    await site.login(CONTRACT, TEMP)
    await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    chooser = await site.login(CONTRACT, GOOD)
    assert chooser.headers["location"] == "/otp/choice", chooser.text


def errors_of(html: str, name: str) -> list[str]:
    """The error sentences shown next to field ``name`` (up to the next label)."""
    assert f'name="{name}"' in html, html
    after = html.split(f'name="{name}"', 1)[1].split("<label", 1)[0]
    return re.findall(rf'<p class="error" id="{name}-error">([^<]*)</p>', after)


@pytest.mark.parametrize(
    ("address", "code"),
    [
        ("abc..def@ntt-east.jp", "address_double_dot"),
        ("abcdef.@ntt-east.jp", "address_dot_before_at"),
        ("a" * 64 + "@ntt-east.jp", "address_local_too_long"),
    ],
)
async def test_issue14_flow2_SITE_5_MAIL_3_every_field_says_its_errors_at_once(
    site: Site, address: str, code: str
) -> None:
    """The seeds' RFC-violating addresses, with a bad confirmation ID and password."""
    await at_the_choice(site)
    await site.post("/otp/choice", {"choice": "use"})
    before = site.state()
    bad = await site.post(
        "/otp/enrol",
        {"address": address, "confirmation_id": "abcdefgh", "confirmation_password": "abc"},
    )
    assert bad.status_code == 400  # the site's status for every refused form
    assert errors_of(bad.text, "address") == [FORMS[code]]
    assert errors_of(bad.text, "confirmation_id") == [PASSWORD_RULES["confirmation_id_lower_only"]]
    assert errors_of(bad.text, "confirmation_password") == [
        PASSWORD_RULES["confirmation_password_length"],
        PASSWORD_RULES["confirmation_password_mix"],
    ]
    assert f'value="{address}"' in bad.text  # what was typed stays in the field
    assert site.state() == before
    assert site.mails(MailKind.ADDRESS_VERIFICATION) == []


async def test_issue14_flow10_SITE_5_choice_is_two_options_then_next(site: Site) -> None:
    await at_the_choice(site)
    choice = (await site.client.get("/otp/choice")).text
    assert 'type="radio" name="choice" value="use"' in choice
    assert 'type="radio" name="choice" value="decline"' in choice
    assert "ワンタイムパスワードを利用する" in choice
    assert "ワンタイムパスワードを利用しない" in choice
    assert re.search(r'<button type="submit">次へ</button>', choice)
    nothing = await site.post("/otp/choice", {})
    assert nothing.status_code == 400 and "選択してください" in nothing.text
    decline = await site.post("/otp/choice", {"choice": "decline"})
    assert "同意する" in decline.text
    assert '<a href="/otp/choice">戻る</a>' in decline.text
    # 戻る leads back to the choice; 次へ with 利用する to the 仮登録.
    assert (await site.client.get("/otp/choice")).status_code == 200
    use = await site.post("/otp/choice", {"choice": "use"})
    assert use.status_code == 303 and use.headers["location"] == "/otp/enrol"


async def test_issue14_flow10_SITE_5_enrolment_has_a_confirm_step_before_register(
    site: Site,
) -> None:
    await at_the_choice(site)
    await site.post("/otp/choice", {"choice": "use"})
    form = (await site.client.get("/otp/enrol")).text
    assert re.search(r'<button type="submit">次へ</button>', form)
    before = site.state()
    check = await site.post("/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION})
    assert check.status_code == 200 and "確認" in check.text
    assert OTP_ADDRESS in check.text and CONFIRMATION["confirmation_id"] in check.text
    password = CONFIRMATION["confirmation_password"]
    assert "●" * len(password) in check.text
    # The password is nowhere on the page but in the hidden field that 登録 sends.
    assert check.text.count(password) == 1
    assert f'type="hidden" name="confirmation_password" value="{password}"' in check.text
    assert 'name="confirmed" value="1">登録</button>' in check.text
    assert site.state() == before and site.mails(MailKind.ADDRESS_VERIFICATION) == []
    # 戻る: the form again, with what was typed but the password.
    back = await site.post("/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION, "back": "1"})
    assert back.status_code == 200 and f'value="{OTP_ADDRESS}"' in back.text
    assert password not in back.text and site.state() == before
    done = await site.post("/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION, "confirmed": "1"})
    assert done.status_code == 200 and "仮登録が完了しました" in done.text
    [mail] = await delivered(site)  # at the SMTP server
    assert str(mail["To"]) == OTP_ADDRESS and "/otp/verify?token=" in body(mail)


async def test_issue14_flow10_SITE_5_link_shows_the_registration_complete_then_next(
    site: Site,
) -> None:
    await at_the_choice(site)
    await site.post("/otp/choice", {"choice": "use"})
    await site.post("/otp/enrol", {"address": OTP_ADDRESS, **CONFIRMATION, "confirmed": "1"})
    [link] = re.findall(r"/otp/verify\?token=[\w-]+", body((await delivered(site))[-1]))
    verified = await site.client.get(link)
    assert verified.status_code == 200 and "本登録が完了しました" in verified.text
    assert credential_of(site, CONTRACT).otp_enabled
    sent = await site.post("/login/otp/send", {}, page="/login/otp")
    assert sent.status_code == 200 and "ワンタイムパスワードを送信しました" in sent.text
    assert re.search(
        r'action="/login/otp">.*?<button type="submit">次へ</button>',
        sent.text,
        re.S,
    )
    [code] = re.findall(r"ワンタイムパスワード: (\d+)", body((await delivered(site))[-1]))
    done = await site.post("/login/otp", {"otp_code": code})
    assert done.status_code == 303 and done.headers["location"] == "/"
