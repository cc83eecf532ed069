"""The cost of one plugin as plain data: every figure per commune size and every assumption behind it.

This is what ``plugins cost --json`` prints and what a catalog page can
show: assumptions carry their value, unit, label in both languages, source,
date and age, and whether the command line changed them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from anl_stack.costs.model import DEFAULT_SIZES, compute, per_month
from anl_stack.costs.params import CostInputs, apply_overrides, load_inputs
from anl_stack.plugins.facts import fact_age


def _dated(item: Any, today: dt.date) -> dict[str, Any]:
    return {"source": item.source, "dated": item.dated,
            "checked": item.checked.isoformat() if item.checked else None, "age_months": fact_age(item, today)}


def _localized(text: Any) -> dict[str, str] | None:
    return None if text is None else {"fr": text.fr, "en": text.en}


def assumptions_data(inputs: CostInputs, today: dt.date) -> list[dict[str, Any]]:
    out = []
    for key, a in inputs.assumptions.items():
        p = a.parameter
        out.append({"key": key, "value": p.value, "unit": p.unit, "integer": p.integer, "label": _localized(p.label),
                    "notes": _localized(p.notes), "overridden": a.overridden, "file": a.file, **_dated(p, today)})
    return out


def paid_before_data(manifest: Any, today: dt.date) -> list[dict[str, Any]]:
    return [{"who": p.who, "what": _localized(p.what), "amount": p.amount, "currency": p.currency,
             "period": p.period, "per_month": per_month(p.amount, p.period), **_dated(p, today)}
            for p in manifest.facts.cost.paid_before]


def cost_report(plugin_dir: Path, manifest: Any, *, sizes: Sequence[int] = DEFAULT_SIZES,
                overrides: dict[str, str | float] | None = None, today: dt.date | None = None) -> dict[str, Any]:
    """Everything the cost command shows for the plugin in ``plugin_dir`` (exit 2 on a bad assumption)."""
    today = today or dt.date.today()
    inputs = apply_overrides(load_inputs(plugin_dir), overrides or {}, today)
    offers = [o.model_dump(mode="json") for o in inputs.offers]
    results = compute(inputs.model, inputs.values(), offers, sizes)
    ages = {o.name: fact_age(o, today) for o in inputs.offers}
    for size in results:
        if size["server"] is not None:
            size["server"]["age_months"] = ages[size["server"]["name"]]
    figures = [[(line["key"], line["value"]) for line in size["lines"]] for size in results]
    return {
        "plugin": manifest.name,
        "title": _localized(manifest.title),
        "model": inputs.model,
        "currency": "EUR",
        "sizes": results,
        # No shipped assumption depends on the number of inhabitants: the sizes differ only if a source says so.
        "same_for_every_size": all(f == figures[0] for f in figures),
        "assumptions": assumptions_data(inputs, today),
        "offers": [{**o, "age_months": ages[o["name"]]} for o in offers],
        "paid_before": paid_before_data(manifest, today),
        "files": inputs.files,
    }
