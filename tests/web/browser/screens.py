"""What the browser tests do on every page: check its heading, check that it
fits the screen, save it as screenshots (375 px, a phone, and 1280 px), and
note which route it was, so that a test can fail when a page of the site's
route table was never shown.

The screenshots go to ``artifacts/screenshots/<module>/<test>/`` at the
top of the repository (ignored by git; CI can keep the folder), one pair
per page: ``NN-<heading>-375.png`` and ``NN-<heading>-1280.png``.
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Page, Request, ViewportSize
from sqlalchemy.orm import Session, sessionmaker
from starlette.routing import Route

from store import db, service
from store.models import AuthUnit
from tests.builders import plain_text
from tests.notifier.smtp_server import SmtpServer
from web.app import SiteDeps, create_app

ARTIFACTS = Path(__file__).resolve().parents[3] / "artifacts" / "screenshots"
PHONE: ViewportSize = {"width": 375, "height": 740}
DESKTOP: ViewportSize = {"width": 1280, "height": 800}

# Every element of the page whose box leaves the viewport sideways, and every
# text that runs out of its box past the viewport's edge (a box can fit while its
# unbreakable text does not), described.
_WIDE = """() => {
  const width = window.innerWidth, wide = [];
  const describe = (el, box, what) => {
    const name = el.tagName.toLowerCase() + (el.id ? "#" + el.id : "")
      + (typeof el.className === "string" && el.className ? "." + el.className : "");
    wide.push(`${name} ${what} ${Math.round(box.left)}..${Math.round(box.right)}px `
      + `"${(el.innerText || el.value || "").trim().slice(0, 40)}"`);
  };
  for (const el of document.querySelectorAll("body *")) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) describe(el, box, "box");
  }
  const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const range = document.createRange();
  for (let node = texts.nextNode(); node; node = texts.nextNode()) {
    if (!node.textContent.trim()) continue;
    range.selectNodeContents(node);
    const box = range.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;
    if (box.right > width + 0.5 || box.left < -0.5) describe(node.parentElement, box, "text");
  }
  return {scroll: document.documentElement.scrollWidth, width, wide};
}"""

# The heading without the number it names (``<span class="heading-number">``).
_TITLE = """h => {
  const copy = h.cloneNode(true);
  copy.querySelectorAll(".heading-number").forEach(e => e.remove());
  return copy.textContent.trim();
}"""

# Latin words a Japanese page may show: units, formats, the seeds' names and examples.
LATIN_ALLOWED = {"ID", "CSV", "CR", "LF", "URL", "KB", "MB", "abcd", "aaaa"}
# Issue 19: the phonebook's CSV encodings, by the names the subscriber's software gives them.
LATIN_ALLOWED |= {"UTF", "Shift_JIS"}
# Addresses, links and domain names (受信指定ドメイン) are the subscriber's, not words.
_ADDRESS_OR_URL = re.compile(r"\S+@\S+|https?://\S+|[\w-]+(?:\.[\w-]+)*\.[A-Za-z]{2,}")
_RULE_ID = re.compile(r"\b(?:CALL|MAIL|SITE|OPS|IVR)-\d+\b")
# Issue 19: the chat services by their makers' names, and what the webhook page names.
LATIN_ALLOWED |= {"Slack", "Microsoft", "Teams", "Discord", "Chatwork", "Webhook", "Webhooks"}
LATIN_ALLOWED |= {"Standard", "JSON", "HMAC", "API", "HTTP"}


def untranslated(text: str) -> list[str]:
    """The words of a page's text that are English or raw codes (rule ids, SMTP replies)."""
    found = _RULE_ID.findall(text)
    # A Latin word alone: "abcDEF12" (a confirmation ID typed by the subscriber) is not one.
    words = re.findall(
        r"(?<![A-Za-z0-9_.])[A-Za-z][A-Za-z_]+(?![A-Za-z0-9_])", _ADDRESS_OR_URL.sub(" ", text)
    )
    return found + [w for w in words if w not in LATIN_ALLOWED]


def overflow(page: Page) -> list[str]:
    """Why the page scrolls sideways at its current width (empty: it does not)."""
    found = page.evaluate(_WIDE)
    problems = [f"{w}" for w in found["wide"]]
    if found["scroll"] > found["width"]:
        problems.insert(0, f"scrollWidth {found['scroll']} > innerWidth {found['width']}")
    return problems


class Shots:
    """The screenshots of one test, in the order its pages were shown."""

    def __init__(self, page: Page, test_name: str, module: str) -> None:
        self.page = page
        self.folder = ARTIFACTS / module / re.sub(r"[^\w-]+", "-", test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True)
        self.count = 0
        # (method, path) of every request that led to a page shown, redirects included.
        self.shown: list[tuple[str, str]] = []
        self._last: dict[int, Request] = {}
        self.watch(page)

    def watch(self, page: Page) -> None:
        """Note the navigations of ``page`` (another browser's, for ``take(on=page)``)."""

        def seen(request: Request) -> None:
            if request.is_navigation_request() and request.frame == page.main_frame:
                self._last[id(page)] = request

        page.on("request", seen)

    def take(self, heading: str, *, number: str = "", on: Page | None = None) -> None:
        """Check the page's heading (and the number it names, issue 14 item 6) and that the
        page fits 375 and 1280 px; save both."""
        page = on or self.page
        page.wait_for_load_state()
        h1 = page.locator("h1")
        assert h1.evaluate(_TITLE) == heading, page.content()[:800]
        if number:
            assert number in h1.locator(".heading-number").inner_text(), h1.inner_text()
        text = page.locator("body").inner_text()
        assert not untranslated(text), (heading, untranslated(text))
        empty = page.locator(".card").evaluate_all(
            "cs => cs.filter(c => !c.innerText.trim()).length"
        )
        assert empty == 0, (heading, "an empty card")
        # Issue 14: no page leads nowhere (a link or a button in its main part).
        assert page.locator("main a[href], main button").count() > 0, (heading, "a dead end")
        # The browser's own file button speaks its language ("Choose File / No file
        # chosen", not in innerText): a file input is hidden from sight, its label the button.
        shown_files = page.locator("input[type=file]").evaluate_all(
            "es => es.filter(e => { const b = e.getBoundingClientRect();"
            " return b.width > 1 || b.height > 1; }).length"
        )
        assert shown_files == 0, (heading, "a file input shows the browser's own button")
        self.count += 1
        name = re.sub(r"\W+", "-", heading).strip("-") or "page"
        for size in (PHONE, DESKTOP):
            page.set_viewport_size(size)
            assert not overflow(page), (heading, size["width"], overflow(page))
            shot = self.folder / f"{self.count:02d}-{name}-{size['width']}.png"
            page.screenshot(path=str(shot), full_page=True)
        page.set_viewport_size(PHONE)
        request = self._last.get(id(page))
        while request is not None:
            self.shown.append((request.method, urlsplit(request.url).path))
            request = request.redirected_from

    def files(self) -> list[Path]:
        return sorted(self.folder.glob("*.png"))


# GET routes that are not pages: what the browser gets there instead.
NOT_PAGES = {
    "/otp/csv/download": "a CSV file to save",
    "/numbers/{number:str}/phonebook/csv": "a CSV file to save (issue 19)",
}


def page_routes(sessions: sessionmaker[Session]) -> list[Route]:
    """The GET routes of the site's route table (web/app.py) that show a page."""
    app = create_app(SiteDeps(sessions, sender_address="chakushin@example.jp"))
    return [
        r
        for r in app.routes
        if isinstance(r, Route) and "GET" in (r.methods or {"GET"}) and r.path not in NOT_PAGES
    ]


def unshown(routes: list[Route], shots: Shots) -> list[str]:
    """The routes no screenshot of ``shots`` was reached by a GET of."""
    return [
        r.path
        for r in routes
        if not any(m == "GET" and r.path_regex.match(p) for m, p in shots.shown)
    ]


def mail_to(smtp: SmtpServer, address: str, count: int = 1, timeout: float = 30.0) -> str:
    """The plain text of the ``count``-th mail the SMTP server accepted for ``address``."""
    inbox = smtp.inbox

    def arrived() -> list[str]:
        return [plain_text(m) for m in inbox.messages if str(m["To"]) == address]

    with inbox.lock:
        assert inbox.arrived.wait_for(lambda: len(arrived()) >= count, timeout), (
            f"mail {count} to {address} did not arrive",
            [str(m["To"]) for m in inbox.messages],
        )
        return arrived()[count - 1]


def log_in(page: Page, url: str, number: str, password: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#number", number)
    page.fill("#password", password)
    page.click("main button:has-text('ログイン')")


def set_temp_password(
    sessions: sessionmaker[Session], caller: str, target: str, unit: AuthUnit, password: str
) -> None:
    """The temporary password, as the IVR would set it (the real clock: serve runs on it)."""
    with db.transaction(sessions) as s:
        service.set_temp_password(
            s,
            caller,
            target,
            service.hash_temp_password(password),
            unit,
            now=dt.datetime.now(dt.UTC),
        )


def press(page: Page, name: str) -> None:
    """Press the button (or follow the link) of the main part the subscriber reads as ``name``."""
    main = page.locator("main")
    main.get_by_role("button", name=name, exact=True).or_(
        main.get_by_role("link", name=name, exact=True)
    ).first.click()


def first_login(page: Page, url: str, number: str, temp: str, password: str) -> None:
    """SITE-2: log in with the temporary password, set ``password``, log in again with it."""
    log_in(page, url, number, temp)
    page.fill("#current_password", temp)
    page.fill("#new_password", password)
    page.fill("#confirm_password", password)
    press(page, "パスワード変更")
    press(page, "ログイン画面へ")
    log_in(page, url, number, password)


def choose_otp(page: Page, use: bool) -> None:
    """SITE-5 (seeds P.7): ワンタイムパスワードを利用する or 利用しない, then 次へ."""
    page.get_by_label(f"ワンタイムパスワードを利用{'する' if use else 'しない'}").check()
    press(page, "次へ")


def decline_otp(page: Page) -> None:
    """SITE-5 (seeds P.7): ワンタイムパスワードを利用しない, 次へ, then 同意する."""
    choose_otp(page, use=False)
    press(page, "同意する")
