"""Issue 13: a failed POST renders its page from what the POST already loaded.

The handler of a number's form has loaded the session (one write: its idle
time moves on), the login's scope (SITE-1) and the number; a refused form
is shown again from those, not by loading the page a second time. The
SQL statements the site's engine runs say it: one load of the session row
per request, and a refused form runs what the GET of its page runs to load
the session, the scope and the number, and nothing more.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event
from sqlalchemy.engine import Engine

from store.models import AuthUnit
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio


@contextmanager
def statements(site: Site) -> Iterator[list[str]]:
    """The SQL statements the site runs inside the block, in order."""
    engine: Engine = site.sessions.kw["bind"]
    seen: list[str] = []

    def record(
        _conn: Any, _cursor: Any, statement: str, _params: Any, _context: Any, _many: bool
    ) -> None:
        seen.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def session_loads(seen: list[str]) -> list[str]:
    """The loads of the session row (each one a write transaction that moves its idle time)."""
    return [s for s in seen if s.startswith("SELECT site_session.")]


async def test_issue13_MAIL_3_a_refused_address_form_renders_from_what_the_post_loaded(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    page = f"/numbers/{EXTRA}/addresses"
    token = await site.csrf(page)
    site.clock.advance(seconds=1)  # each request moves the session's idle time on
    with statements(site) as shown:
        assert (await site.client.get(page)).status_code == 200
    site.clock.advance(seconds=1)
    with statements(site) as refused:
        response = await site.client.post(
            page, data={"csrf_token": token, "address_1": "no-at-sign", "send_1": "1"}
        )
    assert response.status_code == 400
    assert "「@」は1つだけ含めてください。" in response.text
    assert 'value="no-at-sign"' in response.text  # the rows as typed
    assert len(session_loads(shown)) == 1
    assert len(session_loads(refused)) == 1, refused
    # What the GET runs to load the session, the scope and the number, and nothing more.
    assert refused == shown[: len(refused)], (refused, shown)


async def test_issue13_MAIL_5_a_refused_designated_form_loads_the_session_and_scope_once(
    site: Site,
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
    page = f"/numbers/{EXTRA}/designated"
    token = await site.csrf(page)
    site.clock.advance(seconds=1)  # each request moves the session's idle time on
    with statements(site) as shown:
        assert (await site.client.get(page)).status_code == 200
    site.clock.advance(seconds=1)
    with statements(site) as refused:
        response = await site.client.post(
            page,
            data={"csrf_token": token, "rows": "1", "caller_number_1": "12x", "designated_1": "1"},
        )
    assert response.status_code == 400
    assert len(session_loads(refused)) == 1, refused
    assert refused == shown[: len(refused)], (refused, shown)


async def test_issue13_MAIL_1_a_refused_service_change_loads_the_session_once(
    site: Site,
) -> None:
    await site.establish(EXTRA, EXTRA, AuthUnit.NUMBER, GOOD)
    page = f"/numbers/{EXTRA}"
    token = await site.csrf(page)
    site.clock.advance(seconds=1)
    with statements(site) as refused:
        response = await site.client.post(
            f"{page}/service", data={"csrf_token": token, "action": "start"}
        )
    assert response.status_code == 400
    assert "送信先メールアドレスを登録してから開始してください。" in response.text
    assert len(session_loads(refused)) == 1, refused
