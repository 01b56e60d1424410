"""The one-time password pages (SITE-5): choice, enrolment (仮登録, 確認, 登録), the
verification link (本登録完了), the code at login and the on/off setting.

The address change of an enrolled number is ``web.pages.otp_address``
(seeds (9)/(10)); the confirmation ID and password changes are
``web.pages.otp_confirmation`` (seeds (11)).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import service, site_auth
from store.errors import DomainError
from web.pages.base import Plumbing, seconds_until, unique
from web.sessions import COOKIE, SessionView, Stage, id_hash
from web.texts import japanese, page

log = structlog.get_logger("web")


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


def enrolment_errors(problems: list[DomainError]) -> dict[str, list[str]]:
    """The refusals by the enrolment form's fields (the store's ``otp_address`` is ``address``)."""
    errors: dict[str, list[str]] = {}
    for problem in problems:
        name = "address" if problem.field == "otp_address" else problem.field or "form"
        errors.setdefault(name, []).append(japanese(problem))
    return {name: unique(messages) for name, messages in errors.items()}


class OtpPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    # --- the first login's choice (seeds P.7) ------------------------------------------

    async def get_otp_choice(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.OTP_CHOICE)
        if not isinstance(view, SessionView):
            return view
        return self.otp_choice_page(request, view)

    def otp_choice_page(
        self,
        request: Request,
        view: SessionView,
        *,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        """Seeds P.7: 利用する／利用しない, then 次へ."""
        return self.base.render(
            request,
            "otp_choice.html",
            {"title": page("otp_choice.title"), "choice": "", "errors": errors or {}},
            status=status,
            session=view,
            of_login_number=True,
        )

    async def post_otp_choice(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.OTP_CHOICE)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        choice = data.get("choice")
        if choice == "use":
            return RedirectResponse("/otp/enrol", status_code=303)
        if choice != "decline":
            errors = {"choice": [page("otp_choice.choose")]}
            return self.otp_choice_page(request, view, errors=errors, status=400)
        if data.get("agree") != "1":
            return self.otp_decline_page(request, view, "/otp/choice", ("choice", "decline"))
        await base.write(site_auth.set_otp_enabled, view.login_number, False, now=base.now())
        return await base.advance(request, view, Stage.READY)

    def otp_decline_page(
        self, request: Request, view: SessionView, action: str, field: tuple[str, str]
    ) -> Response:
        """Seeds P.7 and P.12: what not using the one-time password means, 同意する or 戻る.

        The form posts ``field`` back to ``action`` with ``agree``; nothing changes before.
        """
        return self.base.render(
            request,
            "otp_decline.html",
            {"title": page("otp_decline.title"), "action": action, "hidden": [field]},
            session=view,
            of_login_number=True,
        )

    # --- enrolment: 仮登録 with a 確認 step (seeds P.7) -----------------------------------

    async def get_otp_enrol(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.OTP_CHOICE, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        cred = await self.base.read(_credential, view.login_number)
        if cred["verified"]:  # an address was verified: the change (seeds (9)/(10)) is the way
            return RedirectResponse("/otp/address", status_code=303)
        return self.otp_enrol_page(request, view)

    def otp_enrol_page(
        self,
        request: Request,
        view: SessionView,
        *,
        data: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        confirming: bool = False,
        status: int = 200,
    ) -> Response:
        """The 仮登録 form, or (``confirming``) what will be registered, the password masked."""
        data = data or {}
        password = data.get("confirmation_password", "")
        return self.base.render(
            request,
            "otp_enrol.html",
            {
                "title": page("otp_enrol.confirm_title" if confirming else "otp_enrol.title_new"),
                "address": data.get("address", "").strip(),
                "confirmation_id": data.get("confirmation_id", ""),
                "confirming": confirming,
                # The confirmation password goes back only on the 確認 step's hidden field.
                "confirmation_password": password if confirming else "",
                "masked": "●" * len(password),
                "errors": errors or {},
            },
            status=status,
            session=view,
            of_login_number=True,
        )

    async def post_otp_enrol(self, request: Request) -> Response:
        """Seeds P.7: the form → 次へ → the 確認 page → 登録 → the link is mailed.

        Issue 14 flow 2: every field's problems at once, by their fields. Until an
        address is verified the 仮登録 may be made again (a mistyped address, a
        lost link): the confirmation values protect nothing yet.
        """
        base, deps = self.base, self.base.deps
        posted = await base.posted(request, Stage.OTP_CHOICE, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        cred = await base.read(_credential, view.login_number)
        if cred["verified"]:
            return RedirectResponse("/otp/address", status_code=303)
        address = data.get("address", "").strip()
        confirmation_id = data.get("confirmation_id", "")
        confirmation_password = data.get("confirmation_password", "")
        if data.get("back") == "1":
            return self.otp_enrol_page(request, view, data=data)
        problems = site_auth.enrolment_problems(address, confirmation_id, confirmation_password)
        if problems:
            return self.otp_enrol_page(
                request, view, data=data, errors=enrolment_errors(problems), status=400
            )
        if data.get("confirmed") != "1":
            return self.otp_enrol_page(request, view, data=data, confirming=True)
        try:
            await base.write(
                site_auth.start_otp_enrolment,
                view.login_number,
                address,
                confirmation_id,
                confirmation_password,
                link_base=base.link_base(request),
                sender=deps.sender_address,
                now=base.now(),
                limits=base.otp_limits(),
            )
        except DomainError as exc:
            response = self.otp_enrol_page(
                request, view, data=data, errors=enrolment_errors([exc]), status=400
            )
            if isinstance(exc, site_auth.VerificationRefused):
                # Issue 12: the number's (or line's) verification mails of 24 hours.
                response.status_code = 429
                response.headers["Retry-After"] = seconds_until(exc.retry_at, base.now())
            return response
        return base.message(
            request,
            page("otp_enrol.sent_title"),
            [page("otp_enrol.sent", address=address), page("otp_enrol.open_the_link")],
            link=("/otp/enrol", page("link.back")),  # a mistyped address is typed again
            session=view,
        )

    async def otp_verify(self, request: Request) -> Response:
        """The link mailed to the OTP address (valid 24 hours, once); no login needed."""
        base = self.base
        token = request.query_params.get("token", "")
        # SITE-6: a new address ends the number's other sessions, not this browser's.
        view = await base.current(request)
        try:
            number = await base.write(
                site_auth.verify_otp_address, token, now=base.now(), keep_session=id_hash(view)
            )
        except DomainError as exc:
            return base.message(
                request,
                page("otp_verify.refused_title"),
                [japanese(exc)],
                link=("/login", page("link.login")),
                status=400,
            )
        done = page("otp_verify.done", number=number)
        at_login = (Stage.OTP_CHOICE, Stage.OTP)
        if view is None or view.login_number != number or view.stage not in at_login:
            return base.message(
                request, page("otp_verify.done_title"), [done], link=("/login", page("link.login"))
            )
        # Seeds P.8 [5]: the 本登録完了 page, then 「ワンタイムパスワードを送信」 (the login's
        # next stage: the one-time password, to the address just verified).
        moved: SessionView | None = view
        if view.stage is Stage.OTP_CHOICE:
            moved = await run_in_threadpool(base.deps.store.advance, view, Stage.OTP)
        if moved is None:  # ended meanwhile (a credential changed)
            return base.to_login(request, page("session.ended"))
        response = base.render(
            request,
            "otp_verified.html",
            {"title": page("otp_verify.done_title"), "lines": [done, page("otp_verify.send_next")]},
            session=moved,
        )
        base.set_session_cookie(response, request, moved)
        return response

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
            of_login_number=True,
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
        # Seeds (10): a login past the code changes the OTP address without the
        # confirmation ID and password.
        return await base.advance(request, view, stage, otp_proven=True)

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
            {
                "title": page("otp_settings.title"),
                "confirmation_menu": page("otp_confirmation.title"),
                "errors": errors or {},
                **cred,
            },
            status=status,
            session=view,
            of_login_number=True,
        )

    async def post_otp_settings(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        enabled = data.get("enabled") == "1"
        if not enabled and data.get("agree") != "1":
            # Seeds P.12 「利用有り」から「利用無し」: the confirmation, then 同意する.
            return self.otp_decline_page(request, view, "/otp", ("enabled", "0"))
        try:
            await base.write(site_auth.set_otp_enabled, view.login_number, enabled, now=base.now())
        except DomainError as exc:
            return await self.otp_settings_page(
                request, view, errors={"form": [japanese(exc)]}, status=400
            )
        return RedirectResponse("/otp", status_code=303)
