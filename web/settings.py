"""The notification settings pages (SITE-7, MAIL-1 … MAIL-5) and the call history.

A number's pages sit under ``/numbers/{number}``; every handler first
checks the number against the login's scope, computed from the database
(SITE-1), so editing the URL or a form reaches nothing else. Forms are
validated by the same domain layer as the CLI; a form with any invalid
field saves nothing and shows each message next to its field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

import structlog
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import bulk, db, otp_csv, send_limits, service, validation
from store.errors import DomainError
from web.ratelimit import Reservation
from web.sessions import SessionView, Stage
from web.texts import japanese, reason_label

if TYPE_CHECKING:
    from web.app import Site

log = structlog.get_logger("web.settings")

ADDRESS_ROWS = validation.MAX_ADDRESSES
DESIGNATED_BLANK_ROWS = 5
DESIGNATED_ROWS_READ = validation.MAX_DESIGNATED + 10
HISTORY_LIMIT = 50
# MAIL-2 送信テスト when no mail server answered (connection refused, timeout):
# the page does not show our side's error text (issue 12).
SEND_TEST_UNREACHABLE = (
    "メールサーバに接続できませんでした。しばらくしてからもう一度お試しください"
    "(解決しない場合は、サービスの運営者にお問い合わせください)"
)
T = TypeVar("T")


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

    def bad_form(self, request: Request, view: SessionView, exc: BadForm) -> Response:
        """Issue 12 item 16: a field outside its values; nothing was saved."""
        log.warning("site_form_refused", number=view.login_number, field=exc.name[:40])
        return self.site.render(
            request,
            "message.html",
            {
                "title": "保存できませんでした",
                "lines": [BAD_FORM],
                "link": "/",
                "link_label": "戻る",
            },
            status=400,
            session=view,
        )

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
        view, number, data, _items = posted
        try:
            start = _one_of(data, "action", {"start": True, "stop": False})
        except BadForm as exc:
            return self.bad_form(request, view, exc)
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
        view, number, data, _items = posted
        try:
            _rows_within(data, ("send_",), ADDRESS_ROWS)
            shown = [
                {"address": data.get(f"address_{i}", "").strip(), "send": _flag(data, f"send_{i}")}
                for i in range(1, ADDRESS_ROWS + 1)
            ]
        except BadForm as exc:
            return self.bad_form(request, view, exc)
        errors: dict[str, list[str]] = {}
        beyond = [
            k
            for k, v in data.items()
            if k.startswith("address_")
            and v.strip()
            and k not in {f"address_{i}" for i in range(1, ADDRESS_ROWS + 1)}
        ]
        if beyond:  # a sixth row, forged or from a stale page: MAIL-2 allows five
            errors["form"] = [f"送信先メールアドレスは{ADDRESS_ROWS}件まで登録できます。"]
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
        """MAIL-2 送信テスト: one test mail now; the page says what the mail server answered.

        The button of a row mails the address typed in that row (saved or
        not) and nothing else; the tests are limited per login number (so
        that logging in again does not reset the count) and per number
        (issue 12 items 15 and 12, ``store.send_limits``).
        """
        posted = await self._posted(request)
        if isinstance(posted, Response):
            return posted
        view, number, data, _items = posted
        try:
            row = _count(data, "test_row", ADDRESS_ROWS)
            if row < 1:
                raise BadForm("test_row")
        except BadForm as exc:
            return self.bad_form(request, view, exc)
        address = data.get(f"address_{row}", "").strip()
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
        config = self.site.deps.config
        limits = send_limits.SendTestLimits(
            per_session=config.send_tests_per_session,
            per_number=config.send_tests_per_number,
            window=dt.timedelta(seconds=config.send_test_window_seconds),
        )
        try:
            await run_in_threadpool(
                self._write,
                send_limits.reserve_send_test,
                number,
                send_limits.login_key(view.login_number),
                limits,
                now=self.site.now(),
            )
        except send_limits.SendTestLimited as exc:
            return await self.addresses(request, errors={"test": [exc.message]}, status=429)
        result = await sender(number, address)
        reply = result.reply[:200]
        if not result.answered:
            # Issue 12: no server reply, only our side's error (it names internal
            # hosts and ports): logged, and the page says it in general terms.
            log.warning("site_send_test_unreachable", number=number, detail=reply)
            reply = SEND_TEST_UNREACHABLE
        return await self.addresses(
            request, tested={"address": address, "ok": result.ok, "reply": reply}
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
        view, number, data, _items = posted
        try:
            designated_only = _flag(data, "designated_only")
            unanswered_only = _flag(data, "unanswered_only")
        except BadForm as exc:
            return self.bad_form(request, view, exc)
        await run_in_threadpool(
            self._write,
            service.set_conditions,
            number,
            designated_only=designated_only,
            unanswered_only=unanswered_only,
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
        view, number, data, _items = posted
        try:
            # The page shows at most MAX_DESIGNATED rows and says how many; a few
            # more (a forged form) reach the domain rule, which says "30件まで".
            count = _count(data, "rows", DESIGNATED_ROWS_READ)
            _rows_within(data, ("caller_number_", "designated_"), count)
            shown = [
                {
                    "caller_number": data.get(f"caller_number_{i}", "").strip(),
                    "designated": _flag(data, f"designated_{i}"),
                }
                for i in range(1, count + 1)
            ]
        except BadForm as exc:
            return self.bad_form(request, view, exc)
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

    # --- number selection and search (SITE-7) ----------------------------------------

    def _numbers_view(self, login_number: str) -> list[dict[str, Any]]:
        scope, _unit, _contract = self.site._scope(login_number)
        with db.transaction(self.site.deps.sessions, read_only=True) as s:
            found = service.load_numbers(s, scope)
            return [
                {
                    "number": n,
                    "started": bool(found[n].notification and found[n].notification.started),
                }
                for n in scope
                if n in found
            ]

    async def numbers(self, request: Request) -> Response:
        view = await self.site.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        rows = await run_in_threadpool(self._numbers_view, view.login_number)
        if len(rows) == 1:
            return RedirectResponse(f"/numbers/{rows[0]['number']}", status_code=303)
        searchable = bulk.offers_search(len(rows))
        q = request.query_params.get("q", "") if searchable else ""
        shown, errors = _search(rows, q)
        return self.site.render(
            request,
            "numbers.html",
            {
                "title": "電話番号の選択",
                "shown": shown,
                "total": len(rows),
                "searchable": searchable,
                "bulk": len(rows) > 1,
                "q": q,
                "errors": errors,
            },
            status=400 if errors else 200,
            session=view,
        )

    # --- call history ---------------------------------------------------------------

    async def history(self, request: Request) -> Response:
        found = await self._number(request)
        if isinstance(found, Response):
            return found
        view, number = found

        def load() -> list[bulk.HistoryRow]:
            with db.transaction(self.site.deps.sessions, read_only=True) as s:
                return bulk.call_history(s, number, HISTORY_LIMIT)

        rows = await run_in_threadpool(load)
        return self.site.render(
            request,
            "history.html",
            {
                "title": "着信履歴と通知結果",
                "number": number,
                "limit": HISTORY_LIMIT,
                "rows": [
                    {
                        "started": f"{r.started_at:%Y/%m/%d %H:%M:%S}",
                        "caller": r.caller,
                        "outcome": r.outcome_label,
                        "mailed": r.mailed,
                        "recipients": r.recipients,
                        "reason": reason_label(r.reason)
                        + (f"、{r.rule}" if r.rule and not r.mailed else ""),
                    }
                    for r in rows
                ],
            },
            session=view,
        )

    # --- bulk settings (SITE-7) -------------------------------------------------------

    async def bulk_page(
        self,
        request: Request,
        *,
        selected: frozenset[str] = frozenset(),
        form: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        done: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        view = await self.site.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        rows = await run_in_threadpool(self._numbers_view, view.login_number)
        if len(rows) < 2:
            return RedirectResponse("/numbers", status_code=303)
        q = request.query_params.get("q", "") if bulk.offers_search(len(rows)) else ""
        shown, search_errors = _search(rows, q)
        return self.site.render(
            request,
            "bulk.html",
            {
                "title": "一括設定",
                "shown": shown,
                "selected": selected,
                "form": form or {},
                "q": q,
                "searchable": bulk.offers_search(len(rows)),
                "errors": {**search_errors, **(errors or {})},
                "done": done or [],
            },
            status=status,
            session=view,
        )

    async def get_bulk(self, request: Request) -> Response:
        return await self.bulk_page(request)

    async def post_bulk(self, request: Request) -> Response:
        view = await self.site.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        raw = await request.form()
        items = [(k, v) for k, v in raw.multi_items() if isinstance(v, str)]
        data = dict(items)
        if not self.site.csrf_ok(view.csrf_token, data.get("csrf_token")):
            return self.site.forbidden_csrf(request)
        selected = frozenset(v for k, v in items if k == "number")
        scope, _unit, _contract = await run_in_threadpool(self.site._scope, view.login_number)
        if not selected <= set(scope):
            log.warning("site_scope_refused", number=view.login_number, target="bulk")
            return await self.bulk_page(
                request,
                errors={"numbers": ["設定できない電話番号が含まれています。"]},
                status=403,
            )

        choices: dict[str, bool | None] = {"": None, "on": True, "off": False}
        try:
            change = bulk.BulkChange(
                mail_started=_one_of(data, "mail_started", choices),
                designated_only=_one_of(data, "designated_only", choices),
                unanswered_only=_one_of(data, "unanswered_only", choices),
                add_address=data.get("add_address", "").strip() or None,
                add_address_send=_flag(data, "add_address_send"),
            )
        except BadForm as exc:
            return self.bad_form(request, view, exc)
        ordered = [n for n in scope if n in selected]
        try:
            result = await run_in_threadpool(self._write, bulk.apply_bulk, ordered, change)
        except bulk.BulkRefused as exc:
            errors = {
                "numbers": [exc.message]
                + [f"{f.number}: {japanese(f.error, _bulk_context(f.code))}" for f in exc.failures]
            }
            return await self.bulk_page(
                request, selected=selected, form=data, errors=errors, status=400
            )
        except DomainError as exc:
            field = exc.field if exc.field in ("numbers", "add_address") else "form"
            return await self.bulk_page(
                request,
                selected=selected,
                form=data,
                errors={field: [japanese(exc, "address")]},
                status=400,
            )
        log.info("site_bulk_applied", number=view.login_number, numbers=len(result.numbers))
        return await self.bulk_page(
            request, done=[f"{len(result.numbers)}件の電話番号に設定しました。"]
        )

    # --- one-time password settings by CSV (SITE-9) -------------------------------------

    async def otp_csv(
        self,
        request: Request,
        *,
        problems: list[tuple[int, str]] | None = None,
        done: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        view = await self.site.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return self.site.render(
            request,
            "otp_csv.html",
            {
                "title": "ワンタイムパスワード各種一括設定",
                "problems": problems or [],
                "done": done or [],
            },
            status=status,
            session=view,
        )

    async def get_otp_csv(self, request: Request) -> Response:
        return await self.otp_csv(request)

    async def download_otp_csv(self, request: Request) -> Response:
        view = await self.site.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        scope, _unit, _contract = await run_in_threadpool(self.site._scope, view.login_number)

        def export() -> bytes:
            with db.transaction(self.site.deps.sessions, read_only=True) as s:
                return otp_csv.export_csv(s, scope)

        data = await run_in_threadpool(export)
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="otp_settings.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def post_otp_csv(self, request: Request) -> Response:
        view = await self.site.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        limit = self.site.deps.config.max_csv_upload_bytes
        try:
            async with request.form(max_files=1, max_fields=10, max_part_size=limit) as form:
                if not self.site.csrf_ok(view.csrf_token, _text(form.get("csrf_token"))):
                    return self.site.forbidden_csrf(request)
                upload = form.get("csv_file")
                if isinstance(upload, StarletteUpload):
                    data = await upload.read(limit + 1)
                else:
                    data = b""
        except (HTTPException, MultiPartException, ValueError):  # a body that is not a form
            return await self.otp_csv(
                request, problems=[(0, "CSVファイルを指定してください。")], status=400
            )
        if not data:
            return await self.otp_csv(
                request, problems=[(0, "CSVファイルを指定してください。")], status=400
            )
        # Issue 12: rows prove confirmation IDs/passwords, a guessing surface; the
        # address's wrong ones count with those of the pages (one throttle key).
        held, message = self.site.confirmation_wait(request)
        if not isinstance(held, Reservation):
            response = await self.otp_csv(request, problems=[(0, message)], status=429)
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        scope, _unit, _contract = await run_in_threadpool(self.site._scope, view.login_number)
        try:
            applied = await run_in_threadpool(
                otp_csv.upload,
                self.site.deps.sessions,
                data,
                allowed_numbers=scope,
                link_base=self.site.link_base(request),
                sender=self.site.deps.sender_address,
                now=self.site.now(),
                max_rows=self.site.deps.config.csv_max_rows,
                limits=self.site.otp_limits(),
            )
        except otp_csv.CsvRefused as exc:
            # The file's first wrong row keeps the slot; each further one counts too.
            if exc.counted:
                held.keep()
            else:
                held.release_success()
            for _ in range(exc.counted - 1):
                self.site.deps.throttle.failed(self.site.confirmation_client(request))
            status = 429 if exc.limited else 400
            return await self.otp_csv(request, problems=list(exc.problems), status=status)
        held.release_success()
        lines = [
            f"{len(applied.changed)}件の電話番号の設定を変更しました"
            f"(変更なし {len(applied.unchanged)}件)。"
        ]
        if applied.verification_sent:
            lines.append(
                "新しい受信用メールアドレスに本登録のメールを送りました: "
                + "、".join(applied.verification_sent)
            )
        log.info("site_otp_csv_applied", number=view.login_number, changed=len(applied.changed))
        return await self.otp_csv(request, done=lines)


def _search(
    rows: list[dict[str, Any]], q: str
) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """SITE-7: the rows whose number matches ``q`` (all when empty), or the error for ``q``."""
    if not q:
        return rows, {}
    try:
        wanted = set(bulk.search_numbers([r["number"] for r in rows], q))
    except DomainError as exc:
        return rows, {"q": [japanese(exc)]}
    return [r for r in rows if r["number"] in wanted], {}


def _bulk_context(code: str) -> str:
    """Bulk failures about lists are about the address list (the only list it changes)."""
    return "address" if code in ("limit_exceeded", "already_exists") else ""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


# --- defensive form parsing (issue 12 item 16) ------------------------------------------------

BAD_FORM = "入力内容が正しくありません。画面を表示し直して、もう一度操作してください。"


class BadForm(ValueError):
    """A field holds what its page never sends (a forged or garbled form): 400, nothing saved."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def _flag(data: Mapping[str, str], name: str) -> bool:
    """A checkbox: absent (off) or its page's value "1" (on)."""
    value = data.get(name)
    if value is None:
        return False
    if value != "1":
        raise BadForm(name)
    return True


def _one_of(data: Mapping[str, str], name: str, choices: Mapping[str, T]) -> T:
    """A field that must be one of ``choices`` (absent reads as "")."""
    value = data.get(name, "")
    if value not in choices:
        raise BadForm(name)
    return choices[value]


def _count(data: Mapping[str, str], name: str, high: int) -> int:
    """A whole number 0..``high`` in half-width digits, nothing else."""
    value = data.get(name, "")
    if not (value.isascii() and value.isdigit() and len(value) <= 6) or int(value) > high:
        raise BadForm(name)
    return int(value)


def _rows_within(data: Mapping[str, str], prefixes: tuple[str, ...], rows: int) -> None:
    """Every numbered field (``caller_number_7``) belongs to one of the form's ``rows``."""
    for key in data:
        for prefix in prefixes:
            if key.startswith(prefix):
                index = key.removeprefix(prefix)
                if not (index.isascii() and index.isdigit() and 1 <= int(index) <= rows):
                    raise BadForm(key)
