"""The auth unit change (SITE-8): 回線単位, 電話番号単位, 管理者／ユーザ単位.

The page asks for other numbers' passwords, so it is throttled as the
login is (issue 12), in a count of its own that a successful login does not
clear; a done change ends the session (the login numbers changed).
"""

from __future__ import annotations

from collections.abc import Mapping

import structlog
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from store import service, site_auth
from store.errors import DomainError
from store.models import AuthUnit
from web.pages.base import Plumbing, field_errors, listed, minutes, unit_label
from web.ratelimit import Reservation
from web.sessions import COOKIE, SessionView, Stage
from web.texts import japanese, notice, page

log = structlog.get_logger("web")


def _unit_page_data(session: Session, login_number: str) -> tuple[AuthUnit, tuple[str, ...]]:
    """The line's unit and the numbers whose passwords the page asks for."""
    number = service.get_number(session, login_number)
    unit = number.line.auth_unit
    if unit is AuthUnit.NUMBER:
        # Seeds (2), (3): from the number unit, every number's password.
        return unit, tuple(n.number for n in number.line.numbers if n.mail_subscribed)
    return unit, (login_number,)


def _login_numbers_line(changed: site_auth.AuthUnitChanged) -> str:
    """Who logs in from now on, each number said once on the page (issue 14 item 6).

    The numbers needing a temporary password are listed by the store's
    ``need_temp_password`` notice above this line (seeds (4): 「その他の追加番号は
    仮パスワードを発行のうえ、本パスワードを設定してください」); this line names the
    others and refers to that list (40 numbers were 80 on a phone).
    """
    if not changed.need_temp_password:
        return page("auth_unit.login_numbers", numbers=listed(changed.login_numbers))
    ready = [n for n in changed.login_numbers if n not in changed.need_temp_password]
    if not ready:
        return page("auth_unit.login_numbers_above")
    return page("auth_unit.login_numbers_and_above", numbers=listed(ready))


class AuthUnitPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def get_auth_unit(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return await self.auth_unit_page(request, view)

    async def auth_unit_page(
        self,
        request: Request,
        view: SessionView,
        *,
        chosen: str = "",
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        unit, numbers = await self.base.read(_unit_page_data, view.login_number)
        return self.base.render(
            request,
            "auth_unit.html",
            {
                "title": page("auth_unit.title"),
                "current_label": unit_label(unit),
                "choices": [(u.value, unit_label(u)) for u in AuthUnit if u is not unit],
                "chosen": chosen,
                "password_numbers": numbers,
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def post_auth_unit(self, request: Request) -> Response:
        base, deps = self.base, self.base.deps
        posted = await base.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        try:
            new_unit = AuthUnit(data.get("unit", ""))
        except ValueError:
            return await self.auth_unit_page(
                request, view, errors={"unit": [page("auth_unit.choose")]}, status=400
            )
        passwords = {
            key.removeprefix("password_"): value
            for key, value in data.items()
            if key.startswith("password_") and value
        }
        client = "auth_unit:" + base.client_address(request)
        held = deps.throttle.try_acquire(client)
        if not isinstance(held, Reservation):
            wait = held
            log.warning("site_auth_unit_throttled", client=client)
            response = await self.auth_unit_page(
                request,
                view,
                chosen=new_unit.value,
                errors={"form": [page("auth_unit.throttled", minutes=minutes(wait))]},
                status=429,
            )
            response.headers["Retry-After"] = str(int(wait) + 1)
            return response
        try:
            changed = await run_in_threadpool(
                site_auth.attempt_auth_unit_change,
                deps.sessions,
                view.login_number,
                new_unit,
                passwords,
                now=base.now(),
            )
        except site_auth.OutOfScope as exc:
            held.release_success()
            return await self.auth_unit_page(
                request, view, chosen=new_unit.value, errors={"form": [japanese(exc)]}, status=403
            )
        except DomainError as exc:
            if exc.code == "passwords_wrong":
                held.keep()
            else:
                held.release_success()
            return await self.auth_unit_page(
                request, view, chosen=new_unit.value, errors=field_errors(exc), status=400
            )
        held.release_success()
        await run_in_threadpool(deps.store.end, view.token)
        lines = [
            page("auth_unit.done", unit=unit_label(changed.new_unit)),
            *(notice(n.code, n.params) for n in changed.notices),
        ]
        lines.append(_login_numbers_line(changed))
        response = base.message(
            request, page("auth_unit.done_title"), lines, link=("/login", page("link.login"))
        )
        response.delete_cookie(COOKIE, path="/")
        return response
