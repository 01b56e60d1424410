"""SITE-3 rule by rule and SITE-8 over HTTP; the seeds' lockouts under parallel requests."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from store import db, service
from store.models import AuthUnit
from tests.builders import snapshot
from tests.web.conftest import CONTRACT, EXTRA, TEMP, Site
from tests.web.steps import GOOD
from web.sessions import COOKIE

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    ("new", "message"),
    [
        ("Ab3x5y7", "パスワードは8～12桁で入力してください。"),
        ("Ab3x5y7z9w1qR", "パスワードは8～12桁で入力してください。"),
        ("Ab3x5y7zé", "パスワードは半角英数字(A～Z、a～z、0～9)で入力してください。"),
        ("86420975", "数字のみのパスワードは設定できません。"),
        ("xaaaa7b9", "同じ文字を4文字以上続けたパスワードは設定できません。"),
        (
            "x1234zq9",
            "連続した文字・数字(1234、abcdなど)を4文字以上含むパスワードは設定できません。",
        ),
        (
            "zdcba8q7",
            "連続した文字・数字(1234、abcdなど)を4文字以上含むパスワードは設定できません。",
        ),
        ("a0362814957", "電話番号を含むパスワードは設定できません。"),
        (TEMP + "a", None),  # 8–12 letters and digits, no rule broken: accepted
        ("Ab3x5y7z", None),
        ("Ab3x5y7z9w1q", None),
    ],
)
async def test_SITE_3_each_password_rule_on_the_change_page(
    site: Site, new: str, message: str | None
) -> None:
    number = "0362814957"  # no run of four in it, so the number rule shows alone
    with db.transaction(site.sessions) as s:
        service.add_number(s, CONTRACT, number, timezone="Asia/Tokyo")
    site.temp_password(number, number, AuthUnit.NUMBER)
    await site.login(number, TEMP)
    result = await site.post(
        "/password", {"current_password": TEMP, "new_password": new, "confirm_password": new}
    )
    if message is None:
        assert result.status_code == 200 and "パスワードを変更しました" in result.text
    else:
        assert result.status_code == 400 and message in result.text


async def test_SITE_3_the_new_password_must_differ_from_the_current(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    same = await site.post(
        "/password", {"current_password": GOOD, "new_password": GOOD, "confirm_password": GOOD}
    )
    assert same.status_code == 400
    assert "現在のパスワードと同一のパスワードは設定できません。" in same.text


async def test_SITE_2_three_strikes_hold_under_parallel_requests(site: Site) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    site.client.cookies.delete(COOKIE)
    token = await site.csrf("/login")

    async def wrong() -> httpx.Response:
        return await site.client.post(
            "/login", data={"csrf_token": token, "number": CONTRACT, "password": "13572468"}
        )

    results = await asyncio.gather(*(wrong() for _ in range(8)))
    assert all(r.status_code == 401 for r in results)
    refused = await site.login(CONTRACT, TEMP)
    assert refused.status_code == 401 and "仮パスワード" in refused.text


async def test_SITE_8_number_unit_to_line_unit_needs_every_password(site: Site) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.NUMBER, GOOD)
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, "Extra2026x")
    await site.login(CONTRACT, GOOD)
    page = await site.client.get("/auth-unit")
    assert f"{EXTRA} のパスワード" in page.text and f"{CONTRACT} のパスワード" in page.text
    engine = site.sessions.kw["bind"]
    before = snapshot(engine)
    missing = await site.post("/auth-unit", {"unit": "line", f"password_{CONTRACT}": GOOD})
    assert missing.status_code == 400 and EXTRA in missing.text
    after = snapshot(engine)
    after.pop("site_session"), before.pop("site_session")
    assert after == before
    done = await site.post(
        "/auth-unit",
        {"unit": "line", f"password_{CONTRACT}": GOOD, f"password_{EXTRA}": "Extra2026x"},
    )
    assert done.status_code == 200 and "認証単位を回線単位に変更しました。" in done.text
    assert cookie_gone(site)
    # Now only the contract number logs in, and it manages both numbers.
    assert (await site.login(EXTRA, "Extra2026x")).status_code == 401
    assert (await site.login(CONTRACT, GOOD)).headers["location"] == "/"
    home = (await site.client.get("/")).text
    assert "回線単位" in home and EXTRA in home


async def test_SITE_8_a_user_may_not_change_the_admin_user_unit(site: Site) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, GOOD)
    home = await site.client.get("/")
    assert "認証単位の変更" not in home.text
    refused = await site.post("/auth-unit", {"unit": "number", f"password_{EXTRA}": GOOD}, page="/")
    assert refused.status_code == 403


def cookie_gone(site: Site) -> bool:
    return site.client.cookies.get(COOKIE) is None
