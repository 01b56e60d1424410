"""Hostile input into the 迷惑電話おことわり page's forms (issue 16, CALL-2).

The page's own forms, as its HTML carries them (the add form, and each
削除 button's form with whatever names its entry), are posted with every
field they carry and one field replaced, or added, with a random or
boundary value, or with a value another of the page's forms carries (a
forged mix of one button's position and another's entry). For each: never
a 500; a refusal is 400 or 403, in Japanese, with every table exactly as it
was; a 303 only for a valid add (the list gained the number as the store
normalises what was typed) or a valid removal (the list lost the entry of
the button posted, and nothing else); the untouched form right after still
works. Both databases; one login per test, the list put back between
examples.
"""

from __future__ import annotations

import re
import urllib.parse
from html.parser import HTMLParser

import httpx
import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from store import db, service, validation
from store.models import AuthUnit, NuisanceEntry, Number
from tests.hostile.conftest import hostile_text
from tests.web import conftest as web
from tests.web.conftest import CONTRACT, EXTRA, Site
from tests.web.steps import GOOD

pytestmark = pytest.mark.asyncio

# The settings site's fixtures (tests/web/conftest.py), for this suite outside tests/web.
site_line, site, site_config = web.site_line, web.site, web.site_config
site_access_numbers = web.site_access_numbers

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
PAGE = f"/numbers/{EXTRA}/nuisance"
LISTED = ("0398765432", "0311112222")
WITHHELD = "0355556666"  # a hidden entry (144-2 for a withheld caller)
# What the empty fields of the page's forms are filled with to make them valid.
FILLING = {"caller_number": "03-4444-5555"}
# Values near the valid ones: listed numbers as typed, the hidden entry's digits, positions.
NEAR = [
    "03-9876-5432",
    "０３１１１１２２２２",
    WITHHELD,
    "0344445555",
    "add",
    "remove",
    "0",
    "01",
    "1",
    "3",
    "30",
    "31",
]

Entry = tuple[int, str, bool]  # position, caller number, hidden


class PageForms(HTMLParser):
    """Every form that posts to the nuisance page, as {field name: value}."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, str]] = []
        self.inside = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.inside = found.get("method") == "post" and found.get("action") == PAGE
            if self.inside:
                self.forms.append({})
        elif self.inside and tag in ("input", "textarea", "select") and found.get("name"):
            self.forms[-1][found["name"]] = found.get("value", "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False


def entries(of: Site) -> list[Entry]:
    with db.transaction(of.sessions, read_only=True) as s:
        rows = s.execute(
            select(NuisanceEntry.position, NuisanceEntry.caller_number, NuisanceEntry.hidden)
            .join(Number, Number.id == NuisanceEntry.number_id)
            .where(Number.number == EXTRA)
            .order_by(NuisanceEntry.position)
        )
        return [(p, c, h) for p, c, h in rows]


def state(of: Site) -> dict[str, list[tuple[object, ...]]]:
    return of.state()


class Session:
    """The logged-in site and the list it starts each example with."""

    def __init__(self, logged_in: Site) -> None:
        self.site = logged_in
        self.started = False
        self.base: list[Entry] = []

    async def start(self) -> None:
        if not self.started:
            with db.transaction(self.site.sessions) as s:
                for caller in LISTED:
                    service.add_nuisance(s, EXTRA, caller)
                service.add_nuisance(s, EXTRA, WITHHELD, hidden=True)
            self.base = entries(self.site)
            await self.site.establish(CONTRACT, CONTRACT, AuthUnit.LINE, GOOD)
            self.started = True
        elif entries(self.site) != self.base:
            with db.transaction(self.site.sessions) as s:
                for position, _, _ in entries(self.site):
                    service.remove_nuisance(s, EXTRA, position=position)
                for _, caller, hidden in self.base:
                    service.add_nuisance(s, EXTRA, caller, hidden=hidden)
            assert entries(self.site) == self.base

    async def forms(self) -> list[dict[str, str]]:
        shown = await self.site.client.get(PAGE)
        assert shown.status_code == 200, shown.text[:500]
        parser = PageForms()
        parser.feed(shown.text)
        assert len(parser.forms) == len(self.base) + 1, parser.forms  # each 削除, and the add
        return [{k: v or FILLING.get(k, "") for k, v in form.items()} for form in parser.forms]

    async def post(self, form: dict[str, str]) -> httpx.Response:
        body = urllib.parse.urlencode(form)
        return await self.site.client.post(
            PAGE, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )


def a_position(value: str) -> int | None:
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 6 else None


def assert_valid_change(
    form: dict[str, str], posted: dict[str, str], before: list[Entry], after: list[Entry]
) -> str:
    """A 303's change: the add or the removal the posted form asks for, and nothing else."""
    if posted.get("action") == "add":
        typed = validation.diallable_number(validation.typed_number(posted["caller_number"]))
        assert not any(c == typed and not h for _, c, h in before), (posted, before)
        (added,) = set(after) - set(before)
        assert set(before) <= set(after) and added[1:] == (typed, False), (before, after)
        return "added"
    assert posted.get("action") == "remove", posted
    position = a_position(posted["position"])
    assert position == int(form["position"]) and posted["entry"] == form["entry"], (form, posted)
    assert after == [e for e in before if e[0] != position], (position, before, after)
    return "removed"


@pytest.fixture
def session(site: Site) -> Session:
    return Session(site)


@settings(max_examples=60)
@given(data=st.data())
async def test_hostile_issue16_CALL_2_every_field_of_the_nuisance_form(
    session: Session, data: st.DataObject
) -> None:
    await session.start()
    forms = await session.forms()
    # As often the add form as one of the 削除 buttons, as often its own field as any.
    kinds = sorted({each.get("action", "") for each in forms})
    kind = data.draw(st.sampled_from(kinds), label="kind")
    form = data.draw(st.sampled_from([f for f in forms if f.get("action", "") == kind]))
    names = sorted({name for each in forms for name in each} | {"extra_field"})
    name = data.draw(st.one_of(st.sampled_from(sorted(form)), st.sampled_from(names)))
    carried = sorted({value for each in forms for value in each.values()})
    value = data.draw(st.one_of(hostile_text, st.sampled_from(NEAR + carried)), label="value")
    posted = {**form, name: value}
    before, listed = state(session.site), entries(session.site)
    response = await session.post(posted)
    assert response.status_code in (303, 400, 403), (posted, response.text[:500])
    event(f"{response.status_code} for {form['action']}, {name} replaced")
    if response.status_code == 303:
        done = assert_valid_change(form, posted, listed, entries(session.site))
        assert response.headers["location"] == f"{PAGE}?saved={done}", response.headers
        after = state(session.site)
        after.pop("nuisance_entry")
        before.pop("nuisance_entry")
        assert after == before, posted
        return
    assert JAPANESE.search(response.text), response.text[:500]
    assert state(session.site) == before, posted
    valid = await session.post(form)
    assert valid.status_code == 303, (form, valid.text[:500])
