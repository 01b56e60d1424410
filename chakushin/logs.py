"""structlog set-up, done once by the entry point.

Pretty console lines when stderr is a terminal, one JSON object per line
otherwise (journald, files, log shippers). Logs always go to stderr so that
command output on stdout stays clean for scripts.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any, TextIO

import structlog

_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


# Called with the level name and the event dict of every warning or error
# (``chakushin serve`` keeps the last one for ``chakushin status``).
ProblemObserver = Callable[[str, Mapping[str, Any]], None]
_PROBLEMS = frozenset({"warning", "error", "critical", "exception"})


def _observing(observer: ProblemObserver) -> structlog.types.Processor:
    def processor(
        _logger: Any, method_name: str, event_dict: structlog.types.EventDict
    ) -> structlog.types.EventDict:
        if method_name in _PROBLEMS:
            observer(method_name, event_dict)
        return event_dict

    return processor


def configure(
    level: str = "info",
    fmt: str = "auto",
    stream: TextIO | None = None,
    *,
    on_problem: ProblemObserver | None = None,
) -> None:
    stream = stream or sys.stderr
    pretty = fmt == "console" or (fmt == "auto" and stream.isatty())
    renderer: structlog.types.Processor = (
        structlog.dev.ConsoleRenderer() if pretty else structlog.processors.JSONRenderer()
    )
    observers = [] if on_problem is None else [_observing(on_problem)]
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            *observers,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.StackInfoRenderer(),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(_LEVELS[level]),
        logger_factory=structlog.PrintLoggerFactory(stream),
        cache_logger_on_first_use=False,
    )
    # Libraries (alembic, asyncio) log through the standard library.
    logging.basicConfig(level=max(_LEVELS[level], logging.WARNING), stream=stream, force=True)
