"""The pages of requests the site cannot serve: a body refused before it was read
(issue 12 item 12), a page that does not exist, the database unreachable.
"""

from __future__ import annotations

import structlog
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope

from store import db
from web.pages.base import CSV_UPLOAD_PATH, Plumbing
from web.texts import page

log = structlog.get_logger("web")


def size_label(size: int) -> str:
    """A byte count as the page says it: 64KB, 1MB."""
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)}MB"
    if size >= 1024:
        return f"{size // 1024}KB"
    return page("body.bytes", size=size)


class ErrorPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def refuse_body(self, scope: Scope, status: int, kind: str) -> Response:
        """Issue 12 item 12: a request refused by ``web.limits`` before it was read."""
        config = self.base.deps.config
        upload = scope.get("path") == CSV_UPLOAD_PATH
        limit = config.max_csv_upload_bytes if upload else config.max_form_bytes
        lines = {
            "too_large": [page("body.too_large", size=size_label(limit))],
            "no_files": [page("body.no_files")],
            "bad_length": [page("body.bad_length")],
        }[kind]
        return self.base.message(
            Request(scope), page("body.title"), lines, link=("/", page("link.top")), status=status
        )

    async def not_found(self, request: Request, _exc: Exception) -> Response:
        return self.base.message(
            request,
            page("not_found.title"),
            [page("not_found.lines")],
            link=("/", page("link.top")),
            status=404,
        )

    async def unavailable(self, request: Request, exc: Exception) -> Response:
        log.error("site_database_unavailable", error=db.first_line(exc))
        return self.base.message(
            request,
            page("unavailable.title"),
            [page("unavailable.retry")],
            link=("/", page("link.top")),  # to try again
            status=503,
        )
