"""The confirmation ID and password change pages (SITE-5, seeds (11), issue 14 flow 3).

Seeds (1) 「ワンタイムパスワード確認用ID/パスワード変更」 leads to two pages:
〈確認用IDの変更〉 (「変更前の確認用ID」, the new one twice, 登録) and
〈確認用パスワードの変更〉 (「変更前のパスワード」, the new one twice, 登録).
Every rule the new value breaks and a mismatch of its re-entry are shown at
once, by their fields, before anything is checked against the stored value;
the current value is a guessing surface (issue 12): each entry takes a slot
of the per-address throttle and a wrong one counts against the number.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from store import password_rules, site_auth
from store.errors import DomainError
from store.site_auth.errors import violation
from web.pages.base import Plumbing, field_errors, seconds_until, unique
from web.ratelimit import Reservation
from web.sessions import SessionView, Stage, id_hash
from web.texts import japanese, page


@dataclass(frozen=True)
class Change:
    """One of the two pages: what it changes, its fields and its rules."""

    what: str  # "id" or "password": the template otp_confirmation_{what}.html
    current: str
    new: str
    confirm: str
    mismatch: str  # the code of a re-entry that differs
    problems: Callable[[str], list[password_rules.PasswordRuleError]]
    change: Callable[..., None]


ID = Change(
    "id",
    "current_confirmation_id",
    "new_confirmation_id",
    "confirm_confirmation_id",
    "confirmation_id_confirm_mismatch",
    lambda value: password_rules.confirmation_id_problems(value, field="new_confirmation_id"),
    site_auth.change_confirmation_id,
)
PASSWORD = Change(
    "password",
    "current_confirmation_password",
    "new_confirmation_password",
    "confirm_confirmation_password",
    "confirmation_password_confirm_mismatch",
    lambda value: password_rules.confirmation_password_problems(
        value, field="new_confirmation_password"
    ),
    site_auth.change_confirmation_password,
)


def _texts(change: Change) -> tuple[str, str, str]:
    """The page's title, and the title and sentence of its completion."""
    if change is ID:
        return (
            page("otp_confirmation.id_title"),
            page("otp_confirmation.id_done_title"),
            page("otp_confirmation.id_done"),
        )
    return (
        page("otp_confirmation.password_title"),
        page("otp_confirmation.password_done_title"),
        page("otp_confirmation.password_done"),
    )


def form_problems(change: Change, data: Mapping[str, str]) -> dict[str, list[str]]:
    """Every rule the new value breaks, and a re-entry that differs, by field."""
    new, again = data.get(change.new, ""), data.get(change.confirm, "")
    errors: dict[str, list[str]] = {}
    problems = unique([japanese(p) for p in change.problems(new)])
    if problems:
        errors[change.new] = problems
    if new != again:
        errors[change.confirm] = [japanese(violation(change.mismatch, change.confirm))]
    return errors


class OtpConfirmationPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def menu(self, request: Request) -> Response:
        """Seeds (1): 「ワンタイムパスワード確認用ID/パスワード変更」, the two changes."""
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return self.base.render(
            request,
            "otp_confirmation.html",
            {"title": page("otp_confirmation.title")},
            session=view,
            of_login_number=True,
        )

    async def get_id(self, request: Request) -> Response:
        return await self.get(request, ID)

    async def post_id(self, request: Request) -> Response:
        return await self.post(request, ID)

    async def get_password(self, request: Request) -> Response:
        return await self.get(request, PASSWORD)

    async def post_password(self, request: Request) -> Response:
        return await self.post(request, PASSWORD)

    def change_page(
        self,
        request: Request,
        view: SessionView,
        change: Change,
        *,
        data: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        data = data or {}
        return self.base.render(
            request,
            f"otp_confirmation_{change.what}.html",
            {
                "title": _texts(change)[0],
                # The ID is shown as typed again (it is no secret); a password never.
                "values": {ID.current: data.get(ID.current, ""), ID.new: data.get(ID.new, "")},
                "errors": errors or {},
            },
            status=status,
            session=view,
            of_login_number=True,
        )

    async def get(self, request: Request, change: Change) -> Response:
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return self.change_page(request, view, change)

    async def post(self, request: Request, change: Change) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        if errors := form_problems(change, data):
            return self.change_page(request, view, change, data=data, errors=errors, status=400)
        held, message = base.confirmation_wait(request)
        if not isinstance(held, Reservation):
            response = self.change_page(
                request, view, change, data=data, errors={"form": [message]}, status=429
            )
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        try:
            await run_in_threadpool(
                lambda: change.change(
                    base.deps.sessions,
                    view.login_number,
                    data.get(change.current, ""),
                    data.get(change.new, ""),
                    data.get(change.confirm, ""),
                    now=base.now(),
                    limits=base.otp_limits(),
                    keep_session=id_hash(view),
                )
            )
        except DomainError as exc:
            status = base.confirmation_refused(exc, held)
            response = self.change_page(
                request, view, change, data=data, errors=field_errors(exc), status=status
            )
            if isinstance(exc, site_auth.ConfirmationRefused) and exc.retry_at is not None:
                response.headers["Retry-After"] = seconds_until(exc.retry_at, base.now())
            return response
        held.release_success()
        # SITE-6: the number's other sessions ended with the change; this one goes on,
        # under a new id.
        moved = await run_in_threadpool(base.deps.store.advance, view, view.stage)
        if moved is None:
            return base.to_login(request, page("session.ended"))
        _, done_title, done = _texts(change)
        response = base.message(
            request,
            done_title,
            [done],
            link=("/otp", page("link.otp_settings")),
            session=moved,
        )
        base.set_session_cookie(response, request, moved)
        return response
