"""Pages of the API's lists: ``?limit=`` (1-1000, default 100) and ``?cursor=``.

A cursor is opaque to the client: the key of the last item of the page before
(for numbers, its digits), so a page costs the same at 100 numbers and at
100,000 (keyset, never OFFSET). ``next_cursor`` is null on the last page.
"""

from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel

T = TypeVar("T")

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_CURSOR = 100

Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1-1000).")]
Cursor = Annotated[
    str | None,
    Query(
        max_length=MAX_CURSOR,
        pattern=r"^[0-9A-Za-z_.-]+$",
        description="next_cursor of the page before; absent for the first page.",
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None
