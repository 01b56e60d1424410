"""Serving the site with uvicorn inside an existing event loop (``chakushin serve``/``site``).

The listening socket is bound when the server is made, so a port in use is
a clear error at start and port 0 gets a free port the caller can read.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Iterator

import structlog
import uvicorn
from starlette.types import ASGIApp

log = structlog.get_logger("web.server")


class _Server(uvicorn.Server):
    """uvicorn without signal handlers of its own.

    ``Server.serve`` swaps in its own SIGINT/SIGTERM handlers while it runs
    (and raises the signal again afterwards), so a SIGTERM stopped the site
    first and reached the node's stop event only once the site was down.
    The node's stop event alone decides, for every part at once.
    """

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class SiteServer:
    def __init__(self, app: ASGIApp, host: str, port: int) -> None:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        self.socket = socket.socket(family, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.socket.bind((host, port))
            self.socket.listen(1024)
        except OSError:
            self.socket.close()
            raise
        self.host = host
        self.server = _Server(
            uvicorn.Config(
                app,
                log_config=None,  # structlog is ours; uvicorn's access log would duplicate it
                access_log=False,
                lifespan="off",
                # X-Forwarded-For/-Proto are read by web.proxy, and only from
                # site.trusted_proxies: uvicorn's own reading trusted any
                # 127.0.0.1 peer (issue 12 item 14).
                proxy_headers=False,
            )
        )

    @property
    def port(self) -> int:
        return int(self.socket.getsockname()[1])

    def close(self) -> None:
        self.socket.close()

    async def run(self, stop: asyncio.Event) -> None:
        """Serve until ``stop``; requests in progress finish (uvicorn's graceful exit)."""
        serving = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            self.server.should_exit = True
            stopping.cancel()
            await serving
            self.socket.close()
