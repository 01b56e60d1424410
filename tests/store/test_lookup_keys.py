"""A key that cannot be stored is not looked up (issue 18).

The API, the CLI and the site pass numbers as people type them. On PostgreSQL
a NUL in a query parameter is refused by the database itself, so a lookup of
``"03\\x00"`` came back as a database error (``StoreUnavailable``, 503 in the
API) where SQLite said "no such number". A stored number or contract number
is ASCII digits of at most 20: anything else is simply not there.
"""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session, sessionmaker

from store import db, service
from store.errors import NotFound

UNSTORABLE = ["03\x00", "\x00", "０３１２３４５６７８", "0" * 21, "9" * 5000, "03-1234-5678", ""]


@pytest.mark.parametrize("key", UNSTORABLE)
def test_issue18_get_number_of_an_unstorable_key_is_not_found(
    line: sessionmaker[Session], key: str
) -> None:
    with db.transaction(line) as s:
        with pytest.raises(NotFound):
            service.get_number(s, key)
        with pytest.raises(NotFound):
            service.get_number(s, key, lock=True)
        with pytest.raises(NotFound):
            service.get_line(s, key)
        assert service.find_number(s, key) is None
