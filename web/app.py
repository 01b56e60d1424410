"""The settings site as an ASGI app: ``create_app(SiteDeps(...))``.

Each handler reads the form, calls one domain function of
``store.site_auth`` (which holds every SITE rule and writes nothing on
error), and renders the result; errors are shown next to their field in
the seeds' words. The login's scope is computed from the database on every
request (``site_auth.managed_numbers``), so an auth unit change or a
removed number takes effect at once, and every page that takes a number
checks it against that scope on the server.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy.exc import SQLAlchemyError
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates
from starlette.types import Scope

from store import db, password_rules, service, site_auth
from store.errors import DomainError, NotFound
from store.models import AuthUnit
from web import limits, proxy
from web.deps import SendTest, SendTestResult, SiteDeps
from web.ratelimit import Reservation, client_key
from web.sessions import COOKIE, SessionView, Stage

__all__ = ["SendTest", "SendTestResult", "Site", "SiteDeps", "create_app"]

log = structlog.get_logger("web")

HERE = Path(__file__).parent
# More fields than any page has (the auth unit page: one per number of a line).
MAX_FORM_FIELDS = 5000
PRE_LOGIN_CSRF_COOKIE = "chakushin_csrf"
# The one request that may carry a file, and a larger body (SITE-9).
CSV_UPLOAD_PATH = "/otp/csv"
UNIT_LABELS = {
    AuthUnit.LINE: "回線単位",
    AuthUnit.NUMBER: "電話番号単位",
    AuthUnit.ADMIN_USER: "管理者／ユーザ単位",
}
GENERIC_LOGIN_FAILURE = "電話番号またはパスワードが正しくありません。"
SESSION_ENDED = "一定時間操作がなかったため、ログアウトしました。もう一度ログインしてください。"


class Site:
    def __init__(self, deps: SiteDeps) -> None:
        self.deps = deps
        self.templates = Jinja2Templates(directory=str(HERE / "templates"))

    # --- plumbing ------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        session: SessionView | None = None,
        csrf_token: str | None = None,
    ) -> HTMLResponse:
        data = {
            "login_number": session.login_number if session else None,
            "csrf_token": csrf_token or (session.csrf_token if session else ""),
            "notices": [],
            "alert": None,
            **context,
        }
        response = self.templates.TemplateResponse(request, template, data, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _secure(self, request: Request) -> bool:
        return self.deps.always_secure_cookies or request.url.scheme == "https"

    def set_session_cookie(self, response: Response, request: Request, view: SessionView) -> None:
        response.set_cookie(
            COOKIE,
            view.token,
            httponly=True,
            samesite="lax",
            secure=self._secure(request),
            path="/",
        )

    def now(self) -> dt.datetime:
        return self.deps.clock()

    def client_address(self, request: Request) -> str:
        """The key the password throttle counts failures against (IPv6: the /64)."""
        return client_key(request.client.host) if request.client else "unknown"

    async def current(self, request: Request) -> SessionView | None:
        return await run_in_threadpool(self.deps.store.load, request.cookies.get(COOKIE))

    async def form(self, request: Request) -> dict[str, str]:
        """The form's fields; a form that cannot be parsed reads as empty (then CSRF refuses it).

        ``web.limits`` has bounded the body and refused file parts already;
        ``max_files=0`` says so again.
        """
        try:
            raw = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        except (HTTPException, MultiPartException, ValueError):
            return {}
        return {k: v for k, v in raw.items() if isinstance(v, str)}

    def link_base(self, request: Request) -> str:
        """Issue 12 item 13: the absolute URL of the mailed verification link.

        From ``site.public_url`` alone; unset, from the address and port of
        the socket the request arrived on (``scope["server"]``, what uvicorn
        reads from the socket), never from the request's Host header.
        """
        base = self.deps.config.public_url.rstrip("/")
        if not base:
            host, port = request.scope.get("server") or (
                self.deps.config.host,
                self.deps.config.port,
            )
            shown = f"[{host}]" if ":" in str(host) else str(host)
            base = f"http://{shown}" + (f":{port}" if port else "")
        return base + "/otp/verify"

    @staticmethod
    def csrf_ok(expected: str, given: str | None) -> bool:
        # Bytes: compare_digest refuses str with non-ASCII characters (TypeError, a 500).
        return (
            bool(expected)
            and given is not None
            and hmac.compare_digest(expected.encode(), given.encode())
        )

    def forbidden_csrf(self, request: Request) -> HTMLResponse:
        log.warning("site_csrf_refused", path=request.url.path)
        return self.render(
            request,
            "message.html",
            {
                "title": "もう一度操作してください",
                "lines": ["画面の有効期限が切れたか、不正な送信です。最初からやり直してください。"],
                "link": "/login",
                "link_label": "ログイン画面へ",
            },
            status=403,
        )

    def to_login(self, request: Request, notice: str | None = None) -> Response:
        response: Response
        if notice:
            response = self.login_page(request, notices=[notice])
        else:
            response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def posted(
        self, request: Request, *stages: Stage
    ) -> tuple[SessionView, dict[str, str]] | Response:
        """A form posted by a session in one of ``stages``, its CSRF token checked."""
        view = await self.require(request, *stages)
        if not isinstance(view, SessionView):
            return view
        data = await self.form(request)
        if not self.csrf_ok(view.csrf_token, data.get("csrf_token")):
            return self.forbidden_csrf(request)
        return view, data

    async def require(self, request: Request, *stages: Stage) -> SessionView | Response:
        """The session, if it is in one of ``stages``; else where the user must go."""
        had_cookie = COOKIE in request.cookies
        view = await self.current(request)
        if view is None:
            return self.to_login(request, SESSION_ENDED if had_cookie else None)
        if view.stage not in stages:
            return RedirectResponse(_STAGE_HOME[view.stage], status_code=303)
        return view

    # --- login (SITE-1, SITE-2, SITE-4) ----------------------------------------------

    def login_page(
        self,
        request: Request,
        *,
        number: str = "",
        errors: Mapping[str, list[str]] | None = None,
        alert: str | None = None,
        notices: list[str] | None = None,
        status: int = 200,
    ) -> HTMLResponse:
        token = request.cookies.get(PRE_LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)
        response = self.render(
            request,
            "login.html",
            {
                "title": "ログイン",
                "number": number,
                "errors": errors or {},
                "alert": alert,
                "notices": notices or [],
            },
            status=status,
            csrf_token=token,
        )
        response.set_cookie(
            PRE_LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=self._secure(request),
            path="/",
        )
        return response

    async def get_login(self, request: Request) -> Response:
        view = await self.current(request)
        if view is not None:
            return RedirectResponse(_STAGE_HOME[view.stage], status_code=303)
        return self.login_page(request)

    async def post_login(self, request: Request) -> Response:
        data = await self.form(request)
        if not self.csrf_ok(request.cookies.get(PRE_LOGIN_CSRF_COOKIE, ""), data.get("csrf_token")):
            return self.forbidden_csrf(request)
        client = self.client_address(request)
        number = data.get("number", "").strip()
        held = self.deps.throttle.try_acquire(client)
        if not isinstance(held, Reservation):
            wait = held
            log.warning("site_login_throttled", client=client)
            self.deps.logins["throttled"] += 1
            response = self.login_page(
                request,
                number=number,
                alert="ログインの失敗が続いたため、しばらくログインできません。"
                f"{_minutes(wait)}分ほど待ってからやり直してください。",
                status=429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        try:
            result = await run_in_threadpool(
                site_auth.login,
                self.deps.sessions,
                number,
                data.get("password", ""),
                now=self.now(),
            )
        except site_auth.LoginRefused as exc:
            held.keep()  # a wrong guess: the slot stays
            self.deps.logins["refused"] += 1
            message = GENERIC_LOGIN_FAILURE if exc.generic else exc.message
            return self.login_page(request, number=number, alert=message, status=401)
        except DomainError as exc:
            held.release_success()  # malformed input guesses nothing
            self.deps.logins["invalid"] += 1
            return self.login_page(
                request,
                number=number,
                errors={exc.field or "number": [exc.message]},
                status=400,
            )
        # A success gives back its own slot only, not the address's failures: else
        # one's own login between guesses would lift the throttle for guessing others.
        held.release_success()
        self.deps.logins["ok"] += 1
        if result.otp_required and not result.via_temp_password:
            # SITE-5 first, also before the change of an expired password (SITE-4):
            # the password alone must not be enough to set a new one.
            stage = Stage.OTP
        elif result.must_change_password:
            stage = Stage.PASSWORD_CHANGE
        elif result.otp_choice_required:
            stage = Stage.OTP_CHOICE
        else:
            stage = Stage.READY
        view = await run_in_threadpool(
            self.deps.store.create,
            result.number,
            stage,
            result.idle_timeout,
            via_temp_password=result.via_temp_password,
            replaces=request.cookies.get(COOKIE),
        )
        log.info("site_login", number=result.number, stage=stage.value)
        done = RedirectResponse(_STAGE_HOME[stage], status_code=303)
        self.set_session_cookie(done, request, view)
        done.delete_cookie(PRE_LOGIN_CSRF_COOKIE, path="/")
        return done

    async def post_logout(self, request: Request) -> Response:
        """SITE-10: end the session for good (the row is deleted)."""
        view = await self.current(request)
        data = await self.form(request)
        if view is not None:
            if not self.csrf_ok(view.csrf_token, data.get("csrf_token")):
                return self.forbidden_csrf(request)
            await run_in_threadpool(self.deps.store.end, view.token)
            log.info("site_logout", number=view.login_number)
        return self.to_login(request, "ログアウトしました。")

    # --- home ----------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        view = await self.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        try:
            scope, unit, is_contract = await run_in_threadpool(self._scope, view.login_number)
        except site_auth.OutOfScope:
            await run_in_threadpool(self.deps.store.end, view.token)
            return self.to_login(request, "この電話番号ではログインできなくなりました。")
        return self.render(
            request,
            "home.html",
            {
                "title": "設定メニュー",
                "scope": scope,
                "unit_label": UNIT_LABELS[unit],
                "can_change_unit": unit is not AuthUnit.ADMIN_USER or is_contract,
            },
            session=view,
        )

    def _scope(self, login_number: str) -> tuple[tuple[str, ...], AuthUnit, bool]:
        with db.transaction(self.deps.sessions, read_only=True) as s:
            scope = site_auth.managed_numbers(s, login_number)
            number = service.get_number(s, login_number)
            return scope, number.line.auth_unit, number.is_contract

    # --- password change (SITE-2, SITE-3, SITE-4, SITE-10) -----------------------------

    async def get_password(self, request: Request) -> Response:
        view = await self.require(request, Stage.PASSWORD_CHANGE, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return await self.password_page(request, view)

    async def password_page(
        self,
        request: Request,
        view: SessionView,
        *,
        target: str | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        targets = await run_in_threadpool(self._password_targets, view)
        forced = None
        if view.stage is Stage.PASSWORD_CHANGE:
            forced = (
                "仮パスワードでログインしました。パスワードを設定してください。"
                if view.via_temp_password
                else "パスワードの有効期限(60日)が切れました。新しいパスワードを設定してください。"
            )
        return self.render(
            request,
            "password.html",
            {
                "title": "パスワード変更",
                "forced": forced,
                "targets": targets,
                "target": target or view.login_number,
                "current_label": "仮パスワード" if view.via_temp_password else "現在のパスワード",
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    def _password_targets(self, view: SessionView) -> tuple[str, ...]:
        if view.stage is Stage.PASSWORD_CHANGE:
            return (view.login_number,)
        scope, unit, is_contract = self._scope(view.login_number)
        return scope if unit is AuthUnit.ADMIN_USER and is_contract else (view.login_number,)

    async def post_password(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.PASSWORD_CHANGE, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted
        target = data.get("target") or view.login_number
        if view.stage is Stage.PASSWORD_CHANGE and target != view.login_number:
            return await self.password_page(
                request, view, errors={"target": ["この電話番号は変更できません。"]}, status=403
            )
        new = data.get("new_password", "")
        # Issue 12: the current password is a guessing surface (a session left
        # open or taken over): throttled as the login is, under its own key.
        client = "password:" + self.client_address(request)
        held = self.deps.throttle.try_acquire(client)
        if not isinstance(held, Reservation):
            log.warning("site_password_throttled", client=client)
            response = await self.password_page(
                request,
                view,
                target=target,
                errors={
                    "current_password": [
                        "パスワードの誤りが続いたため、しばらくパスワードを変更できません。"
                        f"{_minutes(held)}分ほど待ってからやり直してください。"
                    ]
                },
                status=429,
            )
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        try:
            changed = await run_in_threadpool(
                site_auth.attempt_password_change,
                self.deps.sessions,
                view.login_number,
                target,
                data.get("current_password", ""),
                new,
                data.get("confirm_password", ""),
                now=self.now(),
            )
        except site_auth.CurrentPasswordRefused as exc:
            if exc.counted:
                held.keep()
            else:
                held.release_success()
            if exc.code != "current_password_wrong":
                # SITE-2/SITE-4: this entry made the secret invalid; the number's
                # sessions, this one with them, have ended.
                response = self.login_page(request, alert=exc.message, status=401)
                response.delete_cookie(COOKIE, path="/")
                return response
            return await self.password_page(
                request, view, target=target, errors=_field_errors(exc), status=400
            )
        except site_auth.OutOfScope as exc:
            held.release_success()
            return await self.password_page(
                request, view, target=target, errors={"target": [exc.message]}, status=403
            )
        except DomainError as exc:
            held.release_success()
            errors = _field_errors(exc)
            if exc.field == "new_password" and exc.code.startswith("password_"):
                # SITE-3: show every rule the new password breaks, not only the first.
                errors["new_password"] = _unique(
                    [p.message for p in password_rules.password_problems(new, number=target)]
                    + errors["new_password"]
                )
            return await self.password_page(request, view, target=target, errors=errors, status=400)
        held.release_success()
        if changed.relogin_required:
            await run_in_threadpool(self.deps.store.end, view.token)
            response = self.render(
                request,
                "message.html",
                {
                    "title": "パスワードを変更しました",
                    "lines": [
                        f"{changed.number} のパスワードを変更しました。",
                        "新しいパスワードでログインしてください。",
                    ],
                    "link": "/login",
                    "link_label": "ログイン画面へ",
                },
            )
            response.delete_cookie(COOKIE, path="/")
            return response
        # An administrator changed another number's password: the session goes
        # on, under a new id (the target's sessions ended with the change).
        moved = await run_in_threadpool(self.deps.store.advance, view, view.stage)
        if moved is None:
            return self.to_login(request, SESSION_ENDED)
        response = self.render(
            request,
            "message.html",
            {
                "title": "パスワードを変更しました",
                "lines": [f"{changed.number} のパスワードを変更しました。"],
                "link": "/",
                "link_label": "戻る",
            },
            session=moved,
        )
        self.set_session_cookie(response, request, moved)
        return response

    # --- one-time password (SITE-5) ---------------------------------------------------

    async def advance(self, request: Request, view: SessionView, stage: Stage) -> Response:
        """Move the login on (under a new session id) and go to the stage's page."""
        moved = await run_in_threadpool(self.deps.store.advance, view, stage)
        if moved is None:  # ended meanwhile (a credential changed): no stage further
            return self.to_login(request, SESSION_ENDED)
        response = RedirectResponse(_STAGE_HOME[stage], status_code=303)
        self.set_session_cookie(response, request, moved)
        return response

    async def get_otp_choice(self, request: Request) -> Response:
        view = await self.require(request, Stage.OTP_CHOICE)
        if not isinstance(view, SessionView):
            return view
        return self.render(
            request, "otp_choice.html", {"title": "ワンタイムパスワードの利用選択"}, session=view
        )

    async def post_otp_choice(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.OTP_CHOICE)
        if isinstance(posted, Response):
            return posted
        view, data = posted
        if data.get("choice") == "use":
            return RedirectResponse("/otp/enrol", status_code=303)
        if data.get("agree") != "1":
            return self.render(
                request,
                "otp_decline.html",
                {"title": "ワンタイムパスワードを利用しないことの確認"},
                session=view,
            )
        await run_in_threadpool(self._in_tx, site_auth.set_otp_enabled, view.login_number, False)
        return await self.advance(request, view, Stage.READY)

    def _in_tx(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with db.transaction(self.deps.sessions) as s:
            return function(s, *args, now=self.now(), **kwargs)

    def _credential(self, number: str) -> dict[str, Any]:
        with db.transaction(self.deps.sessions, read_only=True) as s:
            cred = service.get_number(s, number).credential
            if cred is None:
                return {"enabled": False, "address": None, "verified": False, "has_id": False}
            return {
                "enabled": cred.otp_enabled,
                "address": cred.otp_address,
                "verified": cred.otp_address_verified_at is not None,
                "has_id": cred.otp_confirmation_id is not None,
            }

    async def get_otp_enrol(self, request: Request) -> Response:
        view = await self.require(request, Stage.OTP_CHOICE, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return await self.otp_enrol_page(request, view)

    async def otp_enrol_page(
        self,
        request: Request,
        view: SessionView,
        *,
        data: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        cred = await run_in_threadpool(self._credential, view.login_number)
        data = data or {}
        return self.render(
            request,
            "otp_enrol.html",
            {
                "title": "ワンタイムパスワード受信用メールアドレスの"
                + ("変更" if cred["has_id"] else "登録"),
                "action": "/otp/enrol",
                "address": data.get("address", ""),
                "confirmation_id": data.get("confirmation_id", ""),
                "button": "変更" if cred["has_id"] else "登録",
                # Seeds (9): when changing, the fields prove the values set at enrolment.
                "is_change": cred["has_id"],
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    def confirmation_client(self, request: Request) -> str:
        """Issue 12: the throttle's key for wrong confirmation IDs/passwords of an address."""
        return "confirmation:" + self.client_address(request)

    def confirmation_wait(self, request: Request) -> tuple[Reservation | float, str]:
        """A throttle slot for one entry of confirmation values, or the seconds to
        wait; and the message for the wait."""
        client = self.confirmation_client(request)
        held = self.deps.throttle.try_acquire(client)
        wait = 0.0 if isinstance(held, Reservation) else held
        if wait > 0:
            log.warning("site_confirmation_throttled", client=client)
        message = (
            "確認用IDまたは確認用パスワードの誤りが続いたため、しばらく入力を受け付けません。"
            f"{_minutes(wait)}分ほど待ってからやり直してください。"
        )
        return held, message

    def confirmation_refused(self, exc: DomainError, held: Reservation | None) -> int:
        """The status of a refused confirmation entry; a wrong one keeps its throttle slot."""
        counted = isinstance(exc, site_auth.ConfirmationRefused) and exc.counted
        if held is not None:
            if counted:
                held.keep()
            else:
                held.release_success()
        if isinstance(exc, site_auth.ConfirmationRefused) and exc.code == "confirmation_limit":
            return 429
        return 400

    async def post_otp_enrol(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.OTP_CHOICE, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted
        cred = await run_in_threadpool(self._credential, view.login_number)
        values = (
            view.login_number,
            data.get("address", "").strip(),
            data.get("confirmation_id", ""),
            data.get("confirmation_password", ""),
        )
        held: Reservation | None = None
        try:
            if cred["has_id"]:
                # Seeds (9): the values prove the current ones, a guessing surface (issue 12).
                slot, message = self.confirmation_wait(request)
                if not isinstance(slot, Reservation):
                    response = await self.otp_enrol_page(
                        request, view, data=data, errors={"form": [message]}, status=429
                    )
                    response.headers["Retry-After"] = str(int(slot) + 1)
                    return response
                held = slot
                await run_in_threadpool(
                    site_auth.change_otp_address,
                    self.deps.sessions,
                    *values,
                    link_base=self.link_base(request),
                    sender=self.deps.sender_address,
                    now=self.now(),
                    limits=self.otp_limits(),
                )
            else:
                await run_in_threadpool(
                    self._in_tx,
                    site_auth.start_otp_enrolment,
                    *values,
                    link_base=self.link_base(request),
                    sender=self.deps.sender_address,
                    limits=self.otp_limits(),
                )
        except DomainError as exc:
            status = self.confirmation_refused(exc, held)
            errors = _field_errors(exc)
            if exc.field == "confirmation_id" and exc.code.startswith("confirmation_id"):
                problems = password_rules.confirmation_id_problems(data.get("confirmation_id", ""))
                errors["confirmation_id"] = _unique([p.message for p in problems])
            response = await self.otp_enrol_page(
                request, view, data=data, errors=errors, status=status
            )
            if isinstance(exc, site_auth.ConfirmationRefused) and exc.retry_at is not None:
                response.headers["Retry-After"] = _seconds_until(exc.retry_at, self.now())
            if isinstance(exc, site_auth.VerificationRefused):
                # Issue 12: the number's (or line's) verification mails of 24 hours.
                response.status_code = 429
                response.headers["Retry-After"] = _seconds_until(exc.retry_at, self.now())
            return response
        if held is not None:
            held.release_success()
        return self.render(
            request,
            "message.html",
            {
                "title": "仮登録が完了しました",
                "lines": [
                    f"{data.get('address', '').strip()} にメールを送りました。",
                    "メールに記載された「メールアドレスの本登録お手続きURL」を24時間以内に開いて、"
                    "本登録を完了してください。",
                ],
            },
            session=view,
        )

    async def otp_verify(self, request: Request) -> Response:
        """The link mailed to the OTP address (valid 24 hours, once); no login needed."""
        token = request.query_params.get("token", "")
        try:
            number = await run_in_threadpool(self._in_tx, site_auth.verify_otp_address, token)
        except DomainError as exc:
            return self.render(
                request,
                "message.html",
                {"title": "本登録できませんでした", "lines": [exc.message]},
                status=400,
            )
        view = await self.current(request)
        if view is not None and view.login_number == number and view.stage is Stage.OTP_CHOICE:
            return await self.advance(request, view, Stage.OTP)
        return self.render(
            request,
            "message.html",
            {
                "title": "本登録が完了しました",
                "lines": [f"{number} のワンタイムパスワード受信用メールアドレスを登録しました。"],
                "link": "/login",
                "link_label": "ログイン画面へ",
            },
        )

    async def get_login_otp(
        self,
        request: Request,
        *,
        notices: list[str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        view = await self.require(request, Stage.OTP)
        if not isinstance(view, SessionView):
            return view
        return self.render(
            request,
            "otp_login.html",
            {
                "title": "ワンタイムパスワードの入力",
                "notices": notices or [],
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    def otp_limits(self) -> site_auth.OtpLimits:
        """SITE-5 caps per number over 24 hours, from ``[site]``."""
        return site_auth.OtpLimits(
            wrong_codes_per_day=self.deps.config.otp_wrong_codes_per_day,
            code_mails_per_day=self.deps.config.otp_code_mails_per_day,
            confirmation_failures_per_day=self.deps.config.confirmation_failures_per_day,
            verification_mails_per_day=self.deps.config.verification_mails_per_day,
        )

    async def end_otp_stage(self, request: Request, view: SessionView, message: str) -> Response:
        """A cap of the day is reached: the login stage ends, the login page says why."""
        await run_in_threadpool(self.deps.store.end, view.token)
        log.warning("site_otp_stage_ended", number=view.login_number)
        response = self.login_page(request, alert=message, status=429)
        response.delete_cookie(COOKIE, path="/")
        return response

    async def post_login_otp_send(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.OTP)
        if isinstance(posted, Response):
            return posted
        view, _data = posted
        try:
            await run_in_threadpool(
                self._in_tx,
                site_auth.send_otp_code,
                view.login_number,
                sender=self.deps.sender_address,
                limits=self.otp_limits(),
            )
        except DomainError as exc:
            if exc.code in site_auth.OTP_STAGE_ENDING:
                return await self.end_otp_stage(request, view, exc.message)
            return await self.get_login_otp(request, errors={"otp_code": [exc.message]}, status=429)
        return await self.get_login_otp(
            request, notices=["ワンタイムパスワードを送信しました。メールを確認してください。"]
        )

    async def post_login_otp(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.OTP)
        if isinstance(posted, Response):
            return posted
        view, data = posted
        try:
            accepted = await run_in_threadpool(
                site_auth.check_otp_code,
                self.deps.sessions,
                view.login_number,
                data.get("otp_code", "").strip(),
                now=self.now(),
                limits=self.otp_limits(),
            )
        except DomainError as exc:
            if exc.code in site_auth.OTP_STAGE_ENDING:
                return await self.end_otp_stage(request, view, exc.message)
            return await self.get_login_otp(request, errors={"otp_code": [exc.message]}, status=400)
        stage = Stage.PASSWORD_CHANGE if accepted.password_expired else Stage.READY
        return await self.advance(request, view, stage)

    async def get_otp_settings(
        self,
        request: Request,
        *,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        view = await self.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        cred = await run_in_threadpool(self._credential, view.login_number)
        return self.render(
            request,
            "otp_settings.html",
            {"title": "ワンタイムパスワード設定", "errors": errors or {}, **cred},
            status=status,
            session=view,
        )

    async def post_otp_settings(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted
        try:
            await run_in_threadpool(
                self._in_tx,
                site_auth.set_otp_enabled,
                view.login_number,
                data.get("enabled") == "1",
            )
        except DomainError as exc:
            return await self.get_otp_settings(request, errors={"form": [exc.message]}, status=400)
        return RedirectResponse("/otp", status_code=303)

    async def get_otp_confirmation(
        self,
        request: Request,
        *,
        data: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        """SITE-5, seeds (10): the confirmation ID/password change, proven by the current ones."""
        view = await self.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        data = data or {}
        return self.render(
            request,
            "otp_confirmation.html",
            {
                "title": "確認用ID/パスワードの変更",
                "current_id": data.get("current_confirmation_id", ""),
                "new_id": data.get("new_confirmation_id", ""),
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def post_otp_confirmation(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted
        fields = (
            "current_confirmation_id",
            "current_confirmation_password",
            "new_confirmation_id",
            "confirm_confirmation_id",
            "new_confirmation_password",
            "confirm_confirmation_password",
        )
        held, message = self.confirmation_wait(request)
        if not isinstance(held, Reservation):
            response = await self.get_otp_confirmation(
                request, data=data, errors={"form": [message]}, status=429
            )
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        try:
            await run_in_threadpool(
                site_auth.change_otp_confirmation,
                self.deps.sessions,
                view.login_number,
                *(data.get(name, "") for name in fields),
                now=self.now(),
                limits=self.otp_limits(),
            )
        except DomainError as exc:
            status = self.confirmation_refused(exc, held)
            errors = _field_errors(exc)
            new_id, new_password = data.get(fields[2], ""), data.get(fields[4], "")
            if exc.field == fields[2] and exc.code.startswith("confirmation_id_"):
                problems = password_rules.confirmation_id_problems(new_id)
                errors[fields[2]] = _unique([p.message for p in problems])
            if exc.field == fields[4] and exc.code.startswith("confirmation_password_"):
                problems = password_rules.confirmation_password_problems(new_password)
                errors[fields[4]] = _unique([p.message for p in problems])
            response = await self.get_otp_confirmation(
                request, data=data, errors=errors, status=status
            )
            if isinstance(exc, site_auth.ConfirmationRefused) and exc.retry_at is not None:
                response.headers["Retry-After"] = _seconds_until(exc.retry_at, self.now())
            return response
        held.release_success()
        return self.render(
            request,
            "message.html",
            {
                "title": "確認用ID/パスワードを変更しました",
                "lines": ["ワンタイムパスワードの確認用ID/パスワードを変更しました。"],
                "link": "/otp",
                "link_label": "ワンタイムパスワード設定へ",
            },
            session=view,
        )

    # --- auth unit change (SITE-8) ----------------------------------------------------

    def _unit_page_data(self, login_number: str) -> tuple[AuthUnit, bool, tuple[str, ...]]:
        """The line's unit, whether the login is the contract number, the numbers to enter."""
        with db.transaction(self.deps.sessions, read_only=True) as s:
            number = service.get_number(s, login_number)
            unit = number.line.auth_unit
            if unit is AuthUnit.NUMBER:
                # Seeds (2), (3): from the number unit, every number's password.
                numbers = tuple(n.number for n in number.line.numbers if n.mail_subscribed)
            else:
                numbers = (login_number,)
            return unit, number.is_contract, numbers

    async def get_auth_unit(
        self,
        request: Request,
        *,
        chosen: str = "",
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        view = await self.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        unit, _contract, numbers = await run_in_threadpool(self._unit_page_data, view.login_number)
        return self.render(
            request,
            "auth_unit.html",
            {
                "title": "認証単位の変更",
                "current_label": UNIT_LABELS[unit],
                "choices": [(u.value, UNIT_LABELS[u]) for u in AuthUnit if u is not unit],
                "chosen": chosen,
                "password_numbers": numbers,
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def post_auth_unit(self, request: Request) -> Response:
        posted = await self.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted
        try:
            new_unit = AuthUnit(data.get("unit", ""))
        except ValueError:
            return await self.get_auth_unit(
                request, errors={"unit": ["変更後の認証単位を選択してください。"]}, status=400
            )
        passwords = {
            key.removeprefix("password_"): value
            for key, value in data.items()
            if key.startswith("password_") and value
        }
        # The page checks other numbers' passwords: throttled as the login is,
        # in a count of its own that a successful login does not clear.
        client = "auth_unit:" + self.client_address(request)
        held = self.deps.throttle.try_acquire(client)
        if not isinstance(held, Reservation):
            wait = held
            log.warning("site_auth_unit_throttled", client=client)
            response = await self.get_auth_unit(
                request,
                chosen=new_unit.value,
                errors={
                    "form": [
                        "パスワードの誤りが続いたため、しばらく認証単位を変更できません。"
                        f"{_minutes(wait)}分ほど待ってからやり直してください。"
                    ]
                },
                status=429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        try:
            changed = await run_in_threadpool(
                site_auth.attempt_auth_unit_change,
                self.deps.sessions,
                view.login_number,
                new_unit,
                passwords,
                now=self.now(),
            )
        except site_auth.OutOfScope as exc:
            held.release_success()
            return await self.get_auth_unit(
                request, chosen=new_unit.value, errors={"form": [exc.message]}, status=403
            )
        except DomainError as exc:
            if exc.code == "passwords_wrong":
                held.keep()
            else:
                held.release_success()
            return await self.get_auth_unit(
                request, chosen=new_unit.value, errors=_field_errors(exc), status=400
            )
        held.release_success()
        await run_in_threadpool(self.deps.store.end, view.token)
        lines = [f"認証単位を{UNIT_LABELS[changed.new_unit]}に変更しました。", *changed.notices]
        lines.append("ログインする電話番号: " + "、".join(changed.login_numbers))
        if changed.need_temp_password:
            lines.append(
                "次の電話番号は、仮パスワードを設定してからログインしてください: "
                + "、".join(changed.need_temp_password)
            )
        response = self.render(
            request,
            "message.html",
            {
                "title": "認証単位を変更しました",
                "lines": lines,
                "link": "/login",
                "link_label": "ログイン画面へ",
            },
        )
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- errors ----------------------------------------------------------------------

    async def refuse_body(self, scope: Scope, status: int, kind: str) -> Response:
        """Issue 12 item 12: a request refused by ``web.limits`` before it was read."""
        config = self.deps.config
        upload = scope.get("path") == CSV_UPLOAD_PATH
        limit = config.max_csv_upload_bytes if upload else config.max_form_bytes
        lines = {
            "too_large": [
                f"送信されたデータが大きすぎます({_size_label(limit)}まで)。"
                "入力内容やファイルを確認して、もう一度操作してください。"
            ],
            "no_files": ["この画面からはファイルは送信できません。"],
            "bad_length": ["送信されたデータの形式が正しくありません。"],
        }[kind]
        return self.render(
            Request(scope),
            "message.html",
            {"title": "送信できませんでした", "lines": lines},
            status=status,
        )

    async def not_found(self, request: Request, _exc: Exception) -> Response:
        return self.render(
            request, "message.html", {"title": "ページが見つかりません", "lines": []}, status=404
        )

    async def unavailable(self, request: Request, exc: Exception) -> Response:
        log.error("site_database_unavailable", error=db.first_line(exc))
        return self.render(
            request,
            "message.html",
            {
                "title": "ただいま利用できません",
                "lines": ["しばらくしてからもう一度お試しください。"],
            },
            status=503,
        )


_STAGE_HOME = {
    Stage.PASSWORD_CHANGE: "/password",
    Stage.OTP: "/login/otp",
    Stage.OTP_CHOICE: "/otp/choice",
    Stage.READY: "/",
}


def _field_errors(exc: DomainError) -> dict[str, list[str]]:
    return {exc.field or "form": [exc.message]}


def _seconds_until(moment: dt.datetime, now: dt.datetime) -> str:
    """A Retry-After value: whole seconds from ``now`` to ``moment``, at least 1."""
    return str(max(1, int((moment - now).total_seconds()) + 1))


def _minutes(wait: float) -> int:
    """Whole minutes to tell a throttled subscriber to wait, rounded up."""
    return int(wait // 60) + 1


def _unique(messages: list[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def _size_label(size: int) -> str:
    """A byte count as the page says it: 64KB, 1MB."""
    if size >= 1024 * 1024 and size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)}MB"
    if size >= 1024:
        return f"{size // 1024}KB"
    return f"{size}バイト"


def create_app(deps: SiteDeps) -> Starlette:
    from web.settings import Settings

    site = Site(deps)
    settings = Settings(site)
    if not deps.config.public_url:
        # Safe (never the Host header) but only right on one box: say so once.
        log.warning("site_public_url_unset", links="the address the site listens on")
    routes = [
        Route("/", site.home),
        Route("/login", site.get_login, methods=["GET"]),
        Route("/login", site.post_login, methods=["POST"]),
        Route("/logout", site.post_logout, methods=["POST"]),
        Route("/password", site.get_password, methods=["GET"]),
        Route("/password", site.post_password, methods=["POST"]),
        Route("/numbers", settings.numbers, methods=["GET"]),
        Route("/numbers/{number:str}/history", settings.history, methods=["GET"]),
        Route("/bulk", settings.get_bulk, methods=["GET"]),
        Route("/bulk", settings.post_bulk, methods=["POST"]),
        Route("/otp/csv", settings.get_otp_csv, methods=["GET"]),
        Route(CSV_UPLOAD_PATH, settings.post_otp_csv, methods=["POST"]),
        Route("/otp/csv/download", settings.download_otp_csv, methods=["GET"]),
        Route("/numbers/{number:str}", settings.menu, methods=["GET"]),
        Route("/numbers/{number:str}/service", settings.post_service, methods=["POST"]),
        Route("/numbers/{number:str}/addresses", settings.addresses, methods=["GET"]),
        Route("/numbers/{number:str}/addresses", settings.post_addresses, methods=["POST"]),
        Route("/numbers/{number:str}/addresses/test", settings.post_test, methods=["POST"]),
        Route("/numbers/{number:str}/conditions", settings.conditions, methods=["GET"]),
        Route("/numbers/{number:str}/conditions", settings.post_conditions, methods=["POST"]),
        Route("/numbers/{number:str}/designated", settings.designated, methods=["GET"]),
        Route("/numbers/{number:str}/designated", settings.post_designated, methods=["POST"]),
        Route("/otp/choice", site.get_otp_choice, methods=["GET"]),
        Route("/otp/choice", site.post_otp_choice, methods=["POST"]),
        Route("/otp/enrol", site.get_otp_enrol, methods=["GET"]),
        Route("/otp/enrol", site.post_otp_enrol, methods=["POST"]),
        Route("/otp/verify", site.otp_verify, methods=["GET"], name="otp_verify"),
        Route("/otp", site.get_otp_settings, methods=["GET"]),
        Route("/otp", site.post_otp_settings, methods=["POST"]),
        Route("/otp/confirmation", site.get_otp_confirmation, methods=["GET"]),
        Route("/otp/confirmation", site.post_otp_confirmation, methods=["POST"]),
        Route("/login/otp", site.get_login_otp, methods=["GET"]),
        Route("/login/otp", site.post_login_otp, methods=["POST"]),
        Route("/login/otp/send", site.post_login_otp_send, methods=["POST"]),
        Route("/auth-unit", site.get_auth_unit, methods=["GET"]),
        Route("/auth-unit", site.post_auth_unit, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(HERE / "static")), name="static"),
    ]

    def upload(scope: Scope) -> bool:
        """The CSV upload of a browser with a session cookie (checked by the handler).

        Without one, the request can only be sent to the login page: it gets
        the small limit, so an anonymous client cannot make the site hold a
        megabyte per request.
        """
        if scope.get("path") != CSV_UPLOAD_PATH or scope.get("method") != "POST":
            return False
        return COOKIE in Request(scope).cookies

    def limit_for(scope: Scope) -> int:
        config = deps.config
        return config.max_csv_upload_bytes if upload(scope) else config.max_form_bytes

    app = Starlette(
        routes=routes,
        middleware=[
            # Outermost first: who the client is, then the body bounded before any handler.
            Middleware(proxy.ProxyHeaders, trusted=proxy.networks(deps.config.trusted_proxies)),
            Middleware(
                limits.BodyLimit,
                limit_for=limit_for,
                takes_files=upload,
                refuse=site.refuse_body,
            ),
        ],
        exception_handlers={
            404: site.not_found,
            SQLAlchemyError: site.unavailable,
            db.DatabaseError: site.unavailable,
            NotFound: site.not_found,
        },
    )
    app.state.site = site
    return app
