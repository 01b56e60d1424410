"""Issue 14 flows 6, 9 and 10 over HTTP: which number a page is about, the guidance the
seeds give (the access numbers, a sample of the mail, a help page) and the seeds' words
and order on the login and password pages (SITE-1, SITE-2, SITE-8, SITE-10, IVR-1, MAIL-9).
"""

from __future__ import annotations

import html
import re
from pathlib import Path

import httpx
import pytest
from sqlalchemy.orm import Session, sessionmaker

from chakushin import bootstrap
from chakushin.config import Config, MailConfig
from store.models import AuthUnit
from tests.web.conftest import CONTRACT, EXTRA, TEMP, Site
from tests.web.steps import GOOD, logged_in_with_otp
from web.app import create_app
from web.config import SiteConfig
from web.pages.base import display_number
from web.texts import page

pytestmark = pytest.mark.asyncio

HELP_LINK = re.compile(r'<a [^>]*href="/help"[^>]*>ヘルプ</a>')


def heading(text: str) -> str:
    """The page's <h1>, as a reader sees it (tags dropped)."""
    found = re.search(r"<h1[^>]*>(.*?)</h1>", text, re.DOTALL)
    assert found, text[:500]
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def paragraphs(text: str) -> list[str]:
    return [
        html.unescape(re.sub(r"<[^>]+>", "", p))
        for p in re.findall(r"<p[^>]*>(.*?)</p>", text, re.DOTALL)
    ]


def in_order(text: str, *parts: str) -> bool:
    positions = [text.find(part) for part in parts]
    return -1 not in positions and positions == sorted(positions)


# --- flow 6: which number ----------------------------------------------------------------


@pytest.mark.parametrize("path", ["", "/addresses", "/conditions", "/designated", "/history"])
async def test_issue14_SITE_7_every_page_of_one_number_names_it_in_its_heading(
    site: Site, path: str
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    shown = await site.client.get(f"/numbers/{EXTRA}{path}")
    assert shown.status_code == 200, shown.text
    assert EXTRA in heading(shown.text)
    assert heading(shown.text).count(EXTRA) == 1


@pytest.mark.parametrize(
    "path",
    [
        "/otp",
        "/otp/address",
        "/otp/confirmation",
        "/otp/confirmation/id",
        "/otp/confirmation/password",
    ],
)
async def test_issue14_SITE_5_the_one_time_password_pages_name_the_login_number(
    site: Site, path: str
) -> None:
    """The one-time password is the login number's (SITE-5): its pages say which, as
    the pages of one number do (flow 6), also at the login's code and recovery steps."""
    await logged_in_with_otp(site)
    shown = await site.client.get(path)
    assert shown.status_code == 200, shown.text
    assert heading(shown.text).count(CONTRACT) == 1, path


async def test_issue14_SITE_5_the_login_code_pages_name_the_number(site: Site) -> None:
    await logged_in_with_otp(site)
    await site.client.post("/logout", data={"csrf_token": await site.csrf("/")})
    await site.login(CONTRACT, GOOD)
    for path in ("/login/otp", "/login/otp/address"):
        shown = await site.client.get(path)
        assert shown.status_code == 200, shown.text
        assert heading(shown.text).count(CONTRACT) == 1, path


async def test_issue14_SITE_10_the_password_page_names_its_number_and_goes_back(
    site: Site,
) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    await site.login(CONTRACT, TEMP)
    forced = await site.client.get("/password")
    assert CONTRACT in heading(forced.text)
    # The forced change leads nowhere else: ログアウト (the header's) is the way out.
    assert f'<a href="/">{page("link.back")}</a>' not in forced.text
    await site.post(
        "/password", {"current_password": TEMP, "new_password": GOOD, "confirm_password": GOOD}
    )
    await site.decline_otp(CONTRACT, GOOD)
    ready = await site.client.get("/password")
    assert CONTRACT in heading(ready.text)
    assert f'<a href="/">{page("link.back")}</a>' in ready.text


async def test_issue14_SITE_10_an_administrator_is_told_the_current_password_is_their_own(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.ADMIN_USER, GOOD)
    shown = await site.client.get("/password")
    assert f'<option value="{EXTRA}"' in shown.text  # the administrator may pick another number
    assert page("password.current_is_own", number=CONTRACT) in shown.text
    await site.establish(EXTRA, EXTRA, AuthUnit.ADMIN_USER, "Extra2026x")
    user = await site.client.get("/password")  # a user changes their own password only
    assert page("password.current_is_own", number=EXTRA) not in user.text
    assert EXTRA in heading(user.text)


async def test_issue14_SITE_8_numbers_needing_a_temp_password_are_listed_once(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    done = await site.post("/auth-unit", {"unit": "number", f"password_{CONTRACT}": GOOD})
    assert done.status_code == 200, done.text
    telling = [p for p in paragraphs(done.text) if EXTRA in p and "仮パスワード" in p]
    assert len(telling) == 1, telling


# --- flow 9: the guidance of the seeds -----------------------------------------------------


@pytest.mark.parametrize(
    ("number", "shown"),
    [
        ("0363044747", "03-6304-4747"),  # the seeds' two access numbers
        ("0664806430", "06-6480-6430"),
        ("09012345678", "090-1234-5678"),
        ("05012345678", "050-1234-5678"),
        ("0120123456", "0120-123-456"),
        ("08001234567", "0800-123-4567"),
        ("0452001234", "0452001234"),  # an area code whose length would be a guess
        ("0312345", "0312345"),
    ],
)
async def test_issue14_IVR_1_numbers_to_dial_are_grouped_only_where_sure(
    number: str, shown: str
) -> None:
    assert display_number(number) == shown


async def test_issue14_IVR_1_the_login_page_names_the_access_numbers(site: Site) -> None:
    shown = (await site.client.get("/login")).text
    assert "仮パスワード設定用アクセス番号" in shown
    # As the seeds write them (03-6304-4747, 06-6480-6430): numbers to dial.
    assert "03-6304-4747" in shown and "06-6480-6430" in shown
    assert page("login.ask_operator") not in shown


@pytest.mark.parametrize("site_access_numbers", [()])
async def test_issue14_IVR_1_without_access_numbers_the_login_page_says_to_ask(
    site: Site,
) -> None:
    shown = (await site.client.get("/login")).text
    assert page("login.ask_operator") in shown
    assert "0363044747" not in shown and "03-6304-4747" not in shown


async def test_issue14_SITE_1_a_help_page_is_linked_from_every_page(site: Site) -> None:
    assert HELP_LINK.search((await site.client.get("/login")).text)
    help_page = await site.client.get("/help")  # also before logging in
    assert help_page.status_code == 200
    text = help_page.text
    for term in (
        "回線単位",
        "電話番号単位",
        "管理者／ユーザ単位",
        "仮パスワード",
        "ワンタイムパスワード",
        "確認用ID",
        "お知らせ対象電話番号",
        "03-6304-4747",
        "お問い合わせ",
    ):
        assert term in text, term
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    for path in ("/", f"/numbers/{EXTRA}", f"/numbers/{EXTRA}/addresses", "/password", "/help"):
        shown = await site.client.get(path)
        assert shown.status_code == 200, path
        assert HELP_LINK.search(shown.text), path
    assert "ログアウト" in (await site.client.get("/help")).text  # still logged in there


async def test_issue14_MAIL_9_the_help_page_shows_a_sample_of_the_mail(site: Site) -> None:
    text = html.unescape((await site.client.get("/help")).text)
    # The shipped templates, with sample values (notifier/templates/body.txt).
    assert "着信日時：" in text and "発信者番号：" in text and "着信結果：" in text
    assert "【着信お知らせメール】" in text
    assert "chakushin@example.jp" in text  # the sender
    assert page("addresses.allowed_domain", domain="example.jp") in text  # 受信指定ドメイン


async def test_issue14_MAIL_9_the_sample_comes_from_the_operators_templates(
    site_line: sessionmaker[Session], tmp_path: Path
) -> None:
    (tmp_path / "body.txt").write_text(
        "山田商店の電話 ${called_number} に ${caller} から着信しました。\n", encoding="utf-8"
    )
    config = Config(
        mail=MailConfig(from_address="notice@shop.example.jp", templates_dir=str(tmp_path))
    )
    deps = bootstrap.site_deps(config, site_line)
    assert deps.access_numbers == config.ivr.access_numbers == ("0363044747", "0664806430")
    assert deps.sample_mail is not None
    assert "山田商店の電話" in deps.sample_mail.body
    transport = httpx.ASGITransport(app=create_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        shown = html.unescape((await client.get("/help")).text)
    assert "山田商店の電話" in shown and "notice@shop.example.jp" in shown
    assert "着信日時：" not in shown  # the shipped body is replaced, not shown beside


CONTACT = "着信お知らせメール サポートセンター 0120-123-456(平日9時～17時)"


@pytest.mark.parametrize("site_config", [SiteConfig(support_contact=CONTACT)])
async def test_issue14_SITE_1_the_help_page_names_the_operators_contact(site: Site) -> None:
    shown = html.unescape((await site.client.get("/help")).text)
    contact = shown[shown.index('id="contact"') :]
    assert CONTACT in contact
    assert CONTACT in html.unescape((await site.client.get("/login")).text)


async def test_issue14_SITE_1_without_a_contact_the_help_page_says_the_operator(
    site: Site,
) -> None:
    shown = html.unescape((await site.client.get("/help")).text)
    assert "サービスの運営者" in shown[shown.index('id="contact"') :]


# --- flow 10: the seeds' words and order -------------------------------------------------


async def test_issue14_SITE_1_the_login_page_follows_the_seeds(site: Site) -> None:
    text = (await site.client.get("/login")).text
    assert in_order(text, ">電話番号<", ">パスワード<", ">ログイン</button>")
    assert "ハイフンなし" in text and "はじめて接続する場合は仮パスワード" in text
    # Seeds P.5 step 3's notes, in their order.
    assert in_order(
        text,
        "連続して10回",
        "有効期限は60日間",
        "連続して3回",
        "24時間以上経過",
        "忘れてしまった場合",
        "仮パスワード設定用アクセス番号",
    )


async def test_issue14_SITE_10_the_password_page_uses_the_seeds_words(site: Site) -> None:
    site.temp_password(CONTRACT, CONTRACT, AuthUnit.LINE)
    await site.login(CONTRACT, TEMP)
    forced = (await site.client.get("/password")).text
    # 「現在のパスワードを入力する欄に、仮パスワードの場合は「仮パスワード」」
    assert in_order(
        forced,
        ">現在のパスワード<",
        "仮パスワードを入力します",
        ">新しいパスワード<",
        ">新しいパスワード(確認)<",
        ">パスワード変更</button>",
    )
    assert "他人が推測しにくいパスワード(誕生日や電話番号以外)" in forced
    assert (
        "現在のパスワードと同一のパスワードを新しいパスワードに設定することはできません" in forced
    )
