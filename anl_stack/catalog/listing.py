"""What ``plugins list`` prints: every plugin with its versions, platforms, recipe status and level.

Built once in both languages and as JSON, so that the listing cache
(:mod:`anl_stack.catalog.list_cache`) can keep it whole.
"""

from __future__ import annotations

from typing import Any

from anl_stack.core.i18n import LANGS, N_, label, translate
from anl_stack.records.quality import LADDER, legend, safe_compute


def quality_levels(found: list[Any]) -> dict[str, Any]:
    """Computed quality of each loaded plugin (reads its records; never runs Ansible)."""
    out = {}
    for p in found:
        q = safe_compute(p)
        if q is not None:
            out[p.name] = q
    return out


def build_listing(found: list[Any], levels: dict[str, Any]) -> dict[str, Any]:
    """Everything ``plugins list`` prints, in JSON and in both languages (what the cache keeps)."""
    listing: dict[str, Any] = {
        "json": {"plugins": [{**p.to_dict(), "quality": levels[p.name].to_dict() if p.name in levels else None}
                             for p in found]},
        "text": {},
    }
    listing["json"]["levels"] = [{"level": level, "needs": text} for level, text in LADDER]
    for language in LANGS:
        notes = []
        for p in found:
            if p.error:
                notes += [translate(N_("error: {plugin}: {problem}"), language).format(plugin=p.name, problem=r.format())
                          for r in p.error.records]
            for s in p.shadowed:
                notes.append(translate(N_("shadowed: {plugin} from {source} ({origin}) is ignored; {first} "
                                          "({first_origin}) comes first"), language).format(
                    plugin=p.name, source=s.source, origin=s.origin, first=p.source, first_origin=p.origin))
        headers = [label(k, language) for k in ("name", "recipe_version", "app_version", "platforms",
                                                  "recipe_status")]
        headers += [label("level", language), label("source", language)]
        rows = []
        for p in found:
            m = p.manifest
            if m is None:
                rows.append([p.name, "-", "-", "-", label("broken", language), "-", p.source])
                continue
            platforms = ", ".join(k for k, plat in m.platforms.items() if plat.supported) or "-"
            status = label("available" if p.recipe_available else "not_yet_available", language)
            rows.append([p.name, m.version, m.app.version, platforms, status, str(levels[p.name].level), p.source])
        next_steps = [f"{p.name}: {label('level', language)} {levels[p.name].level}; {label('next', language)} "
                      f"{levels[p.name].next_level()}: {levels[p.name].missing(language)}"
                      for p in found if p.name in levels and levels[p.name].next_level() is not None]
        listing["text"][language] = {"headers": headers, "rows": rows, "next_steps": next_steps, "notes": notes,
                                     "legend": legend(language)}
    return listing
