"""Issue 19 (BOOK-2): the phonebook names of the callers of some calls, in one query.

A notification, the call history and the site's lists name a caller by the
called number's phonebook (``store.phonebook``): ``caller_names`` answers,
for many (subscriber number, caller number) pairs at once, the names the
phonebooks hold. It never decides whether a caller may be named: the
caller passes only presented callers (``store.labels.presented_number``),
never a withheld, payphone or unavailable one (MAIL-9, BOOK-2).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select, tuple_
from sqlalchemy.orm import Session

from store.models import Number, PhonebookEntry

# Pairs per query: a history page or a batch of calls is far below it; more
# pairs are read in chunks of this size (PostgreSQL's and SQLite's parameter
# limits are well above 2 x 500).
_CHUNK = 500


def caller_names(session: Session, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(subscriber number, caller number) -> the name in that number's phonebook.

    One query for up to 500 distinct pairs (a batch of calls, a history
    page); pairs with an empty subscriber or caller number are ignored, and
    so are pairs nobody's phonebook holds (absent from the answer). The
    caller numbers are compared as stored (national digits, the form the
    notifier gives presented callers and the designated numbers have).
    """
    wanted = sorted({(number, caller) for number, caller in pairs if number and caller})
    found: dict[tuple[str, str], str] = {}
    for start in range(0, len(wanted), _CHUNK):
        chunk = wanted[start : start + _CHUNK]
        stmt = (
            select(Number.number, PhonebookEntry.caller_number, PhonebookEntry.name)
            .join(PhonebookEntry, PhonebookEntry.number_id == Number.id)
            .where(tuple_(Number.number, PhonebookEntry.caller_number).in_(chunk))
        )
        for number, caller, name in session.execute(stmt):
            found[(number, caller)] = name
    return found
