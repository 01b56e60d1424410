"""The login's numbers (SITE-7): selection and search, a number's call history,
the bulk settings (一括設定) and the one-time password settings by CSV (SITE-9).

Each page works on the login's scope (SITE-1), loaded once per request
and handed to the rendering of the page, also when a form is refused.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import structlog
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile as StarletteUpload
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import bulk, otp_csv, validation
from store.errors import DomainError
from store.models import Service
from web.pages import office
from web.pages.base import LoginScope, Plumbing, listed
from web.pages.delivery import chat_rows, delivery_rows
from web.pages.forms import BadForm, flag, one_of
from web.ratelimit import Reservation
from web.sessions import SessionView, Stage
from web.texts import japanese, page, reason_label

log = structlog.get_logger("web")

HISTORY_LIMIT = 50


@dataclass(frozen=True, slots=True)
class NumberRow:
    """A number of the list and whether its mail service is started (MAIL-1).

    Issue 18: an object, not a dict: the template reads ``n.number`` and
    Jinja tries the attribute first (a dict's failed attribute look-up cost
    a third of the page's rendering for 1,000 numbers).
    """

    number: str
    started: bool


def _number_rows(session: Session, scope: tuple[str, ...]) -> list[NumberRow]:
    """The scope's numbers in order, with whether each one's mail service is started."""
    found = bulk.mail_started(session, scope)  # issue 18: two columns, not every setting
    return [NumberRow(n, found[n]) for n in scope if n in found]


def _search(rows: list[NumberRow], q: str) -> tuple[list[NumberRow], dict[str, list[str]]]:
    """SITE-7: the rows whose number matches ``q`` (all when empty), or the error for ``q``.

    ``q`` is taken as people type it (issue 14 flow 8: ０３＊, 03-1234).
    """
    if not q:
        return rows, {}
    try:
        wanted = set(bulk.search_numbers([r.number for r in rows], validation.typed_number(q)))
    except DomainError as exc:
        return rows, {"q": [japanese(exc)]}
    return [r for r in rows if r.number in wanted], {}


def _bulk_context(failure: bulk.BulkFailure) -> str:
    """Bulk failures about lists are about the address list (the only list it changes);
    those of Number Request and Voice Warp name their service (issue 16)."""
    if failure.part is Service.NUMBER_REQUEST:
        return "bulk_number_request"
    if failure.part is Service.VOICE_WARP:
        return "bulk_voice_warp"
    return "address" if failure.code in ("limit_exceeded", "already_exists") else ""


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


class NumberPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    # --- number selection and search (SITE-7) ----------------------------------------

    async def numbers(self, request: Request) -> Response:
        base = self.base
        view = await base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        scope = await base.scope(request, view)
        rows = await base.read(_number_rows, scope.numbers)
        if len(rows) == 1:
            return RedirectResponse(f"/numbers/{rows[0].number}", status_code=303)
        searchable = bulk.offers_search(len(rows))
        q = request.query_params.get("q", "") if searchable else ""
        shown, errors = _search(rows, q)
        return base.render(
            request,
            "numbers.html",
            {
                "title": page("numbers.title"),
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
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        # Issue 17 (MAIL-9): with the names of who answered, loaded once for the page.
        calls, labels = await self.base.read(office.history_calls, found.number, HISTORY_LIMIT)
        return self.base.render(
            request,
            "history.html",
            {
                "title": page("history.title"),
                "chat_heading": page("delivery.chat_heading"),
                "number": found.number,
                "limit": HISTORY_LIMIT,
                "rows": [
                    {
                        "started": f"{c.call.started_at:%Y/%m/%d %H:%M:%S}",
                        "caller": c.call.caller,
                        # Issue 19 (BOOK-2): a presented caller's phonebook name, else "".
                        "caller_name": c.call.caller_name,
                        "outcome": c.call.outcome_label,
                        "answered": office.answered(c.call, labels),
                        "mailed": c.call.mailed,
                        "recipients": c.call.recipients,
                        # Issue 14 flow 10: the reason in words, no rule id (MAIL-7).
                        "reason": reason_label(c.call.reason),
                        # Issue 16 (MAIL-10): each address's mail, in words.
                        "deliveries": delivery_rows(c.deliveries),
                        # Issue 19 (CHAT-3): each destination's notice, in words.
                        "chats": chat_rows(c.deliveries),
                    }
                    for c in calls
                ],
            },
            session=found.view,
        )

    # --- bulk settings (SITE-7) -------------------------------------------------------

    async def bulk_page(
        self,
        request: Request,
        view: SessionView,
        scope: LoginScope,
        *,
        selected: frozenset[str] = frozenset(),
        select_all: bool = False,
        form: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        done: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        rows = await self.base.read(_number_rows, scope.numbers)
        if len(rows) < 2:
            return RedirectResponse("/numbers", status_code=303)
        q = request.query_params.get("q", "") if bulk.offers_search(len(rows)) else ""
        shown, search_errors = _search(rows, q)
        if select_all:  # すべて選択: every number the page shows (the search's, if any)
            selected = frozenset(r.number for r in shown)
        return self.base.render(
            request,
            "bulk.html",
            {
                "title": page("bulk.title"),
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
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        # Issue 14 flow 7: すべて選択 is a plain GET button (?select=all), no script needed.
        return await self.bulk_page(
            request,
            view,
            await self.base.scope(request, view),
            select_all=request.query_params.get("select") == "all",
        )

    async def post_bulk(self, request: Request) -> Response:
        base = self.base
        posted = await base.posted(request, Stage.READY)
        if isinstance(posted, Response):
            return posted
        view, data = posted.view, posted.data
        selected = frozenset(v for k, v in posted.items if k == "number")
        scope = await base.scope(request, view)
        if not selected <= set(scope.numbers):
            log.warning("site_scope_refused", number=view.login_number, target="bulk")
            return await self.bulk_page(
                request,
                view,
                scope,
                errors={"numbers": [page("bulk.out_of_scope")]},
                status=403,
            )

        choices: dict[str, bool | None] = {"": None, "on": True, "off": False}
        try:
            change = bulk.BulkChange(
                mail_started=one_of(data, "mail_started", choices),
                designated_only=one_of(data, "designated_only", choices),
                unanswered_only=one_of(data, "unanswered_only", choices),
                add_address=data.get("add_address", "").strip() or None,
                add_address_send=flag(data, "add_address_send"),
                number_request=one_of(data, "number_request", choices),
                voice_warp=one_of(data, "voice_warp", choices),
            )
        except BadForm as exc:
            return base.bad_form(request, view, exc)
        ordered = [n for n in scope.numbers if n in selected]
        try:
            result = await base.write(bulk.apply_bulk, ordered, change)
        except bulk.BulkRefused as exc:
            errors = {
                "numbers": [japanese(exc)]
                + [f"{f.number}: {japanese(f.error, _bulk_context(f))}" for f in exc.failures]
            }
            return await self.bulk_page(
                request, view, scope, selected=selected, form=data, errors=errors, status=400
            )
        except DomainError as exc:
            field = exc.field if exc.field in ("numbers", "add_address") else "form"
            return await self.bulk_page(
                request,
                view,
                scope,
                selected=selected,
                form=data,
                errors={field: [japanese(exc, "address")]},
                status=400,
            )
        log.info("site_bulk_applied", number=view.login_number, numbers=len(result.numbers))
        return await self.bulk_page(
            request, view, scope, done=[page("bulk.done", count=len(result.numbers))]
        )

    # --- one-time password settings by CSV (SITE-9) -------------------------------------

    def otp_csv_page(
        self,
        request: Request,
        view: SessionView,
        *,
        problems: Sequence[tuple[int, str | DomainError]] = (),
        done: list[str] | None = None,
        status: int = 200,
    ) -> Response:
        """SITE-9; ``problems``: (line, reason), a refusal of the domain in its Japanese."""
        return self.base.render(
            request,
            "otp_csv.html",
            {
                "title": page("otp_csv.title"),
                # The menu item the hint names, as the OTP settings page names it.
                "confirmation_menu": page("otp_confirmation.title"),
                "problems": [
                    (line, japanese(reason) if isinstance(reason, DomainError) else reason)
                    for line, reason in problems
                ],
                "done": done or [],
            },
            status=status,
            session=view,
        )

    async def get_otp_csv(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        return self.otp_csv_page(request, view)

    async def download_otp_csv(self, request: Request) -> Response:
        view = await self.base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        scope = await self.base.scope(request, view)
        data = await self.base.read(otp_csv.export_csv, scope.numbers)
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": 'attachment; filename="otp_settings.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def post_otp_csv(self, request: Request) -> Response:
        base = self.base
        view = await base.require(request, Stage.READY)
        if not isinstance(view, SessionView):
            return view
        limit = base.deps.config.max_csv_upload_bytes
        # The one form with a file: read here, with its own limits (web.limits let it in).
        try:
            async with request.form(max_files=1, max_fields=10, max_part_size=limit) as form:
                if not base.csrf_ok(view.csrf_token, _text(form.get("csrf_token"))):
                    return base.forbidden_csrf(request)
                upload = form.get("csv_file")
                if isinstance(upload, StarletteUpload):
                    data = await upload.read(limit + 1)
                else:
                    data = b""
        except (HTTPException, MultiPartException, ValueError):  # a body that is not a form
            data = b""
        if not data:
            return self.otp_csv_page(
                request, view, problems=[(0, page("otp_csv.no_file"))], status=400
            )
        # Issue 12: rows prove confirmation IDs/passwords, a guessing surface; the
        # address's wrong ones count with those of the pages (one throttle key).
        held, message = base.confirmation_wait(request)
        if not isinstance(held, Reservation):
            response = self.otp_csv_page(request, view, problems=[(0, message)], status=429)
            response.headers["Retry-After"] = str(int(held) + 1)
            return response
        scope = await base.scope(request, view)
        try:
            applied = await run_in_threadpool(
                otp_csv.upload,
                base.deps.sessions,
                data,
                allowed_numbers=scope.numbers,
                link_base=base.link_base(request),
                sender=base.deps.sender_address,
                now=base.now(),
                max_rows=base.deps.config.csv_max_rows,
                limits=base.otp_limits(),
            )
        except otp_csv.CsvRefused as exc:
            # The file's first wrong row keeps the slot; each further one counts too.
            if exc.counted:
                held.keep()
            else:
                held.release_success()
            for _ in range(exc.counted - 1):
                base.deps.throttle.failed(base.confirmation_client(request))
            status = 429 if exc.limited else 400
            return self.otp_csv_page(request, view, problems=exc.problems, status=status)
        held.release_success()
        lines = [
            page("otp_csv.done", changed=len(applied.changed), unchanged=len(applied.unchanged))
        ]
        if applied.verification_sent:
            lines.append(
                page("otp_csv.verification_sent", numbers=listed(applied.verification_sent))
            )
        log.info("site_otp_csv_applied", number=view.login_number, changed=len(applied.changed))
        return self.otp_csv_page(request, view, done=lines)
