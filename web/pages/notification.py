"""A number's notification settings (SITE-7, MAIL-1 … MAIL-5): the service menu,
destination addresses with 送信テスト, conditions and designated numbers.

The pages sit under ``/numbers/{number}``; every handler first checks the
number against the login's scope, computed from the database (SITE-1), so
editing the URL or a form reaches nothing else. Forms are validated by the
same domain layer as the CLI; a form with any invalid field saves nothing
and is shown again, from what the POST loaded, with each message next to
its field.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import delivery, mail_message, send_limits, service, validation
from store.errors import DomainError
from web.deps import send_test_outcome
from web.pages.base import NumberPage, Plumbing
from web.pages.delivery import address_flags
from web.pages.forms import BadForm, count, flag, one_of, rows_within
from web.pages.phonebook import book_names
from web.texts import japanese, page

log = structlog.get_logger("web")

ADDRESS_ROWS = validation.MAX_ADDRESSES
DESIGNATED_ROWS = validation.MAX_DESIGNATED  # all of them in one visit (issue 14 flow 7)
DESIGNATED_ROWS_READ = validation.MAX_DESIGNATED + 10


def _describe(session: Session, number: str) -> dict[str, Any]:
    return service.describe_number(service.get_number(session, number))


def _warnings(mail: Mapping[str, Any]) -> list[str]:
    """The number's settings under which no call is mailed, in words (MAIL-4 (a))."""
    if "designated_only_without_numbers" in mail["warnings"]:
        return [page("warning.designated_only_without_numbers")]
    return []


def sender_domain(from_address: str) -> str:
    """The domain the notification mails come from (受信指定ドメイン, seeds P.9).

    ``mail.from_address`` may carry a display name
    (``着信お知らせメール <noreply@example.jp>``): ``store.mail_message`` reads
    it as the mails' From header does. A sender it refuses (none configured,
    in a test) gives no domain and the page leaves the sentence out.
    """
    try:
        return mail_message.sender_domain(from_address)
    except mail_message.UnsafeHeader:
        return ""


# MAIL-2: what became of a test mail, each said in words by its sentence.
SEND_TEST_OUTCOMES = ("sent", "refused", "deferred", "unreachable")


def _tested(outcome: str, address: str) -> dict[str, Any]:
    """A row's 送信テスト result as the page shows it, and carries it (hidden fields)."""
    sentences = {
        "sent": page("send_test.sent", address=address),
        "refused": page("send_test.refused", address=address),
        "deferred": page("send_test.deferred", address=address),
        "unreachable": page("send_test.unreachable", address=address),
    }
    message = sentences[outcome]
    return {"ok": outcome == "sent", "message": message, "outcome": outcome, "address": address}


def _carried_results(
    data: Mapping[str, str], shown: list[dict[str, Any]]
) -> dict[int, dict[str, Any]]:
    """The other rows' latest 送信テスト results, as the page carried them (issue 14).

    Each row's result comes back with the form (``outcome_N``, the address tested
    ``tested_N``); it is shown again only while the row holds that address. An
    outcome the page never sends is a forged form (``BadForm``).
    """
    rows_within(data, ("outcome_", "tested_"), ADDRESS_ROWS)
    results: dict[int, dict[str, Any]] = {}
    for i, row in enumerate(shown, start=1):
        outcome = data.get(f"outcome_{i}", "")
        if outcome and outcome not in SEND_TEST_OUTCOMES:
            raise BadForm(f"outcome_{i}")
        tested = data.get(f"tested_{i}", "").strip()
        if outcome and tested and tested == row["address"]:
            results[i] = _tested(outcome, tested)
    return results


class NotificationPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    # --- the service menu (MAIL-1) -------------------------------------------------

    async def menu(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.menu_page(request, found)

    async def menu_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        data = await self.base.read(_describe, found.number)
        return self.base.render(
            request,
            "number.html",
            {
                "title": page("number.title", number=found.number),
                "number": found.number,
                "mail": data["mail"],
                "subscribed": "mail" in data["services"],
                "warnings": _warnings(data["mail"]),
                "errors": errors or {},
            },
            status=status,
            session=found.view,
        )

    async def post_service(self, request: Request) -> Response:
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        try:
            start = one_of(form.data, "action", {"start": True, "stop": False})
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        try:
            await self.base.write(service.start_mail if start else service.stop_mail, found.number)
        except DomainError as exc:
            return await self.menu_page(
                request, found, errors={"service": [japanese(exc)]}, status=400
            )
        return RedirectResponse(f"/numbers/{found.number}/mail", status_code=303)

    # --- destination addresses (MAIL-2, MAIL-3) ---------------------------------------

    async def addresses(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.addresses_page(request, found)

    async def addresses_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        rows: list[dict[str, Any]] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        results: Mapping[int, Mapping[str, Any]] | None = None,
        status: int = 200,
    ) -> Response:
        """The five rows: each saved address in its slot (row 3 is slot 3), or as typed.

        An empty row has 送信 unticked and its own 送信テスト (seeds P.9: type,
        送信テスト, tick 送信, 設定; issue 14 flows 1 and 7). Each saved address is
        also said in text above its row's input (a long one is cut off in the box);
        ``results``: each row's latest 送信テスト result, by row. A saved address whose
        latest mail failed is flagged by its row until a later one is sent (issue 16).
        """
        data = await self.base.read(_describe, found.number)
        flags = await self.base.read(address_flags, found.number, self.base.now())
        saved: list[dict[str, Any]] = [{"address": "", "send": False} for _ in range(ADDRESS_ROWS)]
        for a in data["mail"]["addresses"]:
            saved[a["position"] - 1] = {"address": a["address"], "send": a["send"]}
        if rows is None:
            rows = saved
        said = [
            page("addresses.saved", address=s["address"]) if s["address"] else "" for s in saved
        ]
        return self.base.render(
            request,
            "addresses.html",
            {
                "title": page("addresses.title"),
                "number": found.number,
                "rows": list(enumerate(rows, start=1)),
                "saved": said,
                "recently_failed": flags,
                "errors": errors or {},
                "results": results or {},
                "guidance": self._address_guidance(),
            },
            status=status,
            session=found.view,
        )

    def _address_guidance(self) -> dict[str, list[str] | str]:
        """Seeds P.9: the steps in order, the third-party warning, the notes (受信指定ドメイン)."""
        domain = sender_domain(self.base.deps.sender_address)
        notes = [page("addresses.characters")]
        if domain:
            notes.append(page("addresses.allowed_domain", domain=domain))
        notes.append(page("addresses.delay"))
        return {
            "steps": [
                page("addresses.step_type"),
                page("addresses.step_test"),
                page("addresses.step_send"),
                page("addresses.step_save"),
            ],
            "third_party": page("addresses.third_party"),
            "notes": notes,
        }

    @staticmethod
    def _typed_addresses(data: Mapping[str, str]) -> list[dict[str, Any]]:
        """The five rows as the form holds them; ``BadForm`` for a send flag of no row."""
        rows_within(data, ("send_",), ADDRESS_ROWS)
        return [
            {"address": data.get(f"address_{i}", "").strip(), "send": flag(data, f"send_{i}")}
            for i in range(1, ADDRESS_ROWS + 1)
        ]

    async def post_addresses(self, request: Request) -> Response:
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        data = form.data
        try:
            shown = self._typed_addresses(data)
            results = _carried_results(data, shown)
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        errors: dict[str, list[str]] = {}
        beyond = [
            k
            for k, v in data.items()
            if k.startswith("address_")
            and v.strip()
            and k not in {f"address_{i}" for i in range(1, ADDRESS_ROWS + 1)}
        ]
        if beyond:  # a sixth row, forged or from a stale page: MAIL-2 allows five
            errors["form"] = [page("addresses.too_many", limit=ADDRESS_ROWS)]
        for i, row in enumerate(shown, start=1):
            if row["address"]:
                try:
                    validation.mail_address(str(row["address"]), field=f"address_{i}")
                except DomainError as exc:
                    errors[f"address_{i}"] = [japanese(exc, "address")]
        if not errors:
            slots = [(str(r["address"]), bool(r["send"])) if r["address"] else None for r in shown]
            try:
                await self.base.write(service.set_addresses, found.number, slots)
            except DomainError as exc:
                field = exc.field if exc.field and exc.field.startswith("address_") else "form"
                errors[field] = [japanese(exc, "address")]
        if errors:  # the rows as typed, so that each message sits by its row
            return await self.addresses_page(
                request, found, rows=shown, errors=errors, results=results, status=400
            )
        log.info("site_addresses_saved", number=found.number)
        return RedirectResponse(f"/numbers/{found.number}/addresses?saved=1", status_code=303)

    async def post_test(self, request: Request) -> Response:
        """MAIL-2 送信テスト: one test mail now to what is typed in the button's row.

        Saved or not (seeds P.9: type, 送信テスト, tick 送信, 設定): MAIL-3 is
        checked first, nothing is saved, and the page comes back with every
        row as typed and the outcome in words by the row (issue 14 flow 1).
        The tests are limited per login number (so that logging in again does
        not reset the count) and per number (issue 12, ``store.send_limits``).
        """
        base = self.base
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        try:
            shown = self._typed_addresses(form.data)
            row = count(form.data, "test_row", ADDRESS_ROWS)
            if row < 1:
                raise BadForm("test_row")
            results = _carried_results(form.data, shown)
        except BadForm as exc:
            return base.bad_form(request, found.view, exc)
        field = f"address_{row}"
        results.pop(row, None)  # this row's new test replaces its last result

        async def again(message: str, status: int) -> Response:
            return await self.addresses_page(
                request,
                found,
                rows=shown,
                errors={field: [message]},
                results=results,
                status=status,
            )

        address = str(shown[row - 1]["address"])
        if not address:
            return await again(page("send_test.empty"), 400)
        try:
            validation.mail_address(address, field=field)
        except DomainError as exc:
            return await again(japanese(exc, "address"), 400)
        sender = base.deps.send_test
        if sender is None:
            return await again(page("send_test.unavailable"), 503)
        config = base.deps.config
        limits = send_limits.SendTestLimits(
            per_session=config.send_tests_per_session,
            per_number=config.send_tests_per_number,
            window=dt.timedelta(seconds=config.send_test_window_seconds),
        )
        try:
            await base.write(
                send_limits.reserve_send_test,
                found.number,
                send_limits.login_key(found.view.login_number),
                limits,
                now=base.now(),
            )
        except send_limits.SendTestLimited as exc:
            return await again(japanese(exc), 429)
        result = await sender(found.number, address)
        if not result.answered:
            # Issue 12: our side's error names internal hosts and ports: the log only.
            log.warning(
                "site_send_test_unreachable", number=found.number, detail=result.reply[:200]
            )
        if result.ok:  # a mail to it is sent: its failure flag goes (issue 16)
            await base.write(delivery.note_test_sent, found.number, address, now=base.now())
        results[row] = _tested(send_test_outcome(result), address)  # no SMTP text on the page
        return await self.addresses_page(request, found, rows=shown, results=results)

    # --- conditions (MAIL-4) -------------------------------------------------------

    async def conditions(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.conditions_page(request, found)

    async def conditions_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        typed: Mapping[str, bool] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        data = await self.base.read(_describe, found.number)
        mail = {**data["mail"], **(typed or {})}
        return self.base.render(
            request,
            "conditions.html",
            {
                "title": page("conditions.title"),
                "number": found.number,
                "mail": mail,
                "warnings": _warnings(data["mail"]),
                "errors": errors or {},
            },
            status=status,
            session=found.view,
        )

    async def post_conditions(self, request: Request) -> Response:
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        try:
            typed = {
                "designated_only": flag(form.data, "designated_only"),
                "unanswered_only": flag(form.data, "unanswered_only"),
            }
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        try:
            await self.base.write(service.set_conditions, found.number, **typed)
        except DomainError as exc:
            # MAIL-4 (a) without designated numbers (issue 14 flow 5): said by the box.
            field = "designated_only" if exc.field == "designated_only" else "form"
            return await self.conditions_page(
                request, found, typed=typed, errors={field: [japanese(exc)]}, status=400
            )
        return RedirectResponse(f"/numbers/{found.number}/mail?saved=1", status_code=303)

    # --- designated numbers (MAIL-5) ------------------------------------------------

    async def designated(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.designated_page(request, found)

    async def designated_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        rows: list[dict[str, Any]] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        """All 30 rows in one visit, each number in its slot (issue 14 flow 7), or as typed."""
        if rows is None:
            data = await self.base.read(_describe, found.number)
            rows = [{"caller_number": "", "designated": False} for _ in range(DESIGNATED_ROWS)]
            for d in data["mail"]["designated_numbers"]:
                rows[d["position"] - 1] = {
                    "caller_number": d["caller_number"],
                    "designated": d["designated"],
                }
        rows = rows + [{"caller_number": "", "designated": False}] * (DESIGNATED_ROWS - len(rows))
        # Issue 19: each number's phonebook name beside its row.
        callers = [str(r["caller_number"]) for r in rows if r["caller_number"]]
        names = await self.base.read(book_names, found.number, callers)
        return self.base.render(
            request,
            "designated.html",
            {
                "title": page("designated.title"),
                "number": found.number,
                "rows": list(enumerate(rows, start=1)),
                "names": names,
                "errors": errors or {},
                "limit": validation.MAX_DESIGNATED,
            },
            status=status,
            session=found.view,
        )

    async def post_designated(self, request: Request) -> Response:
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        data = form.data
        try:
            # The page shows MAX_DESIGNATED rows and says how many; a few more (a
            # forged form) reach the domain rule, which says "30件まで".
            rows_read = count(data, "rows", DESIGNATED_ROWS_READ)
            rows_within(data, ("caller_number_", "designated_"), rows_read)
            shown = [
                {
                    # Issue 14 flow 8: as people type it (０３…, 03-1234-5678).
                    "caller_number": validation.typed_number(data.get(f"caller_number_{i}", "")),
                    "designated": flag(data, f"designated_{i}"),
                }
                for i in range(1, rows_read + 1)
            ]
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
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
            slots = [
                (str(r["caller_number"]), bool(r["designated"])) if r["caller_number"] else None
                for r in shown
            ]
            try:
                await self.base.write(service.set_designated_numbers, found.number, slots)
            except DomainError as exc:
                field = (
                    exc.field if exc.field and exc.field.startswith("caller_number_") else "form"
                )
                errors[field] = [japanese(exc, "designated")]
        if errors:
            return await self.designated_page(request, found, rows=shown, errors=errors, status=400)
        return RedirectResponse(f"/numbers/{found.number}/designated?saved=1", status_code=303)
