"""The decision facts of a manifest: walk them, date them, and say which a reader cannot open.

A fact's age is counted from the date of its source (``dated``; its last day
when only a year or a month is known, so an age is never overstated) or,
for a source that shows no date, from the day it was last checked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from anl_stack.plugins.manifest import UNKNOWN, source_date_bounds

#: Default of ``plugins check --max-fact-age`` (months): two SILL or price updates are missed past it.
DEFAULT_MAX_AGE_MONTHS = 24
MAX_AGE_ENV = "ANL_STACK_MAX_FACT_AGE"

_URL = re.compile(r"https?://[^\s;,)\"']+")
#: A repository path as sources write it: ``docs/sources/apps.md``, ``tests/plugins/hello`` (one folder at least).
_PATH = re.compile(r"(?<![\w/.:-])((?:[\w.-]+/)+[\w.-]*[\w])")


@dataclass(frozen=True)
class FactRef:
    """One sourced fact and its dotted key (``facts.references.sill_id``)."""

    key: str
    fact: Any

    @property
    def known(self) -> bool:
        """Whether the fact states something (an 'unknown' value needs no source to open)."""
        return getattr(self.fact, "value", None) != UNKNOWN


def iter_facts(manifest: Any) -> Iterator[FactRef]:
    """Every object of ``manifest.facts`` that carries a source, in manifest order."""

    def walk(obj: Any, path: str) -> Iterator[FactRef]:
        if isinstance(obj, list):
            for i, item in enumerate(obj):
                yield from walk(item, f"{path}[{i}]")
            return
        if not hasattr(type(obj), "model_fields"):
            return
        if "source" in type(obj).model_fields:
            yield FactRef(path, obj)
        for name in type(obj).model_fields:
            yield from walk(getattr(obj, name), f"{path}.{name}")

    yield from walk(manifest.facts, "facts")


def as_of(fact: Any) -> dt.date | None:
    """The date a fact's age is counted from: its source's (last possible day), else its check."""
    dated = getattr(fact, "dated", None)
    if dated:
        return source_date_bounds(dated)[1]
    return getattr(fact, "checked", None)


def age_months(since: dt.date, today: dt.date) -> int:
    """Whole months from ``since`` to ``today`` (0 for a future date)."""
    months = (today.year - since.year) * 12 + today.month - since.month - (today.day < since.day)
    return max(months, 0)


def fact_age(fact: Any, today: dt.date | None = None) -> int | None:
    since = as_of(fact)
    return None if since is None else age_months(since, today or dt.date.today())


def old_facts(manifest: Any, max_months: int, today: dt.date | None = None) -> list[tuple[FactRef, int]]:
    """Facts (with a known value) whose age is above ``max_months``, with that age."""
    out = []
    for ref in iter_facts(manifest):
        age = fact_age(ref.fact, today)
        if ref.known and age is not None and age > max_months:
            out.append((ref, age))
    return out


def source_urls(source: str) -> list[str]:
    return [url.rstrip(".") for url in _URL.findall(source)]


def source_files(source: str, roots: list[Path]) -> list[str]:
    """Repository files (or folders) a source names that exist under one of ``roots``."""
    without_urls = _URL.sub(" ", source)
    return [p for p in _PATH.findall(without_urls) if any((root / p).exists() for root in roots)]


def openable(source: str | None, roots: list[Path]) -> bool:
    """Whether a reader can open the source: a public URL, or a file of the repository."""
    return bool(source) and bool(source_urls(source) or source_files(source, roots))  # type: ignore[arg-type]


def unopenable(manifest: Any, roots: list[Path]) -> list[FactRef]:
    """Facts stating a value whose source names no URL and no existing repository file.

    A fact with no source at all is not one of them: it is shown unverified, as the fiche says.
    """
    return [ref for ref in iter_facts(manifest)
            if ref.known and ref.fact.source and not openable(ref.fact.source, roots)]
