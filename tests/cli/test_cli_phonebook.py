"""Issue 19 (BOOK-1): ``chakushin phonebook``, in-process, on both databases."""

from __future__ import annotations

from pathlib import Path

from store import phonebook_csv
from tests.cli.conftest import Chakushin

NUMBER = "0312345678"
HEADER = '"number","name","note"\r\n'


def _line(chakushin: Chakushin) -> None:
    chakushin("line", "add", NUMBER)


def test_BOOK_1_cli_add_list_edit_remove(chakushin: Chakushin) -> None:
    _line(chakushin)
    added = chakushin("phonebook", "add", NUMBER, "03-9876-5432", "山田商事", "--note", "経理")
    assert added.stdout == f"{NUMBER}: added 0398765432  山田商事  (経理) (1/300)\n"
    chakushin("phonebook", "add", NUMBER, "0311112222", "佐藤")
    assert chakushin.json("phonebook", "list", NUMBER) == {
        "number": NUMBER,
        "count": 2,
        "max": 300,
        "entries": [
            {"caller_number": "0311112222", "name": "佐藤", "note": ""},
            {"caller_number": "0398765432", "name": "山田商事", "note": "経理"},
        ],
    }
    edited = chakushin.json(
        "phonebook", "edit", NUMBER, "0311112222", "--name", "佐藤工業", "--number", "0311113333"
    )
    assert edited["changed"] == {"caller_number": "0311113333", "name": "佐藤工業", "note": ""}
    chakushin("phonebook", "edit", NUMBER, "0398765432", "--note", "")
    listed = chakushin("phonebook", "list", NUMBER).stdout
    assert listed == (
        f"{NUMBER}: phonebook (2/300)\n  0311113333  佐藤工業\n  0398765432  山田商事\n"
    )
    removed = chakushin("phonebook", "remove", NUMBER, "03-1111-3333")
    assert removed.stdout == f"{NUMBER}: removed 0311113333 (1/300)\n"


def test_BOOK_1_cli_refusals_write_nothing(chakushin: Chakushin) -> None:
    _line(chakushin)
    chakushin("phonebook", "add", NUMBER, "0398765432", "山田商事")
    for args, words in [
        (("add", NUMBER, "0398765432", "二度目"), "already in the phonebook"),
        (("add", NUMBER, "0311112222", "a\r\nBcc: x@example.com"), "control"),
        (("add", NUMBER, "0311112222", "\u202eabc"), "control"),
        (("add", NUMBER, "0311112222", "x" * 41), "at most 40"),
        (("add", NUMBER, "0311112222", ""), "empty"),
        (("add", NUMBER, "0311112222", "ok", "--note", "\x00"), "control"),
        (("add", NUMBER, "anonymous", "ok"), "10 to 18 digits"),
        (("add", "0399999999", "0311112222", "ok"), "no subscriber number"),
        (("edit", NUMBER, "0311112222", "--name", "x"), "not in the phonebook"),
        (("edit", NUMBER, "0398765432", "--name", "x" * 41), "at most 40"),
        (("remove", NUMBER, "0311112222"), "not in the phonebook"),
        (("edit", NUMBER, "0398765432"), "nothing to change"),
    ]:
        stderr = chakushin.refused("phonebook", *args)
        assert words in stderr, (args, stderr)
        assert "\r" not in stderr and "\u202e" not in stderr


def test_BOOK_1_cli_export_and_import_round_trip(chakushin: Chakushin, tmp_path: Path) -> None:
    _line(chakushin)
    chakushin("phonebook", "add", NUMBER, "0398765432", "=HYPERLINK(1)", "--note", "@x")
    chakushin("phonebook", "add", NUMBER, "0311112222", "佐藤")
    out = tmp_path / "book.csv"
    done = chakushin("phonebook", "export", NUMBER, "--encoding", "shift_jis", "-o", str(out))
    assert "2 entries written" in done.stdout
    assert out.read_bytes().decode("cp932") == (
        HEADER + '"0311112222","佐藤",""\r\n"0398765432","\'=HYPERLINK(1)","\'@x"\r\n'
    )
    on_stdout = chakushin("phonebook", "export", NUMBER).stdout_bytes
    assert on_stdout.startswith(b"\xef\xbb\xbf") and b"'=HYPERLINK(1)" in on_stdout
    before = chakushin.json("phonebook", "list", NUMBER)
    replaced = chakushin("phonebook", "import", NUMBER, str(out))
    assert "phonebook replaced" in replaced.stdout
    assert chakushin.json("phonebook", "list", NUMBER) == before
    new = tmp_path / "new.csv"
    new.write_bytes(('"0300000001","鈴木",""\r\n').encode())
    assert chakushin.json("phonebook", "import", NUMBER, str(new))["entries"] == [
        {"caller_number": "0300000001", "name": "鈴木", "note": ""}
    ]


def test_BOOK_1_cli_import_refuses_bad_files_whole(chakushin: Chakushin, tmp_path: Path) -> None:
    _line(chakushin)
    chakushin("phonebook", "add", NUMBER, "0398765432", "山田商事")
    bad = tmp_path / "bad.csv"
    bad.write_bytes(
        (
            HEADER + '"0311112222","ok",""\r\n"398765432","ゼロ落ち",""\r\n"0311112222","x",""\r\n'
        ).encode()
    )
    stderr = chakushin.refused("phonebook", "import", NUMBER, str(bad))
    assert "line 3" in stderr and "leading 0" in stderr and "line 4" in stderr
    rows = tmp_path / "rows.csv"
    rows.write_bytes("".join(f'"03{i:08d}","n{i}",""\r\n' for i in range(301)).encode())
    assert "more than 300 rows" in chakushin.refused("phonebook", "import", NUMBER, str(rows))
    huge = tmp_path / "huge.csv"
    huge.write_bytes(b"x" * (phonebook_csv.MAX_CSV_BYTES * 4))
    assert "larger than" in chakushin.refused("phonebook", "import", NUMBER, str(huge))
    sjis = tmp_path / "sjis-bad.csv"
    sjis.write_bytes(b'"0311112222","\x82"\r\n')
    assert "neither UTF-8 nor Shift_JIS" in chakushin.refused(
        "phonebook", "import", NUMBER, str(sjis)
    )
    assert "cannot read" in chakushin.refused(
        "phonebook", "import", NUMBER, str(tmp_path / "missing.csv")
    )


def test_BOOK_1_cli_export_refuses_what_shift_jis_cannot_hold(
    chakushin: Chakushin, tmp_path: Path
) -> None:
    _line(chakushin)
    chakushin("phonebook", "add", NUMBER, "0398765432", "😀カフェ")
    stderr = chakushin.refused(
        "phonebook", "export", NUMBER, "--encoding", "shift_jis", "-o", str(tmp_path / "x.csv")
    )
    assert "0398765432" in stderr and "UTF-8" in stderr
    assert not (tmp_path / "x.csv").exists()
