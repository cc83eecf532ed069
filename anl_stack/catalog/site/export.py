"""The machine-readable side of the site: catalog.json and one publiccode.yml per plugin.

publiccode.yml follows the standard's version 0.4 with only the fields the
manifest and the fiches establish. A field the project does not know (the
maintainers' names, the release date...) is left out rather than guessed,
and a mandatory one left out is named in the file's header, so a catalogue
that needs it knows what to complete. Every value here comes from the
manifest, so a reader can trace it back.
"""

from __future__ import annotations

from typing import Any

import yaml

from anl_stack import __version__
from anl_stack.catalog.fiche import unverified_facts, web_address
from anl_stack.catalog.site.collective import CollectiveView
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
#: The standard's categories (its controlled list) for each manifest category; "other" has none.
CATEGORIES = {
    "collaboration": ["collaboration", "document-management", "web-collaboration"],
    "video": ["content-management", "digital-asset-management"],
    "social": ["online-community", "communications"],
    "survey": ["survey", "appointment-scheduling"],
    "streaming": ["communications", "digital-citizenship"],
}
#: The standard's maintenance types for the manifest's upstream maintainer.
MAINTENANCE = {"owner": "internal", "community": "community"}
#: Keys the standard makes mandatory (0.4), checked after the file is built.
MANDATORY = ("publiccodeYmlVersion", "name", "url", "platforms", "categories", "developmentStatus",
             "softwareType", "description", "legal", "maintenance", "localisation")
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
    if users := [user.name for user in m.facts.users if user.verified]:
        data["usedBy"] = users
    data["developmentStatus"] = _development_status(plugin)
    # A recipe's tools are served from a server: used from a browser when they have a web address.
    data["softwareType"] = "standalone/web" if web_address(m) else "standalone/backend"
    description: dict[str, Any] = {}
    for lang in LANGS:
        entry: dict[str, Any] = {"shortDescription": _short(m.summary.get(lang))}
        path = fiche_path(plugin, lang)
        overview = section_text(path.read_text(encoding="utf-8"), FICHE_SECTIONS[lang][0]) if path.is_file() else None
        if overview and len(overview) >= LONG_MIN:
            entry["longDescription"] = overview[:LONG_MAX]
        if m.app.features:
            entry["features"] = [feature.get(lang) for feature in m.app.features]
        description[lang] = entry
    data["description"] = description
    data["legal"] = {"license": m.app.licence}
    health = m.facts.upstream_health
    if health.value == "unmaintained":
        data["maintenance"] = {"type": "none"}
    elif health.maintainer is not None:
        # The contacts the standard asks for are people: no manifest fact names one (docs/catalog.md).
        data["maintenance"] = {"type": MAINTENANCE[health.maintainer]}
    if m.app.languages:
        data["localisation"] = {"localisationReady": len(m.app.languages) > 1,
                                "availableLanguages": list(m.app.languages)}
    return data


def _development_status(plugin: Plugin) -> str:
    """stable once released and alive, obsolete when its upstream stopped (the standard's words)."""
    m = require_loaded(plugin)
    if m.facts.upstream_health.value == "unmaintained":
        return "obsolete"
    return "stable" if m.app.version != UNKNOWN else "development"


def missing_mandatory(data: dict[str, Any]) -> list[str]:
    """The standard's mandatory keys the manifest could not fill (features, longDescription included)."""
    missing = [key for key in MANDATORY if key not in data]
    entries = data.get("description", {}).values()
    for key in ("longDescription", "features"):
        if not any(key in entry for entry in entries):
            missing.append(f"description.*.{key}")
    if data.get("maintenance", {}).get("type") in ("internal", "community"):
        missing.append("maintenance.contacts")
    return missing


def publiccode_text(plugin: Plugin) -> str:
    data = publiccode_data(plugin)
    header = (f"# publiccode.yml for {plugin.name}, written by anl-stack catalog build from the plugin's manifest.\n"
              "# Fields the manifest does not establish are left out (docs/catalog.md).\n")
    if missing := missing_mandatory(data):
        header += f"# Mandatory in the standard, not established here: {', '.join(missing)}.\n"
    return header + yaml.safe_dump(data, allow_unicode=True, sort_keys=False, width=100)


def catalog_data(plugins: list[Plugin], root_lang: Lang, skipped: list[dict[str, str]],
                 view: CollectiveView | None = None) -> dict[str, Any]:
    """catalog.json: every plugin's manifest with what the site computes, and where its pages are."""
    entries = []
    for plugin in plugins:
        m = require_loaded(plugin)
        quality = quality_data(plugin, "en", view.signers if view else None)
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
    data = {"version": CATALOG_VERSION, "generator": f"anl-stack {__version__}", "root_language": root_lang,
            "languages": list(LANGS), "plugins": entries, "skipped": skipped}
    if view is not None:
        data["collectives"] = view.to_dict()
    return data
