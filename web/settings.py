"""The notification settings pages (SITE-7, MAIL-1 … MAIL-5) and the call history.

A number's pages sit under ``/numbers/{number}``; every handler first
checks the number against the login's scope, computed from the database
(SITE-1), so editing the URL or a form reaches nothing else. Forms are
validated by the same domain layer as the CLI; a form with any invalid
field saves nothing and shows each message next to its field.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import db, service, validation
from store.errors import DomainError
from web.messages import japanese
from web.sessions import SessionView, Stage

if TYPE_CHECKING:
    from web.app import Site

log = structlog.get_logger("web.settings")

ADDRESS_ROWS = validation.MAX_ADDRESSES
DESIGNATED_BLANK_ROWS = 5


class Settings:
    def __init__(self, site: Site) -> None:
        self.site = site

    # --- access ------------------------------------------------------------------

    async def _number(self, request: Request) -> tuple[SessionView, str] | Response:
        """The session and the number of the URL, if the login manages it."""
        view = await self.site.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        number = request.path_params["number"]
        scope, _unit, _contract = await run_in_threadpool(self.site._scope, view.login_number)
        if number not in scope:
            log.warning("site_scope_refused", number=view.login_number, target=number)
            return self.site.render(
                request,
                "message.html",
                {
                    "title": "表示できません",
                    "lines": ["この電話番号の設定は表示・変更できません。"],
                },
                status=403,
                session=view,
            )
        return view, number

    async def _posted(
        self, request: Request
    ) -> tuple[SessionView, str, dict[str, str], list[tuple[str, str]]] | Response:
        found = await self._number(request)
        if isinstance(found, Response):
            return found
        view, number = found
        raw = await request.form()
        items = [(k, v) for k, v in raw.multi_items() if isinstance(v, str)]
        data = dict(items)
        if not self.site.csrf_ok(view.csrf_token, data.get("csrf_token")):
            return self.site.forbidden_csrf(request)
        return view, number, data, items

    def _describe(self, number: str) -> dict[str, Any]:
        with db.transaction(self.site.deps.sessions, read_only=True) as s:
            return service.describe_number(service.get_number(s, number))

    def _write(self, function: Any, *args: Any, **kwargs: Any) -> Any:
        with db.transaction(self.site.deps.sessions) as s:
            return function(s, *args, **kwargs)

    # --- the service menu (MAIL-1) -------------------------------------------------

    async def menu(
        self, request: Request, *, errors: Mapping[str, list[str]] | None = None, status: int = 200
    ) -> Response:
        found = await self._number(request)
        if isinstance(found, Response):
            return found
        view, number = found
        data = await run_in_threadpool(self._describe, number)
        return self.site.render(
            request,
            "number.html",
            {
                "title": f"{number} 着信お知らせメール",
                "number": number,
                "mail": data["mail"],
                "subscribed": "mail" in data["services"],
                "errors": errors or {},
            },
            status=status,
            session=view,
        )

    async def post_service(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        _view, number, data, _items = posted
        start = data.get("action") == "start"
        try:
            await run_in_threadpool(
                self._write, service.start_mail if start else service.stop_mail, number
            )
        except DomainError as exc:
            return await self.menu(request, errors={"service": [japanese(exc)]}, status=400)
        return RedirectResponse(f"/numbers/{number}", status_code=303)

    # --- destination addresses (MAIL-2, MAIL-3) ---------------------------------------

    async def addresses(
        self,
        request: Request,
        *,
        rows: list[dict[str, Any]] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        tested: Mapping[str, Any] | None = None,
        status: int = 200,
    ) -> Response:
        found = await self._number(request)
        if isinstance(found, Response):
            return found
        view, number = found
        if rows is None:
            data = await run_in_threadpool(self._describe, number)
            rows = [{"address": a["address"], "send": a["send"]} for a in data["mail"]["addresses"]]
        rows = rows + [{"address": "", "send": True}] * (ADDRESS_ROWS - len(rows))
        return self.site.render(
            request,
            "addresses.html",
            {
                "title": "送信先メールアドレス設定",
                "number": number,
                "rows": list(enumerate(rows, start=1)),
                "errors": errors or {},
                "tested": tested,
            },
            status=status,
            session=view,
        )

    async def post_addresses(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        _view, number, data, _items = posted
        shown = [
            {"address": data.get(f"address_{i}", "").strip(), "send": f"send_{i}" in data}
            for i in range(1, ADDRESS_ROWS + 1)
        ]
        errors: dict[str, list[str]] = {}
        for i, row in enumerate(shown, start=1):
            if row["address"]:
                try:
                    validation.mail_address(str(row["address"]), field=f"address_{i}")
                except DomainError as exc:
                    errors[f"address_{i}"] = [japanese(exc, "address")]
        if not errors:
            rows = [(str(r["address"]), bool(r["send"])) for r in shown if r["address"]]
            try:
                await run_in_threadpool(self._write, service.set_addresses, number, rows)
            except DomainError as exc:
                field = exc.field if exc.field and exc.field.startswith("address_") else "form"
                errors[field] = [japanese(exc, "address")]
        if errors:  # the rows as typed, so that each message sits by its row
            return await self.addresses(request, rows=shown, errors=errors, status=400)
        log.info("site_addresses_saved", number=number)
        return RedirectResponse(f"/numbers/{number}/addresses?saved=1", status_code=303)

    async def post_test(self, request: Request) -> Response:
        """MAIL-2 送信テスト: one test mail now; the page says what the mail server answered."""
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        _view, _number, data, _items = posted
        address = data.get("test_address", "").strip()
        try:
            validation.mail_address(address, field="test_address")
        except DomainError as exc:
            return await self.addresses(
                request, errors={"test": [japanese(exc, "address")]}, status=400
            )
        sender = self.site.deps.send_test
        if sender is None:
            return await self.addresses(
                request, errors={"test": ["送信テストは利用できません。"]}, status=503
            )
        result = await sender(request.path_params["number"], address)
        return await self.addresses(
            request,
            tested={"address": address, "ok": result.ok, "reply": result.reply[:200]},
        )

    # --- conditions (MAIL-4) -------------------------------------------------------

    async def conditions(self, request: Request) -> Response:
        found = await self._number(request)
        if isinstance(found, Response):
            return found
        view, number = found
        data = await run_in_threadpool(self._describe, number)
        return self.site.render(
            request,
            "conditions.html",
            {"title": "通知条件設定", "number": number, "mail": data["mail"]},
            session=view,
        )

    async def post_conditions(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        _view, number, data, _items = posted
        await run_in_threadpool(
            self._write,
            service.set_conditions,
            number,
            designated_only="designated_only" in data,
            unanswered_only="unanswered_only" in data,
        )
        return RedirectResponse(f"/numbers/{number}?saved=1", status_code=303)

    # --- designated numbers (MAIL-5) ------------------------------------------------

    async def designated(
        self,
        request: Request,
        *,
        rows: list[dict[str, Any]] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        found = await self._number(request)
        if isinstance(found, Response):
            return found
        view, number = found
        if rows is None:
            data = await run_in_threadpool(self._describe, number)
            rows = [
                {"caller_number": d["caller_number"], "designated": d["designated"]}
                for d in data["mail"]["designated_numbers"]
            ]
        if not any(not r["caller_number"] for r in rows):
            blank = min(DESIGNATED_BLANK_ROWS, validation.MAX_DESIGNATED - len(rows))
            rows = rows + [{"caller_number": "", "designated": True}] * max(0, blank)
        return self.site.render(
            request,
            "designated.html",
            {
                "title": "指定番号設定",
                "number": number,
                "rows": list(enumerate(rows, start=1)),
                "errors": errors or {},
                "limit": validation.MAX_DESIGNATED,
            },
            status=status,
            session=view,
        )

    async def post_designated(self, request: Request) -> Response:
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        _view, number, data, _items = posted
        count = min(int(data.get("rows", "0") or 0), validation.MAX_DESIGNATED + 10)
        shown = [
            {
                "caller_number": data.get(f"caller_number_{i}", "").strip(),
                "designated": f"designated_{i}" in data,
            }
            for i in range(1, count + 1)
        ]
        errors: dict[str, list[str]] = {}
        for i, row in enumerate(shown, start=1):
            if row["caller_number"]:
                try:
                    validation.diallable_number(
                        str(row["caller_number"]), field=f"caller_number_{i}"
                    )
                except DomainError as exc:
                    errors[f"caller_number_{i}"] = [japanese(exc, "designated")]
        if not errors:
            rows = [
                (r["caller_number"], bool(r["designated"])) for r in shown if r["caller_number"]
            ]
            try:
                await run_in_threadpool(self._write, service.set_designated_numbers, number, rows)
            except DomainError as exc:
                field = (
                    exc.field if exc.field and exc.field.startswith("caller_number_") else "form"
                )
                errors[field] = [japanese(exc, "designated")]
        if errors:
            return await self.designated(request, rows=shown, errors=errors, status=400)
        return RedirectResponse(f"/numbers/{number}/designated?saved=1", status_code=303)
