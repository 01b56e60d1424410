"""The settings site as an ASGI app: ``create_app(SiteDeps(...))``.

This module holds only the composition: the dependencies (``SiteDeps``,
from ``web.deps``), the route table and the middleware. The pages live in
``web.pages``, one module per page group, each given the one
``Plumbing`` made here (issue 13: nothing below imports this module).
"""

from __future__ import annotations

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from store import site_auth
from store.errors import NotFound, StoreUnavailable
from web import limits, proxy
from web.deps import SiteDeps
from web.pages.auth_unit import AuthUnitPages
from web.pages.base import CSV_UPLOAD_PATH, WEB, Plumbing
from web.pages.destinations import DestinationPages
from web.pages.errors import ErrorPages
from web.pages.forwarding import ForwardingPages
from web.pages.help import HelpPages
from web.pages.login import LoginPages
from web.pages.notification import NotificationPages
from web.pages.nuisance import NuisancePages
from web.pages.numbers import NumberPages
from web.pages.otp import OtpPages
from web.pages.otp_address import OtpAddressPages
from web.pages.otp_confirmation import OtpConfirmationPages
from web.pages.phonebook import UPLOAD_BODY_BYTES as PHONEBOOK_UPLOAD_BODY_BYTES
from web.pages.phonebook import PhonebookPages
from web.pages.phonebook import is_upload as phonebook_upload
from web.pages.services import ServicePages
from web.sessions import COOKIE

__all__ = ["SiteDeps", "create_app"]

log = structlog.get_logger("web")


def _routes(base: Plumbing) -> list[Route | Mount]:
    """Every URL of the site and the handler that serves it."""
    login, otp, unit = LoginPages(base), OtpPages(base), AuthUnitPages(base)
    numbers, mail = NumberPages(base), NotificationPages(base)
    address, confirmation = OtpAddressPages(base), OtpConfirmationPages(base)
    book = PhonebookPages(base)
    forwarding = ForwardingPages(base)
    chat = DestinationPages(base)
    nuisance = NuisancePages(base)
    n = "/numbers/{number:str}"
    return [
        Route("/", login.home),
        Route("/login", login.get_login, methods=["GET"]),
        Route("/login", login.post_login, methods=["POST"]),
        Route("/logout", login.post_logout, methods=["POST"]),
        Route("/password", login.get_password, methods=["GET"]),
        Route("/password", login.post_password, methods=["POST"]),
        Route("/numbers", numbers.numbers, methods=["GET"]),
        Route(f"{n}/history", numbers.history, methods=["GET"]),
        Route("/bulk", numbers.get_bulk, methods=["GET"]),
        Route("/bulk", numbers.post_bulk, methods=["POST"]),
        Route("/otp/csv", numbers.get_otp_csv, methods=["GET"]),
        Route(CSV_UPLOAD_PATH, numbers.post_otp_csv, methods=["POST"]),
        Route("/otp/csv/download", numbers.download_otp_csv, methods=["GET"]),
        Route(n, ServicePages(base).menu, methods=["GET"]),  # サービス選択 (issue 16)
        Route(f"{n}/mail", mail.menu, methods=["GET"]),
        Route(f"{n}/service", mail.post_service, methods=["POST"]),
        Route(f"{n}/addresses", mail.addresses, methods=["GET"]),
        Route(f"{n}/addresses", mail.post_addresses, methods=["POST"]),
        Route(f"{n}/addresses/test", mail.post_test, methods=["POST"]),
        Route(f"{n}/conditions", mail.conditions, methods=["GET"]),
        Route(f"{n}/conditions", mail.post_conditions, methods=["POST"]),
        Route(f"{n}/designated", mail.designated, methods=["GET"]),
        Route(f"{n}/designated", mail.post_designated, methods=["POST"]),
        # Issue 19 (CHAT-1 … CHAT-3): the number's chat and webhook destinations.
        Route(f"{n}/destinations", chat.destinations, methods=["GET"]),
        Route(f"{n}/destinations", chat.post_add, methods=["POST"]),
        Route(f"{n}/destinations/change", chat.post_change, methods=["POST"]),
        Route(f"{n}/nuisance", nuisance.nuisance, methods=["GET"]),  # CALL-2 (issue 16)
        Route(f"{n}/nuisance", nuisance.post_nuisance, methods=["POST"]),
        # Issue 19 (BOOK-1): the number's phonebook of caller names, by hand and by CSV.
        Route(f"{n}/phonebook", book.phonebook, methods=["GET"]),
        Route(f"{n}/phonebook", book.post_phonebook, methods=["POST"]),
        Route(f"{n}/phonebook/edit", book.edit, methods=["GET"]),
        Route(f"{n}/phonebook/csv", book.post_csv, methods=["POST"]),
        Route(f"{n}/phonebook/csv", book.download_csv, methods=["GET"]),
        # CALL-3, CALL-4 (issue 16): the number's call services.
        Route(f"{n}/number-request", forwarding.number_request, methods=["GET"]),
        Route(f"{n}/number-request", forwarding.post_number_request, methods=["POST"]),
        Route(f"{n}/voice-warp", forwarding.voice_warp, methods=["GET"]),
        Route(f"{n}/voice-warp", forwarding.post_voice_warp, methods=["POST"]),
        Route("/otp/choice", otp.get_otp_choice, methods=["GET"]),
        Route("/otp/choice", otp.post_otp_choice, methods=["POST"]),
        Route("/otp/enrol", otp.get_otp_enrol, methods=["GET"]),
        Route("/otp/enrol", otp.post_otp_enrol, methods=["POST"]),
        Route("/otp/verify", otp.otp_verify, methods=["GET"], name="otp_verify"),
        Route("/otp", otp.get_otp_settings, methods=["GET"]),
        Route("/otp", otp.post_otp_settings, methods=["POST"]),
        Route("/otp/confirmation", confirmation.menu, methods=["GET"]),
        Route("/otp/confirmation/id", confirmation.get_id, methods=["GET"]),
        Route("/otp/confirmation/id", confirmation.post_id, methods=["POST"]),
        Route("/otp/confirmation/password", confirmation.get_password, methods=["GET"]),
        Route("/otp/confirmation/password", confirmation.post_password, methods=["POST"]),
        Route("/login/otp", otp.get_login_otp, methods=["GET"]),
        Route("/login/otp", otp.post_login_otp, methods=["POST"]),
        Route("/login/otp/send", otp.post_login_otp_send, methods=["POST"]),
        # SITE-5 address change: seeds (9) from the OTP page, seeds (10) from the settings.
        Route("/login/otp/address", address.get_recovery, methods=["GET"]),
        Route("/login/otp/address", address.post_recovery, methods=["POST"]),
        Route("/login/otp/address/proof", address.post_recovery_proof, methods=["POST"]),
        Route("/otp/address", address.get_settings, methods=["GET"]),
        Route("/otp/address", address.post_settings, methods=["POST"]),
        Route("/otp/address/proof", address.post_settings_proof, methods=["POST"]),
        Route("/auth-unit", unit.get_auth_unit, methods=["GET"]),
        Route("/auth-unit", unit.post_auth_unit, methods=["POST"]),
        Route("/help", HelpPages(base).help, methods=["GET"]),
        Mount("/static", app=StaticFiles(directory=str(WEB / "static")), name="static"),
    ]


def create_app(deps: SiteDeps) -> Starlette:
    base = Plumbing(deps)
    errors = ErrorPages(base)
    if not deps.config.public_url:
        # Safe (never the Host header) but only right on one box: say so once.
        log.warning("site_public_url_unset", links="the address the site listens on")

    def upload(scope: Scope) -> bool:
        """The CSV upload of a browser with a session cookie (checked by the handler).

        Without one, the request can only be sent to the login page: it gets
        the small limit, so an anonymous client cannot make the site hold a
        megabyte per request.
        """
        path = scope.get("path")
        if not (path == CSV_UPLOAD_PATH or phonebook_upload(path)) or scope.get("method") != "POST":
            return False
        return COOKIE in Request(scope).cookies

    def limit_for(scope: Scope) -> int:
        config = deps.config
        if not upload(scope):
            return config.max_form_bytes
        if phonebook_upload(scope.get("path")):  # issue 19: the phonebook's file is smaller
            return min(PHONEBOOK_UPLOAD_BODY_BYTES, config.max_csv_upload_bytes)
        return config.max_csv_upload_bytes

    app = Starlette(
        routes=_routes(base),
        middleware=[
            # Outermost first: who the client is, then the body bounded before any handler.
            Middleware(proxy.ProxyHeaders, trusted=proxy.networks(deps.config.trusted_proxies)),
            Middleware(
                limits.BodyLimit,
                limit_for=limit_for,
                takes_files=upload,
                refuse=errors.refuse_body,
            ),
        ],
        exception_handlers={
            404: errors.not_found,
            SQLAlchemyError: errors.unavailable,
            StoreUnavailable: errors.unavailable,  # db.DatabaseError is one
            NotFound: errors.not_found,
            # SITE-1/SITE-6: a login found gone in a store call ends its session.
            site_auth.OutOfScope: base.lost_login,
        },
    )
    app.state.site = base
    return app
