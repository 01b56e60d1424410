"""Request bodies bounded per route, before anything parses them (issue 12 item 12).

Starlette spools a multipart body to disk as it parses it, and reads a
urlencoded one whole, both before a handler can look at the CSRF token.
So this middleware comes first: it refuses a declared ``Content-Length``
over the route's limit before parsing a byte, counts the bytes of a body
sent without one (chunked) while it reads them and stops at the limit, and
refuses a file part (``multipart/form-data``) anywhere but the routes that
take a file. Only a body that fits is handed on, from memory.

A refused body declared up to ``DRAIN_BYTES`` is read to its end (and
dropped) before the answer: a browser is still uploading when the answer
is ready, and closing on the unread rest makes the kernel reset the
connection, so the subscriber saw the browser's own error, not the page
that says what was wrong. A larger one is answered at once and the
connection closed; nothing of either is kept.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import structlog
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("web.limits")

TOO_LARGE = 413
NO_FILES = 415
BAD_LENGTH = 400

# A refused body declared up to this size is read to its end before the answer.
DRAIN_BYTES = 1024 * 1024

# (scope, status, kind) -> the Japanese page: kind is "too_large", "no_files" or "bad_length".
Refusal = Callable[[Scope, int, str], Awaitable[Response]]


class BodyLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        limit_for: Callable[[Scope], int],
        takes_files: Callable[[Scope], bool],
        refuse: Refusal,
    ) -> None:
        self.app = app
        self.limit_for = limit_for
        self.takes_files = takes_files
        self.refuse = refuse

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(scope)
        media_type = headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type.startswith("multipart/") and not self.takes_files(scope):
            await self._refuse(scope, receive, send, NO_FILES, "no_files")
            return
        declared = headers.getlist("content-length")
        if declared:
            if len(set(declared)) != 1 or not declared[0].isascii() or not declared[0].isdigit():
                await self._refuse(scope, receive, send, BAD_LENGTH, "bad_length")
                return
            if int(declared[0]) > limit:
                if int(declared[0]) <= DRAIN_BYTES and not await _drained(receive):
                    return  # the client went away; nothing to answer
                await self._refuse(scope, receive, send, TOO_LARGE, "too_large")
                return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client went away; nothing to answer
            body = message.get("body", b"")
            size += len(body)
            if size > limit:
                await self._refuse(scope, receive, send, TOO_LARGE, "too_large")
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(
        self, scope: Scope, receive: Receive, send: Send, status: int, kind: str
    ) -> None:
        log.warning("site_request_refused", path=scope.get("path", ""), reason=kind)
        response = await self.refuse(scope, status, kind)
        response.headers["Connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


async def _drained(receive: Receive) -> bool:
    """Read a body to its end, keeping nothing; False if the client went away first."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return False
        if not message.get("more_body", False):
            return True
