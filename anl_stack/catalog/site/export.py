"""The machine-readable side of the site: catalog.json and one publiccode.yml per plugin.

publiccode.yml follows the standard's version 0.4 with only the fields the
manifest and the fiches establish; a field the project does not know (the
maintenance contract, the development status, the release date...) is left
out rather than guessed. Every value here comes from the manifest, so a
reader can trace it back.
"""

from __future__ import annotations

from typing import Any

import yaml

from anl_stack import __version__
from anl_stack.catalog.fiche import unverified_facts, web_address
from anl_stack.catalog.site.content import quality_data
from anl_stack.catalog.site.routes import page_path
from anl_stack.core.i18n import LANGS, Lang
from anl_stack.plugin_api import FICHE_SECTIONS
from anl_stack.plugins.discovery import Plugin, require_loaded
from anl_stack.plugins.fiches import fiche_path, not_in_ci, section_text

#: Version of catalog.json's layout; a reader checks it before reading the rest.
CATALOG_VERSION = 1
PUBLICCODE_VERSION = "0.4"
#: publiccode.yml's limits on descriptions (characters).
SHORT_MAX, LONG_MIN, LONG_MAX = 150, 150, 10000
#: Manifest categories that have a publiccode.yml category (the standard's own list); others are left out.
CATEGORIES = {"collaboration": ["document-management"], "social": ["online-community"], "survey": ["survey"]}
UNKNOWN = "unknown"


def publiccode_path(name: str) -> str:
    return f"publiccode/{name}/publiccode.yml"


def _short(text: str) -> str:
    """At most SHORT_MAX characters, cut at a word when longer (publiccode.yml's limit)."""
    if len(text) <= SHORT_MAX:
        return text
    return text[: SHORT_MAX - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def publiccode_data(plugin: Plugin) -> dict[str, Any]:
    """The publiccode.yml fields the plugin's manifest and fiches fill."""
    m = require_loaded(plugin)
    data: dict[str, Any] = {"publiccodeYmlVersion": PUBLICCODE_VERSION, "name": m.app.name}
    if m.app.source.startswith(("https://", "http://")):
        data["url"] = m.app.source
    if m.app.homepage.startswith(("https://", "http://")):
        data["landingURL"] = m.app.homepage
    if m.app.version != UNKNOWN:
        data["softwareVersion"] = m.app.version
    # Every recipe runs on Debian servers; the tools on the web are also reached from a browser.
    data["platforms"] = (["web"] if web_address(m) else []) + ["linux"]
    if m.category in CATEGORIES:
        data["categories"] = CATEGORIES[m.category]
    if web_address(m):
        data["softwareType"] = "standalone/web"
    description: dict[str, Any] = {}
    for lang in LANGS:
        entry: dict[str, Any] = {"shortDescription": _short(m.summary.get(lang))}
        path = fiche_path(plugin, lang)
        overview = section_text(path.read_text(encoding="utf-8"), FICHE_SECTIONS[lang][0]) if path.is_file() else None
        if overview and len(overview) >= LONG_MIN:
            entry["longDescription"] = overview[:LONG_MAX]
        entry["genericName"] = m.title.get(lang)
        description[lang] = entry
    data["description"] = description
    data["legal"] = {"license": m.app.licence}
    return data


def publiccode_text(plugin: Plugin) -> str:
    header = (f"# publiccode.yml for {plugin.name}, written by anl-stack catalog build from the plugin's manifest.\n"
              "# Fields the manifest does not establish are left out (docs/catalog.md).\n")
    return header + yaml.safe_dump(publiccode_data(plugin), allow_unicode=True, sort_keys=False, width=100)


def catalog_data(plugins: list[Plugin], root_lang: Lang, skipped: list[dict[str, str]]) -> dict[str, Any]:
    """catalog.json: every plugin's manifest with what the site computes, and where its pages are."""
    entries = []
    for plugin in plugins:
        m = require_loaded(plugin)
        quality = quality_data(plugin, "en")
        entries.append({
            "name": plugin.name,
            "recipe_available": plugin.recipe_available,
            "steps": sorted(plugin.steps),
            "web_address": web_address(m),
            "unverified_facts": unverified_facts(m),
            "quality": quality,
            "not_in_ci": {lang: text for lang in LANGS if (text := not_in_ci(plugin, lang)) is not None},
            "pages": {lang: page_path("tool", lang, root_lang, plugin.name) for lang in LANGS},
            "publiccode": publiccode_path(plugin.name),
            "manifest": m.model_dump(mode="json", by_alias=True),
        })
    return {"version": CATALOG_VERSION, "generator": f"anl-stack {__version__}", "root_language": root_lang,
            "languages": list(LANGS), "plugins": entries, "skipped": skipped}
