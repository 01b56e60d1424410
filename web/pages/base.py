"""The page plumbing of the settings site: render, require, one ``posted``, CSRF, the scope.

Every page module receives one ``Plumbing`` (made by ``web.app.create_app``)
and does its work through it: it never imports ``web.app``. A handler
loads what its page needs once (the session, the login's scope, the
number) and a refused form is rendered from those (issue 13): a failed
POST writes the session row once, like a GET.

The login's scope is computed from the database on every request
(``site_auth.managed_numbers``, SITE-1), so an auth unit change or a removed
number takes effect at once, and every page that takes a number checks it
against that scope on the server. ``require`` computes it for every page: a
login that may no longer log in (the operator unsubscribed its mail service,
or removed it, through ``store.service``) has its session ended there and
lands on the login page with the menu's notice (SITE-1, SITE-6), whatever
the page.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import structlog
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.templating import Jinja2Templates

from store import db, site_auth
from store.errors import DomainError
from store.models import AuthUnit
from web.deps import SiteDeps
from web.pages.forms import BadForm
from web.ratelimit import Reservation, client_key
from web.sessions import COOKIE, SessionView, Stage
from web.texts import PASSWORD_HINTS, japanese, page

log = structlog.get_logger("web")

WEB = Path(__file__).resolve().parent.parent
# More fields than any page has (the auth unit page: one per number of a line).
MAX_FORM_FIELDS = 5000
PRE_LOGIN_CSRF_COOKIE = "chakushin_csrf"
# The one request that may carry a file, and a larger body (SITE-9).
CSV_UPLOAD_PATH = "/otp/csv"
# Where a session of each stage belongs (SITE-2/SITE-4 password change, SITE-5).
STAGE_HOME = {
    Stage.PASSWORD_CHANGE: "/password",
    Stage.OTP: "/login/otp",
    Stage.OTP_CHOICE: "/otp/choice",
    Stage.READY: "/",
}

P = ParamSpec("P")
T = TypeVar("T")


@dataclass(frozen=True)
class LoginScope:
    """SITE-1: the numbers a login manages, its line's auth unit, whether it is the contract."""

    numbers: tuple[str, ...]
    unit: AuthUnit
    is_contract: bool


@dataclass(frozen=True)
class Posted:
    """A form posted by a live session, its CSRF token checked."""

    view: SessionView
    data: dict[str, str]  # the last value of each field
    items: tuple[tuple[str, str], ...]  # every (field, value), repeated fields included


@dataclass(frozen=True)
class NumberPage:
    """A page of one number the login manages, with what its handler loaded to know it."""

    view: SessionView
    number: str
    scope: LoginScope


class Plumbing:
    """What every page uses: the dependencies, templates, sessions, forms and the scope."""

    def __init__(self, deps: SiteDeps) -> None:
        self.deps = deps
        self.templates = Jinja2Templates(directory=str(WEB / "templates"))
        # SITE-3/SITE-5: the rule hints are said once, in the catalogue.
        self.templates.env.globals["password_hints"] = PASSWORD_HINTS

    # --- responses -------------------------------------------------------------------

    def render(
        self,
        request: Request,
        template: str,
        context: Mapping[str, Any],
        *,
        status: int = 200,
        session: SessionView | None = None,
        csrf_token: str | None = None,
        of_login_number: bool = False,
    ) -> HTMLResponse:
        """The page; ``of_login_number``: it is about the login's own number (the
        one-time password's pages, SITE-5), which its heading names (issue 14)."""
        own = session.login_number if of_login_number and session else None
        data = {
            "login_number": session.login_number if session else None,
            "csrf_token": csrf_token or (session.csrf_token if session else ""),
            "notices": [],
            "alert": None,
            **context,
            "heading_number": self.heading_number(request, context, own),
        }
        response = self.templates.TemplateResponse(request, template, data, status_code=status)
        response.headers["Cache-Control"] = "no-store"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @staticmethod
    def heading_number(
        request: Request, context: Mapping[str, Any], own: str | None = None
    ) -> str | None:
        """Issue 14: the number a page of one number is about, for its heading.

        ``number_page`` notes it for the request (every page of one number
        passes there); a page may give its own (``page_number`` in its
        context, e.g. the password page). None when the title names it already.
        """
        number = context.get("page_number") or getattr(request.state, "page_number", None)
        number = number or own
        if not number or str(number) in str(context.get("title", "")):
            return None
        return page("heading.number", number=str(number))

    def message(
        self,
        request: Request,
        title: str,
        lines: list[str],
        *,
        link: tuple[str, str] | None = None,
        status: int = 200,
        session: SessionView | None = None,
    ) -> HTMLResponse:
        """The one-card page that says what happened (``message.html``), with one link."""
        context: dict[str, Any] = {"title": title, "lines": lines}
        if link is not None:
            context["link"], context["link_label"] = link
        return self.render(request, "message.html", context, status=status, session=session)

    def secure(self, request: Request) -> bool:
        return self.deps.always_secure_cookies or request.url.scheme == "https"

    def set_session_cookie(self, response: Response, request: Request, view: SessionView) -> None:
        response.set_cookie(
            COOKIE,
            view.token,
            httponly=True,
            samesite="lax",
            secure=self.secure(request),
            path="/",
        )

    def now(self) -> dt.datetime:
        return self.deps.clock()

    def client_address(self, request: Request) -> str:
        """The key the password throttle counts failures against (IPv6: the /64)."""
        return client_key(request.client.host) if request.client else "unknown"

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

    # --- the login page, where every ended session lands (SITE-6, SITE-10) --------------

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
                "title": page("login.title"),
                "number": number,
                "errors": errors or {},
                "alert": alert,
                "notices": notices or [],
                **self.temp_password_guidance(),
            },
            status=status,
            csrf_token=token,
        )
        response.set_cookie(
            PRE_LOGIN_CSRF_COOKIE,
            token,
            httponly=True,
            samesite="strict",
            secure=self.secure(request),
            path="/",
        )
        return response

    def temp_password_guidance(self) -> dict[str, Any]:
        """IVR-1, issue 14: how to get a temporary password (the login and help pages).

        The configured access numbers, written as the seeds write them; none
        configured: the pages say to ask the operator.
        """
        # (digits to dial, as shown): each its own line and tel: link, so that a
        # phone dials it with a tap and a narrow screen never breaks one apart.
        numbers = [(n, display_number(n)) for n in self.deps.access_numbers]
        return {
            "access_numbers": numbers,
            "ask_operator": "" if numbers else page("login.ask_operator"),
            # site.support_contact: whom to ask, as the operator wrote it.
            "support_contact": self.deps.config.support_contact,
        }

    def to_login(self, request: Request, notice: str | None = None) -> Response:
        response: Response
        if notice:
            response = self.login_page(request, notices=[notice])
        else:
            response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(COOKIE, path="/")
        return response

    # --- sessions and forms (SITE-6, CSRF) ---------------------------------------------

    async def current(self, request: Request) -> SessionView | None:
        return await run_in_threadpool(self.deps.store.load, request.cookies.get(COOKIE))

    async def require(self, request: Request, *stages: Stage) -> SessionView | Response:
        """The session, if it is in one of ``stages`` and may still log in; else where the
        user must go.

        SITE-1/SITE-6: the login's scope is loaded here, for every page and every
        stage; a number that may no longer log in ends its session at once
        (``lost_login``). The scope is kept for the request (``scope``).
        """
        had_cookie = COOKIE in request.cookies
        view = await self.current(request)
        if view is None:
            return self.to_login(request, page("session.ended") if had_cookie else None)
        try:
            found = await run_in_threadpool(self.load_scope, view.login_number)
        except site_auth.OutOfScope as exc:
            return await self.lost_login(request, exc)
        request.state.login_scope = (view.login_number, found)
        if view.stage not in stages:
            return RedirectResponse(STAGE_HOME[view.stage], status_code=303)
        return view

    async def lost_login(self, request: Request, exc: Exception) -> Response:
        """SITE-1/SITE-6: the number may no longer log in: its session ends, the login page.

        Called by ``require``, and registered for ``OutOfScope`` in the app's
        exception table: a store call that finds the login gone later in the
        request (a race with the operator's CLI) ends it the same way. Any
        other ``OutOfScope`` reaching the table is a page's bug: it stays one.
        """
        if not isinstance(exc, site_auth.OutOfScope) or exc.code != "login_not_allowed":
            raise exc
        token = request.cookies.get(COOKIE)
        await run_in_threadpool(self.deps.store.end, token)
        log.warning("site_login_gone", path=request.url.path)
        return self.to_login(request, page("home.login_gone"))

    async def advance(
        self,
        request: Request,
        view: SessionView,
        stage: Stage,
        *,
        otp_proven: bool | None = None,
        to: str | None = None,
    ) -> Response:
        """Move the login on (under a new session id) and go to the stage's page (or ``to``).

        ``otp_proven``: the login proved the one-time password's owner (SITE-5).
        """
        moved = await run_in_threadpool(
            lambda: self.deps.store.advance(view, stage, otp_proven=otp_proven)
        )
        if moved is None:  # ended meanwhile (a credential changed): no stage further
            return self.to_login(request, page("session.ended"))
        response = RedirectResponse(to or STAGE_HOME[stage], status_code=303)
        self.set_session_cookie(response, request, moved)
        return response

    async def form(self, request: Request) -> tuple[tuple[str, str], ...]:
        """The form's fields in order; a form that cannot be parsed reads as empty.

        An empty form has no CSRF token, so it is refused. ``web.limits`` has
        bounded the body and refused file parts already; ``max_files=0`` says
        so again.
        """
        try:
            raw = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
        except (HTTPException, MultiPartException, ValueError):
            return ()
        return tuple((k, v) for k, v in raw.multi_items() if isinstance(v, str))

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
        return self.message(
            request,
            page("csrf.title"),
            [page("csrf.refused")],
            link=("/", page("link.top")),  # the menu, or the login page without a session
            status=403,
        )

    def bad_form(self, request: Request, view: SessionView, exc: BadForm) -> HTMLResponse:
        """Issue 12 item 16: a field outside its values; nothing was saved."""
        log.warning("site_form_refused", number=view.login_number, field=exc.name[:40])
        return self.message(
            request,
            page("form.title"),
            [page("form.refused")],
            link=("/", page("link.back")),
            status=400,
            session=view,
        )

    async def checked(self, request: Request, view: SessionView) -> Posted | Response:
        """The form ``view``'s browser posted, if it carries the session's CSRF token."""
        items = await self.form(request)
        data = dict(items)
        if not self.csrf_ok(view.csrf_token, data.get("csrf_token")):
            return self.forbidden_csrf(request)
        return Posted(view, data, items)

    async def posted(self, request: Request, *stages: Stage) -> Posted | Response:
        """A form posted by a session in one of ``stages``, its CSRF token checked."""
        view = await self.require(request, *stages)
        if not isinstance(view, SessionView):
            return view
        return await self.checked(request, view)

    async def number_form(self, request: Request) -> tuple[NumberPage, Posted] | Response:
        """The number's page (scope checked first, SITE-1) and its form, CSRF checked."""
        found = await self.number_page(request)
        if isinstance(found, Response):
            return found
        posted = await self.checked(request, found.view)
        if isinstance(posted, Response):
            return posted
        return found, posted

    # --- the login's scope (SITE-1) -------------------------------------------------------

    def load_scope(self, login_number: str) -> LoginScope:
        """SITE-1, from the database now (in a worker thread)."""
        with db.transaction(self.deps.sessions, read_only=True) as s:
            # Issue 18: columns, not the line's Number rows (every request asks this).
            reach = site_auth.login_reach(s, login_number)
            return LoginScope(reach.numbers, reach.unit, reach.is_contract)

    async def scope(self, request: Request, view: SessionView) -> LoginScope:
        """SITE-1: the scope ``require`` loaded for this request (loaded now without it)."""
        known = getattr(request.state, "login_scope", None)
        if known is not None and known[0] == view.login_number:
            found: LoginScope = known[1]
            return found
        return await run_in_threadpool(self.load_scope, view.login_number)

    async def number_page(self, request: Request) -> NumberPage | Response:
        """The session and the number of the URL, if the login manages it (SITE-1)."""
        view = await self.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        number = request.path_params["number"]
        scope = await self.scope(request, view)
        if number not in scope.numbers:
            log.warning("site_scope_refused", number=view.login_number, target=number)
            return self.message(
                request,
                page("scope.title"),
                [page("scope.refused")],
                link=("/", page("link.top")),
                status=403,
                session=view,
            )
        request.state.page_number = number  # issue 14: the heading names it
        return NumberPage(view, number, scope)

    # --- the domain layer -------------------------------------------------------------------

    async def write(
        self, function: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``function(session, ...)`` in one transaction, in a worker thread."""

        def run() -> T:
            with db.transaction(self.deps.sessions) as s:
                return function(s, *args, **kwargs)

        return await run_in_threadpool(run)

    async def read(
        self, function: Callable[Concatenate[Session, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """``function(session, ...)`` in one read-only transaction, in a worker thread."""

        def run() -> T:
            with db.transaction(self.deps.sessions, read_only=True) as s:
                return function(s, *args, **kwargs)

        return await run_in_threadpool(run)

    # --- guessing surfaces (issue 12) --------------------------------------------------------

    def otp_limits(self) -> site_auth.OtpLimits:
        """SITE-5 caps per number over 24 hours, from ``[site]``."""
        return site_auth.OtpLimits(
            wrong_codes_per_day=self.deps.config.otp_wrong_codes_per_day,
            code_mails_per_day=self.deps.config.otp_code_mails_per_day,
            confirmation_failures_per_day=self.deps.config.confirmation_failures_per_day,
            verification_mails_per_day=self.deps.config.verification_mails_per_day,
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
        return held, page("confirmation.throttled", minutes=minutes(wait))

    @staticmethod
    def confirmation_refused(exc: DomainError, held: Reservation | None) -> int:
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


def field_errors(exc: DomainError, context: str = "") -> dict[str, list[str]]:
    """The refusal's sentence next to its field (or the form's top)."""
    return {exc.field or "form": [japanese(exc, context)]}


def seconds_until(moment: dt.datetime, now: dt.datetime) -> str:
    """A Retry-After value: whole seconds from ``now`` to ``moment``, at least 1."""
    return str(max(1, int((moment - now).total_seconds()) + 1))


def minutes(wait: float) -> int:
    """Whole minutes to tell a throttled subscriber to wait, rounded up."""
    return int(wait // 60) + 1


def unique(messages: list[str]) -> list[str]:
    return list(dict.fromkeys(messages))


def listed(numbers: tuple[str, ...] | list[str]) -> str:
    """Numbers as a sentence lists them (「、」 between)."""
    return page("list.separator").join(numbers)


def display_number(number: str) -> str:
    """A number as the seeds write one to dial (03-6304-4747), where its grouping is sure.

    Tokyo (03) and Osaka (06) have two-digit area codes; 050/070/080/090
    numbers are 3-4-4; 0120 is 4-3-3 and 0800 4-3-4. Any other number keeps
    its plain digits: its area code's length would be a guess.
    """
    if len(number) == 10 and number[:2] in ("03", "06"):
        return f"{number[:2]}-{number[2:6]}-{number[6:]}"
    if (len(number), number[:4]) in ((10, "0120"), (11, "0800")):  # before 080
        return f"{number[:4]}-{number[4:7]}-{number[7:]}"
    if len(number) == 11 and number[:3] in ("050", "070", "080", "090"):
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    return number


def unit_label(unit: AuthUnit) -> str:
    """SITE-8: the auth unit as the seeds name it."""
    labels = {
        AuthUnit.LINE: page("unit.line"),
        AuthUnit.NUMBER: page("unit.number"),
        AuthUnit.ADMIN_USER: page("unit.admin_user"),
    }
    return labels[unit]
