"""The catalog: fiches for decision-makers and comparisons.

Everything here reads manifests already loaded by discovery and renders
them; nothing touches a host. Every fact is shown with a numbered source
(and the date it was checked); a fact without a source is flagged
unverified.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from anl_stack.core.i18n import Lang, label
from anl_stack.plugin_api import FICHE_LANGUAGES
from anl_stack.plugins.discovery import Plugin, require_loaded
from anl_stack.plugins.fiches import fiche_path

# --- facts and their sources ----------------------------------------------------------

def _is_sourced(obj: Any) -> bool:
    return hasattr(obj, "source") and hasattr(obj, "checked")


def unverified_facts(manifest: Any) -> list[str]:
    """Dotted keys of the facts that carry no source."""
    found: list[str] = []

    def walk(obj: Any, path: str) -> None:
        if isinstance(obj, list):
            for i, item in enumerate(obj):
                walk(item, f"{path}[{i}]")
            return
        if not hasattr(type(obj), "model_fields"):
            return
        if _is_sourced(obj) and not obj.source:
            found.append(path)
        for name in type(obj).model_fields:
            walk(getattr(obj, name), f"{path}.{name}" if path else name)

    walk(manifest.facts, "facts")
    return found


class _Footnotes:
    """Numbers sources in order of first use, so the text stays readable."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.items: list[tuple[str, str]] = []

    def ref(self, fact: Any) -> str:
        if not getattr(fact, "source", None):
            return f" [{label('unverified', self.lang)}]"
        checked = fact.checked.isoformat() if fact.checked else "?"
        item = (fact.source, checked)
        if item not in self.items:
            self.items.append(item)
        return f" [{self.items.index(item) + 1}]"

    def lines(self) -> Iterator[str]:
        if self.items:
            yield label("sources", self.lang)
            for i, (source, checked) in enumerate(self.items, start=1):
                yield f"  [{i}] {source} ({label('checked', self.lang)} {checked})"


def show_value(value: Any, lang: Lang) -> str:
    if value == "unknown":
        return label("unknown", lang)
    if hasattr(value, "fr") and hasattr(value, "en"):
        return value.get(lang)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def platform_text(manifest: Any, lang: Lang, *, notes: bool = False) -> list[str]:
    out = []
    for key, p in manifest.platforms.items():
        text = f"{key}: {label('supported' if p.supported else 'unsupported', lang)}"
        if p.supported and p.app_versions:
            text += f" ({show_value(p.app_versions, lang)})"
        if notes and p.notes:
            text += f" - {p.notes.get(lang)}"
        out.append(text)
    return out


def recipe_status(plugin: Plugin, lang: Lang) -> str:
    return label("available" if plugin.recipe_available else "not_yet_available", lang)


# --- one fiche ------------------------------------------------------------------------

def fiche_data(plugin: Plugin) -> dict[str, Any]:
    """Everything ``plugins show --json`` prints: the manifest plus computed facts."""
    manifest = require_loaded(plugin)
    return {
        "name": plugin.name,
        "source": plugin.source,
        "origin": plugin.origin,
        "path": str(plugin.path),
        "recipe_available": plugin.recipe_available,
        "recipe_status": "available" if plugin.recipe_available else "not yet available",
        "steps": sorted(plugin.steps),
        "fiches": {lang: str(fiche_path(plugin, lang)) for lang in FICHE_LANGUAGES
                   if fiche_path(plugin, lang).is_file()},
        "unverified_facts": unverified_facts(manifest),
        "shadowed": [{"source": s.source, "origin": s.origin} for s in plugin.shadowed],
        "manifest": manifest.model_dump(mode="json", by_alias=True),
    }


def render_fiche(plugin: Plugin, lang: Lang) -> str:
    """The fiche as plain text for a decision-maker."""
    m = require_loaded(plugin)
    notes = _Footnotes(lang)
    f = m.facts
    L = lambda key: label(key, lang)  # noqa: E731 - short local alias keeps the layout readable
    out: list[str] = []
    out.append(f"{m.title.get(lang)} ({m.name}) - {L('recipe')} {m.version} - {L('recipe')}: {recipe_status(plugin, lang)}")
    out.append(m.summary.get(lang))

    out += ["", L("overview")]
    out.append(f"  {L('category')}: {m.category}")
    out.append(f"  {m.app.name} {show_value(m.app.version, lang)} - {L('licence')}: {m.app.licence}")
    out.append(f"  {L('homepage')}: {m.app.homepage}")
    out.append(f"  {L('code')}: {m.app.source}")
    out.append(f"  {L('platforms')}:")
    out += [f"    {line}" for line in platform_text(m, lang, notes=True)]
    out.append(f"  {L('web_address')}: {m.deployment.subdomain}.<anl_domain>")

    out += ["", L("who_uses_it")]
    if f.users:
        for user in f.users:
            extra = f" - {user.notes.get(lang)}" if user.notes else ""
            out.append(f"  - {user.name}{extra}{notes.ref(user)}")
    else:
        out.append(f"  ({L('nobody_recorded')})")

    def fact_group(group: Any, keys: tuple[str, ...]) -> list[str]:
        """One line per fact of a group (requirements, cost), then its notes."""
        lines = []
        for key in keys:
            fact = getattr(group, key)
            lines.append(f"  {L(key)}: {show_value(fact.value, lang)}{notes.ref(fact)}")
        if group.notes:
            lines.append(f"  {L('notes')}: {group.notes.value.get(lang)}{notes.ref(group.notes)}")
        return lines

    out += ["", L("requirements")]
    out += fact_group(f.requirements, ("cpu_cores", "ram_mb", "disk_gb"))

    out += ["", L("sizing")]
    if f.sizing:
        for row in f.sizing:
            sizes = ", ".join(f"{L(k)} {show_value(getattr(row, k), lang)}" for k in ("cpu_cores", "ram_mb", "disk_gb"))
            out.append(f"  - {row.audience.get(lang)}: {sizes}{notes.ref(row)}")
            if row.notes:
                out.append(f"    {row.notes.get(lang)}")
    else:
        out.append(f"  ({L('no_sizing')})")

    out += ["", L("cost")]
    out += fact_group(f.cost, ("hosting_eur_per_month", "setup_days", "admin_days_per_month"))

    out += ["", L("providers")]
    if f.providers:
        for p in f.providers:
            siren = f" (SIREN {show_value(p.siren, lang)})"
            site = f" {p.site}" if p.site else ""
            out.append(f"  - {p.name}{siren}{site}{notes.ref(p)}")
    else:
        out.append(f"  ({L('no_providers')})")

    out += ["", L("references")]
    for key in ("sill_id", "comptoir_du_libre_id", "wikidata"):
        fact = getattr(f.references, key)
        out.append(f"  {L(key)}: {show_value(fact.value, lang)}{notes.ref(fact)}")

    health = f.upstream_health
    out += ["", L("upstream_health")]
    since = f" ({L('since')} {health.since.isoformat()})" if health.since else ""
    out.append(f"  {L(health.value)}{since}{notes.ref(health)}")
    if health.notes:
        out.append(f"  {health.notes.get(lang)}")
    if health.alternatives:
        out.append(f"  {L('alternatives')}: {', '.join(health.alternatives)}")

    d = m.deployment
    out += ["", L("deployment")]
    out.append(f"  {L('recipe')}: {recipe_status(plugin, lang)}")
    if d.ports:
        out.append(f"  {L('ports')}: " + ", ".join(f"{p.port}/{p.protocol} ({p.purpose})" for p in d.ports))
    if d.depends_on:
        out.append(f"  {L('depends_on')}: {', '.join(d.depends_on)}")
    if d.artifacts:
        out.append(f"  {L('artifacts')}: " + ", ".join(f"{a.name} {a.version}" for a in d.artifacts))
    fiche = fiche_path(plugin, lang)
    if fiche.is_file():
        out.append(f"  {L('fiche')}: {fiche}")

    footer = list(notes.lines())
    if footer:
        out += [""] + footer
    return "\n".join(out) + "\n"


# --- comparison ---------------------------------------------------------------------------

def _fact_cell(fact: Any, lang: Lang, value: Any = None) -> dict[str, Any]:
    shown = show_value(fact.value if value is None else value, lang)
    verified = bool(getattr(fact, "source", None))
    return {"value": shown, "source": getattr(fact, "source", None),
            "checked": fact.checked.isoformat() if getattr(fact, "checked", None) else None,
            "verified": verified}


def _plain_cell(value: str) -> dict[str, Any]:
    return {"value": value, "source": None, "checked": None, "verified": True}


def compare_rows(plugins: list[Plugin], lang: Lang) -> list[dict[str, Any]]:
    """One row per fact: {key, label, values: {plugin: cell}}; a cell says whether it is verified."""
    manifests = [(p, require_loaded(p)) for p in plugins]
    rows: list[dict[str, Any]] = []

    def row(key: str, text: str, cell: Any) -> None:
        rows.append({"key": key, "label": text, "values": {p.name: cell(p, m) for p, m in manifests}})

    row("category", label("category", lang), lambda p, m: _plain_cell(m.category))
    row("app.version", label("app_version", lang), lambda p, m: _plain_cell(show_value(m.app.version, lang)))
    row("app.licence", label("licence", lang), lambda p, m: _plain_cell(m.app.licence))
    row("version", label("recipe_version", lang), lambda p, m: _plain_cell(m.version))
    row("recipe", label("recipe_status", lang), lambda p, m: _plain_cell(recipe_status(p, lang)))
    for platform in ("debian-13", "debian-12"):
        def cell(p: Plugin, m: Any, platform: str = platform) -> dict[str, Any]:
            found = dict(m.platforms.items()).get(platform)
            if found is None or not found.supported:
                return _plain_cell(label("unsupported", lang))
            return _plain_cell(f"{label('supported', lang)} ({found.app_versions})")
        row(f"platforms.{platform}", platform, cell)
    for key in ("cpu_cores", "ram_mb", "disk_gb"):
        row(f"facts.requirements.{key}", label(key, lang),
            lambda p, m, key=key: _fact_cell(getattr(m.facts.requirements, key), lang))
    for key in ("hosting_eur_per_month", "setup_days", "admin_days_per_month"):
        row(f"facts.cost.{key}", label(key, lang),
            lambda p, m, key=key: _fact_cell(getattr(m.facts.cost, key), lang))

    def health(p: Plugin, m: Any) -> dict[str, Any]:
        h = m.facts.upstream_health
        since = f" ({label('since', lang)} {h.since.isoformat()})" if h.since else ""
        return _fact_cell(h, lang, label(h.value, lang) + since)

    row("facts.upstream_health", label("upstream_health", lang), health)
    for key in ("sill_id", "comptoir_du_libre_id", "wikidata"):
        row(f"facts.references.{key}", label(key, lang),
            lambda p, m, key=key: _fact_cell(getattr(m.facts.references, key), lang))
    row("facts.providers", label("providers_count", lang), lambda p, m: _plain_cell(str(len(m.facts.providers))))
    row("facts.users", label("users_count", lang), lambda p, m: _plain_cell(str(len(m.facts.users))))
    return rows
