"""A plugin's fiches (``docs/fr.md``, ``docs/en.md``): their required sections, found in the text.

The sections themselves are part of the plugin contract
(:data:`anl_stack.plugin_api.FICHE_SECTIONS`); ``plugins check`` and the
tests use these helpers to find the ones a fiche lacks.
"""

from __future__ import annotations

import re
from pathlib import Path

from anl_stack.core.i18n import Lang
from anl_stack.plugin_api import FICHE_SECTIONS, fiche_file
from anl_stack.plugins.discovery import Plugin


def _normalize(title: str) -> str:
    return re.sub(r"\s+", " ", title.replace("\u2019", "'").replace("\u00a0", " ")).strip().casefold()


def fiche_headings(text: str) -> list[tuple[str, int]]:
    """Level-2 headings (``## Title``) and their 1-based lines, outside code blocks."""
    found, fenced = [], False
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
        elif not fenced and line.startswith("## "):
            found.append((line[3:].strip(), number))
    return found


def missing_sections(text: str, lang: Lang) -> list[str]:
    """Required sections absent from a fiche (a heading may add words: "Costs (estimate)")."""
    headings = [_normalize(title) for title, _ in fiche_headings(text)]
    return [s for s in FICHE_SECTIONS[lang] if not any(h.startswith(_normalize(s)) for h in headings)]


def section_text(text: str, title: str) -> str | None:
    """The body of the level-2 section whose heading starts with ``title``, or None."""
    lines = text.splitlines()
    headings = fiche_headings(text)
    for index, (heading, number) in enumerate(headings):
        if _normalize(heading).startswith(_normalize(title)):
            end = headings[index + 1][1] - 1 if index + 1 < len(headings) else len(lines)
            return "\n".join(lines[number:end]).strip() or None
    return None


def not_in_ci(plugin: Plugin, lang: Lang) -> str | None:
    """What the plugin's fiche in ``lang`` says CI does not run (its last required section)."""
    path = fiche_path(plugin, lang)
    if not path.is_file():
        return None
    return section_text(path.read_text(encoding="utf-8"), FICHE_SECTIONS[lang][-1])


def fiche_path(plugin: Plugin, lang: Lang) -> Path:
    return fiche_file(plugin.path, lang)
