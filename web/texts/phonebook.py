"""Issue 19: the phonebook's Japanese text (part of the one catalogue, ``web.texts``).

``ERRORS`` words the store's refusals about phonebook entries and their CSV
(joined into ``web.texts.ERRORS``); ``PAGES`` the phonebook page's own
sentences (joined into ``web.texts.PAGES``).
"""

from __future__ import annotations

ERRORS: dict[str, str] = {}

PAGES: dict[str, str] = {}
