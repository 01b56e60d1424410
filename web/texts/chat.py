"""Issue 19: the chat/webhook destinations' Japanese text (part of ``web.texts``).

``ERRORS`` words the store's refusals about destinations (joined into
``web.texts.ERRORS``); ``PAGES`` the destinations page's own sentences and
what each destination sends (joined into ``web.texts.PAGES``).
"""

from __future__ import annotations

ERRORS: dict[str, str] = {}

PAGES: dict[str, str] = {}
