"""Typed errors of the domain layer.

Every rule violation raises one of these before anything is written; the
caller's transaction is rolled back, so nothing is half-stored. Each error
carries a stable ``code`` (for the site to pick its Japanese text from the
catalogue in ``web.texts``, and for ``--json`` output), the ``params`` that
text needs (a limit, a time, the numbers concerned) and a one-line English
``message`` for operators. Like
aiosmtplib's exceptions, each also inherits the built-in it resembles, so
code that only knows ``ValueError`` or ``LookupError`` still catches it.

``StoreUnavailable`` is not one of them: a refusal is an answer (the call
hears why, the page says why), a store that cannot answer is not, and no
flow may take one for the other.
"""

from __future__ import annotations

from collections.abc import Mapping

# What a refusal's text may need: a count, a time, a number, or the numbers
# concerned (a tuple: how a list is written is the site's and the operator
# line's business, not the domain's).
Param = str | int | tuple[str, ...]


def filled(text: str, params: Mapping[str, Param], *, list_separator: str = ", ") -> str:
    """``text`` with its ``{params}``; a tuple of numbers is written with ``list_separator``.

    The operator lines use ", "; the site's catalogue passes "、".
    """
    if not params:
        return text
    return text.format_map(
        {k: list_separator.join(v) if isinstance(v, tuple) else v for k, v in params.items()}
    )


class Coded(Exception):
    """What every error of the store carries: ``code``, ``message``, ``field``, ``params``."""

    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        field: str | None = None,
        params: Mapping[str, Param] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.field = field
        self.params: Mapping[str, Param] = dict(params or {})

    def as_dict(self) -> dict[str, str | None]:
        return {"error": self.code, "message": self.message, "field": self.field}


class DomainError(Coded):
    """A request that breaks a rule of SPEC.md; nothing was written."""

    code = "invalid"


class InvalidInput(DomainError, ValueError):
    """A value that does not have the required form (number, address, setting)."""

    code = "invalid_input"


class InvalidNumber(InvalidInput):
    code = "invalid_number"


class InvalidAddress(InvalidInput):
    """A destination address that breaks MAIL-3."""

    code = "invalid_address"


class LimitExceeded(DomainError, ValueError):
    """A list is full (5 addresses, 30 designated numbers, 30 nuisance entries)."""

    code = "limit_exceeded"


class NotFound(DomainError, LookupError):
    code = "not_found"


class AlreadyExists(DomainError, ValueError):
    code = "already_exists"


class NotSubscribed(DomainError, PermissionError):
    """The number does not subscribe to the service the request is about."""

    code = "not_subscribed"


class RuleViolation(DomainError, ValueError):
    """A state change that a SPEC rule forbids (e.g. MAIL-1: start without address)."""

    code = "rule_violation"


class StoreUnavailable(Coded, ConnectionError):
    """The store cannot answer now: the database is down, locked, damaged or at
    another schema. Nothing was decided about the request, unlike a ``DomainError``.

    One class for every flow (the voice flows, the CLI, the site, the node):
    a caller that knows only ``ConnectionError`` still catches it, as
    aiosmtplib's ``SMTPTimeoutError(SMTPException, TimeoutError)``. It has
    ``DomainError``'s ``code``, ``message``, ``field`` and ``as_dict()``, so
    the CLI and ``--json`` show both alike; the ``message`` names no caller
    (MAIL-9): it is the database's first line or the store's own words.
    """

    code = "store_unavailable"
