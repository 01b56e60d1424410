"""Issue 19 (BOOK-1), in Chromium at 375 px against ``chakushin serve``: a subscriber
on a phone keeps the number's phonebook.

From the number's サービス選択 to 電話帳: an entry added as people type its number,
a refusal said by its field, the entry changed on its own page, the book
downloaded in Shift_JIS and a CSV file uploaded (first one with a wrong line,
refused by line with nothing changed, then one that replaces the book); the
names then show beside the designated numbers and the nuisance entries
(MAIL-5, CALL-2). Every page is checked and saved as screenshots
(tests/web/browser/screens.py).
"""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page
from sqlalchemy.orm import Session, sessionmaker

from store import db, phonebook, service
from store.models import AuthUnit
from tests.web.browser.screens import Shots, decline_otp, first_login, press, set_temp_password
from tests.web.conftest import EXTRA, TEMP
from tests.web.steps import GOOD
from web.texts import page as text

CALLER, OTHER = "0398765432", "09012345678"


def book_of(sessions: sessionmaker[Session]) -> list[tuple[str, str, str]]:
    with db.transaction(sessions, read_only=True) as s:
        return [(e.caller_number, e.name, e.note) for e in phonebook.entries(s, EXTRA)]


def test_issue19_BOOK_1_a_phone_keeps_the_phonebook_and_sees_the_names_beside_numbers(
    page: Page, shots: Shots, site_url: str, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    with db.transaction(sessions) as s:
        service.add_designated(s, EXTRA, CALLER)
        service.add_nuisance(s, EXTRA, OTHER)
    set_temp_password(sessions, EXTRA, EXTRA, AuthUnit.NUMBER, TEMP)
    first_login(page, site_url, EXTRA, TEMP, GOOD)
    decline_otp(page)

    press(page, "サービス選択")  # one number: straight to its サービス選択
    shots.take(text("services.title"), number=EXTRA)
    press(page, "電話帳(発信者の名前)")
    shots.take(text("phonebook.title"), number=EXTRA)
    assert "登録件数: 0件(300件まで)" in page.locator("main").inner_text()

    # An entry as people type its number; then a refusal by its field.
    page.fill("#caller_number", "03-9876-5432")
    page.fill("#name", "山田商事")
    page.fill("#note", "取引先")
    press(page, "登録")
    shots.take(text("phonebook.title"), number=EXTRA)
    assert text("phonebook.added") in page.locator("main").inner_text()
    assert book_of(sessions) == [(CALLER, "山田商事", "取引先")]
    page.fill("#caller_number", OTHER)
    press(page, "登録")  # no name
    shots.take(text("phonebook.title"), number=EXTRA)
    assert page.locator("#name-error").count() == 1
    assert page.locator("#caller_number").input_value() == OTHER  # kept as typed

    # The entry changed on its own page.
    page.locator("table.book a").first.click()
    shots.take(text("phonebook.edit_title"), number=EXTRA)
    page.fill("#name", "山田商事 本社")
    press(page, "変更")
    shots.take(text("phonebook.title"), number=EXTRA)
    assert book_of(sessions) == [(CALLER, "山田商事 本社", "取引先")]

    # Downloaded in Shift_JIS for a spreadsheet.
    page.get_by_label("Shift_JIS(表計算ソフト向け)").check()
    with page.expect_download() as download:
        press(page, "ダウンロード")
    saved = tmp_path / "book.csv"
    download.value.save_as(saved)
    assert (
        saved.read_bytes().decode("cp932").splitlines()[1] == f'"{CALLER}","山田商事 本社","取引先"'
    )

    # A file with a wrong line: refused by line, nothing changed; then one that replaces it.
    wrong = tmp_path / "wrong.csv"
    wrong.write_bytes(f'"{CALLER}","山田商事",""\r\n"03-x","誤り",""\r\n'.encode("cp932"))
    page.set_input_files("#csv_file", str(wrong))
    press(page, "CSVファイルで登録")
    shots.take(text("phonebook.title"), number=EXTRA)
    assert "2行目:" in page.locator("main .alert").inner_text()
    assert book_of(sessions) == [(CALLER, "山田商事 本社", "取引先")]
    good = tmp_path / "good.csv"
    good.write_bytes(f'"{CALLER}","山田商事",""\r\n"{OTHER}","佐藤",""\r\n'.encode("cp932"))
    page.set_input_files("#csv_file", str(good))
    press(page, "CSVファイルで登録")
    shots.take(text("phonebook.title"), number=EXTRA)
    assert text("phonebook.imported", count=2) in page.locator("main").inner_text()
    assert book_of(sessions) == [(CALLER, "山田商事", ""), (OTHER, "佐藤", "")]

    # The names beside the designated numbers and the nuisance entries.
    page.goto(f"{site_url}/numbers/{EXTRA}/designated")
    shots.take(text("designated.title"), number=EXTRA)
    assert page.locator("#caller_number_1-name").inner_text() == "電話帳: 山田商事"
    page.goto(f"{site_url}/numbers/{EXTRA}/nuisance")
    shots.take(text("nuisance.title"), number=EXTRA)
    assert "佐藤" in page.locator("main table").inner_text()
    assert len(shots.files()) == 2 * shots.count
