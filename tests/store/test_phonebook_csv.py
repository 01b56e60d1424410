"""Issue 19 (BOOK-1): the phonebook CSV file, down and up, and hostile files."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import db, phonebook, phonebook_csv
from store.errors import InvalidInput
from store.otp_csv import FILE
from store.phonebook import Entry
from store.phonebook_csv import CsvUnencodable, PhonebookCsvRefused
from tests.builders import E1, snapshot
from web.texts import japanese

HEADER = '"number","name","note"\r\n'


def _problems(data: bytes) -> list[tuple[int, str]]:
    with pytest.raises(PhonebookCsvRefused) as err:
        phonebook_csv.parse(data)
    assert err.value.code == "phonebook_csv_refused"
    return [(line, error.code) for line, error in err.value.problems]


def test_BOOK_1_render_is_crlf_quoted_utf8_with_a_header() -> None:
    data = phonebook_csv.render(
        [Entry("0311112222", '佐藤 "本店"', ""), Entry("0398765432", "山田商事", "経理, 本社")]
    )
    assert data.startswith(b"\xef\xbb\xbf")
    assert data.decode("utf-8-sig") == (
        HEADER + '"0311112222","佐藤 ""本店""",""\r\n"0398765432","山田商事","経理, 本社"\r\n'
    )


def test_BOOK_1_render_shift_jis_or_a_clear_refusal() -> None:
    data = phonebook_csv.render([Entry("0398765432", "山田商事～①", "")], encoding="shift_jis")
    assert data.decode("cp932") == HEADER + '"0398765432","山田商事～①",""\r\n'
    with pytest.raises(CsvUnencodable) as err:
        phonebook_csv.render(
            [Entry("0311112222", "佐藤", ""), Entry("0398765432", "😀カフェ", "")],
            encoding="shift_jis",
        )
    assert err.value.params == {"numbers": ("0398765432",)}
    assert "0398765432" in japanese(err.value)
    with pytest.raises(InvalidInput):
        phonebook_csv.render([], encoding="latin-1")


@pytest.mark.parametrize("sign", ["‖", "¢", "£", "¬"])
def test_BOOK_1_shift_jis_is_refused_for_a_character_it_would_change(sign: str) -> None:
    """cp932 writes ‖ ¢ £ ¬ as ∥ ￠ ￡ ￢: the file would not upload as the book it came from,
    so the download names the entry as it names an emoji's (UTF-8 keeps it)."""
    entries = [Entry("0398765432", f"山田{sign}商事", "")]
    with pytest.raises(CsvUnencodable) as err:
        phonebook_csv.render(entries, encoding="shift_jis")
    assert err.value.params == {"numbers": ("0398765432",)}
    assert phonebook_csv.parse(phonebook_csv.render(entries)) == [
        ("0398765432", f"山田{sign}商事", "")
    ]


@pytest.mark.parametrize(
    ("name", "cell"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK(""http://evil"")'),
        ("+81 山田", "'+81 山田"),
        ("-1+1", "'-1+1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("＝ＳＵＭ", "'＝ＳＵＭ"),
        ("'山田", "''山田"),
        ("山田=商事", "山田=商事"),
    ],
)
def test_BOOK_1_formula_cells_are_defused_and_come_back_the_same(name: str, cell: str) -> None:
    data = phonebook_csv.render([Entry("0398765432", name, name)])
    assert f'"0398765432","{cell}","{cell}"\r\n' in data.decode("utf-8-sig")
    assert phonebook_csv.parse(data) == [("0398765432", name, name)]


def test_BOOK_1_parse_takes_what_people_save() -> None:
    utf8 = HEADER + '"03-9876-5432"," 山田商事 ","経理"\r\n0311112222,佐藤\r\n\r\n'
    rows = [("0398765432", "山田商事", "経理"), ("0311112222", "佐藤", "")]
    assert phonebook_csv.parse(utf8.encode()) == rows
    assert phonebook_csv.parse(b"\xef\xbb\xbf" + utf8.encode()) == rows
    sjis = '"電話番号","名前","メモ"\r\n"0398765432","山田商事","経理"\r\n"0311112222","佐藤",""'
    assert phonebook_csv.parse(sjis.encode("cp932")) == rows
    # Excel ends a sheet whose cells were once filled with rows of commas only: blank lines.
    excel = sjis + '\r\n,,\r\n"","",""\r\n , ,\r\n'
    assert phonebook_csv.parse(excel.encode("cp932")) == rows


def test_BOOK_1_parse_reports_every_problem_by_line() -> None:
    data = (
        HEADER
        + '"0398765432","山田商事",""\r\n'  # 2: fine
        + '"398765432","ゼロ落ち",""\r\n'  # 3
        + '"03-9876-5432","二度目",""\r\n'  # 4
        + '"abc","","x"\r\n'  # 5: two problems
        + '"0311112222","'
        + "x" * 41
        + '",""\r\n'  # 6
        + '"0311113333","a\u202eb",""\r\n'  # 7
        + '"0311114444","ok","'
        + "n" * 101
        + '"\r\n'  # 8
        + '"0311115555","ok","x","extra"\r\n'  # 9
        + '"0311116666,"ok"\r\n'  # 10
        + '"0311117777","a\x00b",""\r\n'  # 11
    ).encode()
    assert _problems(data) == [
        (3, "phonebook_csv_leading_zero"),
        (4, "phonebook_csv_duplicate"),
        (5, "phonebook_number_not_digits"),
        (5, "caller_name_empty"),
        (6, "caller_name_too_long"),
        (7, "caller_name_control"),
        (8, "phonebook_note_too_long"),
        (9, "phonebook_csv_field_count"),
        (10, "phonebook_csv_quoting"),
        (11, "caller_name_control"),
    ]


def test_BOOK_1_every_problem_has_its_japanese_sentence() -> None:
    data = (HEADER + '"03-9876-5432","x",""\r\n"0398765432","y",""\r\n').encode()
    with pytest.raises(PhonebookCsvRefused) as err:
        phonebook_csv.parse(data)
    assert japanese(err.value) == "CSVファイルに誤りがあるため、電話帳は変更していません。"
    [(line, error)] = err.value.problems
    assert (line, japanese(error)) == (3, "電話番号が2行目と重複しています。")


def test_BOOK_1_a_cr_or_lf_inside_a_line_refuses_the_file() -> None:
    """A bare LF or CR (a name spread over lines, or a file saved on a Mac) is not CR+LF."""
    assert _problems(b'"0398765432","a\nBcc: x@example.com",""\r\n') == [
        (1, "phonebook_csv_line_ending"),
        (1, "phonebook_csv_quoting"),
        (2, "phonebook_csv_quoting"),
    ]
    assert (1, "phonebook_csv_line_ending") in _problems(b'"0398765432","a"\r"0311112222","b"')


def test_BOOK_1_301_rows_are_refused_before_any_value_is_read() -> None:
    rows = "".join(f'"03{i:08d}","名前{i}",""\r\n' for i in range(301))
    assert _problems((HEADER + rows).encode()) == [(FILE, "phonebook_csv_too_many_rows")]
    three_hundred = "".join(f'"03{i:08d}","名前{i}",""\r\n' for i in range(300))
    assert len(phonebook_csv.parse((HEADER + three_hundred).encode())) == 300


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "phonebook_csv_empty"),
        (b"\r\n\r\n", "phonebook_csv_empty"),
        (HEADER.encode(), "phonebook_csv_empty"),
        (b"\xff\xfe\x00\x00\x80\x81", "phonebook_csv_encoding"),
        (b'"0398765432","\x82"\r\n', "phonebook_csv_encoding"),  # a cut Shift_JIS letter
        (b"x" * (phonebook_csv.MAX_CSV_BYTES + 1), "phonebook_csv_too_large"),
    ],
)
def test_BOOK_1_empty_undecodable_and_huge_files_are_refused(data: bytes, code: str) -> None:
    assert _problems(data) == [(FILE, code)]


def test_BOOK_1_upload_replaces_the_book_or_stores_nothing(line: sessionmaker[Session]) -> None:
    with db.transaction(line) as s:
        phonebook.add_entry(s, E1, "0398765432", "=cmd|' /C calc'!A0", "@SUM(1)")
        phonebook.add_entry(s, E1, "0311112222", "佐藤")
        exported = phonebook_csv.render(phonebook.entries(s, E1), encoding="shift_jis")
    before = snapshot(line.kw["bind"])
    bad = exported + b'"0322223333","a\r\n'
    with pytest.raises(PhonebookCsvRefused), db.transaction(line) as s:
        phonebook.replace_entries(s, E1, phonebook_csv.parse(bad))
    assert snapshot(line.kw["bind"]) == before
    with db.transaction(line) as s:
        phonebook.replace_entries(s, E1, phonebook_csv.parse(exported))
    assert snapshot(line.kw["bind"]) == before
    with db.transaction(line, read_only=True) as s:
        assert phonebook.entries(s, E1) == [
            Entry("0311112222", "佐藤", ""),
            Entry("0398765432", "=cmd|' /C calc'!A0", "@SUM(1)"),
        ]
