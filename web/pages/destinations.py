"""A number's chat and webhook destinations on the settings site (issue 19, CHAT-1 … CHAT-3).

``/numbers/{number}/destinations``: the number's destinations (at most
``MAX_DESTINATIONS``), each with its kind, label, masked URL (never the
URL's secret path nor a token), its 送信 flag, 送信テスト, 削除 and, for the
generic webhook, a new signing secret; the add form (kind, label, URL, or
the Chatwork room and API token); and, in words, what each kind sends and
that chat notices follow the mail's conditions (a call that gets no mail
gets no chat message).

The generic webhook's signing secret (CHAT-2) is shown once, on the page
answering the POST that made it (adding, or a new one): never in a URL,
never again. Every form carries the session's CSRF token; the number is
checked against the login's scope first (SITE-1); every change goes through
``store.destinations`` (the CLI's and the API's rules) in one transaction,
so a refusal changes nothing and is said in Japanese by its field. A form
names its destination by position and an opaque handle (``_handle``): a page
left open while the slot was emptied and filled again changes nothing.

送信テスト (MAIL-2 for a destination) is counted with the mail's
(``store.send_limits``: per login number and per number), posts one test
message now through ``SiteDeps.chat_send_test`` and says the outcome in
words: accepted, refused with the HTTP status, busy, unreachable. The
receiver's own text and our side's errors go to the log only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import zoneinfo
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import structlog
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import destinations, send_limits, service, validation
from store.errors import AlreadyExists, DomainError, LimitExceeded, NotFound
from store.models import ChatDestination, ChatKind, Service
from web.deps import SendTestResult, send_test_outcome
from web.pages.base import NumberPage, Plumbing
from web.pages.delivery import destination_flags
from web.pages.forms import BadForm, flag, one_of
from web.texts import japanese, page

log = structlog.get_logger("web")

LIMIT = validation.MAX_DESTINATIONS
KINDS = {kind.value: kind for kind in ChatKind}
# The kinds' names as their makers write them (the form's choices, the headings).
KIND_NAMES = {
    ChatKind.SLACK: "Slack",
    ChatKind.TEAMS: "Microsoft Teams",
    ChatKind.DISCORD: "Discord",
    ChatKind.CHATWORK: "Chatwork",
    ChatKind.WEBHOOK: "Webhook",
}
ACTIONS = {"save": "save", "test": "test", "remove": "remove", "rotate": "rotate"}
POSITIONS = {str(p): p for p in range(1, LIMIT + 1)}
# The add form's fields a refusal of the store can be about (others: the form's top).
ADD_FIELDS = ("kind", "label", "url", "room_id", "token")
_HTTP_STATUS = re.compile(r"HTTP (\d{3})\b")


def _handle(d: ChatDestination) -> str:
    """What a form names its destination by: this one, and no other ever.

    Not the position alone (a removed slot is filled by the next one added)
    nor the row id alone (SQLite gives a deleted last row's id again, within
    the same second too): a digest of the row id, the number's, the position,
    when it was made and where it posts. Nothing of the URL can be read
    back from it (a one-way digest).
    """
    parts = (d.id, d.number_id, d.position, d.created_at.isoformat(), d.kind.value)
    made = "|".join(str(part) for part in (*parts, d.url or "", d.room_id or ""))
    return hashlib.sha256(made.encode()).hexdigest()[:24]


def _held(session: Session, number: str, position: int, handle: str) -> None:
    """Lock the number; ``NotFound`` unless ``position`` still holds the destination shown."""
    found = service.get_number(session, number, lock=True)
    if not any(d.position == position and _handle(d) == handle for d in found.destinations):
        raise NotFound(f"{number}: destination {position} is not the one shown", field="form")


@dataclass(frozen=True)
class Listed:
    """What the page shows of a number: its destinations, handles and mail settings."""

    subscribed: bool
    started: bool
    has_address: bool
    timezone: str
    shown: list[destinations.Shown]
    handles: dict[int, str]


def _listed(session: Session, number: str) -> Listed:
    found = service.get_number(session, number)
    return Listed(
        subscribed=found.subscribes(Service.MAIL),
        started=found.notification.started,
        has_address=any(a.send for a in found.addresses),
        timezone=found.timezone,
        shown=destinations.destinations(session, number),
        handles={d.position: _handle(d) for d in found.destinations},
    )


def _save(
    session: Session, number: str, position: int, handle: str, *, send: bool, label: str
) -> None:
    _held(session, number, position, handle)
    destinations.set_destination_label(session, number, position, label)
    destinations.set_destination_send(session, number, position, send)


def _remove(session: Session, number: str, position: int, handle: str) -> None:
    _held(session, number, position, handle)
    destinations.remove_destination(session, number, position)


def _rotate(session: Session, number: str, position: int, handle: str) -> str:
    _held(session, number, position, handle)
    return destinations.rotate_secret(session, number, position)


def _name_of(session: Session, number: str, position: int, handle: str) -> str:
    """The shown name of the destination the form names (``NotFound``: not that one now)."""
    found = service.get_number(session, number)
    for d in found.destinations:
        if d.position == position and _handle(d) == handle:
            return destinations.shown_name(d)
    raise NotFound(f"{number}: destination {position} is not the one shown", field="form")


def shown_at(moment: dt.datetime, timezone: str) -> str:
    """A stored moment (UTC) as the number's clock reads it: 2026年11月22日 10:00."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    local = aware.astimezone(zoneinfo.ZoneInfo(timezone))
    return page(
        "destinations.at",
        year=local.year,
        month=local.month,
        day=local.day,
        hour=local.hour,
        minute=f"{local.minute:02d}",
    )


def shown_url(shown: destinations.Shown) -> str:
    """The masked URL, or the Chatwork room in the site's words."""
    if shown.kind is ChatKind.CHATWORK:
        return page("destinations.chatwork_room", room=shown.room_id or "")
    return shown.shown_url


def test_outcome(result: SendTestResult) -> str:
    """MAIL-2 for a destination: what became of the test message (CHAT-3's results)."""
    if result.ok:
        return "sent"
    if result.reply.startswith("refused:"):  # an address refused before connecting
        return "blocked"
    return send_test_outcome(result)


def test_message(outcome: str, name: str, reply: str) -> str:
    """The outcome in words; the HTTP status is the only part of the reply shown."""
    status = _HTTP_STATUS.match(reply)
    code = status.group(1) if status else ""
    if outcome == "sent":
        return page("destinations.test_sent", name=name)
    if outcome == "blocked":
        return page("destinations.test_blocked", name=name)
    if outcome == "unreachable":
        return page("destinations.test_unreachable", name=name)
    if outcome == "deferred" and code:
        return page("destinations.test_deferred", name=name, status=code)
    if outcome == "deferred":
        return page("destinations.test_unreachable", name=name)
    if code:
        return page("destinations.test_refused", name=name, status=code)
    return page("destinations.test_refused_plain", name=name)


def _explained() -> dict[str, Any]:
    """What each kind sends and the rules chat notices follow (the README says the same)."""
    return {
        "intro": page("destinations.intro", limit=LIMIT),
        "rules": [
            page("destinations.follows_mail"),
            page("destinations.needs_address"),
            page("destinations.withheld"),
        ],
        "text": page("destinations.sends_text"),
        "kinds": [
            (KIND_NAMES[ChatKind.SLACK], page("destinations.sends_slack")),
            (KIND_NAMES[ChatKind.TEAMS], page("destinations.sends_teams")),
            (KIND_NAMES[ChatKind.DISCORD], page("destinations.sends_discord")),
            (KIND_NAMES[ChatKind.CHATWORK], page("destinations.sends_chatwork")),
            (KIND_NAMES[ChatKind.WEBHOOK], page("destinations.sends_webhook")),
        ],
        "signed": page("destinations.webhook_signed"),
    }


def _done_notice(request: Request) -> str | None:
    """?added=N, ?saved=N, ?removed=N after a change: what the page says it did."""
    added, saved, removed = (request.query_params.get(k, "") for k in ("added", "saved", "removed"))
    if added in POSITIONS:
        return page("destinations.added", position=added)
    if saved in POSITIONS:
        return page("destinations.saved", position=saved)
    if removed in POSITIONS:
        return page("destinations.removed", position=removed)
    return None


class DestinationPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def destinations(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.render(request, found, notice=_done_notice(request))

    async def render(
        self,
        request: Request,
        found: NumberPage,
        *,
        typed: Mapping[str, str] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        results: Mapping[int, Mapping[str, Any]] | None = None,
        secret: tuple[int, str] | None = None,
        edited: Mapping[int, str] | None = None,
        notice: str | None = None,
        status: int = 200,
    ) -> Response:
        """The page; ``secret``: (position, signing secret) to show this once (CHAT-2);
        ``edited``: a label as typed, by position (a refused 設定)."""
        listed = await self.base.read(_listed, found.number)
        # Issue 19 (CHAT-3): a destination whose latest notice failed, until one is accepted.
        flags = await self.base.read(destination_flags, found.number, self.base.now())
        rows = [
            {
                "position": s.position,
                "kind_line": page("destinations.kind_line", kind=KIND_NAMES[s.kind]),
                "is_webhook": s.kind is ChatKind.WEBHOOK,
                "label": (edited or {}).get(s.position, s.label),
                "name": s.name,
                "heading": page("destinations.heading", position=s.position, name=s.name),
                "url": shown_url(s),
                "send": s.send,
                "tested": (
                    page("destinations.tested_at", at=shown_at(s.test_sent_at, listed.timezone))
                    if s.test_sent_at
                    else ""
                ),
                "handle": listed.handles.get(s.position, ""),
                "failed": flags.get(s.position, ""),
            }
            for s in listed.shown
        ]
        warnings = []
        if listed.subscribed and not listed.started:
            warnings.append(page("destinations.warning_stopped"))
        elif listed.subscribed and not listed.has_address:
            warnings.append(page("destinations.warning_no_address"))
        shown_secret = None
        if secret is not None:
            shown_secret = {
                "position": secret[0],
                "value": secret[1],
                "said": page("destinations.secret_once", position=secret[0]),
            }
        return self.base.render(
            request,
            "destinations.html",
            {
                "title": page("destinations.title"),
                "number": found.number,
                "subscribed": listed.subscribed,
                "not_subscribed": page("destinations.not_subscribed"),
                "warnings": warnings,
                "rows": rows,
                "page_none": page("destinations.none"),
                "full": len(rows) >= LIMIT,
                "full_notice": page("destinations.full", limit=LIMIT),
                "kinds": [(k.value, KIND_NAMES[k]) for k in ChatKind],
                "typed": {"kind": ChatKind.SLACK.value, **(typed or {})},
                "errors": errors or {},
                "results": results or {},
                "secret": shown_secret,
                "done": notice,
                "explained": _explained(),
                "max_label": validation.MAX_DESTINATION_LABEL,
            },
            status=status,
            session=found.view,
        )

    # --- adding (CHAT-1) -----------------------------------------------------------------

    async def post_add(self, request: Request) -> Response:
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        data = form.data
        try:
            kind = one_of(data, "kind", KINDS)
            send = flag(data, "send")
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        typed = {
            "kind": kind.value,
            "label": data.get("label", "").strip(),
            "url": data.get("url", "").strip(),
            "room_id": data.get("room_id", "").strip(),
            "send": "1" if send else "",
        }  # the token is not shown again (a password field)
        token = data.get("token", "").strip()
        try:
            added, secret = await self.base.write(
                destinations.add_destination,
                found.number,
                kind,
                url=typed["url"] or None,
                room_id=typed["room_id"] or None,
                token=token or None,
                label=typed["label"],
                send=send,
                allow_hosts=self.base.deps.chat_allow_hosts,
                now=self.base.now(),
            )
        except DomainError as exc:
            return await self.render(
                request, found, typed=typed, errors=self._add_errors(exc), status=400
            )
        log.info("site_destination_added", number=found.number, kind=kind.value)
        if secret is not None:  # CHAT-2: shown now, on this page, and never again
            return await self.render(
                request,
                found,
                secret=(added.position, secret),
                notice=page("destinations.added", position=added.position),
            )
        return RedirectResponse(
            f"/numbers/{found.number}/destinations?added={added.position}", status_code=303
        )

    @staticmethod
    def _add_errors(exc: DomainError) -> dict[str, list[str]]:
        if isinstance(exc, LimitExceeded):
            return {"form": [page("destinations.too_many", limit=LIMIT)]}
        if isinstance(exc, AlreadyExists):
            return {"url": [page("destinations.duplicate")]}
        field = exc.field if exc.field in ADD_FIELDS else "form"
        return {str(field): [japanese(exc, "destination")]}

    # --- one destination: 設定, 送信テスト, 削除, a new secret -----------------------------------

    async def post_change(self, request: Request) -> Response:
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        data = form.data
        try:
            action = one_of(data, "action", ACTIONS)
            position = one_of(data, "position", POSITIONS)
            send = flag(data, "send")
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        handle = data.get("handle", "")
        at = f"destination_{position}"
        number = found.number
        try:
            if action == "test":
                return await self._test(request, found, position, handle)
            if action == "remove":
                await self.base.write(_remove, number, position, handle)
                log.info("site_destination_removed", number=number, position=position)
                return RedirectResponse(
                    f"/numbers/{number}/destinations?removed={position}", status_code=303
                )
            if action == "rotate":
                secret = await self.base.write(_rotate, number, position, handle)
                log.info("site_destination_secret_rotated", number=number, position=position)
                return await self.render(
                    request,
                    found,
                    secret=(position, secret),
                    notice=page("destinations.secret_rotated", position=position),
                )
            label = data.get("label", "").strip()
            await self.base.write(_save, number, position, handle, send=send, label=label)
        except NotFound:
            return await self.render(
                request, found, errors={"form": [page("destinations.gone")]}, status=409
            )
        except DomainError as exc:
            return await self.render(
                request,
                found,
                errors={at: [japanese(exc, "destination")]},
                edited={position: data.get("label", "").strip()} if action == "save" else None,
                status=400,
            )
        return RedirectResponse(f"/numbers/{number}/destinations?saved={position}", status_code=303)

    async def _test(
        self, request: Request, found: NumberPage, position: int, handle: str
    ) -> Response:
        """MAIL-2 送信テスト of one destination: counted first, then one message now."""
        base = self.base
        at = f"destination_{position}"
        name = await base.read(_name_of, found.number, position, handle)
        sender = base.deps.chat_send_test
        if sender is None:
            return await self.render(
                request,
                found,
                errors={at: [page("destinations.test_unavailable")]},
                status=503,
            )
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
            return await self.render(request, found, errors={at: [japanese(exc)]}, status=429)
        result = await sender(found.number, position)
        outcome = test_outcome(result)
        # The receiver's answer and our side's errors: for the operator's log only.
        log.info(
            "site_chat_send_test",
            number=found.number,
            position=position,
            outcome=outcome,
            detail=result.reply[:200],
        )
        if result.ok:
            await base.write(destinations.note_test_sent, found.number, position, now=base.now())
        message = test_message(outcome, name, result.reply)
        return await self.render(
            request, found, results={position: {"ok": result.ok, "message": message}}
        )
