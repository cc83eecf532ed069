"""The pages of a site: one per tool and five about all of them, in each language.

A :class:`Page` knows where it lives and what it shows (plain data from
:mod:`anl_stack.catalog.site.content`); :mod:`anl_stack.catalog.site.render`
turns it into HTML.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from anl_stack.catalog.site import content
from anl_stack.catalog.site.collective import CollectiveView, notes_for
from anl_stack.catalog.site.routes import KINDS, page_path
from anl_stack.core.i18n import LANGS, Lang
from anl_stack.plugins.discovery import Plugin

#: The template of each kind of page.
TEMPLATES = {"home": "home.html.j2", "compare": "compare.html.j2", "cost": "cost.html.j2",
             "quality": "quality.html.j2", "users": "users.html.j2", "tool": "tool.html.j2"}


@dataclass(frozen=True)
class Page:
    kind: str
    lang: Lang
    path: str
    name: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def template(self) -> str:
        return TEMPLATES[self.kind]


def language_pages(plugins: list[Plugin], lang: Lang, root_lang: Lang, today: dt.date,
                   skipped: list[dict[str, str]], view: CollectiveView | None = None) -> list[Page]:
    """Every page in one language (with ``view``, what the collectives publish)."""
    tools = [content.tool_data(p, lang, today, view) for p in plugins]
    shared: dict[str, dict[str, Any]] = {
        "home": {"tools": tools, "skipped": skipped},
        "compare": {"tools": tools, "rows": content.comparison(plugins, lang, view.signers if view else None)},
        "cost": {"calc": content.calculator_data(plugins, lang, today)},
        "quality": {"tools": tools, "legend": content.legend_data(lang)},
        "users": {"by_tool": content.users_by_tool(plugins, lang, today, view),
                  "collectives": view.collectives if view else [], "notes": notes_for(view, None, lang)},
    }
    pages = [Page(kind, lang, page_path(kind, lang, root_lang), data=shared[kind]) for kind in KINDS]
    pages += [Page("tool", lang, page_path("tool", lang, root_lang, t["name"]), t["name"], {"t": t}) for t in tools]
    return pages


def site_pages(plugins: list[Plugin], root_lang: Lang, today: dt.date | None = None,
               skipped: list[dict[str, str]] | None = None, view: CollectiveView | None = None) -> list[Page]:
    """Every page of the site, the root language first."""
    today = today or dt.date.today()
    order = [root_lang] + [lang for lang in LANGS if lang != root_lang]
    return [page for lang in order for page in language_pages(plugins, lang, root_lang, today, skipped or [], view)]
