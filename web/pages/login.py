"""Login, logout, the menu and the password change (SITE-1 … SITE-4, SITE-10).

Each handler reads the form, calls one domain function of
``store.site_auth`` (which holds every SITE rule and writes nothing on
error), and renders the result; errors are shown next to their field in
the seeds' words (``web.texts``).
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import password_rules, site_auth, validation
from store.errors import DomainError
from store.models import AuthUnit
from web.pages.base import (
    PRE_LOGIN_CSRF_COOKIE,
    STAGE_HOME,
    Plumbing,
    field_errors,
    minutes,
    unique,
    unit_label,
)
from web.ratelimit import Reservation
from web.sessions import COOKIE, SessionView, Stage
from web.texts import japanese, page

log = structlog.get_logger("web")


class LoginPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    # --- login (SITE-1, SITE-2, SITE-4) ----------------------------------------------

    async def get_login(self, request: Request) -> Response:
        view = await self.base.current(request)
        if view is not None:
            return RedirectResponse(STAGE_HOME[view.stage], status_code=303)
        return self.base.login_page(request)

    async def post_login(self, request: Request) -> Response:
        base, deps = self.base, self.base.deps
        data = dict(await base.form(request))
        if not base.csrf_ok(request.cookies.get(PRE_LOGIN_CSRF_COOKIE, ""), data.get("csrf_token")):
            return base.forbidden_csrf(request)
        client = base.client_address(request)
        # Issue 14 flow 8: the number as people type it (０３…, 03-1234-5678).
        number = validation.typed_number(data.get("number", "").strip())
        # Written back into the page as typed, unless longer than any number (forged).
        shown = number if len(number) <= validation.MAX_TYPED_NUMBER else ""
        held = deps.throttle.try_acquire(client)
        if not isinstance(held, Reservation):
            wait = held
            log.warning("site_login_throttled", client=client)
            deps.logins["throttled"] += 1
            response = base.login_page(
                request,
                number=shown,
                alert=page("login.throttled", minutes=minutes(wait)),
                status=429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        try:
            result = await run_in_threadpool(
                site_auth.login,
                deps.sessions,
                number,
                data.get("password", ""),
                now=base.now(),
            )
        except site_auth.LoginRefused as exc:
            held.keep()  # a wrong guess: the slot stays
            deps.logins["refused"] += 1
            message = japanese(exc)  # one sentence for every generic reason (SITE-1)
            return base.login_page(request, number=shown, alert=message, status=401)
        except DomainError as exc:
            held.release_success()  # malformed input guesses nothing
            deps.logins["invalid"] += 1
            return base.login_page(
                request,
                number=shown,
                errors={exc.field or "number": [japanese(exc)]},
                status=400,
            )
        # A success gives back its own slot only, not the address's failures: else
        # one's own login between guesses would lift the throttle for guessing others.
        held.release_success()
        deps.logins["ok"] += 1
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
            deps.store.create,
            result.number,
            stage,
            result.idle_timeout,
            via_temp_password=result.via_temp_password,
            replaces=request.cookies.get(COOKIE),
        )
        log.info("site_login", number=result.number, stage=stage.value)
        done = RedirectResponse(STAGE_HOME[stage], status_code=303)
        base.set_session_cookie(done, request, view)
        done.delete_cookie(PRE_LOGIN_CSRF_COOKIE, path="/")
        return done

    async def post_logout(self, request: Request) -> Response:
        """SITE-10: end the session for good (the row is deleted)."""
        base = self.base
        view = await base.current(request)
        data = dict(await base.form(request))
        if view is not None:
            if not base.csrf_ok(view.csrf_token, data.get("csrf_token")):
                return base.forbidden_csrf(request)
            await run_in_threadpool(base.deps.store.end, view.token)
            log.info("site_logout", number=view.login_number)
        return base.to_login(request, page("logout.done"))

    # --- home ----------------------------------------------------------------------

    async def home(self, request: Request) -> Response:
        base = self.base
        view = await base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        scope = await base.scope(request, view)  # SITE-1: ``require`` ended a lost login
        return base.render(
            request,
            "home.html",
            {
                "title": page("home.title"),
                "scope": scope.numbers,
                "unit_label": unit_label(scope.unit),
                "can_change_unit": scope.unit is not AuthUnit.ADMIN_USER or scope.is_contract,
            },
            session=view,
        )

    # --- password change (SITE-2, SITE-3, SITE-4, SITE-10) -----------------------------

    async def get_password(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.PASSWORD_CHANGE, Stage.READY)
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
        targets = await self._password_targets(request, view)
        forced = None
        if view.stage is Stage.PASSWORD_CHANGE:
            forced = page(
                "password.forced_temp" if view.via_temp_password else "password.forced_expired"
            )
        # SITE-2, issue 14: leaving the change costs the subscriber no second call.
        temp_note = page("password.temp_stays_valid") if view.via_temp_password else None
        # Seeds P.5 step 4: one 「現在のパスワード」 field; what goes in it depends on
        # the login (issue 14: an administrator types their own, for any number).
        if view.via_temp_password:
            current_hint = page("password.current_hint_temp")
        elif len(targets) > 1:
            current_hint = page("password.current_is_own", number=view.login_number)
        else:
            current_hint = page("password.current_hint")
        return self.base.render(
            request,
            "password.html",
            {
                "title": page("password.title"),
                "forced": forced,
                "temp_note": temp_note,
                "targets": targets,
                "target": target or view.login_number,
                # Issue 14: the heading names the number, unless the page offers a choice.
                "page_number": targets[0] if len(targets) == 1 else None,
                "current_label": page("password.current"),
                "current_hint": current_hint,
                # A forced change leads nowhere else: ログアウト is its way out.
                "back": view.stage is Stage.READY,
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def _password_targets(self, request: Request, view: SessionView) -> tuple[str, ...]:
        """SITE-10: whose password this login may change (its own, during a forced change)."""
        if view.stage is Stage.PASSWORD_CHANGE:
            return (view.login_number,)
        scope = await self.base.scope(request, view)
        if scope.unit is AuthUnit.ADMIN_USER and scope.is_contract:
            return scope.numbers
        return (view.login_number,)

    async def post_password(self, request: Request) -> Response:
        base, deps = self.base, self.base.deps
        posted = await base.posted(request, Stage.PASSWORD_CHANGE, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        target = data.get("target") or view.login_number
        if view.stage is Stage.PASSWORD_CHANGE and target != view.login_number:
            return await self.password_page(
                request, view, errors={"target": [page("password.target_refused")]}, status=403
            )
        new = data.get("new_password", "")
        # Issue 12: the current password is a guessing surface (a session left
        # open or taken over): throttled as the login is, under its own key.
        client = "password:" + base.client_address(request)
        held = deps.throttle.try_acquire(client)
        if not isinstance(held, Reservation):
            log.warning("site_password_throttled", client=client)
            response = await self.password_page(
                request,
                view,
                target=target,
                errors={"current_password": [page("password.throttled", minutes=minutes(held))]},
                status=429,
            )
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        try:
            changed = await run_in_threadpool(
                site_auth.attempt_password_change,
                deps.sessions,
                view.login_number,
                target,
                data.get("current_password", ""),
                new,
                data.get("confirm_password", ""),
                now=base.now(),
            )
        except site_auth.CurrentPasswordRefused as exc:
            if exc.counted:
                held.keep()
            else:
                held.release_success()
            if exc.code != "current_password_wrong":
                # SITE-2/SITE-4: this entry made the secret invalid; the number's
                # sessions, this one with them, have ended.
                response = base.login_page(request, alert=japanese(exc), status=401)
                response.delete_cookie(COOKIE, path="/")
                return response
            return await self.password_page(
                request, view, target=target, errors=field_errors(exc), status=400
            )
        except site_auth.OutOfScope as exc:
            held.release_success()
            return await self.password_page(
                request, view, target=target, errors={"target": [japanese(exc)]}, status=403
            )
        except DomainError as exc:
            held.release_success()
            errors = field_errors(exc)
            if exc.field == "new_password" and exc.code.startswith("password_"):
                # SITE-3: show every rule the new password breaks, not only the first.
                errors["new_password"] = unique(
                    [japanese(p) for p in password_rules.password_problems(new, number=target)]
                    + errors["new_password"]
                )
            return await self.password_page(request, view, target=target, errors=errors, status=400)
        held.release_success()
        if changed.relogin_required:
            await run_in_threadpool(deps.store.end, view.token)
            response = base.message(
                request,
                page("password.changed_title"),
                [
                    page("password.changed", number=changed.number),
                    page("password.log_in_again"),
                ],
                link=("/login", page("link.login")),
            )
            response.delete_cookie(COOKIE, path="/")
            return response
        # An administrator changed another number's password: the session goes
        # on, under a new id (the target's sessions ended with the change).
        moved = await run_in_threadpool(deps.store.advance, view, view.stage)
        if moved is None:
            return base.to_login(request, page("session.ended"))
        response = base.message(
            request,
            page("password.changed_title"),
            [page("password.changed", number=changed.number)],
            link=("/", page("link.back")),
            session=moved,
        )
        base.set_session_cookie(response, request, moved)
        return response
