"""A number's nuisance list on the settings site (CALL-2, 迷惑電話おことわり, issue 16).

``/numbers/{number}/nuisance``: the list (at most 30, with its count), an
entry added as people type a number, one removed by its position and its
handle (``_handle``: opaque, without digits). An entry the feature code
(144 then 2) added for a caller who withheld the number is ``hidden``:
``store.service.describe_number`` gives it without its digits, so the page
has none to show and it is removed like any other. Adding and removing go
through ``store.service`` (the CLI's own rules and normalisation) in one
transaction each: a refusal changes nothing and is shown by its field. The
number is checked against the login's scope first (SITE-1).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

import structlog
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from store import service, validation
from store.errors import DomainError, NotFound, NotSubscribed
from store.models import NuisanceEntry, Service
from web.pages.base import NumberPage, Plumbing
from web.pages.forms import BadForm, count, one_of
from web.pages.phonebook import book_names
from web.texts import japanese, page

log = structlog.get_logger("web")

CONTEXT = "nuisance"  # how web.texts words the shared codes for this page
ACTIONS = {"add": "add", "remove": "remove"}
# ?saved=… after a change: what the page says it did.
SAVED = ("added", "removed")
# Hex digits as letters: a handle shows no digit (the list shows none but its numbers).
_LETTERS = str.maketrans("0123456789abcdef", "abcdefghijklmnop")


def _handle(entry: NuisanceEntry) -> str:
    """What a remove button names its entry by: this entry, and no other ever.

    Not its number (a hidden entry has none to show), nor "hidden" (every
    hidden entry is, issue 16), nor the row id alone (SQLite gives a deleted
    last row's id to the next one): a digest of the row id, the number's,
    the position and the moment it was added. Nothing of the caller's
    digits is in it.
    """
    made = f"{entry.id}|{entry.number_id}|{entry.position}|{entry.added_at.isoformat()}"
    return hashlib.sha256(made.encode()).hexdigest()[:24].translate(_LETTERS)


def _listed(session: Session, number: str) -> dict[str, Any]:
    """The number's list as the CLI shows it (hidden entries without digits), with handles."""
    found = service.get_number(session, number)
    described = service.describe_number(found)
    handles = {e.position: _handle(e) for e in found.nuisance}
    listed = described["nuisance_list"]
    # Issue 19: each listed caller's phonebook name beside it (a hidden entry has no number).
    names = book_names(session, number, [e["caller_number"] for e in listed if not e["hidden"]])
    return {
        "subscribed": "nuisance" in described["services"],
        "entries": [
            {
                **e,
                "handle": handles[e["position"]],
                "name": "" if e["hidden"] else names.get(e["caller_number"] or "", ""),
            }
            for e in listed
        ],
    }


def _remove(session: Session, number: str, position: int, handle: str) -> None:
    """CALL-2: remove the entry at ``position`` if it is still the one the page showed.

    A position is taken again by the next entry added: a page left open while
    the list changed (another tab, the phone's 144-2) must not remove another
    caller than the one beside its button, a hidden one neither. The number
    is locked first, so the check and the removal see the same list.
    """
    found = service.get_number(session, number, lock=True)
    if found.subscribes(Service.NUISANCE) and not any(
        e.position == position and _handle(e) == handle for e in found.nuisance
    ):
        raise NotFound(
            f"{number}: position {position} no longer holds the entry shown",
            field="caller_number",
        )
    service.remove_nuisance(session, number, position=position)  # NotSubscribed there


def _not_subscribed(number: str) -> str:
    """The sentence of the store's refusal, for a page that knows before it asks."""
    return japanese(
        NotSubscribed(f"{number} does not subscribe to the nuisance service", field="number"),
        CONTEXT,
    )


def _shown(typed: str) -> str:
    """What was typed, to put back in the field: without control characters."""
    return "".join(c for c in typed if c.isprintable())


class NuisancePages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def nuisance(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        return await self.nuisance_page(request, found)

    async def nuisance_page(
        self,
        request: Request,
        found: NumberPage,
        *,
        typed: str = "",
        errors: Mapping[str, list[str]] | None = None,
        status: int = 200,
    ) -> Response:
        data = await self.base.read(_listed, found.number)
        saved = request.query_params.get("saved", "") if status == 200 else ""
        return self.base.render(
            request,
            "nuisance.html",
            {
                "title": page("nuisance.title"),
                "number": found.number,
                "subscribed": data["subscribed"],
                "not_subscribed": "" if data["subscribed"] else _not_subscribed(found.number),
                "entries": data["entries"],
                "limit": validation.MAX_NUISANCE,
                "typed": _shown(typed),
                "errors": errors or {},
                "saved": saved if saved in SAVED else "",
                "feature_code": self.base.deps.nuisance_feature_code,
            },
            status=status,
            session=found.view,
        )

    async def post_nuisance(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        posted = await self.base.checked(request, found.view)
        if isinstance(posted, Response):
            return posted
        data = posted.data
        typed = data.get("caller_number", "")
        try:
            action = one_of(data, "action", ACTIONS)
            position, handle = 0, ""
            if action == "remove":
                position = count(data, "position", validation.MAX_NUISANCE)
                if position < 1:
                    raise BadForm("position")
                handle = data.get("entry", "")
                if not handle:
                    raise BadForm("entry")
        except BadForm as exc:
            return self.base.bad_form(request, found.view, exc)
        try:
            if action == "add":
                if not typed.strip():
                    return await self.nuisance_page(
                        request,
                        found,
                        errors={"caller_number": [page("nuisance.empty")]},
                        status=400,
                    )
                await self.base.write(service.add_nuisance, found.number, typed)
            else:
                await self.base.write(_remove, found.number, position, handle)
        except DomainError as exc:
            # An add's refusal by its field (the list full too: LimitExceeded names
            # none); a remove's, or the service's own, at the list's top.
            by_field = action == "add" and exc.field in (None, "caller_number")
            field = "caller_number" if by_field else "form"
            return await self.nuisance_page(
                request,
                found,
                typed=typed if action == "add" else "",
                errors={field: [japanese(exc, CONTEXT)]},
                # A number without the service (as the ナンバー・リクエスト and ボイスワープ pages).
                status=403 if isinstance(exc, NotSubscribed) else 400,
            )
        log.info("site_nuisance_changed", number=found.number, action=action)
        done = "added" if action == "add" else "removed"
        return RedirectResponse(f"/numbers/{found.number}/nuisance?saved={done}", status_code=303)
