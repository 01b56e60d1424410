"""A number's サービス選択 (seeds (3) step 7, issue 16): the services it subscribes to.

``/numbers/{number}`` lists, in the carrier's order, the services of the
number the login may set (SITE-1 checked first): 着信お知らせメール (MAIL-1 …
MAIL-5), 迷惑電話おことわり (CALL-2), ナンバー・リクエスト (CALL-3) and
ボイスワープ (CALL-4), each only where the number subscribes to it (※ご契約内容
により、表示されるサービスが異なります), each with its state in a word, and the
call history that all of them share. Issue 17 (CALL-1): above them, where the
number's calls ring (``web.pages.office``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response

from store import service
from store.models import Service
from web.pages import office
from web.pages.base import Plumbing
from web.texts import page

# The carrier's order; each service's page under /numbers/{number}.
MENU = (
    (Service.MAIL, "mail"),
    (Service.NUISANCE, "nuisance"),
    (Service.NUMBER_REQUEST, "number-request"),
    (Service.VOICE_WARP, "voice-warp"),
)


def _menu(session: Session, number: str) -> tuple[list[dict[str, Any]], str]:
    """The subscribed services of ``number`` in the carrier's order, each with its state;
    and where its calls ring (issue 17: "" when the site does not know)."""
    data = service.describe_number(service.get_number(session, number))
    states = {
        Service.MAIL: page("services.started" if data["mail"]["started"] else "services.stopped"),
        Service.NUISANCE: page("services.nuisance_count", count=len(data["nuisance_list"])),
        # As their own pages say them (開始中 / 停止中).
        Service.NUMBER_REQUEST: page(
            "services.started" if data["number_request"]["enabled"] else "services.stopped"
        ),
        Service.VOICE_WARP: page(
            "services.started" if data["voice_warp"]["enabled"] else "services.stopped"
        ),
    }
    names = {
        Service.MAIL: page("services.mail"),
        Service.NUISANCE: page("services.nuisance"),
        Service.NUMBER_REQUEST: page("services.number_request"),
        Service.VOICE_WARP: page("services.voice_warp"),
    }
    offered = [
        {
            "name": names[kind],
            "href": f"/numbers/{number}/{path}",
            "state": states[kind],
        }
        for kind, path in MENU
        if kind.value in data["services"]
    ]
    return offered, office.rings(session, data)


class ServicePages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def menu(self, request: Request) -> Response:
        found = await self.base.number_page(request)
        if isinstance(found, Response):
            return found
        offered, rings = await self.base.read(_menu, found.number)
        return self.base.render(
            request,
            "services.html",
            {
                "title": page("services.title"),
                "number": found.number,
                "services": offered,
                "rings": rings,
                "several": len(found.scope.numbers) > 1,
            },
            session=found.view,
        )
