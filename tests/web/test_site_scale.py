"""Issue 18 (100,000 numbers): the number list and search read what they show, no more.

bench/scale.py times the list of a line of 1,000 numbers; here, without
timing, the list's SQL reads no address and no designated-number rows (it
loaded every setting of every number before) and shows the same thing.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa

from store import db, service
from store.models import AuthUnit
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

MORE = [f"031235{i:04d}" for i in range(40)]


async def test_issue18_number_list_reads_no_settings_rows_and_shows_started(site: Site) -> None:
    with db.transaction(site.sessions) as s:
        for number in MORE:
            service.add_number(s, CONTRACT, number, timezone="Asia/Tokyo")
            service.add_address(s, number, "desk@example.jp")
        service.start_mail(s, MORE[0])
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    seen: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        seen.append(statement)

    engine = site.sessions.kw["bind"]
    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        page = await site.client.get("/numbers")
        searched = await site.client.get("/numbers", params={"q": "031235*1"})
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
    assert page.status_code == 200 and searched.status_code == 200
    read = " ".join(seen)
    assert "destination_address" not in read and "designated_number" not in read
    shown = re.findall(r"/numbers/(0\d{9,10})\"", page.text)
    assert set(shown) == {CONTRACT, EXTRA, *MORE}
    started = re.findall(r'/numbers/(0\d{9,10})">[^<]*</a></td><td>開始中', page.text)
    assert started == [MORE[0]]
    found = re.findall(r"/numbers/(0\d{9,10})\"", searched.text)
    assert set(found) == {n for n in MORE if n.endswith("1")}
