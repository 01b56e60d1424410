"""Issue 19 (BOOK-1) over HTTP: the phonebook page of one number.

The list (number, name, note, with its count of at most 300), an entry added
as people type its number, one changed on its own page, one removed by its
number; each refusal said by its field in Japanese with every table as it
was (a snapshot); the CSRF token on every form; SITE-1: a user-scope login
reaches no other number's book. A name is the subscriber's text: Jinja
escapes it wherever it is shown.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from chakushin.config import SiteConfig
from store import db, phonebook, phonebook_csv, service, validation
from store.models import AuthUnit
from tests.builders import snapshot
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD
from web.pages.phonebook import UPLOAD_BODY_BYTES
from web.texts import page

pytestmark = pytest.mark.asyncio

PAGE = f"/numbers/{EXTRA}/phonebook"
CALLER = "0398765432"
NAME = "山田商事"
SCRIPT = "<script>alert(1)</script>"


def unchanged(site: Site, before: dict[str, Any]) -> bool:
    after = snapshot(site.sessions.kw["bind"])
    after.pop("site_session")
    return after == before


def booked(site: Site, number: str = EXTRA, *entries: tuple[str, str, str]) -> None:
    with db.transaction(site.sessions) as s:
        for caller, name, note in entries:
            phonebook.add_entry(s, number, caller, name, note)


def stored(site: Site, number: str = EXTRA) -> list[tuple[str, str, str]]:
    with db.transaction(site.sessions, read_only=True) as s:
        return [(e.caller_number, e.name, e.note) for e in phonebook.entries(s, number)]


async def logged_in(site: Site, number: str = EXTRA, unit: AuthUnit = AuthUnit.NUMBER) -> None:
    await site.establish(number, number, unit, GOOD)


async def add(site: Site, caller: str, name: str = NAME, note: str = "") -> httpx.Response:
    return await site.post(
        PAGE, {"action": "add", "caller_number": caller, "name": name, "note": note}
    )


def the_list(text: str) -> str:
    return text.split("<h2>電話帳</h2>")[1].split("</section>")[0]


async def test_issue19_BOOK_1_the_list_with_its_count_names_and_notes(site: Site) -> None:
    booked(site, EXTRA, (CALLER, NAME, "経理の田中さん"), ("09012345678", "佐藤", ""))
    await logged_in(site)
    shown = await site.client.get(PAGE)
    assert shown.status_code == 200, shown.text
    assert "<h1>電話帳" in shown.text and f"（{EXTRA}）" in shown.text
    assert "登録件数: 2件(300件まで)" in shown.text
    listed = the_list(shown.text)
    assert NAME in listed and CALLER in listed and "経理の田中さん" in listed
    assert "佐藤" in listed and "09012345678" in listed
    assert listed.count(">削除</button>") == 2 and listed.count(">変更</a>") == 2
    assert f'href="{PAGE}/edit?caller={CALLER}"' in listed
    # The add form, the upload (a file form) and the download with its encodings.
    assert 'name="caller_number"' in shown.text and 'name="name"' in shown.text
    assert f'action="{PAGE}/csv" enctype="multipart/form-data"' in shown.text
    assert 'value="utf-8" checked' in shown.text and 'value="shift_jis"' in shown.text
    # What the names are for, and that a withheld caller never gets one (BOOK-2).
    assert "発信者：山田商事（0398765432）" in shown.text
    assert "非通知・公衆電話・表示圏外" in shown.text


async def test_issue19_BOOK_1_the_page_is_reached_from_the_numbers_service_menu(
    site: Site,
) -> None:
    await logged_in(site)
    menu = await site.client.get(f"/numbers/{EXTRA}")
    assert f'<a href="{PAGE}">電話帳(発信者の名前)</a>' in menu.text


async def test_issue19_BOOK_1_an_entry_as_people_type_it_is_added_and_shown(site: Site) -> None:
    await logged_in(site)
    added = await add(site, "０３－９８７６－５４３２", "　山田商事 ", "取引先")
    assert added.status_code == 303, added.text
    assert added.headers["location"] == f"{PAGE}?saved=added"
    shown = await site.client.get(added.headers["location"])
    assert page("phonebook.added") in shown.text
    assert "登録件数: 1件(300件まで)" in shown.text
    assert stored(site) == [(CALLER, NAME, "取引先")]


async def test_issue19_BOOK_1_an_entry_is_changed_on_its_own_page_number_too(site: Site) -> None:
    booked(site, EXTRA, (CALLER, NAME, "旧メモ"))
    await logged_in(site)
    edit = await site.client.get(f"{PAGE}/edit?caller={CALLER}")
    assert edit.status_code == 200, edit.text
    assert "<h1>電話帳の登録内容の変更" in edit.text
    assert f'value="{CALLER}"' in edit.text and f'value="{NAME}"' in edit.text
    assert 'value="旧メモ"' in edit.text
    changed = await site.post(
        PAGE,
        {
            "action": "edit",
            "caller": CALLER,
            "caller_number": "03-9876-0000",
            "name": "山田商事 本社",
            "note": "",
        },
        page=f"{PAGE}/edit?caller={CALLER}",
    )
    assert changed.status_code == 303 and changed.headers["location"] == f"{PAGE}?saved=updated"
    shown = await site.client.get(changed.headers["location"])
    assert page("phonebook.updated") in shown.text
    assert stored(site) == [("0398760000", "山田商事 本社", "")]


async def test_issue19_BOOK_1_an_entry_is_removed_by_its_number(site: Site) -> None:
    booked(site, EXTRA, (CALLER, NAME, ""), ("09012345678", "佐藤", ""))
    await logged_in(site)
    gone = await site.post(PAGE, {"action": "remove", "caller": CALLER})
    assert gone.status_code == 303 and gone.headers["location"] == f"{PAGE}?saved=removed"
    shown = await site.client.get(gone.headers["location"])
    assert page("phonebook.removed") in shown.text
    assert "登録件数: 1件(300件まで)" in shown.text
    assert stored(site) == [("09012345678", "佐藤", "")]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"caller_number": "", "name": NAME}, "caller_number"),
        ({"caller_number": "03-9876-543x", "name": NAME}, "caller_number"),
        ({"caller_number": "0" + "1" * 18, "name": NAME}, "caller_number"),
        ({"caller_number": "+1 212 555 0100", "name": NAME}, "caller_number"),
        ({"caller_number": CALLER, "name": ""}, "name"),
        ({"caller_number": CALLER, "name": "　 "}, "name"),
        ({"caller_number": CALLER, "name": "あ" * 41}, "name"),
        ({"caller_number": CALLER, "name": "山田\r\nBcc: x@example.jp"}, "name"),
        ({"caller_number": CALLER, "name": "山田\u202e商事"}, "name"),
        ({"caller_number": CALLER, "name": NAME, "note": "メ" * 101}, "note"),
        ({"caller_number": CALLER, "name": NAME, "note": "a\x00b"}, "note"),
    ],
)
async def test_issue19_BOOK_1_a_refused_entry_is_said_by_its_field_and_nothing_changes(
    site: Site, data: dict[str, str], field: str
) -> None:
    booked(site, EXTRA, ("09012345678", "佐藤", ""))
    await logged_in(site)
    before = site.state()
    refused = await site.post(PAGE, {"action": "add", "note": "", **data})
    assert refused.status_code == 400, refused.text
    assert f'aria-invalid="true" aria-describedby="{field}-error"' in refused.text
    message = re.search(rf'<p class="error" id="{field}-error">([^<]+)</p>', refused.text)
    assert message and re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", message.group(1)), message
    assert "\x00" not in refused.text and "\u202e" not in refused.text
    assert "登録件数: 1件(300件まで)" in refused.text  # the book as stored, still there
    assert unchanged(site, before)


async def test_issue19_BOOK_1_every_problem_of_the_form_is_said_at_once(site: Site) -> None:
    await logged_in(site)
    refused = await add(site, "03-x", "", "メ" * 101)
    assert refused.status_code == 400
    for field in ("caller_number", "name", "note"):
        assert f'id="{field}-error"' in refused.text, field
    assert stored(site) == []


async def test_issue19_BOOK_1_a_number_twice_is_refused_by_its_field(site: Site) -> None:
    booked(site, EXTRA, (CALLER, NAME, ""), ("09012345678", "佐藤", ""))
    await logged_in(site)
    before = site.state()
    again = await add(site, "03-9876-5432", "別の名前")
    assert again.status_code == 400
    assert 'id="caller_number-error"' in again.text
    moved = await site.post(
        PAGE,
        {"action": "edit", "caller": CALLER, "caller_number": "09012345678", "name": NAME},
        page=f"{PAGE}/edit?caller={CALLER}",
    )
    assert moved.status_code == 400 and "<h1>電話帳の登録内容の変更" in moved.text
    assert 'id="caller_number-error"' in moved.text and 'value="09012345678"' in moved.text
    assert unchanged(site, before)


async def test_issue19_BOOK_1_the_301st_entry_is_refused_and_nothing_changes(site: Site) -> None:
    booked(
        site,
        EXTRA,
        *((f"03{i:08d}", f"名前{i}", "") for i in range(validation.MAX_PHONEBOOK)),
    )
    await logged_in(site)
    full = await site.client.get(PAGE)
    assert "登録件数: 300件(300件まで)" in full.text
    assert full.text.count(">削除</button>") == 300
    assert "登録件数が上限の300件に達しています" in full.text
    before = site.state()
    refused = await add(site, "09012345678")
    assert refused.status_code == 400
    assert 'id="caller_number-error"' in refused.text
    assert unchanged(site, before)


async def test_issue19_BOOK_1_a_name_is_escaped_on_every_page_that_shows_it(site: Site) -> None:
    await logged_in(site)
    added = await add(site, CALLER, SCRIPT, "<b>メモ</b>")
    assert added.status_code == 303, added.text
    with db.transaction(site.sessions) as s:
        service.add_designated(s, EXTRA, CALLER)
        service.add_nuisance(s, EXTRA, CALLER)
    for path in (PAGE, f"{PAGE}/edit?caller={CALLER}", f"/numbers/{EXTRA}/designated"):
        shown = await site.client.get(path)
        assert shown.status_code == 200, (path, shown.text)
        assert SCRIPT not in shown.text and "<b>メモ" not in shown.text, path
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown.text, path


async def test_issue19_BOOK_1_a_stale_edit_or_remove_is_told_and_changes_nothing(
    site: Site,
) -> None:
    booked(site, EXTRA, ("09012345678", "佐藤", ""))
    await logged_in(site)
    before = site.state()
    link = await site.client.get(f"{PAGE}/edit?caller={CALLER}")
    assert link.status_code == 404 and page("phonebook.gone") in link.text
    edit = await site.post(
        PAGE, {"action": "edit", "caller": CALLER, "caller_number": CALLER, "name": NAME}
    )
    assert edit.status_code == 404 and page("phonebook.gone") in edit.text
    remove = await site.post(PAGE, {"action": "remove", "caller": CALLER})
    assert remove.status_code == 400 and 'id="form-error"' in remove.text
    assert "登録件数: 1件(300件まで)" in remove.text
    assert unchanged(site, before)


@pytest.mark.parametrize(
    "data",
    [
        {"action": "drop", "caller": CALLER},
        {"caller_number": CALLER, "name": NAME},  # no action
        {"action": "remove"},  # no caller
        {"action": "remove", "caller": "03-9876-5432"},  # the page sends digits
        {"action": "edit", "caller": "１２３", "caller_number": CALLER, "name": NAME},
        {"action": "remove", "caller": "0" * 19},
    ],
)
async def test_issue19_BOOK_1_a_forged_action_or_caller_is_a_bad_form(
    site: Site, data: dict[str, str]
) -> None:
    booked(site, EXTRA, (CALLER, NAME, ""))
    await logged_in(site)
    before = site.state()
    refused = await site.post(PAGE, data)
    assert refused.status_code == 400
    assert page("form.refused") in refused.text
    assert unchanged(site, before)


async def test_issue19_BOOK_1_every_change_needs_the_csrf_token(site: Site) -> None:
    booked(site, EXTRA, (CALLER, NAME, ""))
    await logged_in(site)
    before = site.state()
    for data in (
        {"action": "add", "caller_number": "0311110000", "name": "x"},
        {"action": "edit", "caller": CALLER, "caller_number": CALLER, "name": "x"},
        {"action": "remove", "caller": CALLER},
    ):
        missing = await site.client.post(PAGE, data=data)
        wrong = await site.client.post(PAGE, data={"csrf_token": "forged", **data})
        assert missing.status_code == wrong.status_code == 403
    files = {"csv_file": ("a.csv", f'"{CALLER}","x",""\r\n'.encode(), "text/csv")}
    upload = await site.client.post(f"{PAGE}/csv", data={"csrf_token": "forged"}, files=files)
    assert upload.status_code == 403
    assert unchanged(site, before)


async def test_issue19_SITE_1_BOOK_1_a_user_reaches_no_other_numbers_book(site: Site) -> None:
    booked(site, CONTRACT, (CALLER, NAME, "社外秘"))
    await logged_in(site, EXTRA, AuthUnit.ADMIN_USER)  # a user: manages EXTRA only
    assert (await site.client.get(PAGE)).status_code == 200
    before = site.state()
    other = f"/numbers/{CONTRACT}/phonebook"
    for path in (other, f"{other}/edit?caller={CALLER}", f"{other}/csv?encoding=utf-8"):
        seen = await site.client.get(path)
        assert seen.status_code == 403 and NAME not in seen.text, path
    for data in (
        {"action": "add", "caller_number": "0311110000", "name": "x"},
        {"action": "edit", "caller": CALLER, "caller_number": CALLER, "name": "x"},
        {"action": "remove", "caller": CALLER},
    ):
        refused = await site.post(other, data, page=PAGE)
        assert refused.status_code == 403, data
    token = await site.csrf(PAGE)
    files = {"csv_file": ("a.csv", b'"0311110000","x",""\r\n', "text/csv")}
    upload = await site.client.post(f"{other}/csv", data={"csrf_token": token}, files=files)
    assert upload.status_code == 403
    assert unchanged(site, before)
    assert stored(site, CONTRACT) == [(CALLER, NAME, "社外秘")]


# --- names beside the designated numbers and the nuisance entries ------------------------------


async def test_issue19_MAIL_5_designated_numbers_show_their_phonebook_names(site: Site) -> None:
    booked(site, EXTRA, (CALLER, NAME, ""), ("0311110000", "他の番号", ""))
    with db.transaction(site.sessions) as s:
        service.add_designated(s, EXTRA, "09012345678")
        service.add_designated(s, EXTRA, CALLER)
    await logged_in(site)
    shown = await site.client.get(f"/numbers/{EXTRA}/designated")
    assert shown.status_code == 200
    assert f'<p class="book-name" id="caller_number_2-name">電話帳: {NAME}</p>' in shown.text
    assert 'id="caller_number_1-name"' not in shown.text  # not in the book: no name
    assert "他の番号" not in shown.text  # only the designated numbers' names


async def test_issue19_CALL_2_nuisance_entries_show_names_a_hidden_one_none(site: Site) -> None:
    withheld = "0311112222"
    booked(site, EXTRA, (CALLER, NAME, ""), (withheld, "非通知の人", ""))
    with db.transaction(site.sessions) as s:
        service.add_nuisance(s, EXTRA, CALLER)
        service.add_nuisance(s, EXTRA, withheld, hidden=True)
    await logged_in(site)
    shown = await site.client.get(f"/numbers/{EXTRA}/nuisance")
    assert shown.status_code == 200
    assert f'{CALLER} <span class="book-name">{NAME}</span>' in shown.text
    # BOOK-2: an entry listed from a withheld call shows neither digits nor a name.
    assert "非通知の人" not in shown.text and withheld not in shown.text


# --- the CSV file, up and down ---------------------------------------------------------------


async def upload(site: Site, data: bytes, number: str = EXTRA) -> httpx.Response:
    token = await site.csrf(PAGE)
    return await site.client.post(
        f"/numbers/{number}/phonebook/csv",
        data={"csrf_token": token},
        files={"csv_file": ("book.csv", data, "text/csv")},
    )


async def test_issue19_BOOK_1_a_csv_file_replaces_the_whole_book(site: Site) -> None:
    booked(site, EXTRA, (CALLER, "古い名前", ""), ("0311110000", "消える番号", ""))
    await logged_in(site)
    text = (
        '"number","name","note"\r\n'
        '"03-9876-5432","山田商事","取引先"\r\n'
        '"09012345678","佐藤",""\r\n'
    )
    done = await upload(site, "\ufeff".encode() + text.encode())
    assert done.status_code == 200, done.text
    assert page("phonebook.imported", count=2) in done.text
    assert "登録件数: 2件(300件まで)" in done.text
    assert stored(site) == [(CALLER, NAME, "取引先"), ("09012345678", "佐藤", "")]


async def test_issue19_BOOK_1_a_shift_jis_file_as_excel_saves_it_is_read(site: Site) -> None:
    await logged_in(site)
    done = await upload(site, f"{CALLER},山田商事,経理\r\n".encode("cp932"))
    assert done.status_code == 200, done.text
    assert stored(site) == [(CALLER, NAME, "経理")]


async def test_issue19_BOOK_1_a_csv_file_with_errors_is_refused_by_line_and_nothing_changes(
    site: Site,
) -> None:
    booked(site, EXTRA, (CALLER, NAME, ""))
    await logged_in(site)
    before = site.state()
    text = f'"{CALLER}","新しい名前",""\r\n"03-x","名前",""\r\n"0311110000","",""\r\n'
    refused = await upload(site, text.encode())
    assert refused.status_code == 400, refused.text
    assert page("phonebook.file_refused") in refused.text
    items = re.findall(r"<li>(\d+)行目: ([^<]+)</li>", refused.text)
    assert [line for line, _ in items] == ["2", "3"], items
    assert all(re.search(r"[\u3040-\u30ff\u4e00-\u9fff]", reason) for _, reason in items)
    assert unchanged(site, before)


@pytest.mark.parametrize(
    "data",
    [
        b"",  # no file chosen
        '"0398765432","山田"\n'.encode(),  # LF alone
        b"\xff\xfe\x00\x00",  # neither UTF-8 nor Shift_JIS
        "".join(f'"03{i:08d}","名前",""\r\n' for i in range(301)).encode(),  # 301 rows
    ],
)
async def test_issue19_BOOK_1_a_file_refused_as_a_whole_changes_nothing(
    site: Site, data: bytes
) -> None:
    booked(site, EXTRA, (CALLER, NAME, ""))
    await logged_in(site)
    before = site.state()
    refused = await upload(site, data)
    assert refused.status_code == 400, refused.text
    assert '<section class="alert" role="alert">' in refused.text
    assert unchanged(site, before)


async def test_issue19_BOOK_1_a_file_over_the_limits_is_refused(site: Site) -> None:
    await logged_in(site)
    before = site.state()
    # Over the file's own limit but within the body's: refused by the parser, in words.
    big = b'"0398765432","x",""\r\n' + b" " * phonebook_csv.MAX_CSV_BYTES
    refused = await upload(site, big)
    assert refused.status_code == 400 and page("phonebook.file_refused") in refused.text
    # Over the body's limit: refused before anything is parsed (413, the site's page).
    huge = await upload(site, b"x" * (UPLOAD_BODY_BYTES + 1))
    assert huge.status_code == 413
    assert unchanged(site, before)


async def test_issue19_BOOK_1_the_book_downloads_in_utf8_and_shift_jis_and_uploads_back(
    site: Site,
) -> None:
    booked(site, EXTRA, (CALLER, NAME, "=1+1"), ("09012345678", "佐藤", ""))
    await logged_in(site)
    utf8 = await site.client.get(f"{PAGE}/csv?encoding=utf-8")
    assert utf8.status_code == 200
    assert utf8.headers["content-type"] == "text/csv; charset=utf-8"
    assert "attachment" in utf8.headers["content-disposition"]
    assert utf8.headers["cache-control"] == "no-store"
    assert utf8.content.startswith("\ufeff".encode())
    assert f'"{CALLER}","{NAME}"'.encode() in utf8.content and b"\r\n" in utf8.content
    sjis = await site.client.get(f"{PAGE}/csv?encoding=shift_jis")
    assert sjis.status_code == 200 and "shift_jis" in sjis.headers["content-type"]
    assert f'"{CALLER}","{NAME}"'.encode("cp932") in sjis.content
    with db.transaction(site.sessions) as s:  # emptied, then the downloaded file uploaded
        phonebook.replace_entries(s, EXTRA, [])
    for data in (utf8.content, sjis.content):
        assert (await upload(site, data)).status_code == 200
        assert stored(site) == [(CALLER, NAME, "=1+1"), ("09012345678", "佐藤", "")]


async def test_issue19_BOOK_1_a_name_shift_jis_cannot_hold_is_said_not_written_as_a_query(
    site: Site,
) -> None:
    booked(site, EXTRA, (CALLER, "髙橋𠮷野家", ""))
    await logged_in(site)
    refused = await site.client.get(f"{PAGE}/csv?encoding=shift_jis")
    assert refused.status_code == 400
    assert 'id="download-error"' in refused.text and CALLER in refused.text
    assert (await site.client.get(f"{PAGE}/csv?encoding=utf-8")).status_code == 200


@pytest.mark.parametrize("query", ["", "?encoding=latin-1", "?encoding=UTF-8"])
async def test_issue19_BOOK_1_a_forged_encoding_is_a_bad_form(site: Site, query: str) -> None:
    await logged_in(site)
    refused = await site.client.get(f"{PAGE}/csv{query}")
    assert refused.status_code == 400 and page("form.refused") in refused.text


async def test_issue19_BOOK_1_without_a_session_the_upload_takes_no_file_nor_a_large_body(
    site: Site,
) -> None:
    before = site.state()
    files = {"csv_file": ("a.csv", f'"{CALLER}","x",""\r\n'.encode(), "text/csv")}
    refused = await site.client.post(f"{PAGE}/csv", data={"csrf_token": "x"}, files=files)
    assert refused.status_code == 415  # no session cookie: no file parts, the form limit
    big = b"a=" + b"x" * (SiteConfig().max_form_bytes + 1)
    too_large = await site.client.post(
        f"{PAGE}/csv", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert too_large.status_code == 413
    assert unchanged(site, before)


async def test_issue19_BOOK_1_only_the_upload_route_of_the_page_takes_a_file(site: Site) -> None:
    await logged_in(site)
    before = site.state()
    token = await site.csrf(PAGE)
    files = {"csv_file": ("a.csv", f'"{CALLER}","x",""\r\n'.encode(), "text/csv")}
    for path in (PAGE, f"{PAGE}/edit", f"{PAGE}/csv/x", f"/numbers/{EXTRA}/designated"):
        refused = await site.client.post(path, data={"csrf_token": token}, files=files)
        assert refused.status_code == 415, path
    assert unchanged(site, before)


async def test_issue19_BOOK_1_a_name_with_an_ideographic_space_stays_whole_everywhere(
    site: Site,
) -> None:
    """山田　太郎: the ideographic space is a letter of a name, not a control to drop."""
    booked(site, EXTRA, (CALLER, "山田\u3000太郎", ""))
    with db.transaction(site.sessions) as s:
        service.add_designated(s, EXTRA, CALLER)
        service.add_nuisance(s, EXTRA, CALLER)
    await logged_in(site)
    edit = await site.client.get(f"{PAGE}/edit?caller={CALLER}")
    assert 'value="山田\u3000太郎"' in edit.text
    designated = await site.client.get(f"/numbers/{EXTRA}/designated")
    assert "電話帳: 山田\u3000太郎" in designated.text
    nuisance = await site.client.get(f"/numbers/{EXTRA}/nuisance")
    assert '<span class="book-name">山田\u3000太郎</span>' in nuisance.text
    saved = await site.post(
        PAGE,
        {"action": "edit", "caller": CALLER, "caller_number": CALLER, "name": "山田\u3000太郎"},
        page=f"{PAGE}/edit?caller={CALLER}",
    )
    assert saved.status_code == 303
    assert stored(site) == [(CALLER, "山田\u3000太郎", "")]
