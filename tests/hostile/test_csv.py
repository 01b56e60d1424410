"""Hostile input into the SITE-9 CSV upload (issue 12).

Random and boundary values into each of the five fields of a row, random
bytes and other encodings as the whole file: ``parse_csv`` either returns
rows or refuses with every problem in Japanese (never another exception);
a refused file leaves every table as it was, and the valid file right
after is applied. The database part runs on both backends.
"""

from __future__ import annotations

import datetime as dt
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from store import db, otp_csv, service
from store.otp_csv import CsvRefused
from tests.builders import OtpInUse, give_site_password, snapshot
from tests.hostile.conftest import hostile_text
from web.texts import ERRORS, japanese

C, E1 = "0359207146", "0359207147"
SCOPE = (C, E1)
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
CONF_ID, CONF_PW = "Kakunin82id", "kakunin7pw"
# A row that moves C's address with the current confirmation values: one field is replaced.
VALID = ["C", "1", "new@example.jp", CONF_ID, CONF_PW]
LINK = "https://site.example.jp/otp/verify"
NOW = dt.datetime(2026, 11, 23, 1, 0, tzinfo=dt.UTC)


def line_of(fields: list[str]) -> str:
    return ",".join('"' + value.replace('"', '""') + '"' for value in fields)


def refused_clearly(exc: CsvRefused) -> None:
    assert exc.problems, "a refusal names its problems"
    for line_no, error in exc.problems:
        assert line_no >= 0
        reason = japanese(error)  # what the site shows for it
        assert JAPANESE.search(reason), reason
        # Its own sentence, not the catalogue's fallback for a code it lacks.
        assert error.code in ERRORS, error.code


@settings(max_examples=80)
@given(
    data=st.one_of(
        st.binary(max_size=400), hostile_text.map(lambda t: t.encode("utf-8", "surrogatepass"))
    )
)
def test_hostile_SITE_9_any_bytes_parse_or_refuse_in_japanese(data: bytes) -> None:
    try:
        rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    except CsvRefused as exc:
        refused_clearly(exc)
        return
    assert all(row.number in SCOPE for row in rows)


@settings(max_examples=40)
@given(
    text=st.sampled_from(
        [line_of([C, "0", "", "", ""]), line_of([C, "1", "あ@example.jp", "", ""])]
    ),
    encoding=st.sampled_from(
        ["utf-8", "utf-8-sig", "cp932", "utf-16", "utf-16-le", "latin-1", "utf-32"]
    ),
)
def test_hostile_SITE_9_encodings(text: str, encoding: str) -> None:
    try:
        data = (text + "\r\n").encode(encoding)
    except UnicodeEncodeError:
        return
    try:
        otp_csv.parse_csv(data, allowed_numbers=SCOPE)
    except CsvRefused as exc:
        refused_clearly(exc)


@pytest.fixture
def contract_in_otp(sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """C has a site password and an enrolled OTP address (the proof path); E1 has neither."""
    with db.transaction(sessions) as s:
        service.add_line(s, C, timezone="Asia/Tokyo")
        service.add_number(s, C, E1, timezone="Asia/Tokyo")
        give_site_password(s, C, now=NOW, otp=OtpInUse("otp@example.jp", CONF_ID, CONF_PW))
    return sessions


def upload(sessions: sessionmaker[Session], data: bytes) -> otp_csv.CsvApplied:
    """As the site does it: parse, check, argon2, then apply."""
    rows = otp_csv.parse_csv(data, allowed_numbers=SCOPE, max_rows=5)
    with db.transaction(sessions, read_only=True) as s:
        proofs = otp_csv.check_rows(s, rows)
    rows = otp_csv.with_hashes(rows, proofs)
    with db.transaction(sessions) as s:
        return otp_csv.apply_csv(s, rows, link_base=LINK, sender="s@example.jp", now=NOW)


@settings(max_examples=40)
@given(
    column=st.integers(min_value=0, max_value=4), value=hostile_text, extra_rows=st.integers(0, 6)
)
def test_hostile_SITE_9_every_field_of_a_row(
    contract_in_otp: sessionmaker[Session], column: int, value: str, extra_rows: int
) -> None:
    fields = [C if f == "C" else f for f in VALID]
    fields[column] = value
    rows = [line_of(fields)] + [line_of([E1, "0", "", "", ""])] * extra_rows
    data = "\r\n".join(rows).encode("utf-8", "surrogatepass")
    before = snapshot(contract_in_otp.kw["bind"])
    try:
        upload(contract_in_otp, data)
    except CsvRefused as exc:
        refused_clearly(exc)
        assert snapshot(contract_in_otp.kw["bind"]) == before
    # The next valid file still works.
    valid = upload(contract_in_otp, (line_of([C, "1", "otp@example.jp", "", ""]) + "\r\n").encode())
    assert valid.changed + valid.unchanged == (C,)
