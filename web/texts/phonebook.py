"""Issue 19: the phonebook's Japanese text (part of the one catalogue, ``web.texts``).

``ERRORS`` words the store's refusals about phonebook entries and their CSV
(joined into ``web.texts.ERRORS``); ``PAGES`` the phonebook page's own
sentences (joined into ``web.texts.PAGES``).
"""

from __future__ import annotations

ERRORS: dict[str, str] = {
    # BOOK-1: an entry's values (store.validation.caller_name / phonebook_note,
    # store.phonebook.stored_caller_number).
    "caller_name_empty": "名前を入力してください。",
    "caller_name_too_long": "名前は{max}文字以内で入力してください。",
    "caller_name_control": (
        "名前に使えない文字(改行、タブ、制御文字、文字の向きを変える記号、"
        "表示されない文字など)が含まれています。"
    ),
    "phonebook_note_too_long": "メモは{max}文字以内で入力してください。",
    "phonebook_note_control": (
        "メモに使えない文字(改行、タブ、制御文字、文字の向きを変える記号、"
        "表示されない文字など)が含まれています。"
    ),
    "phonebook_number_not_digits": (
        "電話番号は数字で入力してください(ハイフンはあってもなくてもかまいません)。"
    ),
    "phonebook_number_format": (
        "電話番号は市外局番から入力してください(0から始まる10～18桁。海外の番号は010から)。"
    ),
    # BOOK-1: the book of a number.
    "phonebook_entry_exists": "この電話番号はすでに電話帳に登録されています。",
    "phonebook_entry_twice": "電話番号{number}が2回入力されています。",
    "phonebook_entry_not_found": (
        "この電話番号は電話帳に登録されていません(すでに削除されています)。"
    ),
    "phonebook_full": (
        "電話帳に登録できるのは{max}件までです。登録する場合は、先にいずれかを削除してください。"
    ),
    # BOOK-1: the CSV file (store.phonebook_csv); a problem of a line is shown with its line.
    "phonebook_csv_refused": "CSVファイルに誤りがあるため、電話帳は変更していません。",
    "phonebook_csv_empty": (
        "CSVファイルに登録する行がありません(電話帳を空にする場合は、画面から削除してください)。"
    ),
    "phonebook_csv_too_large": "CSVファイルが大きすぎます({max}バイトまで)。",
    "phonebook_csv_too_many_rows": (
        "CSVファイルの行数が多すぎます。電話帳に登録できるのは{max}件までです。"
    ),
    "phonebook_csv_encoding": (
        "CSVファイルの文字コードが正しくありません。UTF-8またはShift_JISで保存してください。"
    ),
    "phonebook_csv_line_ending": (
        "改行コードが「CR+LF」ではありません。改行コードを「CR+LF」にして保存してください。"
    ),
    "phonebook_csv_quoting": '「"」(ダブルクォーテーション)の使い方が正しくありません。',
    "phonebook_csv_field_count": (
        "項目の数が正しくありません(電話番号、名前、メモの3項目のところ、{count}項目あります)。"
    ),
    "phonebook_csv_leading_zero": (
        "電話番号の先頭の「0」が欠けています(表計算ソフトで保存すると欠けることがあります)。"
    ),
    "phonebook_csv_duplicate": "電話番号が{line}行目と重複しています。",
    "phonebook_csv_unencodable": (
        "次の電話番号の名前またはメモに、Shift_JISで表せない文字があります。"
        "UTF-8でダウンロードしてください: {numbers}"
    ),
    "phonebook_csv_encoding_choice": "文字コードはUTF-8またはShift_JISを選択してください。",
    "phonebook_csv_row_refused": "CSVファイルの内容が正しくありません。",
}

PAGES: dict[str, str] = {
    # The phonebook page of one number (web.pages.phonebook, BOOK-1).
    "phonebook.title": "電話帳",
    "phonebook.edit_title": "電話帳の登録内容の変更",
    "phonebook.added": "電話帳に登録しました。",
    "phonebook.updated": "登録内容を変更しました。",
    "phonebook.removed": "電話帳から削除しました。",
    "phonebook.imported": "CSVファイルの内容で電話帳を置き換えました(登録件数: {count}件)。",
    "phonebook.number_empty": "電話番号を入力してください。",
    "phonebook.gone": "この電話番号は電話帳に登録されていません(すでに削除されています)。",
    "phonebook.no_file": "CSVファイルを選択してください。",
    "phonebook.file_refused": "CSVファイルに誤りがあるため、電話帳は変更していません。",
}
