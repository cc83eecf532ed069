"""Known secret values, masked in everything anl-stack prints or writes.

A vault secret can surface where no one expects it: a failed task's
message, a module's ``msg``, a diff. The run registers every value it
decrypted (:func:`remember`); the engine masks each event before any
display, record or file sees it, and the CLI masks every error it prints.
Values shorter than :data:`MIN_LENGTH` are not masked: they would hide
ordinary words, and no generated secret is that short.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

MASK = "********"
MIN_LENGTH = 6

_known: set[str] = set()
_ordered: list[str] = []


def remember(values: Iterable[str]) -> None:
    """Add secret values to mask from now on (longest first, so that one inside another goes whole)."""
    global _ordered
    fresh = {v for v in values if isinstance(v, str) and len(v) >= MIN_LENGTH} - _known
    if fresh:
        _known.update(fresh)
        _ordered = sorted(_known, key=len, reverse=True)


def mask(text: str, values: list[str] | None = None) -> str:
    for value in _ordered if values is None else values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def mask_data(data: Any, values: list[str] | None = None) -> Any:
    """``data`` with every string (keys too) masked; unchanged objects are returned as they are."""
    if not (_ordered if values is None else values):
        return data
    if isinstance(data, str):
        return mask(data, values)
    if isinstance(data, dict):
        return {mask_data(k, values): mask_data(v, values) for k, v in data.items()}
    if isinstance(data, (list, tuple)):
        return [mask_data(item, values) for item in data]
    return data
