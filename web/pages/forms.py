"""Defensive reading of the settings forms (issue 12 item 16).

A field holding what its page never sends (a forged or garbled form) is
refused as a whole with ``BadForm``: 400, nothing saved, one general
sentence (``Plumbing.bad_form``), not a message by a field the page does
not have.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

T = TypeVar("T")


class BadForm(ValueError):
    """A field holds what its page never sends (a forged or garbled form): 400, nothing saved."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


def flag(data: Mapping[str, str], name: str) -> bool:
    """A checkbox: absent (off) or its page's value "1" (on)."""
    value = data.get(name)
    if value is None:
        return False
    if value != "1":
        raise BadForm(name)
    return True


def one_of(data: Mapping[str, str], name: str, choices: Mapping[str, T]) -> T:
    """A field that must be one of ``choices`` (absent reads as "")."""
    value = data.get(name, "")
    if value not in choices:
        raise BadForm(name)
    return choices[value]


def count(data: Mapping[str, str], name: str, high: int) -> int:
    """A whole number 0..``high`` in half-width digits, nothing else."""
    value = data.get(name, "")
    if not (value.isascii() and value.isdigit() and len(value) <= 6) or int(value) > high:
        raise BadForm(name)
    return int(value)


def rows_within(data: Mapping[str, str], prefixes: tuple[str, ...], rows: int) -> None:
    """Every numbered field (``caller_number_7``) belongs to one of the form's ``rows``."""
    for key in data:
        for prefix in prefixes:
            if key.startswith(prefix):
                index = key.removeprefix(prefix)
                if not (index.isascii() and index.isdigit() and 1 <= int(index) <= rows):
                    raise BadForm(key)
