"""A number's call services on the site: Number Request (CALL-3) and Voice Warp (CALL-4).

The pages sit under ``/numbers/{number}`` like the notification pages: the
number is checked against the login's scope first (SITE-1), every form
carries the session's CSRF token, and a field outside the values the page
sends (a forged form) is a bad form (400, nothing saved). Each form is
saved by one call of the domain layer (``store.service``) in one
transaction, with every field at once: it is saved whole or not at all,
and a refusal is said by its field in Japanese. A number that does not
subscribe to the service gets the page's sentence and no form; a POST for
it changes nothing.

Number Request's payphone and unavailable options (``reject_payphone``,
``reject_unavailable``) are the operator's unless ``site.number_request_options``
lets subscribers set them: without it the page shows on/off only, and a
form that carries those fields is a bad form.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from agi.prompts import TEXTS as PROMPTS
from agi.prompts import Prompt
from store import service, validation
from store.errors import DomainError, NotSubscribed
from store.models import Service, VoiceWarpMode
from web.pages.base import NumberPage, Plumbing
from web.pages.forms import BadForm, flag, one_of
from web.texts import japanese, page

log = structlog.get_logger("web")

ON_OFF = {"on": True, "off": False}
# ?saved=… after a save: the one value the pages send (anything else says nothing).
SAVED = "1"
MODES = {m.value: m for m in VoiceWarpMode}
NUMBER_REQUEST_OPTIONS = ("reject_payphone", "reject_unavailable")


def _describe(session: Session, number: str) -> dict[str, Any]:
    return service.describe_number(service.get_number(session, number))


# Full-width digits, as a Japanese keyboard types them, are the digits.
_DIGITS = str.maketrans("０１２３４５６７８９", "0123456789")


def _ring_seconds(typed: str) -> int | None:
    """CALL-4's ring time as typed (``１５`` is 15); None when it is not a whole number.

    Not ``typed_number``: that removes hyphens, and ``-5`` is no ring time.
    """
    value = typed.translate(_DIGITS)
    if not (value.isascii() and value.isdigit() and len(value) <= 4):
        return None
    return int(value)


def _shown(typed: str) -> str:
    """What was typed, to put back in its field: without control or bidi characters."""
    return "".join(c for c in typed if c.isprintable())


def _saved(request: Request, status: int) -> bool:
    """Whether to say 設定しました: only on the page the save redirected to."""
    return status == 200 and request.query_params.get("saved") == SAVED


def ring_seconds_format() -> str:
    """The ring time's limits in words (the CLI's, ``store.validation``)."""
    return page(
        "voice_warp.ring_seconds_format",
        low=validation.MIN_RING_SECONDS,
        high=validation.MAX_RING_SECONDS,
    )


class ForwardingPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def _subscribes(self, found: NumberPage, to: Service) -> bool:
        data = await self.base.read(_describe, found.number)
        return to.value in data["services"]

    # --- Number Request (CALL-3, MAIL-6) -----------------------------------------------

    async def number_request(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.number_request_page(request, found)

    async def number_request_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        status: int = 200,
    ) -> Response:
        data = await self.base.read(_describe, found.number)
        options = self.base.deps.config.number_request_options
        return self.base.render(
            request,
            "number_request.html",
            {
                "title": page("number_request.title"),
                "number": found.number,
                "subscribed": Service.NUMBER_REQUEST.value in data["services"],
                "not_subscribed": page("number_request.not_subscribed"),
                "setting": data["number_request"],
                "options": options,
                # What a refused caller hears: the shipped prompts' words (agi.prompts).
                "guidance": PROMPTS[Prompt.CALL_REJECTED_WITHHELD],
                "payphone_guidance": PROMPTS[Prompt.CALL_REJECTED_PAYPHONE],
                "unavailable_guidance": PROMPTS[Prompt.CALL_REJECTED_UNAVAILABLE],
                "saved": _saved(request, status),
            },
            status=status,
            session=found.view,
        )

    async def post_number_request(self, request: Request) -> Response:
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        options = self.base.deps.config.number_request_options
        try:
            enabled = one_of(form.data, "enabled", ON_OFF)
            chosen: dict[str, bool] = {}
            for name in NUMBER_REQUEST_OPTIONS:
                if options:
                    chosen[name] = flag(form.data, name)
                elif name in form.data:  # the page has no such field: the operator's setting
                    raise BadForm(name)
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        if not await self._subscribes(found, Service.NUMBER_REQUEST):
            return await self._not_subscribed(request, found, "number_request")
        try:
            await self.base.write(
                service.set_number_request, found.number, enabled=enabled, **chosen
            )
        except NotSubscribed:  # unsubscribed by the operator meanwhile
            return await self._not_subscribed(request, found, "number_request")
        log.info("site_number_request_saved", number=found.number, enabled=enabled)
        return RedirectResponse(
            f"/numbers/{found.number}/number-request?saved={SAVED}", status_code=303
        )

    async def _not_subscribed(self, request: Request, found: NumberPage, which: str) -> Response:
        log.warning("site_service_not_subscribed", number=found.number, service=which)
        if which == "number_request":
            return await self.number_request_page(request, found, status=403)
        return await self.voice_warp_page(request, found, status=403)

    # --- Voice Warp (CALL-4, MAIL-8) --------------------------------------------------------

    async def voice_warp(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.voice_warp_page(request, found)

    async def voice_warp_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        typed: Mapping[str, Any] | None = None,
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        """The stored setting, or the form as typed (``typed``) with each refusal by its field."""
        data = await self.base.read(_describe, found.number)
        stored = data["voice_warp"]
        shown = {
            "enabled": stored["enabled"],
            "mode": stored["mode"],
            "destination": stored["destination"] or "",
            "ring_seconds": str(stored["ring_seconds"]),
            **(typed or {}),
        }
        return self.base.render(
            request,
            "voice_warp.html",
            {
                "title": page("voice_warp.title"),
                "number": found.number,
                "subscribed": Service.VOICE_WARP.value in data["services"],
                "not_subscribed": page("voice_warp.not_subscribed"),
                "stored": stored,
                "form": shown,
                "ring_low": validation.MIN_RING_SECONDS,
                "ring_high": validation.MAX_RING_SECONDS,
                "errors": errors or {},
                "saved": _saved(request, status),
            },
            status=status,
            session=found.view,
        )

    async def post_voice_warp(self, request: Request) -> Response:
        """CALL-4: every field checked, then one ``set_voice_warp`` with all of them."""
        posted = await self.base.number_form(request)
        if isinstance(posted, Response):
            return posted
        found, form = posted
        data = form.data
        try:
            enabled = one_of(data, "enabled", ON_OFF)
            mode = one_of(data, "mode", MODES)
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        if not await self._subscribes(found, Service.VOICE_WARP):
            return await self._not_subscribed(request, found, "voice_warp")
        typed_destination = data.get("destination", "").strip()
        typed_ring = data.get("ring_seconds", "").strip()
        typed = {
            "enabled": enabled,
            "mode": mode.value,
            "destination": _shown(typed_destination),
            "ring_seconds": _shown(typed_ring),
        }
        errors: dict[str, list[str]] = {}
        # Issue 14 flow 8: as people type it (０９０…, 090-1234-5678).
        destination = validation.typed_number(typed_destination) or None
        if destination is None:
            if enabled:  # not the stored one: what the subscriber sees is what is saved
                errors["destination"] = [page("voice_warp.destination_empty")]
        else:
            try:
                validation.diallable_number(destination, field="destination")
            except DomainError as exc:
                errors["destination"] = [japanese(exc, "voice_warp")]
        # A blank ring time keeps the stored one, except for 無応答, which rings by it.
        ring_seconds = _ring_seconds(typed_ring) if typed_ring else None
        unreadable = bool(typed_ring) and ring_seconds is None
        if unreadable or (not typed_ring and mode is VoiceWarpMode.NO_ANSWER):
            errors["ring_seconds"] = [ring_seconds_format()]
        elif ring_seconds is not None:
            try:
                validation.ring_seconds(ring_seconds)
            except DomainError as exc:
                errors["ring_seconds"] = [japanese(exc, "voice_warp")]
        if not errors:
            try:
                await self.base.write(
                    service.set_voice_warp,
                    found.number,
                    enabled=enabled,
                    mode=mode,
                    destination=destination,
                    ring_seconds=ring_seconds,
                    # Off with the field emptied: no destination is kept (issue 16).
                    clear_destination=destination is None,
                )
            except NotSubscribed:  # unsubscribed by the operator meanwhile
                return await self._not_subscribed(request, found, "voice_warp")
            except DomainError as exc:
                field = exc.field if exc.field in ("destination", "ring_seconds") else "form"
                errors[field] = [japanese(exc, "voice_warp")]
        if errors:
            return await self.voice_warp_page(
                request, found, typed=typed, errors=errors, status=400
            )
        log.info("site_voice_warp_saved", number=found.number, enabled=enabled, mode=mode.value)
        return RedirectResponse(
            f"/numbers/{found.number}/voice-warp?saved={SAVED}", status_code=303
        )
