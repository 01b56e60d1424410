"""The provisioning API (issue 18): JSON over HTTP at ``/api/v1``, for operators' systems.

Built with FastAPI (pydantic models, OpenAPI 3.1 generated from them) beside the
Starlette site: FastAPI is Starlette underneath, so the same server, the same
event loop and the same domain layer serve both, and the schema is written by
the library from the models the endpoints use, never by hand.

- ``app``: the application, its error format (RFC 9457 problem+json), bearer auth;
- ``deps``: what the endpoints get (``Reader`` / ``Writer``: the token, a transaction);
- ``paging``: list endpoints' pages (keyset cursors: 100,000 numbers page evenly);
- ``routes``: one module per area, each an ``APIRouter`` named ``router``.

Every write goes through ``store.service`` inside one transaction, as the CLI's
and the site's do: the same checks, the same error codes, nothing half-written.
"""
