"""MAIL-2 送信テスト over HTTP at a real SMTP peer, in the seeds' order (issue 14 flow 1).

Seeds P.9: 送信先メールアドレスを入力 → 「送信テスト」 → 「送信」欄にチェック → 「設定」.
So the button of a row mails what is typed in that row, saved or not (MAIL-3
first), saves nothing, keeps what every row holds as typed, and says the
outcome in Japanese words (never the server's or our side's raw text). The
page keeps each address in its slot (flow 7) and ticks no 送信 on an empty row.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from store import db, service
from store.models import AuthUnit
from tests.web.conftest import EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

PAGE = f"/numbers/{EXTRA}/addresses"


def saved(site: Site) -> list[tuple[int, str, bool]]:
    with db.transaction(site.sessions, read_only=True) as s:
        mail = service.describe_number(service.get_number(s, EXTRA))["mail"]
        return sorted((a["position"], a["address"], a["send"]) for a in mail["addresses"])


def row_of(html: str, row: int) -> str:
    """The HTML of one address row (from its label to the next row's)."""
    start = html.index(f'<label for="address_{row}">')
    end = html.find('<label for="address_', start + 1)
    return html[start : end if end != -1 else html.index("</form>", start)]


def checked(html: str, name: str) -> bool:
    found = re.search(rf'<input type="checkbox" name="{name}" value="1"([^>]*)>', html)
    assert found, name
    return "checked" in found.group(1)


async def press_test(site: Site, row: int, rows: dict[str, str]) -> Any:
    """The row's 送信テスト button with the whole form as the browser sends it."""
    return await site.post(f"{PAGE}/test", {**rows, "test_row": str(row)}, page=PAGE)


async def test_MAIL_2_flow1_send_test_mails_what_is_typed_and_keeps_every_row(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    await site.post(PAGE, {"address_1": "saved@example.jp", "send_1": "1"})
    typed = {
        "address_1": "saved@example.jp",
        "send_1": "1",
        "address_2": "typed@example.jp",
        "address_3": "other@example.jp",
        "send_3": "1",
    }
    tested = await press_test(site, 2, typed)
    assert tested.status_code == 200, tested.text
    assert site.smtp.inbox.wait_for(1, 10)
    assert [str(m["To"]) for m in site.smtp.inbox.messages] == ["typed@example.jp"]
    # Nothing typed was saved; every row is shown as it was typed, ticks included.
    assert saved(site) == [(1, "saved@example.jp", True)]
    for name in ("address_1", "address_2", "address_3"):
        assert f'name="{name}" type="email" value="{typed[name]}"' in tested.text
    assert checked(tested.text, "send_1") and checked(tested.text, "send_3")
    assert not checked(tested.text, "send_2")
    # The outcome in words, by the tested row; no SMTP reply text.
    own = row_of(tested.text, 2)
    assert "typed@example.jp に送信テストのメールを送りました" in own
    assert "届いたことを確認" in own
    for raw in ("250", "OK queued", "maildir"):
        assert raw not in tested.text
    # The seeds' next steps: tick 送信, press 設定; the typed row is then saved.
    done = await site.post(PAGE, {**typed, "send_2": "1"})
    assert done.status_code == 303
    assert saved(site) == [
        (1, "saved@example.jp", True),
        (2, "typed@example.jp", True),
        (3, "other@example.jp", True),
    ]


async def test_MAIL_2_flow1_every_row_has_its_send_test_and_an_empty_one_asks_for_an_address(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    page = await site.client.get(PAGE)
    for row in range(1, 6):
        assert f'name="test_row" value="{row}">送信テスト</button>' in row_of(page.text, row)
    before = saved(site)
    empty = await press_test(site, 4, {"address_1": "kept@example.jp"})
    assert empty.status_code == 400
    assert "送信テストするメールアドレスを入力してください。" in row_of(empty.text, 4)
    assert 'name="address_1" type="email" value="kept@example.jp"' in empty.text
    assert saved(site) == before and site.smtp.inbox.messages == []


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("abc..def@ntt-east.jp", "「.」が2つ以上連続するメールアドレスは設定できません。"),
        ("abcdef.@ntt-east.jp", "「@」の直前が「.」のメールアドレスは設定できません。"),
        # Issue 14 flow 8: the limit in the seeds' terms (64 or more refused, 63 allowed).
        (
            "a" * 64 + "@ntt-east.jp",
            "「@」の前が64文字以上のメールアドレスは設定できません(63文字までにしてください)。",
        ),
    ],
)
async def test_MAIL_3_flow1_send_test_checks_the_typed_address_first_by_its_row(
    site: Site, typed: str, message: str
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    before = site.state()
    refused = await press_test(site, 3, {"address_3": typed, "address_1": "a@example.jp"})
    assert refused.status_code == 400
    own = row_of(refused.text, 3)
    assert message in own and 'aria-invalid="true"' in own
    assert f'value="{typed}"' in own
    assert site.state() == before  # not even a send test was counted
    assert site.smtp.inbox.messages == []


async def test_MAIL_2_flow1_a_refused_test_mail_says_why_in_words(site: Site) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    site.smtp.inbox.refusals.append("550 5.1.1 <gone@example.jp>: no such user")
    refused = await press_test(site, 1, {"address_1": "gone@example.jp"})
    assert refused.status_code == 200
    own = row_of(refused.text, 1)
    assert "gone@example.jp に送信できませんでした" in own
    assert "メールサーバがこのメールアドレスへの送信を受け付けませんでした" in own
    site.smtp.inbox.refusals.append("451 4.3.0 try again later")
    later = await press_test(site, 1, {"address_1": "busy@example.jp"})
    assert "メールサーバが一時的に受け付けませんでした" in row_of(later.text, 1)
    assert "しばらくしてから" in row_of(later.text, 1)
    for page in (refused, later):
        for raw in ("550", "451", "5.1.1", "no such user", "try again"):
            assert raw not in page.text, raw


async def test_MAIL_2_flow1_an_unreachable_server_is_said_in_words_not_its_error(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    port = site.smtp.port
    site.smtp.stop()
    failed = await press_test(site, 2, {"address_2": "a@example.jp"})
    assert failed.status_code == 200
    own = row_of(failed.text, 2)
    assert "a@example.jp に送信できませんでした" in own
    assert "メールサーバに接続できませんでした" in own
    for leak in ("127.0.0.1", str(port), "Connect", "Errno", "SMTP"):
        assert leak not in failed.text, leak


async def test_MAIL_2_flow7_each_address_stays_in_its_slot_and_empty_rows_are_not_ticked(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    page = await site.client.get(PAGE)
    for row in range(1, 6):
        assert not checked(page.text, f"send_{row}")  # nothing ticked before anything is typed
    done = await site.post(PAGE, {"address_3": "three@example.jp", "send_3": "1"})
    assert done.status_code == 303
    assert saved(site) == [(3, "three@example.jp", True)]
    again = await site.client.get(PAGE)
    assert 'name="address_3" type="email" value="three@example.jp"' in again.text
    assert 'name="address_1" type="email" value=""' in again.text
    assert checked(again.text, "send_3") and not checked(again.text, "send_1")
    # Row 1 typed later, row 3 cleared: each keeps its row.
    await site.post(PAGE, {"address_1": "one@example.jp", "address_5": "five@example.jp"})
    assert saved(site) == [(1, "one@example.jp", False), (5, "five@example.jp", False)]


async def test_MAIL_2_flow9_the_address_page_gives_the_seeds_steps_and_warnings(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    text = (await site.client.get(PAGE)).text
    steps = [
        "送信先メールアドレスを入力します",
        "「送信テスト」ボタンを押し",
        "「送信」欄にチェック",
        "「設定」ボタンを押します",
    ]
    at = [text.index(step) for step in steps]
    assert at == sorted(at) and at[-1] < text.index('<label for="address_1">')
    assert "第三者に着信情報が通知されるおそれがあります" in text
    # The site's from_address is chakushin@example.jp (tests/web/conftest.py).
    assert "「example.jp」を受信指定ドメインとして設定してください" in text


async def test_MAIL_3_flow8_the_part_before_at_is_63_characters_at_most_as_the_seeds_say(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    before = site.state()
    refused = await site.post(PAGE, {"address_1": "a" * 64 + "@ntt-east.jp", "send_1": "1"})
    assert refused.status_code == 400
    assert "「@」の前が64文字以上のメールアドレスは設定できません(63文字までにしてください)。" in (
        row_of(refused.text, 1)
    )
    assert site.state() == before
    done = await site.post(PAGE, {"address_1": "a" * 63 + "@ntt-east.jp", "send_1": "1"})
    assert done.status_code == 303 and saved(site) == [(1, "a" * 63 + "@ntt-east.jp", True)]
