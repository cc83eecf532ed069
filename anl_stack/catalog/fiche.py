"""The catalog: fiches for decision-makers and comparisons.

Everything here reads manifests already loaded by discovery and renders
them; nothing touches a host. Every fact is shown with a numbered source
(and the date it was checked); a fact without a source is flagged
unverified.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from anl_stack.core.i18n import Lang, label
from anl_stack.plugin_api import FICHE_LANGUAGES
from anl_stack.plugins.discovery import Plugin, require_loaded
from anl_stack.plugins.facts import fact_age
from anl_stack.plugins.fiches import fiche_path, not_in_ci

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


def fact_when(fact: Any, lang: Lang, today: dt.date | None = None) -> str:
    """``dated 2022-05, 54 months old; checked 2026-12-03``: how old a fact is, from its source's date."""
    parts = [f"{label('dated', lang)} {fact.dated}" if getattr(fact, "dated", None) else label("undated", lang)]
    age = fact_age(fact, today)
    if age is not None and getattr(fact, "dated", None):
        parts[0] += f", {age} {label('months_old', lang)}"
    checked = fact.checked.isoformat() if getattr(fact, "checked", None) else "?"
    return "; ".join(parts + [f"{label('checked', lang)} {checked}"])


class _Footnotes:
    """Numbers sources in order of first use, so the text stays readable."""

    def __init__(self, lang: Lang) -> None:
        self.lang = lang
        self.items: list[tuple[str, str]] = []

    def ref(self, fact: Any) -> str:
        if not getattr(fact, "source", None):
            return f" [{label('unverified', self.lang)}]"
        item = (fact.source, fact_when(fact, self.lang))
        if item not in self.items:
            self.items.append(item)
        return f" [{self.items.index(item) + 1}]"

    def lines(self) -> Iterator[str]:
        if self.items:
            yield label("sources", self.lang)
            for i, (source, when) in enumerate(self.items, start=1):
                yield f"  [{i}] {source} ({when})"


#: Pages of an identifier in its catalogue, when the identifier alone makes the address.
REFERENCE_PAGES = {"comptoir_du_libre_id": "https://comptoir-du-libre.org/fr/softwares/{}",
                   "wikidata": "https://www.wikidata.org/wiki/{}"}


def reference_url(key: str, fact: Any) -> str | None:
    """The page a reader opens for a catalogue identifier (None when unknown)."""
    if fact.value == "unknown":
        return None
    if getattr(fact, "url", None):
        return fact.url
    page = REFERENCE_PAGES.get(key)
    return page.format(fact.value) if page else None


def show_value(value: Any, lang: Lang) -> str:
    if value == "unknown":
        return label("unknown", lang)
    if hasattr(value, "fr") and hasattr(value, "en"):
        return value.get(lang)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def platform_versions(platform: Any, lang: Lang) -> str:
    """``>=0.12,<0.13``, and the version that release installs when it has its own (``installs 0.12.3``)."""
    text = show_value(platform.app_versions, lang)
    return f"{text}, {label('installs', lang)} {platform.app_version}" if platform.app_version else text


def platform_text(manifest: Any, lang: Lang, *, notes: bool = False) -> list[str]:
    out = []
    for key, p in manifest.platforms.items():
        text = f"{key}: {label('supported' if p.supported else 'unsupported', lang)}"
        if p.supported and p.app_versions:
            text += f" ({platform_versions(p, lang)})"
        if notes and p.notes:
            text += f" - {p.notes.get(lang)}"
        out.append(text)
    return out


def web_address(manifest: Any) -> str | None:
    """``<subdomain>.<anl_domain>`` for a plugin on the web (HTTPS); None for a service that is not."""
    return f"{manifest.deployment.subdomain}.<anl_domain>" if manifest.deployment.web else None


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
        "web_address": web_address(manifest),
        "unverified_facts": unverified_facts(manifest),
        "not_in_ci": {lang: text for lang in FICHE_LANGUAGES if (text := not_in_ci(plugin, lang)) is not None},
        "shadowed": [{"source": s.source, "origin": s.origin} for s in plugin.shadowed],
        "manifest": manifest.model_dump(mode="json", by_alias=True),
    }


class _Fiche:
    """The sections of one plugin's fiche, in order; footnotes numbered as sources appear."""

    def __init__(self, plugin: Plugin, lang: Lang) -> None:
        self.plugin, self.lang = plugin, lang
        self.m = require_loaded(plugin)
        self.f = self.m.facts
        self.notes = _Footnotes(lang)

    def L(self, key: str) -> str:  # noqa: N802 - short label lookup keeps the layout readable
        return label(key, self.lang)

    def value(self, value: Any) -> str:
        return show_value(value, self.lang)

    def header(self) -> list[str]:
        m, L = self.m, self.L
        return [f"{m.title.get(self.lang)} ({m.name}) - {L('recipe')} {m.version} - {L('recipe')}: "
                f"{recipe_status(self.plugin, self.lang)}", m.summary.get(self.lang)]

    def overview(self) -> list[str]:
        m, L = self.m, self.L
        return [L("overview"), f"  {L('category')}: {m.category}",
                f"  {m.app.name} {self.value(m.app.version)} - {L('licence')}: {m.app.licence}",
                f"  {L('homepage')}: {m.app.homepage}", f"  {L('code')}: {m.app.source}", f"  {L('platforms')}:",
                *(f"    {line}" for line in platform_text(m, self.lang, notes=True)),
                *([f"  {L('web_address')}: {web_address(m)}"] if web_address(m) else [])]

    def users(self) -> list[str]:
        out = [self.L("who_uses_it")]
        for user in self.f.users:
            extra = f" - {user.notes.get(self.lang)}" if user.notes else ""
            out.append(f"  - {user.name} ({self.L(user.kind)}){extra}{self.notes.ref(user)}")
        return out if self.f.users else out + [f"  ({self.L('nobody_recorded')})"]

    def _facts(self, title: str, group: Any, keys: tuple[str, ...]) -> list[str]:
        """One line per fact of a group (requirements, cost, references), then its notes."""
        out = [self.L(title)]
        for key in keys:
            fact = getattr(group, key)
            out.append(f"  {self.L(key)}: {self.value(fact.value)}{self.notes.ref(fact)}")
        notes = getattr(group, "notes", None)  # references have none
        if notes:
            out.append(f"  {self.L('notes')}: {notes.value.get(self.lang)}{self.notes.ref(notes)}")
        return out

    def requirements(self) -> list[str]:
        return self._facts("requirements", self.f.requirements, ("cpu_cores", "ram_mb", "disk_gb"))

    def sizing(self) -> list[str]:
        out = [self.L("sizing")]
        for row in self.f.sizing:
            sizes = ", ".join(f"{self.L(k)} {self.value(getattr(row, k))}" for k in ("cpu_cores", "ram_mb", "disk_gb"))
            out.append(f"  - {row.audience.get(self.lang)}: {sizes}{self.notes.ref(row)}")
            if row.notes:
                out.append(f"    {row.notes.get(self.lang)}")
        return out if self.f.sizing else out + [f"  ({self.L('no_sizing')})"]

    def cost(self) -> list[str]:
        c, L = self.f.cost, self.L
        out = self._facts("cost", c, ("hosting_eur_per_month", "setup_days", "admin_days_per_month"))
        out += self.cost_by_size()
        if c.prices:
            out.append(f"  {L('prices')}:")
            for p in c.prices:
                notes = f" - {p.notes.get(self.lang)}" if p.notes else ""
                out.append(f"    - {p.offer.get(self.lang)}: {self.value(p.amount)} {p.currency} "
                           f"{L('per_' + p.period if p.period != 'once' else 'once')}{notes}{self.notes.ref(p)}")
        if c.paid_before:
            out.append(f"  {L('paid_before')}:")
            for p in c.paid_before:
                out.append(f"    - {p.who}: {p.what.get(self.lang)}: {self.value(p.amount)} {p.currency} "
                           f"{L('per_' + p.period if p.period != 'once' else 'once')}{self.notes.ref(p)}")
        return out

    def cost_by_size(self) -> list[str]:
        """The server the cost model picks for 2,000, 10,000 and 50,000 inhabitants, and its price."""
        from anl_stack.core.errors import AnlError
        from anl_stack.costs.report import cost_report

        L = self.L
        try:
            report = cost_report(self.plugin.path, self.m)
        except AnlError as error:
            return [f"  {L('cost_by_size')}: {L('cost_model_missing')} ({error})"]
        out = [f"  {L('cost_by_size')} (anl-stack plugins cost {self.m.name}: {L('cost_details')}):"]
        sizes = report["sizes"][:1] if report["same_for_every_size"] else report["sizes"]
        for size in sizes:
            counts = [s["inhabitants"] for s in report["sizes"]] if report["same_for_every_size"] else \
                [size["inhabitants"]]
            server = size["server"]
            hosting = next(x for x in size["lines"] if x["key"] == "hosting_eur_per_month")
            what = f"{server['label'][self.lang]}: {self.value(hosting['value'])} EUR {L('per_month')}" \
                if server else L("no_offer")
            out.append(f"    - {', '.join(str(n) for n in counts)} {L('inhabitants')}: {what}")
        return out

    def providers(self) -> list[str]:
        out = [self.L("providers")]
        for p in self.f.providers:
            site = f" {p.site}" if p.site else ""
            notes = f" - {p.notes.get(self.lang)}" if p.notes else ""
            out.append(f"  - {p.name} (SIREN {self.value(p.siren)}){site}{notes}{self.notes.ref(p)}")
        return out if self.f.providers else out + [f"  ({self.L('no_providers')})"]

    def references(self) -> list[str]:
        out = [self.L("references")]
        for key in ("sill_id", "comptoir_du_libre_id", "wikidata"):
            fact = getattr(self.f.references, key)
            url = reference_url(key, fact)
            link = f" <{url}>" if url else ""
            out.append(f"  {self.L(key)}: {self.value(fact.value)}{link}{self.notes.ref(fact)}")
            if fact.notes:
                out.append(f"    {fact.notes.get(self.lang)}")
        return out

    def health(self) -> list[str]:
        health, L = self.f.upstream_health, self.L
        since = f" ({L('since')} {health.since.isoformat()})" if health.since else ""
        out = [L("upstream_health"), f"  {L(health.value)}{since}{self.notes.ref(health)}"]
        if health.notes:
            out.append(f"  {health.notes.get(self.lang)}")
        if health.alternatives:
            out.append(f"  {L('alternatives')}: {', '.join(health.alternatives)}")
        return out

    def deployment(self) -> list[str]:
        d, L = self.m.deployment, self.L
        out = [L("deployment"), f"  {L('recipe')}: {recipe_status(self.plugin, self.lang)}"]
        if d.ports:
            out.append(f"  {L('ports')}: " + ", ".join(f"{p.port}/{p.protocol} ({p.purpose})" for p in d.ports))
        if d.depends_on:
            out.append(f"  {L('depends_on')}: {', '.join(d.depends_on)}")
        if d.artifacts:
            out.append(f"  {L('artifacts')}: " + ", ".join(f"{a.name} {a.version}" for a in d.artifacts))
        fiche = fiche_path(self.plugin, self.lang)
        if fiche.is_file():
            out.append(f"  {L('fiche')}: {fiche}")
        return out

    def not_in_ci(self) -> list[str]:
        """The fiche's own words on what CI does not run, so a decision-maker sees it here too."""
        text = not_in_ci(self.plugin, self.lang)
        if text is None:
            return []
        return [self.L("not_in_ci"), *(f"  {line}" if line else "" for line in text.splitlines())]

    def render(self) -> str:
        sections = (self.overview, self.users, self.requirements, self.sizing, self.cost, self.providers,
                    self.references, self.health, self.deployment, self.not_in_ci)
        out = self.header()
        for section in sections:  # in order: footnotes are numbered as sources appear
            lines = section()
            if lines:
                out += ["", *lines]
        footer = list(self.notes.lines())
        if footer:
            out += [""] + footer
        return "\n".join(out) + "\n"


def render_fiche(plugin: Plugin, lang: Lang) -> str:
    """The fiche as plain text for a decision-maker, each fact with a numbered source."""
    return _Fiche(plugin, lang).render()


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
            return _plain_cell(f"{label('supported', lang)} ({platform_versions(found, lang)})")
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
