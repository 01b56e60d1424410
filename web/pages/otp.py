"""The one-time password pages (SITE-5): choice, enrolment and address, verification
link, the code at login, the on/off setting and the confirmation ID/password.

The confirmation ID/password prove the subscriber on the address and
confirmation changes, a guessing surface (issue 12): each entry takes a
slot of the per-address throttle (``Plumbing.confirmation_wait``) and the
domain counts wrong ones per number.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import password_rules, service, site_auth
from store.errors import DomainError
from web.pages.base import Plumbing, field_errors, seconds_until, unique
from web.ratelimit import Reservation
from web.sessions import COOKIE, SessionView, Stage
from web.texts import japanese, page

log = structlog.get_logger("web")

# The fields of the confirmation change (seeds (10)), in site_auth's order.
CONFIRMATION_FIELDS = (
    "current_confirmation_id",
    "current_confirmation_password",
    "new_confirmation_id",
    "confirm_confirmation_id",
    "new_confirmation_password",
    "confirm_confirmation_password",
)


def _credential(session: Session, number: str) -> dict[str, Any]:
    """What the OTP pages show of the number's credential."""
    cred = service.get_number(session, number).credential
    if cred is None:
        return {"enabled": False, "address": None, "verified": False, "has_id": False}
    return {
        "enabled": cred.otp_enabled,
        "address": cred.otp_address,
        "verified": cred.otp_address_verified_at is not None,
        "has_id": cred.otp_confirmation_id is not None,
    }


class OtpPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    # --- the first login's choice (seeds P.7) ------------------------------------------

    async def get_otp_choice(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.OTP_CHOICE)
        if not isinstance(view, SessionView):
            return view
        return self.base.render(
            request, "otp_choice.html", {"title": page("otp_choice.title")}, session=view
        )

    async def post_otp_choice(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.OTP_CHOICE)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        if data.get("choice") == "use":
            return RedirectResponse("/otp/enrol", status_code=303)
        if data.get("agree") != "1":
            return base.render(
                request, "otp_decline.html", {"title": page("otp_decline.title")}, session=view
            )
        await base.write(site_auth.set_otp_enabled, view.login_number, False, now=base.now())
        return await base.advance(request, view, Stage.READY)

    # --- enrolment and address change (seeds (8), (9)) -----------------------------------

    async def get_otp_enrol(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.OTP_CHOICE, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        cred = await self.base.read(_credential, view.login_number)
        return self.otp_enrol_page(request, view, cred)

    def otp_enrol_page(
        self,
        request: Request,
        view: SessionView,
        cred: Mapping[str, Any],
        *,
        data: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        data = data or {}
        change = bool(cred["has_id"])
        return self.base.render(
            request,
            "otp_enrol.html",
            {
                "title": page("otp_enrol.title_change" if change else "otp_enrol.title_new"),
                "action": "/otp/enrol",
                "address": data.get("address", ""),
                "confirmation_id": data.get("confirmation_id", ""),
                "button": page("otp_enrol.button_change" if change else "otp_enrol.button_new"),
                # Seeds (9): when changing, the fields prove the values set at enrolment.
                "is_change": cred["has_id"],
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def post_otp_enrol(self, request: Request) -> Response:
        base, deps = self.base, self.base.deps
        posted = await base.posted(request, Stage.OTP_CHOICE, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        cred = await base.read(_credential, view.login_number)
        address = data.get("address", "").strip()
        values = (
            view.login_number,
            address,
            data.get("confirmation_id", ""),
            data.get("confirmation_password", ""),
        )
        held: Reservation | None = None
        try:
            if cred["has_id"]:
                # Seeds (9): the values prove the current ones, a guessing surface (issue 12).
                slot, message = base.confirmation_wait(request)
                if not isinstance(slot, Reservation):
                    response = self.otp_enrol_page(
                        request, view, cred, data=data, errors={"form": [message]}, status=429
                    )
                    response.headers["Retry-After"] = str(int(slot) + 1)
                    return response
                held = slot
                await run_in_threadpool(
                    site_auth.change_otp_address,
                    deps.sessions,
                    *values,
                    link_base=base.link_base(request),
                    sender=deps.sender_address,
                    now=base.now(),
                    limits=base.otp_limits(),
                )
            else:
                await base.write(
                    site_auth.start_otp_enrolment,
                    *values,
                    link_base=base.link_base(request),
                    sender=deps.sender_address,
                    now=base.now(),
                    limits=base.otp_limits(),
                )
        except DomainError as exc:
            status = base.confirmation_refused(exc, held)
            errors = field_errors(exc, "otp_address")
            # The store names the field after what it is; the form calls it "address".
            if "otp_address" in errors:
                errors["address"] = errors.pop("otp_address")
            if exc.field == "confirmation_id" and exc.code.startswith("confirmation_id"):
                problems = password_rules.confirmation_id_problems(data.get("confirmation_id", ""))
                errors["confirmation_id"] = unique([japanese(p) for p in problems])
            response = self.otp_enrol_page(
                request, view, cred, data=data, errors=errors, status=status
            )
            if isinstance(exc, site_auth.ConfirmationRefused) and exc.retry_at is not None:
                response.headers["Retry-After"] = seconds_until(exc.retry_at, base.now())
            if isinstance(exc, site_auth.VerificationRefused):
                # Issue 12: the number's (or line's) verification mails of 24 hours.
                response.status_code = 429
                response.headers["Retry-After"] = seconds_until(exc.retry_at, base.now())
            return response
        if held is not None:
            held.release_success()
        return base.message(
            request,
            page("otp_enrol.sent_title"),
            [page("otp_enrol.sent", address=address), page("otp_enrol.open_the_link")],
            session=view,
        )

    async def otp_verify(self, request: Request) -> Response:
        """The link mailed to the OTP address (valid 24 hours, once); no login needed."""
        base = self.base
        token = request.query_params.get("token", "")
        try:
            number = await base.write(site_auth.verify_otp_address, token, now=base.now())
        except DomainError as exc:
            return base.message(
                request, page("otp_verify.refused_title"), [japanese(exc)], status=400
            )
        view = await base.current(request)
        if view is not None and view.login_number == number and view.stage is Stage.OTP_CHOICE:
            return await base.advance(request, view, Stage.OTP)
        return base.message(
            request,
            page("otp_verify.done_title"),
            [page("otp_verify.done", number=number)],
            link=("/login", page("link.login")),
        )

    # --- the code at login ------------------------------------------------------------

    async def get_login_otp(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.OTP)
        if not isinstance(view, SessionView):
            return view
        return self.login_otp_page(request, view)

    def login_otp_page(
        self,
        request: Request,
        view: SessionView,
        *,
        notices: list[str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        return self.base.render(
            request,
            "otp_login.html",
            {
                "title": page("otp_login.title"),
                "notices": notices or [],
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def end_otp_stage(self, request: Request, view: SessionView, message: str) -> Response:
        """A cap of the day is reached: the login stage ends, the login page says why."""
        await run_in_threadpool(self.base.deps.store.end, view.token)
        log.warning("site_otp_stage_ended", number=view.login_number)
        response = self.base.login_page(request, alert=message, status=429)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def post_login_otp_send(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.OTP)
        if isinstance(posted, Response):
            return posted
        view = posted.view
        try:
            await base.write(
                site_auth.send_otp_code,
                view.login_number,
                sender=base.deps.sender_address,
                now=base.now(),
                limits=base.otp_limits(),
            )
        except DomainError as exc:
            if exc.code in site_auth.OTP_STAGE_ENDING:
                return await self.end_otp_stage(request, view, japanese(exc))
            return self.login_otp_page(
                request, view, errors={"otp_code": [japanese(exc)]}, status=429
            )
        return self.login_otp_page(request, view, notices=[page("otp_login.sent")])

    async def post_login_otp(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.OTP)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        try:
            accepted = await run_in_threadpool(
                site_auth.check_otp_code,
                base.deps.sessions,
                view.login_number,
                data.get("otp_code", "").strip(),
                now=base.now(),
                limits=base.otp_limits(),
            )
        except DomainError as exc:
            if exc.code in site_auth.OTP_STAGE_ENDING:
                return await self.end_otp_stage(request, view, japanese(exc))
            return self.login_otp_page(
                request, view, errors={"otp_code": [japanese(exc)]}, status=400
            )
        stage = Stage.PASSWORD_CHANGE if accepted.password_expired else Stage.READY
        return await base.advance(request, view, stage)

    # --- the on/off setting -------------------------------------------------------------

    async def get_otp_settings(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return await self.otp_settings_page(request, view)

    async def otp_settings_page(
        self,
        request: Request,
        view: SessionView,
        *,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        cred = await self.base.read(_credential, view.login_number)
        return self.base.render(
            request,
            "otp_settings.html",
            {"title": page("otp_settings.title"), "errors": errors or {}, **cred},
            status=status,
            session=view,
        )

    async def post_otp_settings(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        try:
            await base.write(
                site_auth.set_otp_enabled,
                view.login_number,
                data.get("enabled") == "1",
                now=base.now(),
            )
        except DomainError as exc:
            return await self.otp_settings_page(
                request, view, errors={"form": [japanese(exc)]}, status=400
            )
        return RedirectResponse("/otp", status_code=303)

    # --- the confirmation ID/password change (seeds (10)) -----------------------------------

    async def get_otp_confirmation(self, request: Request) -> Response:
        """SITE-5, seeds (10): the confirmation ID/password change, proven by the current ones."""
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return self.confirmation_page(request, view)

    def confirmation_page(
        self,
        request: Request,
        view: SessionView,
        *,
        data: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        data = data or {}
        return self.base.render(
            request,
            "otp_confirmation.html",
            {
                "title": page("otp_confirmation.title"),
                "current_id": data.get("current_confirmation_id", ""),
                "new_id": data.get("new_confirmation_id", ""),
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def post_otp_confirmation(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        fields = CONFIRMATION_FIELDS
        held, message = base.confirmation_wait(request)
        if not isinstance(held, Reservation):
            response = self.confirmation_page(
                request, view, data=data, errors={"form": [message]}, status=429
            )
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        try:
            await run_in_threadpool(
                site_auth.change_otp_confirmation,
                base.deps.sessions,
                view.login_number,
                *(data.get(name, "") for name in fields),
                now=base.now(),
                limits=base.otp_limits(),
            )
        except DomainError as exc:
            status = base.confirmation_refused(exc, held)
            errors = field_errors(exc)
            new_id, new_password = data.get(fields[2], ""), data.get(fields[4], "")
            if exc.field == fields[2] and exc.code.startswith("confirmation_id_"):
                problems = password_rules.confirmation_id_problems(new_id)
                errors[fields[2]] = unique([japanese(p) for p in problems])
            if exc.field == fields[4] and exc.code.startswith("confirmation_password_"):
                problems = password_rules.confirmation_password_problems(new_password)
                errors[fields[4]] = unique([japanese(p) for p in problems])
            response = self.confirmation_page(
                request, view, data=data, errors=errors, status=status
            )
            if isinstance(exc, site_auth.ConfirmationRefused) and exc.retry_at is not None:
                response.headers["Retry-After"] = seconds_until(exc.retry_at, base.now())
            return response
        held.release_success()
        return base.message(
            request,
            page("otp_confirmation.done_title"),
            [page("otp_confirmation.done")],
            link=("/otp", page("link.otp_settings")),
            session=view,
        )
