"""The calculator's JavaScript cost model gives the Python model's results, number for number.

Both run on the same inputs: the shipped plugins' assumptions with many
random changes (unknown values, zeros, whole and fractional numbers, values
exactly halfway between two roundings), the shipped offers and random ones.
The JavaScript runs in the machine's ``node`` (bootstrap installs npm, and
node with it).
"""

from __future__ import annotations

import json
import random
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from anl_stack.costs.model import MODELS, OPTIONAL, compute, required_keys
from anl_stack.costs.params import load_common, load_inputs
from anl_stack.costs.text import number

ROOT = Path(__file__).resolve().parents[2]
MODEL_JS = ROOT / "anl_stack" / "catalog" / "site" / "assets" / "cost-model.js"
PLUGINS = sorted(p.parent for p in (ROOT / "plugins").glob("*/cost.yml"))

RUNNER = """
const model = require(process.argv[1]);
const cases = JSON.parse(require("fs").readFileSync(0, "utf8"));
const out = cases.map(c => c.kind === "compute" ? model.compute(c.model, c.values, c.offers, c.sizes)
  : c.kind === "number" ? model.number(c.value, c.lang)
  : c.kind === "round" ? model.round(c.value, c.digits)
  : c.kind === "g" ? model.formatG(c.value, 3)
  : model.parseValue(c.text, c.integer));
process.stdout.write(JSON.stringify(out));
"""


def node() -> str:
    found = shutil.which("node")
    if found is None:
        pytest.fail("node is not installed: scripts/bootstrap.sh installs npm (and node with it)")
    return found


def run_js(cases: list[dict[str, Any]]) -> list[Any]:
    proc = subprocess.run([node(), "-e", RUNNER, str(MODEL_JS)], input=json.dumps(cases), capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout)


def _value(rng: random.Random) -> float | None:
    """A value as a commune might type it, or one that tests the edges of rounding."""
    kind = rng.random()
    if kind < 0.15:
        return None
    if kind < 0.25:
        return 0
    if kind < 0.45:
        return rng.randint(1, 5000)
    if kind < 0.6:
        return rng.randint(0, 4000) / 16  # exactly halfway at 3 decimals when odd: 0.0625, 0.1875...
    if kind < 0.7:
        return rng.randint(0, 800) / 8  # halfway at 2 decimals: 0.125, 0.375...
    if kind < 0.8:
        return round(rng.uniform(0, 1e6), rng.randint(0, 6))
    return rng.uniform(0, 3000)


def _offers(rng: random.Random, shipped: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if rng.random() < 0.5:
        return shipped
    offers = []
    for i in range(rng.randint(0, 5)):
        offers.append({"name": f"o{i}", "label": {"fr": f"offre {i}", "en": f"offer {i}"},
                       "ram_mb": rng.choice([512, 1024, 2048, 8192, rng.uniform(0, 40000)]),
                       "disk_gb": rng.choice([10, 100, 500, rng.uniform(0, 5000)]),
                       "bandwidth_mbps": rng.choice([100, 250, rng.uniform(0, 1000)]),
                       "eur_per_month": rng.choice([5, 10, 10, 45, round(rng.uniform(0, 200), 2)])})
    return offers


def compute_cases(count: int = 600, seed: int = 17) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    shipped = [o.model_dump(mode="json") for o in load_common().offers]
    bases = [(inputs.model, inputs.values()) for inputs in (load_inputs(p) for p in PLUGINS)]
    cases = []
    for i in range(count):
        if i < len(bases):
            model, values = bases[i]  # the shipped assumptions as they are first
        else:
            model, values = rng.choice(bases) if rng.random() < 0.5 else (rng.choice(sorted(MODELS)), {})
            keys = list(required_keys(model)) + ([*OPTIONAL] if rng.random() < 0.3 else [])
            values = {k: (values.get(k) if k in values and rng.random() < 0.3 else _value(rng)) for k in keys}
        cases.append({"kind": "compute", "model": model, "values": values, "offers": _offers(rng, shipped),
                      "sizes": rng.choice([[2000, 10000, 50000], [1], [rng.randint(1, 10**6)]])})
    return cases


def test_plugins_with_a_cost_model_are_found() -> None:
    assert len(PLUGINS) >= 5, PLUGINS


def test_js_model_gives_the_python_models_figures() -> None:
    cases = compute_cases()
    results = run_js(cases)
    assert len(results) == len(cases)
    for case, js in zip(cases, results):
        python = json.loads(json.dumps(compute(case["model"], case["values"], case["offers"], case["sizes"])))
        assert js == python, json.dumps(case)[:2000]


def test_js_writes_and_rounds_numbers_as_python_does() -> None:
    rng = random.Random(5)
    values = [0, 1, 12, 1000, 1234.5, 0.125, 0.375, 2.675, 1e-7, 999999.995, 12345678.9, 0.005, 0.015, 1.0625]
    values += [rng.randint(0, 10**7) / rng.choice([1, 8, 16, 100, 1000]) for _ in range(300)]
    values += [rng.uniform(0, 1e6) for _ in range(300)]
    cases = ([{"kind": "number", "value": v, "lang": lang} for v in values for lang in ("fr", "en")]
             + [{"kind": "round", "value": v, "digits": 3} for v in values]
             + [{"kind": "g", "value": v} for v in values])
    expected = ([number(v, lang) for v in values for lang in ("fr", "en")] + [round(v, 3) for v in values]
                + [f"{v:.3g}" for v in values])
    assert run_js(cases) == expected


def test_js_checks_typed_values_as_the_command_line_does() -> None:
    texts = [("", False), ("unknown", False), ("12", True), ("12.5", True), ("12,5", False), ("-1", False),
             ("abc", False), ("1e3", False), ("Infinity", False), ("  7 ", True)]
    results = run_js([{"kind": "parse", "text": t, "integer": i} for t, i in texts])
    assert results == [{"value": None}, {"value": None}, {"value": 12}, {"error": "not_allowed"}, {"value": 12.5},
                       {"error": "not_allowed"}, {"error": "not_a_number"}, {"value": 1000}, {"error": "not_allowed"},
                       {"value": 7}]


# --- the calculator's words: formulas and missing needs, as `plugins cost` shows them ----------------

CALCULATOR_JS = ROOT / "anl_stack" / "catalog" / "site" / "assets" / "calculator.js"
#: The calculator's text functions (unitText, formulaText, valueText), taken out of calculator.js, on the page's data.
TEXT_RUNNER = """
const fs = require("fs");
const source = fs.readFileSync(process.argv[1], "utf8");
const start = source.indexOf("  // A unit in the page's language"), end = source.indexOf("  function showAssumptions");
const input = JSON.parse(fs.readFileSync(0, "utf8"));
const model = require(process.argv[2]);
const make = new Function("data", "texts", "lang", "model",
  source.slice(start, end) + "; return [formulaText, valueText];");
const [formulaText, valueText] = make(input.data, input.data.texts, input.data.lang, model);
process.stdout.write(JSON.stringify({formulas: input.texts.map(formulaText), values: input.lines.map(valueText)}));
"""


def test_calculator_writes_units_formulas_and_needs_as_the_command_does() -> None:
    import datetime as dt

    from anl_stack.catalog.site.content import calculator_data
    from anl_stack.cli.cost_view import _value
    from anl_stack.core.i18n import translate
    from anl_stack.costs.text import formula

    # Every line the shipped models give, with every assumption known, with none, and with no offer large enough.
    lines: list[dict[str, Any]] = []
    shipped = [o.model_dump(mode="json") for o in load_common().offers]
    for plugin in PLUGINS:
        known = load_inputs(plugin).values()
        model = load_inputs(plugin).model
        for values in (known, {k: None for k in known}, {**known, "ram_mb": 10**9}):
            lines += [line for size in compute(model, values, shipped, (2000,)) for line in size["lines"]]
    texts = sorted({line["formula"] for line in lines} | {m for line in lines for m in line["missing"]})
    assert any("not checked: " in t for t in texts) and "an offer large enough" in texts
    for lang in ("fr", "en"):
        data = calculator_data([], lang, dt.date(2026, 12, 7))
        proc = subprocess.run([node(), "-e", TEXT_RUNNER, str(CALCULATOR_JS), str(MODEL_JS)], capture_output=True,
                              text=True, input=json.dumps({"data": data, "texts": texts, "lines": lines}), timeout=60)
        assert proc.returncode == 0, proc.stderr[-3000:]
        shown = json.loads(proc.stdout)
        assert shown["formulas"] == [formula(t, lang) for t in texts]
        assert shown["values"] == [_value(line, lang, lambda m, lang=lang: translate(m, lang)) for line in lines]
        if lang == "fr":  # the words are French: a hosting line with no offer large enough, a unit
            assert "inconnu (il faut une offre assez grande)" in shown["values"]
            assert any(v.endswith(" Go") for v in shown["values"]), shown["values"]
    assert formula("accounts × quota_gb (every quota filled)", "fr") == "accounts × quota_gb (tous les quotas remplis)"
    assert formula("cheapest offer with ram_mb, disk_gb and peak_mbps covered (not checked: peak_mbps, "
                   "disk_gb beyond 1 GB)", "fr") == ("offre la moins chère couvrant ram_mb, disk_gb et peak_mbps "
                                                     "(non vérifié : peak_mbps, disk_gb au-delà de 1 Go)")
