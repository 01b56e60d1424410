"""The one-time password's address change (SITE-5, seeds (9) and (10), issue 14 flow 3).

Two ways in, one set of pages (``Flow``):

- seeds (9), from the OTP send page (``/login/otp/address``, the login still
  at ``Stage.OTP``): a subscriber who lost the OTP mailbox proves the
  confirmation ID and password, then names the new address;
- seeds (10), from the settings (``/otp/address``): after an OTP login the
  new address alone; a login without a code (the one-time password off)
  proves the confirmation values first, as in (9).

Either way: the new address → 次へ → the 確認 page → 登録 → the link is
mailed to the NEW address (24 hours); the old settings stand until it is
followed. The proof is the session's ``otp_proven`` (a code at this login,
or ``site_auth.prove_otp_confirmation``); a proof entry takes a slot of the
per-address throttle and a wrong one counts against the number (issue 12).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import service, site_auth, validation
from store.errors import DomainError
from web.pages.base import Plumbing, field_errors, seconds_until
from web.ratelimit import Reservation
from web.sessions import SessionView, Stage
from web.texts import page


@dataclass(frozen=True)
class Flow:
    """Where the address change runs: the login's stage, its path, the page it came from."""

    stage: Stage
    path: str
    back: str


RECOVERY = Flow(Stage.OTP, "/login/otp/address", "/login/otp")  # seeds (9)
SETTINGS = Flow(Stage.READY, "/otp/address", "/otp")  # seeds (10)


def _enrolled(session: Session, number: str) -> bool:
    """Whether the number has confirmation values (an enrolment to change)."""
    cred = service.get_number(session, number).credential
    return cred is not None and cred.otp_confirmation_id is not None


class OtpAddressPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    # --- the routes -------------------------------------------------------------------

    async def get_recovery(self, request: Request) -> Response:
        return await self.get(request, RECOVERY)

    async def post_recovery_proof(self, request: Request) -> Response:
        return await self.post_proof(request, RECOVERY)

    async def post_recovery(self, request: Request) -> Response:
        return await self.post_address(request, RECOVERY)

    async def get_settings(self, request: Request) -> Response:
        return await self.get(request, SETTINGS)

    async def post_settings_proof(self, request: Request) -> Response:
        return await self.post_proof(request, SETTINGS)

    async def post_settings(self, request: Request) -> Response:
        return await self.post_address(request, SETTINGS)

    # --- the pages --------------------------------------------------------------------

    def proof_page(
        self,
        request: Request,
        view: SessionView,
        flow: Flow,
        *,
        data: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        """Seeds (9) step 2: the confirmation ID and password set at enrolment."""
        return self.base.render(
            request,
            "otp_proof.html",
            {
                "title": page("otp_proof.title"),
                "action": flow.path + "/proof",
                "back": flow.back,
                "confirmation_id": (data or {}).get("confirmation_id", ""),
                "errors": errors or {},
            },
            status=status,
            session=view,
            of_login_number=True,
        )

    def address_page(
        self,
        request: Request,
        view: SessionView,
        flow: Flow,
        *,
        address: str = "",
        confirming: bool = False,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        """Seeds (9) step 3 / (10): the new address; ``confirming``: the 確認 step before 登録."""
        title = page("otp_address.confirm_title") if confirming else page("otp_address.title")
        return self.base.render(
            request,
            "otp_address.html",
            {
                "title": title,
                "action": flow.path,
                "back": flow.back,
                "address": address,
                "confirming": confirming,
                "errors": errors or {},
            },
            status=status,
            session=view,
            of_login_number=True,
        )

    async def get(self, request: Request, flow: Flow) -> Response:
        view = await self.base.require(request, flow.stage)
        if not isinstance(view, SessionView):
            return view
        if not await self.base.read(_enrolled, view.login_number):
            return RedirectResponse("/otp/enrol", status_code=303)
        if view.otp_proven:
            return self.address_page(request, view, flow)
        return self.proof_page(request, view, flow)

    async def post_proof(self, request: Request, flow: Flow) -> Response:
        base = self.base
        posted = await base.posted(request, flow.stage)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        if view.otp_proven:
            return RedirectResponse(flow.path, status_code=303)
        held, message = base.confirmation_wait(request)
        if not isinstance(held, Reservation):
            response = self.proof_page(
                request, view, flow, data=data, errors={"form": [message]}, status=429
            )
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        try:
            await run_in_threadpool(
                site_auth.prove_otp_confirmation,
                base.deps.sessions,
                view.login_number,
                data.get("confirmation_id", ""),
                data.get("confirmation_password", ""),
                now=base.now(),
                limits=base.otp_limits(),
            )
        except DomainError as exc:
            status = base.confirmation_refused(exc, held)
            response = self.proof_page(
                request, view, flow, data=data, errors=field_errors(exc), status=status
            )
            if isinstance(exc, site_auth.ConfirmationRefused) and exc.retry_at is not None:
                response.headers["Retry-After"] = seconds_until(exc.retry_at, base.now())
            return response
        held.release_success()
        # A new session id for the proven login (no fixation), at the same stage.
        return await base.advance(request, view, view.stage, otp_proven=True, to=flow.path)

    async def post_address(self, request: Request, flow: Flow) -> Response:
        base, deps = self.base, self.base.deps
        posted = await base.posted(request, flow.stage)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        if not view.otp_proven:
            return RedirectResponse(flow.path, status_code=303)
        address = data.get("address", "").strip()
        if data.get("back") == "1":
            return self.address_page(request, view, flow, address=address)
        try:
            validation.mail_address(address)  # MAIL-3, by the field, before the 確認 step
        except DomainError as exc:
            return self.address_page(
                request, view, flow, address=address, errors=field_errors(exc), status=400
            )
        if data.get("confirmed") != "1":
            return self.address_page(request, view, flow, address=address, confirming=True)
        try:
            await base.write(
                site_auth.request_otp_address_change,
                view.login_number,
                address,
                link_base=base.link_base(request),
                sender=deps.sender_address,
                now=base.now(),
                limits=base.otp_limits(),
            )
        except DomainError as exc:
            errors = field_errors(exc)
            if "otp_address" in errors:
                errors["address"] = errors.pop("otp_address")
            response = self.address_page(
                request, view, flow, address=address, errors=errors, status=400
            )
            if isinstance(exc, site_auth.VerificationRefused):
                response.status_code = 429
                response.headers["Retry-After"] = seconds_until(exc.retry_at, base.now())
            return response
        return base.message(
            request,
            page("otp_enrol.sent_title"),
            [page("otp_enrol.sent", address=address), page("otp_enrol.open_the_link")],
            link=(flow.back, page("link.back")),
            session=view,
        )
