"""What each page of the site shows, as plain data, gathered by the catalog's own functions.

The facts, their sources and ages come from :mod:`anl_stack.catalog.fiche`
(the same as ``plugins show`` and ``plugins compare``), the quality level and
the records behind it from :mod:`anl_stack.records.quality`, the figures
from the cost model (:mod:`anl_stack.costs.report`). Nothing here is HTML:
values stay text, and the templates escape them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from anl_stack.catalog.fiche import (
    compare_rows,
    fact_when,
    platform_text,
    recipe_status,
    reference_url,
    show_value,
    web_address,
)
from anl_stack.catalog.site.collective import CollectiveView, notes_for
from anl_stack.catalog.site.markdown import render_markdown
from anl_stack.core.errors import AnlError
from anl_stack.core.i18n import N_, Lang, Text, label, translate
from anl_stack.costs.report import cost_report
from anl_stack.costs.text import FORMULA_TEXTS, LINE_LABELS, UNITS, number, unit
from anl_stack.plugin_api import FICHE_SECTIONS
from anl_stack.plugins.discovery import Plugin, require_loaded
from anl_stack.plugins.fiches import fiche_headings, fiche_path, not_in_ci
from anl_stack.records.quality import LADDER, TOP, legend, safe_compute

#: Texts of the calculator, handed to its script in the page's language.
CALCULATOR_TEXTS: dict[str, str] = {
    "unknown": N_("unknown"),
    "at_least": N_("at least"),
    "needs": N_("needs"),
    "server_line": N_("Server: {server}"),
    "status": N_("{tool}, {count} inhabitants"),
    "no_offer": N_("no listed offer is large enough"),
    "not_a_number": N_("not a number"),
    "not_allowed": N_("not allowed"),
    "expected_number": N_("a number >= 0, or empty for unknown"),
    "expected_whole": N_("a whole number >= 0, or empty for unknown"),
    "inhabitants_error": N_("a whole number of inhabitants, at least 1"),
}


def _(message: str, lang: Lang) -> str:
    return translate(message, lang)


# --- the quality level and the records behind it ------------------------------------------------

def quality_data(plugin: Plugin, lang: Lang, members: Mapping[str, str] | None = None) -> dict[str, Any] | None:
    """The level, each rung met with the records that meet it, what the next needs, what is not counted.

    ``members`` (fingerprint -> commune, from the collectives): only their signed reviews count.
    """
    quality = safe_compute(plugin, members)
    if quality is None:
        return None
    ladder = dict(LADDER)
    return {
        "level": quality.level,
        "top": TOP,
        "digest": quality.digest,
        "met": [{"level": level, "needs": _(ladder[level], lang), "records": files}
                for level, files in sorted(quality.met.items())],
        "next_level": quality.next_level(),
        "missing": quality.missing(lang),
        "reviews": [{"date": str(r.date), "by": r.by, "reviewer": r.reviewer, "status": _(r.status, lang),
                     "signature": _(r.signature, lang),
                     "signer": _(r.signer, lang) if isinstance(r.signer, Text) else r.signer,
                     "environments": list(r.evidence_environments), "releases": list(r.releases)}
                    for r in quality.reviews],
        "ignored": [{"file": file, "why": _(why, lang)} for file, why in quality.ignored],
    }


def legend_data(lang: Lang) -> dict[str, Any]:
    """The legend ``plugins list`` and ``plugins show`` print, as a title and its levels."""
    return {"title": legend(lang)[0], "levels": [{"level": level, "needs": _(text, lang)} for level, text in LADDER]}


# --- one tool -------------------------------------------------------------------------------------

def _fiche_parts(plugin: Plugin, lang: Lang) -> tuple[str | None, str | None]:
    """The fiche's Markdown as HTML without its title and its last section, and that section as HTML.

    The last section (what CI does not exercise) is shown next to the quality level, not repeated.
    """
    path = fiche_path(plugin, lang)
    if not path.is_file():
        return None, None
    lines = path.read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    text = "\n".join(lines)
    last = FICHE_SECTIONS[lang][-1].casefold()
    for heading, line in fiche_headings(text):
        if heading.casefold().startswith(last):
            following = [n for _h, n in fiche_headings(text) if n > line]
            end = following[0] - 1 if following else len(lines)
            text = "\n".join(lines[:line - 1] + lines[end:])
            break
    ci = not_in_ci(plugin, lang)
    return render_markdown(text, shift=1), (render_markdown(ci, shift=1) if ci else None)


def _users(manifest: Any, lang: Lang, today: dt.date) -> list[dict[str, Any]]:
    return [{"name": u.name, "kind": label(u.kind, lang), "notes": u.notes.get(lang) if u.notes else None,
             "source": u.source, "when": fact_when(u, lang, today) if u.source else None,
             "verified": bool(u.source)} for u in manifest.facts.users]


def _references(manifest: Any, lang: Lang) -> list[dict[str, Any]]:
    out = []
    for key in ("sill_id", "comptoir_du_libre_id", "wikidata"):
        fact = getattr(manifest.facts.references, key)
        out.append({"label": label(key, lang), "value": show_value(fact.value, lang), "url": reference_url(key, fact),
                    "source": fact.source})
    return out


def cost_summary(plugin: Plugin, lang: Lang, today: dt.date) -> dict[str, Any] | None:
    """The server and hosting price the cost model gives for each default size (as ``plugins show``)."""
    try:
        report = cost_report(plugin.path, require_loaded(plugin), today=today)
    except AnlError:
        return None
    sizes = report["sizes"][:1] if report["same_for_every_size"] else report["sizes"]
    rows = []
    for size in sizes:
        counts = [s["inhabitants"] for s in report["sizes"]] if report["same_for_every_size"] else [size["inhabitants"]]
        hosting = next(x for x in size["lines"] if x["key"] == "hosting_eur_per_month")
        total = next(x for x in size["lines"] if x["key"] == "total_eur_per_month")
        rows.append({"inhabitants": ", ".join(number(n, lang) for n in counts),
                     "server": size["server"]["label"][lang] if size["server"] else label("no_offer", lang),
                     "hosting": None if hosting["value"] is None else number(hosting["value"], lang),
                     "total": None if total["value"] is None else number(total["value"], lang),
                     "total_known": number(total.get("known_part") or 0, lang)})
    return {"model": report["model"], "rows": rows}


def member_instances(view: CollectiveView | None, name: str) -> list[dict[str, Any]]:
    """The collectives' instances of a tool (the templates link an address only when it is a web address)."""
    return list(view.instances.get(name, [])) if view else []


def tool_data(plugin: Plugin, lang: Lang, today: dt.date, view: CollectiveView | None = None) -> dict[str, Any]:
    """Everything a tool's page shows (with ``view``, what the collectives' members publish about it)."""
    m = require_loaded(plugin)
    fiche, ci = _fiche_parts(plugin, lang)
    facts = [{"label": row["label"], **row["values"][plugin.name]} for row in compare_rows([plugin], lang)]
    return {
        "name": plugin.name, "title": m.title.get(lang), "summary": m.summary.get(lang), "category": m.category,
        "version": m.version, "recipe_status": recipe_status(plugin, lang), "recipe_available": plugin.recipe_available,
        "app": {"name": m.app.name, "version": show_value(m.app.version, lang), "licence": m.app.licence,
                "homepage": m.app.homepage, "source": m.app.source},
        "platforms": platform_text(m, lang, notes=True), "web_address": web_address(m),
        "steps": sorted(plugin.steps),
        "quality": quality_data(plugin, lang, view.signers if view else None), "not_in_ci": ci, "fiche": fiche,
        "users": _users(m, lang, today), "references": _references(m, lang), "facts": facts,
        "cost": cost_summary(plugin, lang, today),
        "collective": view is not None, "members": member_instances(view, plugin.name),
        "member_reviews": view.reviews.get(plugin.name, []) if view else [],
        "notes": notes_for(view, plugin.name, lang),
    }


# --- pages about every tool -----------------------------------------------------------------------

def comparison(plugins: list[Plugin], lang: Lang, members: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The rows of ``plugins compare`` for every tool, the quality level first."""
    levels = {p.name: (q.level if (q := safe_compute(p, members)) else None) for p in plugins}
    first = {"key": "quality.level", "label": _("Quality level", lang),
             "values": {name: {"value": "-" if level is None else str(level), "source": None, "checked": None,
                               "verified": True} for name, level in levels.items()}}
    return [first, *compare_rows(plugins, lang)] if plugins else []


def users_by_tool(plugins: list[Plugin], lang: Lang, today: dt.date,
                  view: CollectiveView | None = None) -> list[dict[str, Any]]:
    return [{"name": p.name, "title": require_loaded(p).title.get(lang), "users": _users(require_loaded(p), lang, today),
             "members": member_instances(view, p.name)} for p in plugins]


def calculator_data(plugins: list[Plugin], lang: Lang, today: dt.date) -> dict[str, Any]:
    """What the calculator's script needs: each tool's model, assumptions and offers, and its texts."""
    tools = []
    for plugin in plugins:
        try:
            report = cost_report(plugin.path, require_loaded(plugin), today=today)
        except AnlError:
            continue
        tools.append({
            "name": plugin.name, "title": report["title"][lang], "model": report["model"],
            "assumptions": [{"key": a["key"], "value": None if a["value"] == "unknown" else a["value"],
                             "unit": unit(a["unit"], lang), "integer": a["integer"], "label": a["label"][lang],
                             "notes": a["notes"][lang] if a["notes"] else None, "source": a["source"]}
                            for a in report["assumptions"]],
            # The offers as the model reads them (the report adds their age, which the model ignores).
            "offers": [{k: v for k, v in o.items() if k != "age_months"} for o in report["offers"]],
        })
    texts = {key: _(text, lang) for key, text in CALCULATOR_TEXTS.items()}
    texts.update({f"line.{key}": _(text, lang) for key, text in LINE_LABELS.items()})
    texts.update({f"unit.{key}": _(text, lang) for key, text in UNITS.items()})
    formulas = [[text, _(text, lang)] for text in FORMULA_TEXTS]
    return {"lang": lang, "tools": tools, "texts": texts, "formulas": formulas}
