"""The help page (ヘルプ, issue 14): what each page does, the words, how to get in, whom to ask.

Open to anyone, logged in or not: it shows no subscriber's data, only the
operator's configuration (the temporary-password access numbers, IVR-1) and
a sample of the notification mail from the operator's templates (MAIL-9).
A session, if there is one, only gives the header its ログアウト.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from web.pages.base import Plumbing
from web.texts import page


class HelpPages:
    def __init__(self, base: Plumbing) -> None:
        self.base = base

    async def help(self, request: Request) -> Response:
        base = self.base
        view = await base.current(request)
        sample = base.deps.sample_mail
        return base.render(
            request,
            "help.html",
            {
                "title": page("help.title"),
                "sample": sample,
                # The address page's sentence (MAIL-2): the domain to allow.
                "allowed_domain": (
                    page("addresses.allowed_domain", domain=sample.domain)
                    if sample is not None and sample.domain
                    else None
                ),
                **base.temp_password_guidance(),
            },
            session=view,
        )
