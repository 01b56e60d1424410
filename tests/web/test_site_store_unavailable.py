"""The store cannot answer (``store.errors.StoreUnavailable``): the site says so, with a 503.

``StoreUnavailable`` is the one error class of a store that cannot be used
now; ``db.DatabaseError`` is one of them. Whichever a store call raises, a
logged-in page answers with the site's Japanese page and a 503 (OPS-4: the
event ``site_database_unavailable`` is logged), never a 500.
"""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs

from store import db, otp_csv
from store.errors import StoreUnavailable
from store.models import AuthUnit
from tests.web.conftest import CONTRACT, Site
from tests.web.steps import GOOD
from web.texts import page

pytestmark = pytest.mark.asyncio


@pytest.mark.parametrize(
    "error",
    [
        StoreUnavailable("database is locked"),
        db.DatabaseError("cannot open database", code="database_unavailable"),
    ],
    ids=["StoreUnavailable", "DatabaseError"],
)
async def test_OPS_4_a_store_that_cannot_answer_is_a_503_page(
    site: Site, monkeypatch: pytest.MonkeyPatch, error: StoreUnavailable
) -> None:
    await site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)

    def unavailable(*args: object, **kwargs: object) -> bytes:
        raise error

    monkeypatch.setattr(otp_csv, "export_csv", unavailable)
    with capture_logs() as logs:
        answered = await site.client.get("/otp/csv/download")
    assert answered.status_code == 503, answered.text[:300]
    assert page("unavailable.title") in answered.text
    assert page("unavailable.retry") in answered.text
    assert [e["error"] for e in logs if e["event"] == "site_database_unavailable"] == [
        error.message
    ]
